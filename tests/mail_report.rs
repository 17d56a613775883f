//! Mail, black box: the netmon binary in a network namespace with nft,
//! mailing to a real aiosmtpd (tests/helpers/smtpd.py) started inside the
//! same namespace on its own loopback (127.0.0.1:2525 there; every
//! namespace has its own port space, so the port is fixed and a server can
//! be stopped and started again on it).
//!
//! What is checked, always on the delivered bytes or on netmon's own
//! output, never on netmon's internals:
//! - `report --mail --format json`: the message parsed back by Python's
//!   email package has every header, the expanded subject, both
//!   alternatives, and the text part's numbers equal the JSON exactly;
//! - AUTH PLAIN and LOGIN; a wrong password spools the report (warning,
//!   exit 0), `status` lists it, and once the password is fixed `update`
//!   delivers it exactly once (the server's saved messages are counted);
//! - server down → spooled → delivered once by the next `update`;
//! - `sync` carries the spool to the persistent dir and a simulated reboot
//!   (state dir deleted) still delivers it exactly once;
//! - `mail-test` exit codes and its one-line error;
//! - CR/LF in a subject or recipient is refused at load time (exit 2, file
//!   and line) before any connection is made;
//! - no password ever appears in anything netmon printed, nor in the files
//!   it left in its state and persistent dirs.
//!
//! Root and nft are needed (SKIPPED otherwise, failure under CI), and
//! aiosmtpd: env NETMON_TEST_PYTHON, else $HOME/.cache/netmon-venv, else
//! `python3` (SKIPPED without it, failure under CI), as in smtp_server.rs.

mod common;

mod aiosmtpd;
use aiosmtpd::aiosmtpd_python;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::smtpd::*;
use common::{
    require_root_tools, unique, Backend, Host, Lab, Netmon, Netns, Report, TempDir, BLOG_CONFIG,
};

const WRONG_PASSWORD: &str = "Wr0ng-pass-5c2e";
// ---------------------------------------------------------------------------
// Python with aiosmtpd: tests/aiosmtpd/mod.rs.

/// Root, nft and aiosmtpd, or None after saying why.
fn setup(test: &str) -> Option<String> {
    if !require_root_tools(test, &["nft"]) {
        return None;
    }
    aiosmtpd_python()
}

const FROM: &str = "netmon@gw.test";
const TO: [&str; 2] = ["alice@example.org", "bob@example.org"];
const SUBJECT: &str = "Usage %from .. %to on %host";

// ---------------------------------------------------------------------------
// netmon runs, each one's output kept for the password check.

struct Run {
    nm: Netmon,
    outputs: std::cell::RefCell<Vec<(String, Output)>>,
}

