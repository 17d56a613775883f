//! "Never lose a report", end to end on 127.0.0.1: the config is parsed
//! from UCI text, the message is built by `build_report_message` from the
//! real text and HTML renderers, queued in the spool and delivered by
//! `Mailer::deliver_spool` over SMTP to a real aiosmtpd
//! (tests/helpers/smtpd.py) or to a small fault server, and, when that
//! fails, kept on disk and delivered by a later run once the server
//! behaves: exactly once (the server's saved messages are counted) with
//! the spool empty afterwards. Plus the sendmail transport
//! with a fake sendmail script that records its argv and stdin.
//!
//! Python: env NETMON_TEST_PYTHON, else $HOME/.cache/netmon-venv/bin/python
//! if present, else `python3`. Without aiosmtpd these tests print SKIPPED,
//! unless env CI is set, where they fail.

mod aiosmtpd;
use aiosmtpd::aiosmtpd_python;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netmon::config;
use netmon::mail::config::MailConfig;
use netmon::mail::deliver::{build_report_message, Mailer};
use netmon::mail::spool::{self, MAX_PERMANENT_ATTEMPTS};
use netmon::report::{html, text, Report, Row};
use netmon::state::Count;
use netmon::text::Buf;
use netmon::tz::Zone;

const HOST: &str = "gw.lan";
const NOW: i64 = 1_795_287_600; // Sat, 21 Nov 2026 19:00:00 UTC

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netmon-mail-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// aiosmtpd on 127.0.0.1:`port` (0 = any); killed and reaped on drop.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start(py: &str, name: &str, port: u16, extra: &[&str]) -> Server {
        let dir = temp_dir(&format!("{name}-server"));
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut child = Command::new(py)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/helpers/smtpd.py"
            ))
            .args(["--port", &port.to_string(), "--lifetime", "60"])
            .arg("--maildir")
            .arg(&dir)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            panic!("smtpd.py did not print a port: {line:?}\n{log}")
        });
        Server { child, port, dir }
    }

    /// The messages the server accepted and saved, in order.
    fn messages(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A one-connection fault server; join it before reusing its port.
fn fault_server(script: impl FnOnce(TcpStream) + Send + 'static) -> (u16, JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        if let Ok((s, _)) = l.accept() {
            script(s)
        }
    });
    (port, h)
}

fn mail_config(port: u16, extra: &str) -> MailConfig {
    let timeout = if extra.contains("timeout") {
        ""
    } else {
        "\toption timeout '2'\n"
    };
    let text = format!(
        "config meter 'proxy'\n\toption hook 'input'\n\n\
         config mail 'mail'\n\toption server '127.0.0.1'\n\toption port '{port}'\n\
         \toption from 'netmon@gw.lan'\n\tlist to 'me@example.org'\n\
         \toption subject 'Usage on %host until %to'\n{timeout}{extra}"
    );
    let c = config::parse(&text, "test").unwrap_or_else(|e| panic!("{}", e.sentence()));
    c.mail.unwrap()
}

/// The real renderers' output for a two-meter report.
fn rendered() -> (String, String) {
    let r = Report {
        from: NOW - 86_400,
        to: NOW,
        total_since: NOW - 30 * 86_400,
        reset_detected: false,
        rows: vec![
            Row {
                name: "proxy",
                period: Count::new(987_654, 1_234_567_890),
                total: Count::new(9_876_543, 98_765_432_101),
                retired: false,
            },
            Row {
                name: "offnet",
                period: Count::new(1, 42),
                total: Count::new(7, 4242),
                retired: false,
            },
        ],
        table: None,
        zone: Zone::UTC,
        devices: None,
        offload: Default::default(),
    };
    let mut t = Buf::new();
    text::render(&r, &mut t);
    let days: Vec<(i64, Vec<u64>)> = (0..30)
        .map(|d| (NOW / 86_400 - 29 + d, vec![d as u64 * 1000, 5]))
        .collect();
    let mut h = Buf::new();
    html::render(&r, &days, &["proxy", "offnet"], &mut h);
    (t.as_str().into(), h.as_str().into())
}

fn report_message(cfg: &MailConfig) -> Vec<u8> {
    let (t, h) = rendered();
    build_report_message(cfg, &t, Some(&h), NOW - 86_400, NOW, HOST, NOW, &Zone::UTC).unwrap()
}

struct Run {
    spool: PathBuf,
}

