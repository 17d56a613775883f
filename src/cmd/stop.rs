//! `netmon stop` (aliases `clear`, `flush`): take a last reading, save the
//! totals (RAM and flash), then remove exactly the rules `start` added.
//! The stop sticks: `update` counts nothing until `start`.

use super::ctx::Ctx;
use crate::error::{Error, Result};
use crate::text::{fill, Buf};

pub fn run(cx: &mut Ctx, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    if cx.runner.dry_run {
        let _ = cx.observe()?;
        return cx.backend.remove(&cx.cfg.meters, &mut cx.runner);
    }
    let mut s = cx.lock(warn)?;
    let obs = cx.observe()?;
    // Also when already stopped: a stop whose removal failed left rules
    // that may have counted since.
    if obs.present {
        s.fold(cx, &obs, false, warn);
    }
    s.st.mark_stopped();
    // Saved first: the rules hold the only other copy of the last counts.
    s.commit(cx, true, warn).map_err(|e| {
        Error::runtime(fill(
            "{}; the rules were left in place so nothing counted is lost (run netmon stop again once this is fixed)",
            &[e.message()],
        ))
    })?;
    cx.backend.remove(&cx.cfg.meters, &mut cx.runner)?;
    out.fill(
        "netmon: stopped; rules removed ({}); totals kept in {} and {}; netmon start counts again\n",
        &[cx.backend.as_str(), &cx.state_dir, &cx.persist_dir],
    );
    Ok(())
}