impl Run {
    fn new(ns: &Netns, config: &str) -> Run {
        Run {
            nm: Netmon::new(ns, Backend::Nft, Some(config)),
            outputs: Default::default(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.nm.run(args);
        self.outputs
            .borrow_mut()
            .push((args.join(" "), out.clone()));
        out
    }

    /// Exit status `code`; returns (stdout, stderr).
    fn expect(&self, code: i32, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let (so, se) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "netmon {}\nstdout: {so}\nstderr: {se}",
            args.join(" ")
        );
        (so, se)
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        self.expect(0, args)
    }

    fn set_config(&self, text: &str) {
        std::fs::write(&self.nm.config, text).unwrap();
    }

    fn state(&self) -> &Path {
        self.nm.state.path()
    }

    fn persist(&self) -> &Path {
        self.nm.persist.path()
    }

    /// Spooled messages waiting in `<dir>/spool`.
    fn spooled(dir: &Path) -> Vec<PathBuf> {
        files_ending(&dir.join("spool"), ".msg")
    }

    /// Neither password in any output so far, nor in any file netmon left.
    fn assert_no_password(&self) {
        let outputs = self.outputs.borrow();
        assert!(!outputs.is_empty());
        for (args, out) in outputs.iter() {
            for stream in [&out.stdout, &out.stderr] {
                let s = String::from_utf8_lossy(stream);
                for pw in [PASSWORD, WRONG_PASSWORD] {
                    assert!(!s.contains(pw), "netmon {args} printed a password: {s}");
                }
            }
        }
        for dir in [self.state(), self.persist()] {
            for f in walk(dir) {
                let s = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
                for pw in [PASSWORD, WRONG_PASSWORD] {
                    assert!(!s.contains(pw), "{f:?} holds a password");
                }
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                v.extend(walk(&p));
            } else {
                v.push(p);
            }
        }
    }
    v
}

/// The blog's meters plus a mail section; `auth` plain or login.
fn config(auth: &str, password: &str) -> String {
    format!(
        "{BLOG_CONFIG}
config mail 'mail'
\toption server '127.0.0.1'
\toption port '{PORT}'
\toption from '{FROM}'
\tlist to '{}'
\tlist to '{}'
\toption subject '{SUBJECT}'
\toption auth '{auth}'
\toption username '{USER}'
\toption password '{password}'
\toption timeout '5'
",
        TO[0], TO[1]
    )
}

/// A plain namespace (lo up) for tests that need no lab traffic.
fn netns() -> Netns {
    Netns::new(&unique("nmt-mail"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// `2026-11-21T19:00:00Z` → `2026-11-21 19:00:00 UTC` (the subject's form).
fn human(rfc3339: &str) -> String {
    format!("{} UTC", rfc3339.replace('T', " ").trim_end_matches('Z'))
}

/// `(bytes, packets)` of a "(N bytes, M packets)" line.
fn numbers(line: &str) -> (u64, u64) {
    let inner = line
        .rsplit_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no (N bytes, M packets) in {line:?}"));
    let (b, p) = inner.split_once(", ").unwrap();
    let b = b.strip_suffix(" bytes").unwrap().parse().unwrap();
    let p = p.strip_suffix(" packets").unwrap().parse().unwrap();
    (b, p)
}

/// The text part's numbers for `meter`: (period, total) as (bytes, packets).
fn text_numbers(text: &str, meter: &str) -> ((u64, u64), (u64, u64)) {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let i = lines
        .iter()
        .position(|l| *l == format!("{meter}:"))
        .unwrap_or_else(|| panic!("meter {meter} not in the text part:\n{text}"));
    let usage = lines[i + 1].trim_start();
    let total = lines[i + 2].trim_start();
    assert!(usage.starts_with("Usage:"), "{text}");
    assert!(total.starts_with("Current Total:"), "{text}");
    (numbers(usage), numbers(total))
}

/// The message carries every header, both alternatives, and exactly the
/// numbers of `rep`; returns the parsed message.
fn assert_report_message(srv: &Smtpd, eml: &Path, rep: &Report) -> Parsed {
    let m = srv.parse(eml);
    let date = m.one("Date");
    assert!(
        date.ends_with("+0000") && date.contains(':'),
        "Date: {date}"
    );
    let id = m.one("Message-ID");
    assert!(
        id.starts_with('<') && id.ends_with('>') && id.contains('@'),
        "{id}"
    );
    assert_eq!(m.one("From"), FROM);
    assert_eq!(m.one("To"), TO.join(", "));
    let subject = format!(
        "Usage {} .. {} on {}",
        human(&rep.from),
        human(&rep.to),
        hostname()
    );
    assert_eq!(m.one("Subject"), subject);
    assert_eq!(m.one("MIME-Version"), "1.0");
    let parts: Vec<&str> = m.parts.lines().collect();
    assert_eq!(parts.len(), 3, "{}", m.parts);
    assert_eq!(parts[0], "multipart/alternative");
    assert!(parts[1].starts_with("text/plain "), "{}", m.parts);
    assert!(parts[2].starts_with("text/html "), "{}", m.parts);
    for meter in &rep.meters {
        let (period, total) = text_numbers(&m.text, &meter.name);
        assert_eq!(
            period,
            (meter.period_bytes, meter.period_packets),
            "period of {} in the text part vs the JSON {}\n{}",
            meter.name,
            rep.raw,
            m.text
        );
        assert_eq!(
            total,
            (meter.total_bytes, meter.total_packets),
            "total of {} in the text part vs the JSON {}",
            meter.name,
            rep.raw
        );
        assert!(m.html.contains(&meter.name), "{} in the HTML", meter.name);
    }
    assert!(m.html.contains("<svg"), "no inline SVG chart:\n{}", m.html);
    let lower = m.html.to_ascii_lowercase();
    for bad in ["<script", "<img", "<link", "<iframe"] {
        assert!(!lower.contains(bad), "{bad} in the HTML part");
    }
    let env = std::fs::read_to_string(eml.with_extension("env")).unwrap();
    assert_eq!(env, format!("{FROM}\n{}\n{}\n", TO[0], TO[1]), "envelope");
    m
}

fn report_mail(run: &Run) -> (Report, String) {
    let (so, se) = run.ok(&["report", "--mail", "--format", "json"]);
    (Report::parse(&so), se)
}

/// The warning `report --mail` prints when the mail was spooled.
fn assert_spooled_warning(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one warning line: {stderr}");
    assert!(
        lines[0].starts_with("netmon: warning: report mail not delivered (")
            && lines[0].contains("retried at the next update"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// 1. The report mail, parsed back; AUTH PLAIN, LOGIN, wrong password.

#[test]
fn report_mail_carries_the_json_numbers_and_a_wrong_password_is_spooled_until_fixed() {
    let Some(py) = setup("report_mail_carries_the_json_numbers") else {
        return;
    };
    let lab = Lab::new(false);
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &lab.r.name, tmp.path());
    let run = Run::new(&lab.r, &config("plain", PASSWORD));
    run.ok(&["start"]);
    lab.mark();
    let proxy = lab.udp(
        (Host::Proxy, "192.168.1.10"),
        (Host::Router, "192.168.1.1"),
        300,
        7,
    );
    let offnet = lab.udp(
        (Host::Outside, "10.99.0.2"),
        (Host::Router, "10.99.0.1"),
        500,
        4,
    );
    let (rep, se) = report_mail(&run);
    assert_eq!(se, "", "delivered without a word");
    // Nothing crossed loopback before this report: the JSON is exact.
    rep.assert_first("proxy", proxy.fwd);
    rep.assert_first("offnet", offnet.fwd);
    assert_eq!(srv.count(), 1);
    assert_eq!(srv.file("auth.log"), "PLAIN ok\n");
    let first = assert_report_message(&srv, &srv.messages()[0], &rep);
    assert_ne!(first.one("Message-ID"), "");

    // AUTH LOGIN. This report's offnet includes the first mail's SMTP
    // session over lo (src 127.0.0.1 is off the LAN): the text must still
    // say exactly what the JSON says.
    run.set_config(&config("login", PASSWORD));
    let (rep2, se) = report_mail(&run);
    assert_eq!(se, "");
    assert_eq!(srv.count(), 2);
    assert_eq!(srv.file("auth.log"), "PLAIN ok\nLOGIN ok\n");
    assert!(rep2.meter("offnet").period_packets > 0, "{}", rep2.raw);
    let second = assert_report_message(&srv, &srv.messages()[1], &rep2);
    assert_ne!(second.one("Message-ID"), first.one("Message-ID"));

    // Wrong password: refused at AUTH, spooled, exit 0.
    run.set_config(&config("plain", WRONG_PASSWORD));
    let (rep3, se) = report_mail(&run);
    assert_spooled_warning(&se);
    assert_eq!(srv.count(), 2);
    assert!(srv.file("auth.log").ends_with("PLAIN fail\n"));
    let spooled = Run::spooled(run.state());
    assert_eq!(spooled.len(), 1, "{spooled:?}");
    let (status, _) = run.ok(&["status"]);
    assert!(
        status.contains("mail:     1 report(s) waiting in the spool"),
        "{status}"
    );
    // The dry run and a status with the wrong password print neither.
    run.ok(&["--dry-run", "report", "--mail"]);

    // Fixed: the next update delivers the spooled report once.
    run.set_config(&config("plain", PASSWORD));
    let (_, se) = run.ok(&["update"]);
    assert!(
        se.contains("delivered") && se.starts_with("netmon: warning: spooled mail "),
        "{se}"
    );
    assert_eq!(srv.count(), 3, "delivered exactly once");
    assert!(Run::spooled(run.state()).is_empty());
    assert_report_message(&srv, &srv.messages()[2], &rep3);
    let (status, _) = run.ok(&["status"]);
    assert!(!status.contains("waiting in the spool"), "{status}");
    run.ok(&["update"]);
    assert_eq!(srv.count(), 3, "a further update sends nothing");
    run.assert_no_password();
}

// ---------------------------------------------------------------------------
// 2. Server down, then up.

#[test]
fn report_while_the_server_is_down_is_delivered_once_by_the_next_update() {
    let Some(py) = setup("report_while_the_server_is_down") else {
        return;
    };
    let ns = netns();
    let run = Run::new(&ns, &config("plain", PASSWORD));
    run.ok(&["start"]);
    let (rep, se) = report_mail(&run);
    assert_spooled_warning(&se);
    assert!(se.contains("refused"), "connection refused: {se}");
    assert_eq!(Run::spooled(run.state()).len(), 1);
    let (status, _) = run.ok(&["status"]);
    assert!(status.contains("1 report(s) waiting"), "{status}");

    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &ns.name, tmp.path());
    run.ok(&["update"]);
    assert_eq!(srv.count(), 1, "delivered exactly once");
    assert!(Run::spooled(run.state()).is_empty());
    assert_report_message(&srv, &srv.messages()[0], &rep);
    let conns = srv.connections();
    run.ok(&["update"]);
    assert_eq!(srv.count(), 1, "a further update sends nothing");
    assert_eq!(srv.connections(), conns, "nor even connects");
    run.assert_no_password();
}

// ---------------------------------------------------------------------------
// 3. sync keeps the spool across a reboot.

#[test]
fn synced_spool_survives_a_reboot_and_is_delivered_once() {
    let Some(py) = setup("synced_spool_survives_a_reboot") else {
        return;
    };
    let ns = netns();
    let run = Run::new(&ns, &config("plain", PASSWORD));
    run.ok(&["start"]);
    let (rep, se) = report_mail(&run);
    assert_spooled_warning(&se);
    let ram = Run::spooled(run.state());
    assert_eq!(ram.len(), 1);
    let (_, se) = run.ok(&["sync"]);
    assert!(se.contains("still waiting"), "the retry at sync: {se}");
    let ram = Run::spooled(run.state());
    let flash = Run::spooled(run.persist());
    assert_eq!(flash.len(), 1, "sync copies the spool");
    assert_eq!(ram[0].file_name(), flash[0].file_name());
    // The same message. The header's counters may differ: the sync is
    // written under the state lock, the delivery attempt comes after it.
    let message = |p: &Path| {
        let b = std::fs::read(p).unwrap();
        let at = b.windows(2).position(|w| w == b"\n\n").unwrap();
        b[at..].to_vec()
    };
    assert_eq!(message(&ram[0]), message(&flash[0]));

    // Reboot: /tmp is gone. The server is up now.
    std::fs::remove_dir_all(run.state()).unwrap();
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &ns.name, tmp.path());
    let (_, se) = run.ok(&["update"]);
    assert!(se.contains("delivered"), "{se}");
    assert_eq!(srv.count(), 1, "the restored message, once");
    assert!(Run::spooled(run.state()).is_empty());
    assert_report_message(&srv, &srv.messages()[0], &rep);
    run.ok(&["update"]);
    assert_eq!(srv.count(), 1, "a further update sends nothing");
    run.assert_no_password();
}

// ---------------------------------------------------------------------------
// 4. mail-test.

#[test]
fn mail_test_exit_codes() {
    let Some(py) = setup("mail_test_exit_codes") else {
        return;
    };
    let ns = netns();
    let run = Run::new(&ns, &config("login", PASSWORD));
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &ns.name, tmp.path());
    let (so, se) = run.ok(&["mail-test"]);
    assert_eq!(
        so,
        format!("netmon: test message accepted for {}\n", TO.join(", "))
    );
    assert_eq!(se, "");
    assert_eq!(srv.count(), 1);
    assert_eq!(srv.file("auth.log"), "LOGIN ok\n");
    let m = srv.parse(&srv.messages()[0]);
    assert_eq!(
        m.one("Subject"),
        format!("netmon test message from {}", hostname())
    );
    assert_eq!(m.parts.lines().next(), Some("text/plain"), "{}", m.parts);
    drop(srv);

    let (so, se) = run.expect(1, &["mail-test"]);
    assert_eq!(so, "");
    assert_eq!(se.lines().count(), 1, "{se}");
    assert!(
        se.starts_with("netmon: test message not delivered: "),
        "{se}"
    );
    assert!(
        Run::spooled(run.state()).is_empty(),
        "a test message is not spooled"
    );

    run.set_config(BLOG_CONFIG);
    let (so, se) = run.expect(2, &["mail-test"]);
    assert_eq!(so, "");
    assert_eq!(se.lines().count(), 1, "{se}");
    assert!(se.starts_with("netmon: mail-test needs "), "{se}");
    let (_, se) = run.expect(2, &["report", "--mail"]);
    assert!(se.starts_with("netmon: report --mail needs "), "{se}");
    run.assert_no_password();
}

// ---------------------------------------------------------------------------
// 5. Header injection through the config.

/// The config with `line` (a whole line, marked by `needle` in the normal
/// config) replaced; returns the text and the 1-based line of the change.
fn config_with(needle: &str, line: &str) -> (String, usize) {
    let base = config("plain", PASSWORD);
    let n = base
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in the config"));
    let mut lines: Vec<&str> = base.lines().collect();
    lines[n] = line;
    (lines.join("\n") + "\n", n + 1)
}

#[test]
fn line_breaks_in_subject_or_recipient_are_refused_at_load_and_nothing_is_sent() {
    let Some(py) = setup("line_breaks_in_subject_or_recipient") else {
        return;
    };
    let ns = netns();
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &ns.name, tmp.path());
    let run = Run::new(&ns, &config("plain", PASSWORD));
    let cases = [
        // A raw CR inside double quotes.
        (
            "option subject",
            "\toption subject \"Usage\rBcc: evil@x.test\"",
        ),
        // The escaped form: a backslash before the CR (a literal CR in UCI).
        (
            "option subject",
            "\toption subject \"Usage\\\rBcc: evil@x.test\"",
        ),
        // A raw LF cannot hide in quotes: the quote is open at line end.
        (
            "option subject",
            "\toption subject \"Usage\nBcc: evil@x.test\"",
        ),
        // Recipients, raw and escaped.
        (
            "list to 'bob",
            "\tlist to \"bob@example.org\rBcc: evil@x.test\"",
        ),
        ("list to 'bob", "\tlist to \"bob@example.org\\\r\""),
        // Single quotes are literal: still a raw CR.
        ("list to 'alice", "\tlist to 'alice@example.org\r'"),
        // A password with a CR: refused, and the message does not quote it.
        (
            "option password",
            "\toption password \"Pw-7f3a-secret-91\r\"",
        ),
        // The lexer lets tabs through; the mail section refuses them too.
        (
            "option subject",
            "\toption subject \"Usage\tBcc: evil@x.test\"",
        ),
        (
            "option password",
            "\toption password \"Pw-7f3a-secret-91\t\"",
        ),
        // A backslash before LF joins the lines (libuci): no LF in the
        // value, and the joined text is no address.
        (
            "list to 'bob",
            "\tlist to \"bob@example.org\\\nBcc: evil@x.test\"",
        ),
    ];
    for (needle, line) in cases {
        let (text, n) = config_with(needle, line);
        run.set_config(&text);
        let (so, se) = run.expect(2, &["report", "--mail"]);
        assert_eq!(so, "", "{line:?}");
        assert_eq!(se.lines().count(), 1, "{line:?}: {se}");
        let want = format!("netmon: cannot read {} line {n}: ", run.nm.config.display());
        assert!(
            se.starts_with(&want),
            "{line:?}: {se:?} should start {want:?}"
        );
        run.expect(2, &["mail-test"]);
    }
    assert_eq!(srv.connections(), 0, "no mail attempted");
    assert_eq!(srv.count(), 0);
    assert!(
        !run.state().join("state").exists(),
        "nothing ran past the config"
    );
    let tables = ns.ok(&["nft", "list", "tables"]);
    assert!(!tables.contains("netmon"), "no rules installed: {tables}");

    // A backslash before `r` or `n` is a plain letter in UCI, not a line
    // break: accepted, and the header stays one header. The non-ASCII
    // subject travels RFC 2047 encoded: the raw message is 7-bit, with
    // lines of at most 998 bytes (RFC 5322 2.1.1).
    let (text, _) = config_with(
        "option subject",
        "\toption subject \"Verbrauch über A\\r\\nBcc: evil@x.test\"",
    );
    run.set_config(&text);
    run.ok(&["start"]);
    report_mail(&run);
    assert_eq!(srv.count(), 1);
    let eml = &srv.messages()[0];
    let m = srv.parse(eml);
    assert_eq!(m.one("Subject"), "Verbrauch über ArnBcc: evil@x.test");
    assert!(m.header("Bcc").is_empty(), "{}", m.headers);
    let raw = std::fs::read(eml).unwrap();
    assert!(raw.is_ascii(), "8-bit bytes in the message");
    assert!(raw.split(|&b| b == b'\n').all(|l| l.len() <= 1000));
    let env = std::fs::read_to_string(eml.with_extension("env")).unwrap();
    assert!(!env.contains("evil"), "{env}");
    run.assert_no_password();
}

// ---------------------------------------------------------------------------
// Beyond the five: a refused recipient, and a second reboot.

/// One of three recipients refused (RCPT 550): the others get the report,
/// the refusal is a warning, and nothing is spooled (RFC 5321 3.3).
#[test]
fn refused_recipient_is_a_warning_and_the_others_get_the_report() {
    let Some(py) = setup("refused_recipient_is_a_warning") else {
        return;
    };
    let ns = netns();
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start_with(&py, &ns.name, tmp.path(), &["--reject-rcpt", "nobody"]);
    let text = config("plain", PASSWORD) + "\tlist to 'nobody@example.org'\n";
    let run = Run::new(&ns, &text);
    run.ok(&["start"]);
    let (_, se) = report_mail(&run);
    assert_eq!(se.lines().count(), 1, "{se}");
    // The address appears once: the reason already starts with it.
    assert!(
        se.starts_with("netmon: warning: the server refused a recipient: nobody@example.org: ")
            && se.contains(": 550 5.1.1 <nobody@example.org>: no such user")
            && se.matches("nobody@example.org").count() == 2,
        "{se}"
    );
    assert_eq!(srv.count(), 1);
    assert_eq!(srv.file("rejected.log"), "nobody@example.org\n");
    let env = std::fs::read_to_string(srv.messages()[0].with_extension("env")).unwrap();
    assert_eq!(env, format!("{FROM}\n{}\n{}\n", TO[0], TO[1]));
    assert!(Run::spooled(run.state()).is_empty(), "not spooled again");
    run.ok(&["update"]);
    assert_eq!(srv.count(), 1);
    run.assert_no_password();
}

/// A spooled report delivered after a reboot must not come back after the
/// next reboot. Regression: the delivery once removed only the RAM copy and
/// a reboot before the next sync restored and sent it again.
#[test]
fn delivered_spool_entry_is_not_restored_by_a_later_reboot() {
    let Some(py) = setup("delivered_spool_entry_is_not_restored") else {
        return;
    };
    let ns = netns();
    let run = Run::new(&ns, &config("plain", PASSWORD));
    run.ok(&["start"]);
    let (_, se) = report_mail(&run);
    assert_spooled_warning(&se);
    run.ok(&["sync"]);
    assert_eq!(Run::spooled(run.persist()).len(), 1);
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &ns.name, tmp.path());
    run.ok(&["update"]);
    assert_eq!(srv.count(), 1);
    // Reboot before the next sync.
    std::fs::remove_dir_all(run.state()).unwrap();
    run.ok(&["update"]);
    assert_eq!(srv.count(), 1, "delivered again after a second reboot");
    run.assert_no_password();
}

/// A report that can be neither delivered nor spooled is an error (exit
/// 1, one line), and its period is not marked as reported: the next
/// report starts where the failed one started.
#[test]
fn report_that_cannot_be_spooled_fails_and_keeps_its_period() {
    if setup("report_that_cannot_be_spooled").is_none() {
        return;
    }
    let ns = netns();
    let run = Run::new(&ns, &config("plain", PASSWORD));
    run.ok(&["start"]);
    let (first, _) = {
        let (so, se) = run.ok(&["report", "--format", "json"]);
        (Report::parse(&so), se)
    };
    // The spool directory cannot be created: a file is in the way.
    std::fs::write(run.state().join("spool"), "in the way").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let (so, se) = run.expect(1, &["report", "--mail", "--format", "json"]);
    assert_eq!(so, "", "no report printed for a run that failed");
    let last = se.lines().last().unwrap_or_default();
    let spool = run.state().join("spool");
    assert_eq!(
        last,
        format!(
            "netmon: report mail not sent: cannot create {}: Not a directory \
             (the next report covers this period again)",
            spool.display()
        ),
        "{se}"
    );
    std::fs::remove_file(run.state().join("spool")).unwrap();
    let (so, _) = run.ok(&["report", "--format", "json"]);
    let again = Report::parse(&so);
    assert_eq!(
        again.from, first.to,
        "the failed report's period is reported again"
    );
    run.assert_no_password();
}

// ---------------------------------------------------------------------------
// Delivery outside the state lock; the spool against a real server.

/// The mail section with recipients `to` and a `timeout` of its own
/// (AUTH PLAIN with the right password).
fn config_to(to: &[&str], timeout: u32) -> String {
    let mut c = format!(
        "{BLOG_CONFIG}
config mail 'mail'
\toption server '127.0.0.1'
\toption port '{PORT}'
\toption from '{FROM}'
\toption subject '{SUBJECT}'
\toption auth 'plain'
\toption username '{USER}'
\toption password '{PASSWORD}'
\toption timeout '{timeout}'
"
    );
    for t in to {
        c.push_str(&format!("\tlist to '{t}'\n"));
    }
    c
}

/// The file names of the spooled entries in `<dir>/spool`, oldest first.
fn entry_names(dir: &Path) -> Vec<String> {
    Run::spooled(dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The message part of a spool entry (after its header).
fn spooled_message(p: &Path) -> Vec<u8> {
    let b = std::fs::read(p).unwrap();
    let at = b.windows(2).position(|w| w == b"\n\n").unwrap();
    b[at + 2..].to_vec()
}

/// A header line of a spool entry (`attempts 2`), by key.
fn spool_header(p: &Path, key: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    let head = text.split("\n\n").next().unwrap().to_string();
    head.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key} ")))
        .map(String::from)
        .collect()
}

/// Each line prefixed as netmon prints warnings.
fn warnings(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("netmon: warning: {l}\n"))
        .collect()
}

/// Issue 10, item 8. A server that takes the connection and never
/// answers holds `update` for its timeout while it delivers; meanwhile a
/// `report --mail` and a `status` finish at once, with the right totals,
/// because the mail goes out after the state lock is released (and the
/// spool's own lock is never waited for). Afterwards a working server
/// gets each report exactly once.
#[test]
fn a_stuck_mail_server_holds_up_no_report() {
    let Some(py) = setup("a_stuck_mail_server_holds_up_no_report") else {
        return;
    };
    const TIMEOUT: u64 = 6;
    let lab = Lab::new(false);
    let run = Run::new(&lab.r, &config_to(&TO, TIMEOUT as u32));
    run.ok(&["start"]);
    // Server down: the first report waits in the spool.
    let (first, se) = report_mail(&run);
    assert_spooled_warning(&se);

    let tmp = TempDir::new("nmt-mail-silent");
    let silent = Smtpd::start_with(&py, &lab.r.name, tmp.path(), &["--silent"]);
    lab.mark();
    let proxy = lab.udp(
        (Host::Proxy, "192.168.1.10"),
        (Host::Router, "192.168.1.1"),
        300,
        7,
    );
    let mut update = run.nm.command(&["update"]);
    update
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let update = update.spawn().expect("spawn netmon update");
    while silent.connections() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(TIMEOUT),
            "update never connected to the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let t = Instant::now();
    let (so, se) = run.ok(&["report", "--mail", "--format", "json"]);
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(TIMEOUT / 2),
        "report took {took:?} while another netmon waited on the server (timeout {TIMEOUT} s)"
    );
    let rep = Report::parse(&so);
    rep.assert_first("proxy", proxy.fwd);
    let names = entry_names(run.state());
    assert_eq!(names.len(), 2, "{names:?}");
    let want = format!(
        "netmon: warning: report mail kept as {}/spool/{}: another netmon (pid ",
        run.state().display(),
        names[1]
    );
    assert!(
        se.starts_with(&want)
            && se.ends_with(") is delivering the spool; it goes out at the next update\n")
            && se.lines().count() == 1,
        "{se}"
    );
    let t = Instant::now();
    let (status, _) = run.ok(&["status"]);
    assert!(t.elapsed() < Duration::from_secs(TIMEOUT / 2));
    assert!(
        status.contains("mail:     2 report(s) waiting in the spool"),
        "{status}"
    );