impl Run {
    fn new(name: &str) -> Run {
        Run {
            spool: temp_dir(name).join("spool"),
        }
    }
    fn dir(&self) -> &str {
        self.spool.to_str().unwrap()
    }
    fn mailer<'a>(&'a self, cfg: &'a MailConfig) -> Mailer<'a> {
        Mailer::new(cfg, HOST, self.dir())
    }
    /// Queues `msg` and runs the first delivery: it must fail, with the
    /// report's own warning; returns the reason and whether it counted as
    /// a refusal of the message.
    fn spooled(&self, cfg: &MailConfig, msg: &[u8]) -> (String, bool) {
        let m = self.mailer(cfg);
        let (entry, full) = m.queue(msg, NOW).unwrap();
        assert!(full.is_empty());
        let ev = m.deliver_spool(NOW, Some(&entry)).unwrap();
        let w = self.waiting();
        assert_eq!(w.len(), 1, "{ev:?}");
        let reason = w[0].reason.clone();
        let want = format!(
            "report mail not delivered ({reason}); kept as {}/{entry} and retried at the next update",
            self.dir()
        );
        assert_eq!(ev, [want]);
        (reason, w[0].refusals == 1)
    }
    fn waiting(&self) -> Vec<spool::Entry> {
        spool::list(self.dir()).unwrap()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.spool.parent().unwrap());
    }
}

/// The later run with a working server: one event, "delivered", the
/// server holds exactly the spooled bytes once, the spool is empty, and a
/// further run sends nothing more.
fn later_run_delivers_exactly_once(run: &Run, py: &str, port: u16, msg: &[u8]) {
    let cfg = mail_config(port, "");
    let s = Server::start(py, &format!("later-{port}"), port, &[]);
    let ev = run.mailer(&cfg).deliver_spool(NOW + 300, None).unwrap();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(ev[0].ends_with(": delivered (attempt 2)"), "{ev:?}");
    assert!(run.waiting().is_empty());
    assert_eq!(
        run.mailer(&cfg).deliver_spool(NOW + 600, None).unwrap(),
        Vec::<String>::new()
    );
    let got = s.messages();
    assert_eq!(got.len(), 1, "delivered exactly once");
    assert_eq!(got[0], msg, "the spooled bytes, unchanged");
}

#[test]
fn report_message_parses_back_with_every_header_and_both_parts() {
    let Some(py) = aiosmtpd_python() else { return };
    let s = Server::start(&py, "parse", 0, &[]);
    let cfg = mail_config(s.port, "");
    let run = Run::new("parse");
    let m = run.mailer(&cfg);
    let msg = report_message(&cfg);
    let (entry, _) = m.queue(&msg, NOW).unwrap();
    assert_eq!(
        m.deliver_spool(NOW, Some(&entry)).unwrap(),
        Vec::<String>::new()
    );
    assert!(run.waiting().is_empty());
    let eml = s.dir.join("001.eml");
    assert!(Command::new(&py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/helpers/smtpd.py"
        ))
        .arg("parse")
        .arg(&eml)
        .status()
        .unwrap()
        .success());
    let read = |suffix: &str| {
        let mut p = eml.as_os_str().to_owned();
        p.push(suffix);
        std::fs::read_to_string(p).unwrap()
    };
    let headers = read(".headers");
    let pid = std::process::id();
    for h in [
        "Date: Sat, 21 Nov 2026 19:00:00 +0000\n".to_string(),
        format!("Message-ID: <{NOW}.{pid}."),
        "@gw.lan>\n".into(),
        "From: netmon@gw.lan\n".into(),
        "To: me@example.org\n".into(),
        "Subject: Usage on gw.lan until 2026-11-21 19:00:00 UTC\n".into(),
        "MIME-Version: 1.0\n".into(),
    ] {
        assert!(headers.contains(&h), "missing {h:?} in:\n{headers}");
    }
    assert_eq!(
        read(".parts"),
        "multipart/alternative\ntext/plain utf-8 quoted-printable\ntext/html utf-8 quoted-printable\n"
    );
    let (t, h) = rendered();
    assert_eq!(read(".part0").replace("\r\n", "\n"), t);
    assert_eq!(read(".part1").replace("\r\n", "\n"), h);
    assert!(
        t.contains("1.15 GiB  (1234567890 bytes, 987654 packets)"),
        "{t}"
    );
    assert!(h.contains(">1234567890 B</td>"));
    assert_eq!(s.file("001.env"), "netmon@gw.lan\nme@example.org\n");
}

