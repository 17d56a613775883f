//! `netmon metrics`: update, then the Prometheus metrics on stdout (the
//! text `option metrics_file` gets at every commit).

use super::ctx::{current, Ctx};
use crate::error::Result;
use crate::text::Buf;

pub fn run(cx: &mut Ctx, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    if cx.runner.dry_run {
        let _ = cx.observe()?;
        return Ok(());
    }
    let mut s = current(cx, warn)?;
    s.commit(cx, false, warn)?;
    out.push_bytes(s.metrics(cx).as_bytes());
    Ok(())
}