    let out = update.wait_with_output().unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(TIMEOUT * 3), "{took:?}");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "netmon: warning: spooled mail {}: still waiting (attempt 2): \
             greeting: timed out waiting for the server\n",
            names[0]
        )
    );
    drop(silent);

    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &lab.r.name, tmp.path());
    let (_, se) = run.ok(&["update"]);
    assert_eq!(
        se,
        warnings(&[
            format!("spooled mail {}: delivered (attempt 3)", names[0]),
            // Queued while the other netmon delivered: not tried until now.
            format!("spooled mail {}: delivered (attempt 1)", names[1]),
        ])
    );
    assert_eq!(srv.count(), 2, "each report once");
    assert_report_message(&srv, &srv.messages()[0], &first);
    assert_report_message(&srv, &srv.messages()[1], &rep);
    run.ok(&["update"]);
    assert_eq!(srv.count(), 2, "a further update sends nothing");
    assert!(Run::spooled(run.state()).is_empty());
    run.assert_no_password();
}

/// Issue 10, item 9. Greylisting: the server answers 450 to RCPT for one
/// of two recipients the first time. The other gets the report at once;
/// the deferred one gets it at the next update, from the spool entry kept
/// for it alone; nobody gets two copies.
#[test]
fn a_deferred_recipient_gets_the_report_at_the_next_update() {
    let Some(py) = setup("a_deferred_recipient_gets_the_report_at_the_next_update") else {
        return;
    };
    let ns = netns();
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start_with(&py, &ns.name, tmp.path(), &["--defer-rcpt-once", "bob"]);
    let run = Run::new(&ns, &config("plain", PASSWORD));
    run.ok(&["start"]);
    let (rep, se) = report_mail(&run);
    let names = entry_names(run.state());
    assert_eq!(names.len(), 1, "kept for the deferred recipient");
    assert_eq!(
        se,
        warnings(&[format!(
            "report mail deferred for a recipient (bob@example.org: 450 4.2.0 \
             <bob@example.org>: greylisted, try again later); kept as {}/spool/{} \
             for that recipient and retried at the next update",
            run.state().display(),
            names[0]
        )])
    );
    let entry = &Run::spooled(run.state())[0];
    assert_eq!(spool_header(entry, "to"), ["bob@example.org"]);
    assert_eq!(srv.count(), 1);
    let env = |i: usize| std::fs::read_to_string(srv.messages()[i].with_extension("env")).unwrap();
    assert_eq!(env(0), format!("{FROM}\n{}\n", TO[0]), "alice only");

    let (_, se) = run.ok(&["update"]);
    assert_eq!(
        se,
        warnings(&[format!("spooled mail {}: delivered (attempt 2)", names[0])])
    );
    assert_eq!(srv.count(), 2);
    assert_eq!(env(1), format!("{FROM}\n{}\n", TO[1]), "bob only");
    let bytes = |i: usize| std::fs::read(&srv.messages()[i]).unwrap();
    assert_eq!(bytes(0), bytes(1), "the same message");
    assert_report_message_text(&srv, &srv.messages()[1], &rep);
    run.ok(&["update"]);
    assert_eq!(srv.count(), 2, "nobody gets two copies");
    assert_eq!(srv.file("deferred.log"), "bob@example.org\n");
    assert!(Run::spooled(run.state()).is_empty());
    run.assert_no_password();
}