#[test]
fn connection_refused_is_spooled_then_delivered_exactly_once() {
    let Some(py) = aiosmtpd_python() else { return };
    let port = free_port();
    let cfg = mail_config(port, "");
    let run = Run::new("refused");
    let msg = report_message(&cfg);
    let (reason, permanent) = run.spooled(&cfg, &msg);
    assert!(!permanent);
    assert_eq!(
        reason,
        format!("connect: 127.0.0.1:{port}: Connection refused")
    );
    // A run while the server is still down: kept, one more attempt.
    let ev = run.mailer(&cfg).deliver_spool(NOW + 60, None).unwrap();
    assert_eq!(ev.len(), 1);
    assert!(
        ev[0].contains(": still waiting (attempt 2): connect: "),
        "{ev:?}"
    );
    let w = run.waiting();
    assert_eq!((w.len(), w[0].attempts, w[0].last), (1, 2, NOW + 60));
    let cfg2 = mail_config(port, "");
    let s = Server::start(&py, "refused", port, &[]);
    let ev = run.mailer(&cfg2).deliver_spool(NOW + 300, None).unwrap();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(ev[0].ends_with(": delivered (attempt 3)"), "{ev:?}");
    assert!(run.waiting().is_empty());
    assert!(run
        .mailer(&cfg2)
        .deliver_spool(NOW + 600, None)
        .unwrap()
        .is_empty());
    assert_eq!(s.messages(), vec![msg]);
}

#[test]
fn greeting_421_is_spooled_then_delivered_exactly_once() {
    let Some(py) = aiosmtpd_python() else { return };
    let (port, h) = fault_server(|mut s| {
        let _ = s.write_all(b"421 4.3.2 mx.test busy, try later\r\n");
    });
    let cfg = mail_config(port, "");
    let run = Run::new("421");
    let msg = report_message(&cfg);
    let (reason, permanent) = run.spooled(&cfg, &msg);
    assert_eq!(
        (reason.as_str(), permanent),
        ("greeting: 421 4.3.2 mx.test busy, try later", false)
    );
    h.join().unwrap();
    later_run_delivers_exactly_once(&run, &py, port, &msg);
}

#[test]
fn reply_451_after_data_is_spooled_then_delivered_exactly_once() {
    let Some(py) = aiosmtpd_python() else { return };
    let s = Server::start(&py, "451", 0, &["--tempfail-data", "1"]);
    let cfg = mail_config(s.port, "");
    let run = Run::new("451");
    let msg = report_message(&cfg);
    let (reason, permanent) = run.spooled(&cfg, &msg);
    assert_eq!(
        (reason.as_str(), permanent),
        ("end of data: 451 4.3.0 try again later", false)
    );
    assert!(s.messages().is_empty());
    let ev = run.mailer(&cfg).deliver_spool(NOW + 300, None).unwrap();
    assert!(ev[0].ends_with(": delivered (attempt 2)"), "{ev:?}");
    assert!(run.waiting().is_empty());
    assert!(run
        .mailer(&cfg)
        .deliver_spool(NOW + 600, None)
        .unwrap()
        .is_empty());
    assert_eq!(s.messages(), vec![msg]);
}

#[test]
fn silent_server_is_spooled_within_the_timeout_then_delivered_once() {
    let Some(py) = aiosmtpd_python() else { return };
    let (port, h) = fault_server(|mut s| {
        let _ = s.write_all(b"220 mx.test\r\n");
        let mut buf = [0u8; 512];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    let cfg = mail_config(port, "\toption timeout '1'\n");
    let run = Run::new("silent");
    let msg = report_message(&cfg);
    let t = Instant::now();
    let (reason, _) = run.spooled(&cfg, &msg);
    let took = t.elapsed();
    assert_eq!(reason, "EHLO/HELO: timed out waiting for the server");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    h.join().unwrap();
    later_run_delivers_exactly_once(&run, &py, port, &msg);
}

#[test]
fn connection_closed_mid_data_is_spooled_then_delivered_once() {
    let Some(py) = aiosmtpd_python() else { return };
    let (port, h) = fault_server(|s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let mut line = String::new();
        let _ = w.write_all(b"220 mx.test\r\n");
        for reply in ["250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"] {
            line.clear();
            let _ = r.read_line(&mut line);
            let _ = w.write_all(reply.as_bytes());
        }
        // Two lines of the message, then hang up.
        let _ = r.read_line(&mut line);
        let _ = r.read_line(&mut line);
    });
    let cfg = mail_config(port, "");
    let run = Run::new("middata");
    let msg = report_message(&cfg);
    let (reason, permanent) = run.spooled(&cfg, &msg);
    assert!(!permanent);
    // Measured: "DATA: connection closed by the server"; a reset while
    // writing the body would be an I/O error of the same stage.
    assert!(
        reason.starts_with("DATA: ") || reason.starts_with("end of data: "),
        "{reason}"
    );
    h.join().unwrap();
    later_run_delivers_exactly_once(&run, &py, port, &msg);
}

#[test]
fn refused_recipient_is_kept_with_its_reason_and_retried_a_bounded_number_of_times() {
    let Some(py) = aiosmtpd_python() else { return };
    let s = Server::start(&py, "550", 0, &["--reject-rcpt", "@"]);
    let cfg = mail_config(s.port, "");
    let run = Run::new("550");
    let msg = report_message(&cfg);
    let (reason, permanent) = run.spooled(&cfg, &msg);
    assert!(permanent);
    assert!(
        reason.starts_with("RCPT TO: every recipient refused: me@example.org: 550 5.1.1"),
        "{reason}"
    );
    let w = run.waiting();
    assert_eq!(
        (w[0].attempts, w[0].refusals, w[0].reason.as_str()),
        (1, 1, reason.as_str())
    );
    let mut events = Vec::new();
    for i in 0..8 {
        events.extend(
            run.mailer(&cfg)
                .deliver_spool(NOW + 60 * (i + 1), None)
                .unwrap(),
        );
    }
    // 1 first attempt + 4 retries = MAX_PERMANENT_ATTEMPTS tries in all,
    // as the server saw them.
    let tries = s.file("rejected.log").lines().count();
    assert_eq!(tries as u32, MAX_PERMANENT_ATTEMPTS);
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events[0].contains("refused by the server, refusal 2 of 5 (attempt 2): RCPT TO"));
    assert!(
        events[3].contains("refused too often, given up (attempt 5)"),
        "{events:?}"
    );
    assert!(run.waiting().is_empty());
    let failed = run.spool.join("failed");
    assert_eq!(std::fs::read_dir(&failed).unwrap().count(), 1);
    assert!(s.messages().is_empty());
}

