//! One file per command, over the shared pieces in `ctx`: a new command is
//! a new file and a line in `run`.

mod block;
mod blocked;
pub mod cgi;
pub mod ctx;
mod daily;
mod devices;
mod forget;
mod mail_requeue;
mod mail_test;
mod metrics;
mod quota;
mod report;
mod shutdown;
mod start;
mod status;
mod stop;
mod top;
mod unblock;
mod update;

use crate::cli::{Action, Command};
use crate::error::Result;
use crate::text::Buf;
use ctx::Ctx;

/// Runs `cmd`; returns what goes to stdout. Warnings (one sentence per
/// line) go to `warn` even when the command then fails. In dry-run the
/// output is the firewall commands that would have run.
pub fn run(cmd: &Command, warn: &mut Buf) -> Result<Buf> {
    let mut cx = Ctx::new(cmd, warn)?;
    let mut out = Buf::new();
    match &cmd.action {
        Action::Start => start::run(&mut cx, &mut out, warn)?,
        Action::Update => update::run(&mut cx, false, warn)?,
        Action::Sync => update::run(&mut cx, true, warn)?,
        Action::Stop => stop::run(&mut cx, &mut out, warn)?,
        Action::Report(fmt, hist, mail) => {
            report::run(&mut cx, (*fmt, *hist, *mail), &mut out, warn)?
        }
        Action::Status => status::run(&mut cx, &mut out)?,
        Action::Daily(d) => daily::run(&cx, d, &mut out)?,
        Action::MailTest => mail_test::run(&cx, &mut out, warn)?,
        Action::MailRequeue(e) => mail_requeue::run(&mut cx, e.as_deref(), &mut out, warn)?,
        Action::Shutdown => shutdown::run(&mut cx, &mut out, warn)?,
        Action::Forget(name) => forget::run(&mut cx, name, &mut out, warn)?,
        Action::Devices(v) => devices::run(&mut cx, *v, &mut out, warn)?,
        Action::Block(d, secs) => block::run(&mut cx, d, *secs, &mut out, warn)?,
        Action::Unblock(d) => unblock::run(&mut cx, d, &mut out, warn)?,
        Action::Blocked(json) => blocked::run(&mut cx, *json, &mut out, warn)?,
        Action::Quota(json) => quota::run(&mut cx, *json, &mut out, warn)?,
        Action::Top(v) => top::run(&mut cx, *v)?,
        Action::Metrics => metrics::run(&mut cx, &mut out, warn)?,
    }
    if cx.runner.dry_run {
        return Ok(core::mem::take(&mut cx.runner.printed));
    }
    Ok(out)
}
