//! `netmon start` (aliases `initiate`, `initialise`): install the rules
//! if absent or stale and take a first reading.

use super::ctx::Ctx;
use crate::error::Result;
use crate::text::{num, Buf};

pub fn run(cx: &mut Ctx, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    super::update::run(cx, false, warn)?;
    if !cx.runner.dry_run {
        out.fill(
            "netmon: counting {} meters with {}\n",
            &[
                num(cx.cfg.meters.len() as u64).as_str(),
                cx.backend.as_str(),
            ],
        );
    }
    Ok(())
}