/// A fake sendmail: records argv (one per line) and stdin, prints `err`
/// on stderr, exits with `code`.
fn fake_sendmail(dir: &Path, code: i32, err: &str) -> String {
    let p = dir.join("sendmail");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{d}/argv'\ncat >> '{d}/stdin'\necho '{err}' >&2\nexit {code}\n",
        d = dir.display()
    );
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn sendmail_transport_pipes_the_message_and_spools_on_failure() {
    let dir = temp_dir("sendmail");
    let spool_dir = dir.join("spool");
    let cfg = mail_config(25, "\toption transport 'sendmail'\n");
    let msg = report_message(&cfg);
    let lf: Vec<u8> = String::from_utf8(msg.clone())
        .unwrap()
        .replace("\r\n", "\n")
        .into();

    // Temporary failure (EX_TEMPFAIL): spooled with sendmail's words.
    let bad = fake_sendmail(&dir, 75, "msmtp: cannot connect to smtp.example.org");
    let mut m = Mailer::new(&cfg, HOST, spool_dir.to_str().unwrap());
    m.sendmail = &bad;
    let (entry, _) = m.queue(&msg, NOW).unwrap();
    let ev = m.deliver_spool(NOW, Some(&entry)).unwrap();
    assert_eq!(ev.len(), 1, "{ev:?}");
    let reason = spool::list(spool_dir.to_str().unwrap()).unwrap()[0]
        .reason
        .clone();
    assert_eq!(
        reason,
        format!("sendmail {bad}: exit status 75: msmtp: cannot connect to smtp.example.org")
    );
    assert_eq!(std::fs::read(dir.join("stdin")).unwrap(), lf);

    // Fixed: the retry pipes the same message once more, and that's all.
    std::fs::remove_file(dir.join("stdin")).unwrap();
    let good = fake_sendmail(&dir, 0, "");
    m.sendmail = &good;
    let ev = m.deliver_spool(NOW + 60, None).unwrap();
    assert_eq!(ev.len(), 1);
    assert!(ev[0].ends_with(": delivered (attempt 2)"), "{ev:?}");
    assert!(m.deliver_spool(NOW + 120, None).unwrap().is_empty());
    assert_eq!(
        std::fs::read(dir.join("stdin")).unwrap(),
        lf,
        "exactly once"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("argv")).unwrap(),
        "-t\n-i\n-t\n-i\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sendmail_that_hangs_is_killed_and_missing_sendmail_is_transient() {
    let dir = temp_dir("sendmail-hang");
    let p = dir.join("hang");
    std::fs::write(&p, "#!/bin/sh\nexec sleep 30\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let t = Instant::now();
    let o = netmon::mail::deliver::sendmail(p.to_str().unwrap(), b"x\r\n", Duration::from_secs(1));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let netmon::mail::smtp::Outcome::Transient(f) = o else {
        panic!("{o:?}")
    };
    assert!(
        f.reason.ends_with("no exit after 1 s; killed"),
        "{}",
        f.reason
    );
    let o = netmon::mail::deliver::sendmail("/nonexistent/sendmail", b"x", Duration::from_secs(1));
    let netmon::mail::smtp::Outcome::Transient(f) = o else {
        panic!("{o:?}")
    };
    assert_eq!(
        f.reason,
        "sendmail /nonexistent/sendmail: cannot run it: No such file or directory"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
