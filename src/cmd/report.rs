//! `netmon report` (and bare `netmon`): update, then show usage since the
//! last report and the running totals; `--mail` mails them too.

use super::ctx::{current, Ctx};
use crate::cli::{History, ReportFormat};
use crate::error::{Error, Result};
use crate::mail::deliver::{build_report_message, Delivery, Mailer};
use crate::report::{self, Report};
use crate::state::State;
use crate::sys;
use crate::text::Buf;

pub fn run(
    cx: &mut Ctx,
    how: (ReportFormat, History, bool),
    out: &mut Buf,
    warn: &mut Buf,
) -> Result<()> {
    let (fmt, hist, mail) = how;
    if mail && cx.mail().is_none() {
        return Err(Error::config(
            "report --mail needs an enabled config mail 'mail' section in the config file (see README: Mail)",
        ));
    }
    if cx.runner.dry_run {
        return super::update::run(cx, false, warn);
    }
    let mut s = current(cx, warn)?;
    let st = &s.st;
    let mut r = Report::of(st, cx.now);
    r.table = match hist {
        History::None => None,
        History::Days(n) => Some(report::day_rows(st, &cx.cal, cx.now, n)),
        History::Months => Some(report::month_rows(st, &cx.cal, cx.now)),
    };
    match fmt {
        ReportFormat::Text => report::text::render(&r, out),
        ReportFormat::Json => report::json::render(&r, out),
    }
    let mailed = if mail {
        mail_report(cx, st, &r, warn)
    } else {
        Ok(())
    };
    // A report that could not even be spooled is not marked as made: the
    // next report covers its period again.
    drop(r);
    if mailed.is_ok() {
        s.st.mark_reported(cx.now);
    }
    s.commit(cx, false, warn)?;
    mailed
}

/// Mails the report (text, and HTML with a 30-day chart when enabled), or
/// spools it; only a spool that cannot be written is an error.
fn mail_report(cx: &Ctx, st: &State, r: &Report<'_>, warn: &mut Buf) -> Result<()> {
    let Some(m) = cx.mail() else { return Ok(()) };
    let (host, spool) = (m.host_name(&sys::hostname()), cx.spool_dir());
    if let Some(p) = &host.problem {
        warn.fill("{}\n", &[p]);
    }
    let mut text = Buf::new();
    report::text::render(r, &mut text);
    let mut html = Buf::new();
    if m.html {
        let days = report::day_rows(st, &cx.cal, cx.now, 30);
        let names: Vec<&str> = st.meters.iter().map(|m| m.name.as_str()).collect();
        report::html::render(r, &days.rows, &names, &mut html);
    }
    let html = m.html.then(|| html.as_str());
    let msg = build_report_message(m, text.as_str(), html, r.from, r.to, &host.text, cx.now)?;
    let mailer = Mailer::new(m, &host.text, &spool);
    match mailer.send_or_spool(&msg, &mailer.envelope()?, cx.now)? {
        Delivery::Sent { rejected } => {
            for x in rejected {
                // The reason starts with the recipient already.
                warn.fill("the server refused a recipient: {}\n", &[&x.reason]);
            }
        }
        Delivery::Spooled {
            entry,
            reason,
            warning,
            ..
        } => {
            warn.fill(
                "report mail not delivered ({}); kept as {}/{} and retried at the next update\n",
                &[&reason, &spool, &entry],
            );
            if let Some(w) = warning {
                warn.push_bytes(w.as_bytes());
                warn.push_bytes(b"\n");
            }
        }
    }
    Ok(())
}
