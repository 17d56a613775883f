//! Running a validated command: the I/O edge that ties config, firewall,
//! state files and reports together. The clock and the environment are
//! read here and passed into the pure parts.

use crate::cli::{Action, Command, Daily, History, ReportFormat, DEFAULT_STATE_DIR};
use crate::config::{self, BackendChoice, Config, Source};
use crate::error::{Error, Result};
use crate::firewall::{run::Runner, Backend, Observed};
use crate::mail::deliver::{build_report_message, build_test_message, Delivery, Mailer};
use crate::mail::smtp::Outcome;
use crate::out::num;
use crate::out::Buf;
use crate::report::{self, Report};
use crate::state::{Calendar, Generation, Reading, State};
use crate::tz::Zone;
use crate::{store, sys};

/// How long a second netmon waits for the first to finish.
pub const LOCK_WAIT_MS: u32 = 30_000;
/// Where `sync` keeps the durable copy unless configured otherwise.
pub const DEFAULT_PERSIST_DIR: &str = "/etc/netmon";
/// Default time between two writes to persistent storage.
pub const DEFAULT_SYNC_INTERVAL: u32 = 12 * 3600;
/// Earliest sane clock: the build time (see build.rs).
pub const BUILD_EPOCH: &str = env!("NETMON_BUILD_EPOCH");
/// `BUILD_EPOCH` in seconds, worked out by the compiler (0 if it were
/// not a number that fits).
const MIN_SANE: i64 = seconds(BUILD_EPOCH.as_bytes());

const fn seconds(b: &[u8]) -> i64 {
    if b.is_empty() {
        return 0;
    }
    let (mut v, mut i) = (0i64, 0);
    while i < b.len() {
        let d = b[i];
        if !d.is_ascii_digit() {
            return 0;
        }
        v = match v.checked_mul(10) {
            Some(x) => match x.checked_add((d - b'0') as i64) {
                Some(y) => y,
                None => return 0,
            },
            None => return 0,
        };
        i += 1;
    }
    v
}

/// Everything a command needs, resolved once.
pub struct Ctx {
    /// Boxed, like the configs below: a `Config` holds its meters inline,
    /// and every move of it through `?` was a copy.
    pub cfg: Box<Config>,
    pub backend: Backend,
    pub state_dir: String,
    pub persist_dir: String,
    pub sync_interval: i64,
    pub cal: Calendar,
    pub runner: Runner,
    pub now: i64,
    pub force: bool,
}

/// Runs `cmd`; returns what goes to stdout. Warnings (one sentence per
/// line) go to `warn` even when the command then fails.
pub fn run(cmd: &Command, warn: &mut Buf) -> Result<Buf> {
    let mut cx = context(cmd, warn)?;
    let mut out = Buf::new();
    match &cmd.action {
        Action::Daily(d) => daily(&cx, d, &mut out)?,
        Action::Status => status(&mut cx, &mut out)?,
        Action::Start | Action::Update | Action::Sync => {
            // `matches!`, not `==`: a derived `Action::eq` is only for tests.
            let n = update(&mut cx, matches!(cmd.action, Action::Sync), warn)?;
            if matches!(cmd.action, Action::Start) && !cx.runner.dry_run {
                out.fill(
                    "netmon: counting {} meters with {}\n",
                    &[num(n as u64).as_str(), cx.backend.as_str()],
                );
            }
        }
        Action::Stop => stop(&mut cx, &mut out, warn)?,
        Action::Report(fmt, hist, mail) => report(&mut cx, (*fmt, *hist, *mail), &mut out, warn)?,
        Action::MailTest => mail_test(&cx, &mut out)?,
    }
    if cx.runner.dry_run {
        return Ok(core::mem::take(&mut cx.runner.printed));
    }
    Ok(out)
}

fn context(cmd: &Command, warn: &mut Buf) -> Result<Ctx> {
    let parsed = read_config(&cmd.config)?;
    let state_dir = cmd
        .state_dir
        .clone()
        .or_else(|| parsed.as_ref().and_then(|c| c.state_dir.clone()))
        .unwrap_or_else(|| DEFAULT_STATE_DIR.into());
    let cfg = with_meters(parsed, &cmd.config, &state_dir)?;
    let choice = cmd.backend.or(cfg.backend).unwrap_or(BackendChoice::Auto);
    let path = sys::getenv(c"PATH").unwrap_or_default();
    let backend = Backend::resolve(choice, &path)?;
    let persist_dir = cmd
        .persist_dir
        .clone()
        .or_else(|| cfg.persist_dir.clone())
        .unwrap_or_else(|| DEFAULT_PERSIST_DIR.into());
    let cal = Calendar {
        zone: zone(warn),
        billing_day: cfg.billing_day.unwrap_or(1),
        min_sane: MIN_SANE,
    };
    Ok(Ctx {
        sync_interval: i64::from(cfg.sync_interval.unwrap_or(DEFAULT_SYNC_INTERVAL)),
        cfg,
        backend,
        state_dir,
        persist_dir,
        cal,
        runner: Runner::new(cmd.dry_run),
        now: sys::now(),
        force: cmd.force,
    })
}