/// The numbers of `rep` in the text part of `eml` (for a message whose
/// envelope is not the usual two recipients).
fn assert_report_message_text(srv: &Smtpd, eml: &Path, rep: &Report) {
    let m = srv.parse(eml);
    for meter in &rep.meters {
        let (period, total) = text_numbers(&m.text, &meter.name);
        assert_eq!(period, (meter.period_bytes, meter.period_packets));
        assert_eq!(total, (meter.total_bytes, meter.total_packets));
    }
}

/// Issue 10, item 10a. A message the server keeps refusing with a 4xx
/// (every recipient greylisted, for ever) no longer holds back the
/// newer ones: the run goes on after a failure of one message.
#[test]
fn a_message_the_server_keeps_deferring_holds_no_newer_one_back() {
    let Some(py) = setup("a_message_the_server_keeps_deferring_holds_no_newer_one_back") else {
        return;
    };
    let ns = netns();
    let run = Run::new(&ns, &config_to(&["stuck@example.org"], 5));
    run.ok(&["start"]);
    // Server down: two reports wait, the older one for stuck@ only.
    let (_, se) = report_mail(&run);
    assert_spooled_warning(&se);
    run.set_config(&config_to(&[TO[0]], 5));
    let (rep, _) = report_mail(&run);
    let names = entry_names(run.state());
    assert_eq!(names.len(), 2);

    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start_with(&py, &ns.name, tmp.path(), &["--defer-rcpt", "stuck"]);
    let stuck = "RCPT TO: every recipient refused: stuck@example.org: 450 4.2.0 \
                 <stuck@example.org>: greylisted, try again later";
    let (_, se) = run.ok(&["update"]);
    assert_eq!(
        se,
        warnings(&[
            format!(
                "spooled mail {}: still waiting (attempt 3): {stuck}",
                names[0]
            ),
            // Not tried before: the server was down and the run stopped at
            // the older one.
            format!("spooled mail {}: delivered (attempt 1)", names[1]),
        ])
    );
    assert_eq!(srv.count(), 1, "the newer report went out");
    assert_report_message_text(&srv, &srv.messages()[0], &rep);
    let (_, se) = run.ok(&["update"]);
    assert_eq!(
        se,
        warnings(&[format!(
            "spooled mail {}: still waiting (attempt 4): {stuck}",
            names[0]
        )])
    );
    assert_eq!(srv.count(), 1);
    assert_eq!(entry_names(run.state()), names[..1]);
    run.assert_no_password();
}

