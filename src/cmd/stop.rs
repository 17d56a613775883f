//! `netmon stop` (aliases `clear`, `flush`): take a last reading, then
//! remove exactly the rules `start` added; the totals are kept.

use super::ctx::Ctx;
use crate::error::Result;
use crate::text::Buf;

pub fn run(cx: &mut Ctx, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    if cx.runner.dry_run {
        let _ = cx.observe()?;
        return cx.backend.remove(&cx.cfg.meters, &mut cx.runner);
    }
    let mut s = cx.lock(warn)?;
    let obs = cx.observe()?;
    if obs.present {
        s.fold(cx, &obs, false);
    }
    cx.backend.remove(&cx.cfg.meters, &mut cx.runner)?;
    s.st.mark_stopped();
    s.commit(cx, true, warn)?;
    out.fill(
        "netmon: rules removed ({}); totals kept in {} and {}\n",
        &[cx.backend.as_str(), &cx.state_dir, &cx.persist_dir],
    );
    Ok(())
}