/// The router's zone: `TZ`, else /etc/TZ (OpenWrt writes the POSIX string
/// there), else UTC. An unreadable string is UTC with a warning.
fn zone(warn: &mut Buf) -> Zone {
    let tz = sys::getenv(c"TZ")
        .or_else(|| sys::read_text("/etc/TZ").ok())
        .unwrap_or_default();
    let tz = tz.trim_ascii();
    if tz.is_empty() {
        return Zone::UTC;
    }
    Zone::parse(tz).unwrap_or_else(|| {
        let clean: String = tz.chars().filter(|c| !c.is_control()).take(64).collect();
        warn.fill(
            "TZ '{}' is not a POSIX TZ string (like CET-1CEST,M3.5.0,M10.5.0/3); days are counted in UTC\n",
            &[&clean],
        );
        Zone::UTC
    })
}

/// The config file (`None` when it does not exist), as written: a file
/// without meter sections has no meters yet (see `with_meters`).
pub fn read_config(path: &str) -> Result<Option<Box<Config>>> {
    match sys::read_file(path) {
        Ok(bytes) => {
            let text = core::str::from_utf8(&bytes).map_err(|_| {
                Error::config(config::fill("cannot read {}: not UTF-8 text", &[path]))
            })?;
            config::parse(text, path)
                .map(Some)
                .map_err(|e| Error::config(e.sentence()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, &e)),
    }
}

/// The meters of `parsed` (config file `path`, `None` if missing); when it
/// has none, the default WAN meters on the default route's device, read
/// now, at every run (a WAN failover moves it). Without a default route
/// (PPPoE down, or going down at shutdown) they stay on the device the last
/// update used, remembered in `state_dir` (`store::WAN_FILE`), so `update`
/// and `stop` still read the counters and remove the rules netmon
/// installed. With neither it is a runtime error (exit 1): the config is
/// fine, the WAN is down.
fn with_meters(parsed: Option<Box<Config>>, path: &str, state_dir: &str) -> Result<Box<Config>> {
    let parsed = match parsed {
        Some(c) if !c.meters.is_empty() => return Ok(c),
        p => p,
    };
    let route = sys::read_text("/proc/net/route").unwrap_or_default();
    let route6 = sys::read_text("/proc/net/ipv6_route").unwrap_or_default();
    // The remembered device is read only when the route gives none.
    let wan: Option<String> = match config::default_wan(&route, &route6) {
        Some(dev) => Some(dev.as_str().into()),
        None => store::read_wan(state_dir),
    };
    let wan = wan.as_deref();
    match parsed {
        Some(c) => config::with_default_meters(c, wan),
        None => config::default_config(wan, path),
    }
    .map_err(Error::runtime)
}

fn names(cfg: &Config) -> heapless::Vec<&str, { crate::meter::MAX_METERS }> {
    cfg.meters.iter().map(|m| m.name.as_str()).collect()
}

/// A locked state and what the log needs of it as loaded.
struct Session {
    _lock: sys::Lock,
    st: Box<State>,
    /// The time and running total bytes per configured meter (0 for a
    /// new one) before this run: the log's baseline line.
    prev: (i64, Vec<u64>),
}

/// The meter names of `st`, in its order.
fn state_names(st: &State) -> Vec<&str> {
    st.meters.iter().map(|m| m.name.as_str()).collect()
}

/// Takes the state lock, loads the state (RAM, else flash, else new).
/// Boxed, so that `?` moves one pointer.
fn open_state(cx: &Ctx, warn: &mut Buf) -> Result<Box<Session>> {
    store::ensure_dir(&cx.state_dir)?;
    let path = store::lock_path(&cx.state_dir);
    let lock = match sys::lock(&path, LOCK_WAIT_MS) {
        Ok(Ok(l)) => l,
        Ok(Err(pid)) => {
            // The wait is written out: no number to format at run time.
            const _: () = assert!(LOCK_WAIT_MS == 30_000);
            return Err(Error::runtime(config::fill(
                "another netmon (pid {}) holds {}; it did not finish within 30 s, try again later",
                &[num(u64::from(pid)).as_str(), &path],
            )));
        }
        Err(e) => return Err(Error::io("lock", &path, &e)),
    };
    let st = store::open_state(&cx.state_dir, &cx.persist_dir, cx.now, cx.force, warn)?;
    // After a reboot the RAM spool is gone: bring back what was synced.
    let (ram, flash) = (spool_dir(&cx.state_dir), spool_dir(&cx.persist_dir));
    if std::fs::metadata(&ram).is_err() && std::fs::metadata(&flash).is_ok() {
        store::mirror_dir(&flash, &ram)?;
    }
    let totals = cx
        .cfg
        .meters
        .iter()
        .map(|m| st.meter(&m.name).map_or(0, |m| m.total.bytes))
        .collect();
    Ok(Box::new(Session {
        _lock: lock,
        prev: (st.updated, totals),
        st,
    }))
}

fn reading(cx: &Ctx, obs: &Observed, reinstalled: bool) -> Reading {
    Reading {
        time: cx.now,
        counts: obs.counts.clone(),
        generation: Generation {
            boot_id: sys::boot_id().unwrap_or_default(),
            handle: obs.handle,
        },
        reinstalled,
    }
}

/// Reads, repairs and folds; syncs when due (or when `sync`). Returns the
/// number of meters. In dry-run, only prints the commands.
fn update(cx: &mut Ctx, sync: bool, warn: &mut Buf) -> Result<usize> {
    if cx.runner.dry_run {
        let _ = cx.backend.read(&cx.cfg.meters, &mut cx.runner)?;
        cx.backend.install(&cx.cfg.meters, &mut cx.runner)?;
        return Ok(cx.cfg.meters.len());
    }
    let mut s = current(cx, warn)?;
    commit(cx, &mut s, sync, warn)?;
    Ok(cx.cfg.meters.len())
}

/// The locked state with the current reading folded in, after retrying
/// spooled mail.
fn current(cx: &mut Ctx, warn: &mut Buf) -> Result<Box<Session>> {
    let mut s = open_state(cx, warn)?;
    fold_current(cx, &mut s.st)?;
    retry_mail(cx, warn);
    Ok(s)
}

fn spool_dir(dir: &str) -> String {
    store::join(dir, "spool")
}

/// The mail settings, when a `config mail` section is enabled.
fn mail_cfg(cx: &Ctx) -> Option<&crate::mail::config::MailConfig> {
    cx.cfg.mail.as_ref().filter(|m| m.enabled)
}

/// Retries spooled reports, oldest first; each event is one warning line.
fn retry_mail(cx: &Ctx, warn: &mut Buf) {
    let Some(m) = mail_cfg(cx) else { return };
    let (host, spool) = (sys::hostname(), spool_dir(&cx.state_dir));
    for ev in Mailer::new(m, &host, &spool).retry_spool(cx.now) {
        warn.push_bytes(ev.as_bytes());
        warn.push_bytes(b"\n");
    }
}

/// One reading folded into `st`, reinstalling the rules first if they are
/// missing or stale (what was still readable is folded before that).
fn fold_current(cx: &mut Ctx, st: &mut State) -> Result<()> {
    let meters = &cx.cfg.meters;
    let names = names(&cx.cfg);
    let obs = cx.backend.read(meters, &mut cx.runner)?;
    if obs.installed || obs.present {
        st.fold(&names, &reading(cx, &obs, false), &cx.cal);
    }
    if obs.installed {
        return Ok(());
    }
    cx.backend.install(meters, &mut cx.runner)?;
    let fresh = cx.backend.read(meters, &mut cx.runner)?;
    st.fold(&names, &reading(cx, &fresh, true), &cx.cal);
    Ok(())
}

/// Whether the persistent copy is due: `sync_interval` passed, or the last
/// sync time lies implausibly far in the future (a clock that was wrong).
fn sync_due(cx: &Ctx, st: &State) -> bool {
    let next = st.synced.saturating_add(cx.sync_interval);
    cx.now >= next || st.synced > cx.now.saturating_add(cx.sync_interval)
}

/// Writes the state: to persistent storage first when a sync is due, then
/// the RAM copy (always), then the log line. A failed sync is reported
/// after the RAM copy is safe.
fn commit(cx: &Ctx, s: &mut Session, sync: bool, warn: &mut Buf) -> Result<()> {
    let st = &mut s.st;
    let mut flash_err = None;
    if sync || sync_due(cx, st) {
        let old = st.synced;
        st.synced = cx.now;
        let synced = store::sync_state(&cx.persist_dir, st, cx.now, warn).and_then(|_| {
            store::mirror_dir(&spool_dir(&cx.state_dir), &spool_dir(&cx.persist_dir))
        });
        if let Err(e) = synced {
            st.synced = old;
            flash_err = Some(e);
        }
    } else if let Err(e) =
        store::forget_removed(&spool_dir(&cx.state_dir), &spool_dir(&cx.persist_dir))
    {
        flash_err = Some(e);
    }
    store::save_state(&cx.state_dir, st)?;
    if let Source::Default { wan } | Source::FileDefault { wan, .. } = &cx.cfg.source {
        store::remember_wan(&cx.state_dir, wan)?;
    }
    let names = names(&cx.cfg);
    let now: Vec<u64> = st.meters.iter().map(|m| m.total.bytes).collect();
    store::append_log(&cx.state_dir, &names, (s.prev.0, &s.prev.1), (cx.now, &now))?;
    match flash_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn stop(cx: &mut Ctx, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    if cx.runner.dry_run {
        let _ = cx.backend.read(&cx.cfg.meters, &mut cx.runner)?;
        return cx.backend.remove(&cx.cfg.meters, &mut cx.runner);
    }
    let mut s = open_state(cx, warn)?;
    let obs = cx.backend.read(&cx.cfg.meters, &mut cx.runner)?;
    if obs.present {
        let names = names(&cx.cfg);
        s.st.fold(&names, &reading(cx, &obs, false), &cx.cal);
    }
    cx.backend.remove(&cx.cfg.meters, &mut cx.runner)?;
    s.st.mark_stopped();
    commit(cx, &mut s, true, warn)?;
    out.fill(
        "netmon: rules removed ({}); totals kept in {} and {}\n",
        &[cx.backend.as_str(), &cx.state_dir, &cx.persist_dir],
    );
    Ok(())
}

fn report(
    cx: &mut Ctx,
    how: (ReportFormat, History, bool),
    out: &mut Buf,
    warn: &mut Buf,
) -> Result<()> {
    let (fmt, hist, mail) = how;
    if mail && mail_cfg(cx).is_none() {
        return Err(Error::config(
            "report --mail needs an enabled config mail 'mail' section in the config file (see README: Mail)",
        ));
    }
    if cx.runner.dry_run {
        update(cx, false, warn)?;
        return Ok(());
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
    commit(cx, &mut s, false, warn)?;
    mailed
}

/// Mails the report (text, and HTML with a 30-day chart when enabled), or
/// spools it; only a spool that cannot be written is an error.
fn mail_report(cx: &Ctx, st: &State, r: &Report<'_>, warn: &mut Buf) -> Result<()> {
    let Some(m) = mail_cfg(cx) else { return Ok(()) };
    let (host, spool) = (sys::hostname(), spool_dir(&cx.state_dir));
    let mut text = Buf::new();
    report::text::render(r, &mut text);
    let mut html = Buf::new();
    if m.html {
        let days = report::day_rows(st, &cx.cal, cx.now, 30);
        let names = state_names(st);
        report::html::render(r, &days.rows, &names, &mut html);
    }
    let html = m.html.then(|| html.as_str());
    let msg = build_report_message(m, text.as_str(), html, r.from, r.to, &host, cx.now)?;
    let mailer = Mailer::new(m, &host, &spool);
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

fn mail_test(cx: &Ctx, out: &mut Buf) -> Result<()> {
    let Some(m) = mail_cfg(cx) else {
        return Err(Error::config(
            "mail-test needs an enabled config mail 'mail' section in the config file",
        ));
    };
    let host = sys::hostname();
    let spool = spool_dir(&cx.state_dir);
    let mailer = Mailer::new(m, &host, &spool);
    let msg = build_test_message(m, &host, cx.now)?;
    match mailer.attempt(&mailer.envelope()?, &msg) {
        Outcome::Delivered { rejected } if rejected.is_empty() => {
            out.push_bytes(b"netmon: test message accepted for ");
            for (i, to) in m.to.iter().enumerate() {
                out.push_bytes(if i == 0 { b"" } else { b", " });
                out.push_bytes(to.as_bytes());
            }
            out.push_bytes(b"\n");
            Ok(())
        }
        Outcome::Delivered { rejected } => {
            let mut b = Buf::new();
            b.push_bytes(b"test message delivered, but the server refused");
            for (i, x) in rejected.iter().enumerate() {
                b.push_bytes(if i == 0 { b" " } else { b"; " });
                b.push_bytes(x.reason.as_bytes());
            }
            Err(Error::runtime(b.as_str()))
        }
        Outcome::Transient(f) | Outcome::Permanent(f) => Err(Error::runtime(config::fill(
            "test message not delivered: {}",
            &[&f.reason],
        ))),
    }
}

fn daily(cx: &Ctx, d: &Daily, out: &mut Buf) -> Result<()> {
    use report::daily::{render, render_rows};
    if let Some(path) = &d.log {
        let f = sys::open(path, libc::O_RDONLY, 0).map_err(|e| Error::io("read", path, &e))?;
        return render(std::io::BufReader::new(f), d.format, out)
            .map(|_| ())
            .map_err(|e| Error::io("read", path, &e));
    }
    let st = store::peek_state(&cx.state_dir, &cx.persist_dir)
        .unwrap_or_else(|| store::new_state(cx.now));
    let names = state_names(&st);
    let (t, first) = if d.months {
        (report::month_rows(&st, &cx.cal, cx.now), "Start")
    } else {
        (report::day_rows(&st, &cx.cal, cx.now, d.days), "Date")
    };
    render_rows(&names, d.format, first, t.rows.into_iter(), out);
    Ok(())
}

fn status(cx: &mut Ctx, out: &mut Buf) -> Result<()> {
    let obs = cx.backend.read(&cx.cfg.meters, &mut cx.runner)?;
    if cx.runner.dry_run {
        return Ok(());
    }
    let rules = match (obs.installed, obs.present) {
        (true, _) => "installed",
        (false, true) => "stale or incomplete (run netmon start to repair)",
        (false, false) => "not installed (run netmon start)",
    };
    out.fill(
        "backend:  {}\nrules:    {}\nconfig:   ",
        &[cx.backend.as_str(), rules],
    );
    let (t, a, b) = match &cx.cfg.source {
        Source::File(p) => ("{}", p, ""),
        Source::FileDefault { file, wan } => (
            "{} (no meters: default WAN meters on {})",
            file,
            wan.as_str(),
        ),
        Source::Default { wan } => (
            "embedded default (no config file), WAN interface {}",
            wan,
            "",
        ),
    };
    out.fill(t, &[a, b]);
    out.fill(
        "\nstate:    {} (persistent copy in {})\nmeters:  ",
        &[&cx.state_dir, &cx.persist_dir],
    );
    for m in &cx.cfg.meters {
        out.push_bytes(b" ");
        out.push_bytes(m.name.as_bytes());
    }
    out.push_bytes(b"\n");
    if let Some(st) = store::peek_state(&cx.state_dir, &cx.persist_dir) {
        for (label, t) in [
            ("updated:  ", st.updated),
            ("reported: ", st.reported),
            ("synced:   ", st.synced),
        ] {
            out.push_bytes(label.as_bytes());
            if t == 0 {
                out.push_bytes(b"never");
            } else {
                let _ = crate::time::write_human(out, t);
            }
            out.push_bytes(b"\n");
        }
    }
    if let Ok(entries) = crate::mail::spool::list(&spool_dir(&cx.state_dir)) {
        if let Some(first) = entries.first() {
            out.fill(
                "mail:     {} report(s) waiting in the spool; oldest from ",
                &[num(entries.len() as u64).as_str()],
            );
            let _ = crate::time::write_human(out, first.first);
            out.fill(" (last error: {})\n", &[&first.reason]);
        }
    }
    if offloading_enabled() {
        out.push_bytes(b"warning:  flow offloading is on in /etc/config/firewall: offloaded connections bypass the firewall and are not counted\n");
    }
    Ok(())
}

/// OpenWrt's `option flow_offloading '1'` in the firewall defaults.
fn offloading_enabled() -> bool {
    let Ok(text) = sys::read_text("/etc/config/firewall") else {
        return false;
    };
    text.lines().map(str::trim_ascii).any(|l| {
        let mut w = l.split_ascii_whitespace();
        w.next() == Some("option")
            && w.next() == Some("flow_offloading")
            && matches!(w.next(), Some("1" | "'1'" | "\"1\""))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_epoch_seconds() {
        assert_eq!(super::seconds(b"1764000000"), 1_764_000_000);
        assert_eq!(super::seconds(b"9223372036854775807"), i64::MAX);
        for bad in [&b""[..], b"9223372036854775808", b"12a", b"+1", b" 1"] {
            assert_eq!(super::seconds(bad), 0, "{bad:?}");
        }
        assert_eq!(
            super::MIN_SANE,
            super::BUILD_EPOCH.parse::<i64>().unwrap_or(0)
        );
    }
}