/// Issue 10, item 10b. With a wrong password each run makes one failed
/// login, however many reports wait: the first AUTH failure stops the
/// run, the others stay untouched (attempts unchanged), and an AUTH
/// failure never counts as a refusal of the message. Fixed, every report
/// goes out once, oldest first.
#[test]
fn a_wrong_password_costs_one_failed_login_per_run() {
    let Some(py) = setup("a_wrong_password_costs_one_failed_login_per_run") else {
        return;
    };
    let ns = netns();
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &ns.name, tmp.path());
    let run = Run::new(&ns, &config("plain", WRONG_PASSWORD));
    run.ok(&["start"]);
    for _ in 0..3 {
        let (_, se) = report_mail(&run);
        assert!(se.contains("AUTH: 535"), "{se}");
    }
    assert_eq!(
        srv.file("auth.log"),
        "PLAIN fail\n".repeat(3),
        "one login per run"
    );
    let names = entry_names(run.state());
    assert_eq!(names.len(), 3);
    let (_, se) = run.ok(&["update"]);
    assert_eq!(
        se,
        warnings(&[format!(
            "spooled mail {}: still waiting (attempt 4): AUTH: 535 5.7.8 Authentication credentials invalid",
            names[0]
        )])
    );
    assert_eq!(srv.file("auth.log"), "PLAIN fail\n".repeat(4));
    let spooled = Run::spooled(run.state());
    let counts: Vec<(Vec<String>, Vec<String>)> = spooled
        .iter()
        .map(|p| (spool_header(p, "attempts"), spool_header(p, "refusals")))
        .collect();
    let c = |a: &str| (vec![a.to_string()], vec!["0".to_string()]);
    assert_eq!(counts, [c("4"), c("0"), c("0")]);
    let messages: Vec<Vec<u8>> = spooled.iter().map(|p| spooled_message(p)).collect();

    run.set_config(&config("plain", PASSWORD));
    let (_, se) = run.ok(&["update"]);
    assert_eq!(
        se,
        warnings(&[
            format!("spooled mail {}: delivered (attempt 5)", names[0]),
            format!("spooled mail {}: delivered (attempt 1)", names[1]),
            format!("spooled mail {}: delivered (attempt 1)", names[2]),
        ])
    );
    let got: Vec<Vec<u8>> = srv
        .messages()
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(got, messages, "each once, oldest first");
    assert!(Run::spooled(run.state()).is_empty());
    run.assert_no_password();
}

