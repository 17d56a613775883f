//! `netmon shutdown`: what the init script runs before a reboot or a
//! power-off (rc.common's `shutdown`): a last reading, then the totals to
//! flash. The rules are left to vanish with the reboot, and the next
//! `start` (or `update`, should the boot's start fail) continues without
//! a reset alarm. Unlike `stop` it does not stick: a router that reboots
//! keeps counting.

use super::ctx::Ctx;
use crate::error::Result;
use crate::text::Buf;

pub fn run(cx: &mut Ctx, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    if cx.runner.dry_run {
        let _ = cx.observe()?;
        return Ok(());
    }
    let mut s = cx.lock(warn)?;
    if !s.st.stopped {
        let obs = cx.observe()?;
        if obs.present {
            s.fold(cx, &obs, false, warn);
        }
        s.st.expect_restart();
    }
    s.commit(cx, true, warn)?;
    out.fill(
        "netmon: totals saved in {} for the reboot\n",
        &[&cx.persist_dir],
    );
    Ok(())
}
