//! `netmon report` (and bare `netmon`): update, then show usage since the
//! last report and the running totals; `--mail` mails them too.
//!
//! Under the state lock the report is folded, rendered and, with
//! `--mail`, built and put into the spool (a local write) before it is
//! marked as made; the mail goes out after the lock is released, with
//! whatever else waits in the spool, oldest first.

use super::ctx::{current, deliver_mail, Ctx};
use crate::cli::{History, ReportEnd, ReportFormat};
use crate::error::{Error, Result};
use crate::mail::config::MailConfig;
use crate::mail::deliver::{build_report_message, Mailer};
use crate::report::{self, Report};
use crate::state::State;
use crate::sys;
use crate::text::Buf;

pub fn run(
    cx: &mut Ctx,
    how: (ReportFormat, History, ReportEnd),
    out: &mut Buf,
    warn: &mut Buf,
) -> Result<()> {
    let (fmt, hist, end) = how;
    let mail = end == ReportEnd::Mail;
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
    let mut r = Report::of(st, &cx.names(), cx.now, cx.cal.zone);
    let firewall = crate::sys::read_text("/etc/config/firewall").unwrap_or_default();
    r.offload = crate::config::offload(&firewall);
    let cols = r.names();
    r.table = match hist {
        History::None => None,
        History::Days(n) => Some(report::day_rows(st, &cols, &cx.cal, cx.now, n)),
        History::Months => Some(report::month_rows(st, &cols, &cx.cal, cx.now)),
    };
    match fmt {
        ReportFormat::Text => report::text::render(&r, out),
        ReportFormat::Json => report::json::render(&r, out),
    }
    let queued = match cx.mail().filter(|_| mail) {
        Some(m) => queue_report(cx, m, st, &r, warn).map(Some),
        None => Ok(None),
    };
    // A report that could not even be spooled is not marked as made: the
    // next report covers its period again.
    drop(r);
    if queued.is_ok() && end != ReportEnd::Peek {
        s.st.mark_reported(cx.now);
    }
    let committed = s.commit(cx, false, warn);
    drop(s);
    let entry = queued.as_ref().ok().and_then(Option::as_deref);
    deliver_mail(cx, entry, warn);
    committed?;
    queued.map(drop)
}

/// Builds the report message (text, and HTML with a 30-day chart when
/// enabled) and puts it into the spool: no network here. Returns the
/// entry's name. Only a message that cannot be built or spooled is an
/// error.
fn queue_report(
    cx: &Ctx,
    m: &MailConfig,
    st: &State,
    r: &Report<'_>,
    warn: &mut Buf,
) -> Result<String> {
    let host = m.host_name(&sys::hostname());
    if let Some(p) = &host.problem {
        warn.fill("{}\n", &[p]);
    }
    let spool = cx.spool_dir();
    let mut text = Buf::new();
    report::text::render(r, &mut text);
    let mut html = Buf::new();
    if m.html {
        let names = r.names();
        let days = report::day_rows(st, &names, &cx.cal, cx.now, 30);
        report::html::render(r, &days.rows, &names, &mut html);
    }
    let html = m.html.then(|| html.as_str());
    let msg = build_report_message(
        m,
        text.as_str(),
        html,
        r.from,
        r.to,
        &host.text,
        cx.now,
        &cx.cal.zone,
    )?;
    let (entry, warnings) = Mailer::new(m, &host.text, &spool)
        .queue(&msg, cx.now)
        .map_err(|e| {
            Error::runtime(crate::text::fill(
                "report mail not sent: {} (the next report covers this period again)",
                &[e.message()],
            ))
        })?;
    for w in warnings {
        warn.fill("{}\n", &[&w]);
    }
    Ok(entry)
}