/// Issue 10, item 10c. A report refused five times goes to
/// `spool/failed/`: `status` says so, `sync` keeps it on flash, and
/// `mail-requeue` sends it again (a bad name is a usage error), after
/// which neither copy keeps it and a reboot does not bring it back.
#[test]
fn mail_given_up_is_shown_synced_and_requeued() {
    let Some(py) = setup("mail_given_up_is_shown_synced_and_requeued") else {
        return;
    };
    let ns = netns();
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start_with(&py, &ns.name, tmp.path(), &["--reject-rcpt", "@"]);
    let run = Run::new(&ns, &config("plain", PASSWORD));
    run.ok(&["start"]);
    let (rep, se) = report_mail(&run);
    assert_spooled_warning(&se);
    let names = entry_names(run.state());
    let name = names[0].clone();
    let refused = format!(
        "RCPT TO: every recipient refused: {a}: 550 5.1.1 <{a}>: no such user; \
         {b}: 550 5.1.1 <{b}>: no such user",
        a = TO[0],
        b = TO[1]
    );
    for attempt in 2..5 {
        let (_, se) = run.ok(&["update"]);
        assert_eq!(
            se,
            warnings(&[format!(
                "spooled mail {name}: refused by the server, refusal {attempt} of 5 \
                 (attempt {attempt}): {refused}"
            )])
        );
    }
    let failed = run.state().join("spool/failed");
    let (_, se) = run.ok(&["update"]);
    assert_eq!(
        se,
        warnings(&[format!(
            "spooled mail {name}: refused too often, given up (attempt 5): {refused} \
             (kept in {}/{name}; netmon mail-requeue sends it again)",
            failed.display()
        )])
    );
    let (status, _) = run.ok(&["status"]);
    let line = status
        .lines()
        .find(|l| l.starts_with("failed:"))
        .unwrap_or_else(|| panic!("no failed: line in\n{status}"));
    assert!(
        line.starts_with(&format!(
            "failed:   1 report(s) given up after repeated refusals, in {}; oldest {name} from ",
            failed.display()
        )) && line.ends_with(&format!(
            "; last error: {refused}; netmon mail-requeue NAME or --all sends them again"
        )),
        "{line}"
    );
    assert!(!status.contains("waiting in the spool"), "{status}");
    run.ok(&["sync"]);
    let flash = run.persist().join("spool/failed").join(&name);
    assert_eq!(
        spooled_message(&flash),
        spooled_message(&failed.join(&name)),
        "sync keeps failed/ on flash"
    );

    let (so, se) = run.expect(2, &["mail-requeue", "nope"]);
    assert_eq!(so, "");
    assert_eq!(
        se,
        format!(
            "netmon: no message 'nope' in {} (netmon status counts them; the names are the files there)\n",
            failed.display()
        )
    );
    let (_, se) = run.expect(2, &["mail-requeue"]);
    assert_eq!(se.lines().count(), 1, "{se}");

    drop(srv);
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &ns.name, tmp.path());
    let stem = name.strip_suffix(".msg").unwrap();
    let (so, se) = run.ok(&["mail-requeue", stem]);
    assert_eq!(so, format!("netmon: requeued {name}\n"));
    assert_eq!(
        se,
        warnings(&[format!("spooled mail {name}: delivered (attempt 1)")])
    );
    assert_eq!(srv.count(), 1);
    assert_report_message(&srv, &srv.messages()[0], &rep);
    let (status, _) = run.ok(&["status"]);
    assert!(
        !status.contains("failed:") && !status.contains("waiting"),
        "{status}"
    );
    assert!(!flash.exists(), "the flash copy is gone with the delivery");
    // Reboot before the next sync: nothing comes back.
    std::fs::remove_dir_all(run.state()).unwrap();
    run.ok(&["update"]);
    let (so, _) = run.ok(&["mail-requeue", "--all"]);
    assert_eq!(
        so,
        format!("netmon: no given-up mail in {}\n", failed.display())
    );
    assert_eq!(srv.count(), 1);
    run.assert_no_password();
}

