//! `netmon update` (what cron runs) and `netmon sync`: read the counters,
//! fold them into the totals, reinstall the rules if they vanished;
//! `sync` also writes the persistent copy now. Both deliver waiting mail
//! afterwards, outside the state lock.

use super::ctx::{current, deliver_mail, Ctx};
use crate::error::Result;
use crate::text::Buf;

/// Reads, repairs and folds; syncs when due (or when `sync`); then, with
/// the state lock released, delivers waiting mail. In dry-run, only
/// prints the commands.
pub fn run(cx: &mut Ctx, sync: bool, warn: &mut Buf) -> Result<()> {
    if cx.runner.dry_run {
        let _ = cx.observe()?;
        cx.backend.install(&cx.cfg.meters, &mut cx.runner)?;
        return cx.backend.install_netdev(
            cx.lan.as_ref(),
            &cx.cfg.meters,
            &cx.cfg.quotas,
            &mut cx.runner,
        );
    }
    cx.closes_rates = true;
    let mut s = current(cx, warn)?;
    // Stopped, and already said so: nothing to write (no RAM write, no
    // log line, no flash sync every 5 minutes for a state that stands still).
    let committed = if s.idle && !sync {
        Ok(())
    } else {
        s.commit(cx, sync, warn)
    };
    drop(s);
    deliver_mail(cx, None, warn);
    committed
}
