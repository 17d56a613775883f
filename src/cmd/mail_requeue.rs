//! `netmon mail-requeue ENTRY|--all`: moves report mail given up after
//! repeated refusals (`spool/failed/`) back into the spool with its
//! counters reset, then delivers the spool right away, as `update` does
//! after its work (outside the state lock): each message's fate is a
//! warning line (`spooled mail NAME: delivered (attempt 1)`, or why not).

use super::ctx::{deliver_mail, Ctx, LOCK_WAIT_MS};
use crate::error::{Error, Result};
use crate::mail::spool;
use crate::text::Buf;

pub fn run(cx: &mut Ctx, entry: Option<&str>, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    if cx.mail().is_none() {
        return Err(Error::config(
            "mail-requeue needs an enabled config mail 'mail' section in the config file",
        ));
    }
    if cx.runner.dry_run {
        return Ok(());
    }
    // Taking the state lock brings the spool back from flash after a
    // reboot; nothing else here needs it.
    drop(cx.lock(warn)?);
    let dir = cx.spool_dir();
    let moved = spool::requeue(&dir, entry, LOCK_WAIT_MS)?;
    if moved.is_empty() {
        out.fill(
            "netmon: no given-up mail in {}\n",
            &[&spool::failed_dir(&dir)],
        );
        return Ok(());
    }
    for n in &moved {
        out.fill("netmon: requeued {}\n", &[n]);
    }
    deliver_mail(cx, None, warn);
    Ok(())
}