/// Issue 10, item 10d. A recipient refused at a retry used to read
/// `recipient refused:  (attempt 2)nobody@...`: every retry warning is one
/// clean sentence.
#[test]
fn a_recipient_refused_at_a_retry_is_one_clean_sentence() {
    let Some(py) = setup("a_recipient_refused_at_a_retry_is_one_clean_sentence") else {
        return;
    };
    let ns = netns();
    let run = Run::new(
        &ns,
        &(config("plain", PASSWORD) + "\tlist to 'nobody@example.org'\n"),
    );
    run.ok(&["start"]);
    let (_, se) = report_mail(&run);
    let name = &entry_names(run.state())[0];
    assert_eq!(
        se,
        warnings(&[format!(
            "report mail not delivered (connect: 127.0.0.1:{PORT}: Connection refused); \
             kept as {}/spool/{name} and retried at the next update",
            run.state().display()
        )])
    );
    let (_, se) = run.ok(&["update"]);
    assert_eq!(
        se,
        warnings(&[format!(
            "spooled mail {name}: still waiting (attempt 2): connect: 127.0.0.1:{PORT}: Connection refused"
        )])
    );
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start_with(&py, &ns.name, tmp.path(), &["--reject-rcpt", "nobody"]);
    let (_, se) = run.ok(&["update"]);
    assert_eq!(
        se,
        warnings(&[
            format!("spooled mail {name}: delivered (attempt 3)"),
            format!(
                "spooled mail {name}: recipient refused (attempt 3): nobody@example.org: \
                 550 5.1.1 <nobody@example.org>: no such user"
            ),
        ])
    );
    assert_eq!(srv.count(), 1);
    run.assert_no_password();
}

/// `run` with the kernel host name set to `host` (bytes: the kernel takes
/// any) in a UTS namespace of its own.
fn run_with_hostname(run: &Run, host: &'static [u8], args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = run.nm.command(args);
    // SAFETY: between fork and exec only async-signal-safe calls
    // (unshare, sethostname) on memory the child owns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWUTS) != 0
                || libc::sethostname(host.as_ptr().cast(), host.len()) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    common::run_timeout(cmd)
}

