//! `netmon start` (aliases `initiate`, `initialise`): end an admin stop,
//! install the rules if absent or stale, and take a first reading.

use super::ctx::Ctx;
use crate::error::Result;
use crate::store;
use crate::text::{num, Buf};

pub fn run(cx: &mut Ctx, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    if !cx.runner.dry_run {
        resume(cx, warn)?;
    }
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

/// Clears an admin stop, so that the update that follows installs the
/// rules again (an expected restart, not a reset).
fn resume(cx: &mut Ctx, warn: &mut Buf) -> Result<()> {
    let mut s = cx.lock(warn)?;
    if s.st.stopped {
        s.st.mark_started();
        store::save_state(&cx.state_dir, &s.st)?;
    }
    Ok(())
}