/// Issue 10, item 10e. The kernel's host name with a line break (or
/// bytes that are not UTF-8): the warning names the host name, the mail
/// goes out with `?` in its place, HELO is `netmon` (never empty), the
/// Message-ID domain `netmon.invalid`, and no line break reaches a header.
#[test]
fn a_broken_host_name_is_named_and_never_reaches_a_header() {
    let Some(py) = setup("a_broken_host_name_is_named_and_never_reaches_a_header") else {
        return;
    };
    let ns = netns();
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &ns.name, tmp.path());
    let run = Run::new(&ns, &config("plain", PASSWORD));
    run.ok(&["start"]);
    let cases: [(&[u8], &str, &str); 2] = [
        (
            b"gw\r\nBcc: evil@x.test",
            "gw??Bcc: evil@x.test",
            "contains a line break",
        ),
        (b"gw\xff.lan", "gw?.lan", "is not UTF-8 text"),
    ];
    for (i, (raw, shown, why)) in cases.into_iter().enumerate() {
        let out = run_with_hostname(&run, raw, &["report", "--mail", "--format", "json"]);
        let se = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{se}");
        assert_eq!(
            se,
            format!(
                "netmon: warning: the router's host name '{shown}' {why}, so mail uses \
                 '{shown}' for it and says HELO netmon: set a plain host name in \
                 /etc/config/system (option hostname)\n"
            )
        );
        let rep = Report::parse(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(srv.count(), i + 1);
        let eml = &srv.messages()[i];
        let m = srv.parse(eml);
        assert_eq!(
            m.one("Subject"),
            format!(
                "Usage {} .. {} on {shown}",
                human(&rep.from),
                human(&rep.to)
            )
        );
        assert!(m.header("Bcc").is_empty(), "{}", m.headers);
        assert!(m.one("Message-ID").ends_with("@netmon.invalid>"));
        assert_eq!(
            std::fs::read_to_string(eml.with_extension("helo")).unwrap(),
            "netmon\n"
        );
        let env = std::fs::read_to_string(eml.with_extension("env")).unwrap();
        assert!(!env.contains("evil"), "{env}");
    }
    run.assert_no_password();
}

// ---------------------------------------------------------------------------
// Issue 11: device names (chosen by anyone on the LAN) in the report mail.

/// The report mail lists the devices of the period; hostile names (markup,
/// an ANSI colour, CR/LF, 300 bytes kept as 63, invalid UTF-8) reach the
/// text part terminal-escaped, the HTML part HTML-escaped, and no header.
#[test]
fn hostile_device_names_reach_the_mail_only_escaped() {
    use netmon::device::{DeviceName, Mac};
    use netmon::state::{Count, DeviceState, DownUp, State};
    let Some(py) = setup("hostile_device_names_reach_the_mail_only_escaped") else {
        return;
    };
    let ns = netns();
    let tmp = TempDir::new("nmt-mail-srv");
    let srv = Smtpd::start(&py, &ns.name, tmp.path());
    let run = Run::new(&ns, &config("plain", PASSWORD));
    run.ok(&["start"]);
    let names: [&[u8]; 5] = [
        b"<script>alert(1)</script>",
        b"\x1b[31mred\x1b[0m",
        b"cr\r\nBcc: evil@x.test",
        &[b'A'; 300],
        b"bad\xff\xfename",
    ];
    let path = run.state().join("state");
    let mut st = State::decode(&std::fs::read(&path).unwrap()).unwrap();
    for (i, name) in names.iter().enumerate() {
        let mut d = DeviceState::new(Mac([2, 0, 0, 0, 0, i as u8 + 1]));
        d.name = DeviceName::from_slice(&name[..name.len().min(63)]).unwrap();
        let down = 5000 - 1000 * i as u64;
        d.total = DownUp::new(Count::new(1, down), Count::new(1, 7));
        st.devices.push(d);
    }
    std::fs::write(&path, st.encode()).unwrap();
    let (so, se) = run.ok(&["report", "--mail", "--format", "json"]);
    assert_eq!(se, "");
    assert!(
        so.contains("\"name\":\"<script>alert(1)</script>\""),
        "{so}"
    );
    assert!(
        so.contains("\"name\":\"cr\\u000d\\u000aBcc: evil@x.test\""),
        "{so}"
    );
    assert_eq!(srv.count(), 1);
    let eml = &srv.messages()[0];
    let m = srv.parse(eml);
    assert!(m.header("Bcc").is_empty(), "{}", m.headers);
    for bad in ["script", "evil", "red", "AAAA", "bad"] {
        assert!(
            !m.headers.contains(bad),
            "{bad} in the headers:\n{}",
            m.headers
        );
    }
    let env = std::fs::read_to_string(eml.with_extension("env")).unwrap();
    assert!(!env.contains("evil"), "{env}");

    let text = m.text.replace("\r\n", "\n");
    assert!(
        text.contains("\nDevices since the last report:\n"),
        "{text}"
    );
    for want in [
        "\n    <script>alert(1)</scrip…  02:00:00:00:00:01 ",
        "\n    \\x1b[31mred\\x1b[0m        02:00:00:00:00:02 ",
        "\n    cr\\x0d\\x0aBcc: evil@x.t…  02:00:00:00:00:03 ",
        "\n    AAAAAAAAAAAAAAAAAAAAAAA…  02:00:00:00:00:04 ",
        "\n    bad\u{fffd}\u{fffd}name                 02:00:00:00:00:05 ",
    ] {
        assert!(text.contains(want), "{want:?} in the text part:\n{text}");
    }
    for l in text.lines() {
        assert!(!l.chars().any(char::is_control), "{l:?}");
    }

    let html = &m.html;
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    for want in [
        ">&lt;script&gt;alert(1)&lt;/script&gt;</th>",
        ">?[31mred?[0m</th>",
        ">cr??Bcc: evil@x.test</th>",
        &format!(">{}</th>", "A".repeat(63)),
        ">bad\u{fffd}\u{fffd}name</th>",
        ">02:00:00:00:00:05</td>",
    ] {
        assert!(html.contains(want), "{want:?} in the HTML part:\n{html}");
    }
    for l in html.lines() {
        let l = l.trim_end_matches('\r');
        assert!(!l.chars().any(char::is_control), "{l:?}");
    }
    run.assert_no_password();
}
