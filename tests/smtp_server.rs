//! The SMTP client against real servers on 127.0.0.1 only:
//! - aiosmtpd (tests/helpers/smtpd.py) for delivery, AUTH PLAIN/LOGIN with
//!   right and wrong passwords, and partial recipient rejection; the
//!   delivered message is parsed back by Python's email package.
//! - tiny std TcpListener servers for faults: connection refused, a 421
//!   greeting, a server that never answers (the wait must be bounded).
//!
//! Python: env NETMON_TEST_PYTHON, else $HOME/.cache/netmon-venv/bin/python
//! if present, else `python3`. Without aiosmtpd the aiosmtpd tests print
//! SKIPPED, unless env CI is set, where they fail.

mod aiosmtpd;
use aiosmtpd::aiosmtpd_python;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netmon::mail::message::{self, Message};
use netmon::mail::smtp::{self, Credentials, Envelope, Mechanism, Outcome, Stage};

const USER: &str = "router";
const PASSWORD: &str = "s3cret-pw";

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netmon-smtp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The aiosmtpd child; killed and reaped on drop. Closing its stdin also
/// stops it, and it stops by itself after 60 s in any case.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
    py: String,
}

impl Server {
    fn start(py: &str, name: &str, extra: &[&str]) -> Server {
        let dir = temp_dir(name);
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut child = Command::new(py)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/helpers/smtpd.py"
            ))
            .args([
                "--port",
                "0",
                "--lifetime",
                "60",
                "--user",
                USER,
                "--password",
                PASSWORD,
            ])
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
        Server {
            child,
            port,
            dir,
            py: py.into(),
        }
    }

    fn send(&self, to: &[&str], auth: Option<&Credentials>, msg: &[u8]) -> Outcome {
        let env = Envelope::new("router.lan", "netmon@router.lan", to).unwrap();
        smtp::send(
            "127.0.0.1",
            self.port,
            Duration::from_secs(5),
            &env,
            auth,
            msg,
        )
    }

    fn saved(&self, n: u32) -> PathBuf {
        self.dir.join(format!("{n:03}.eml"))
    }

    fn read(&self, path: &Path, suffix: &str) -> String {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"))
    }

    /// Parses a saved message with Python's email package.
    fn parse(&self, path: &Path) {
        let st = Command::new(&self.py)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/helpers/smtpd.py"
            ))
            .arg("parse")
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const TEXT: &str = "netmon report 2026-11-01 .. 2026-11-21\n\
    proxy    1234567890 bytes   987654 packets\n\
    .offnet  42 bytes   1 packets\n\
    From the router, with love\n";
const HTML: &str = "<html><body><table><tr><th>proxy</th><td>1234567890</td></tr></table>\
    <svg width=\"300\" height=\"100\"><rect x=\"0\" y=\"10\" width=\"5\" height=\"90\"/></svg></body></html>\n";
const SUBJECT: &str = "netmon: Bericht für November – 1.2 GB";

fn report(to: &[&str]) -> Vec<u8> {
    message::build(&Message {
        from: "netmon@router.lan",
        to,
        subject: SUBJECT,
        date: "Sat, 21 Nov 2026 19:00:00 +0000",
        id_unique: "20261121190000.77",
        id_domain: "router.lan",
        text: TEXT,
        html: Some(HTML),
    })
    .unwrap()
}

fn creds(m: Mechanism, password: &str) -> Credentials<'_> {
    Credentials::new(m, USER, password).unwrap()
}

fn crlf_to_lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

#[test]
fn delivers_report_with_auth_plain_and_parses_back() {
    let Some(py) = aiosmtpd_python() else { return };
    let s = Server::start(&py, "plain", &["--auth-required"]);
    let to = ["a@example.org", "b@example.org"];
    let o = s.send(&to, Some(&creds(Mechanism::Plain, PASSWORD)), &report(&to));
    assert_eq!(o, Outcome::Delivered { rejected: vec![] });

    let eml = s.saved(1);
    assert_eq!(
        s.read(&eml.with_extension("env"), ""),
        "netmon@router.lan\na@example.org\nb@example.org\n"
    );
    s.parse(&eml);
    let headers = s.read(&eml, ".headers");
    for h in [
        "Date: Sat, 21 Nov 2026 19:00:00 +0000\n",
        "Message-ID: <20261121190000.77@router.lan>\n",
        "From: netmon@router.lan\n",
        "To: a@example.org, b@example.org\n",
        &format!("Subject: {SUBJECT}\n"),
        "MIME-Version: 1.0\n",
        "Auto-Submitted: auto-generated\n",
    ] {
        assert!(headers.contains(h), "missing {h:?} in:\n{headers}");
    }
    assert_eq!(
        s.read(&eml, ".parts"),
        "multipart/alternative\n\
         text/plain utf-8 quoted-printable\n\
         text/html utf-8 quoted-printable\n"
    );
    // Both parts decode to exactly what went in: the numbers, the line
    // starting with "." (dot-stuffed on the wire), the "From " line.
    assert_eq!(crlf_to_lf(&s.read(&eml, ".part0")), TEXT);
    assert_eq!(crlf_to_lf(&s.read(&eml, ".part1")), HTML);
    assert_eq!(s.read(&s.dir.join("auth.log"), ""), "PLAIN ok\n");
}

#[test]
fn auth_login_right_password_delivers() {
    let Some(py) = aiosmtpd_python() else { return };
    let s = Server::start(&py, "login", &["--auth-required"]);
    let o = s.send(
        &["a@example.org"],
        Some(&creds(Mechanism::Login, PASSWORD)),
        &report(&["a@example.org"]),
    );
    assert_eq!(o, Outcome::Delivered { rejected: vec![] });
    assert!(s.saved(1).exists());
    assert_eq!(s.read(&s.dir.join("auth.log"), ""), "LOGIN ok\n");
}

#[test]
fn wrong_password_is_a_permanent_auth_failure_for_both_mechanisms() {
    let Some(py) = aiosmtpd_python() else { return };
    let s = Server::start(&py, "wrong", &["--auth-required"]);
    for m in [Mechanism::Plain, Mechanism::Login] {
        let o = s.send(
            &["a@example.org"],
            Some(&creds(m, "wrong-pw")),
            b"Subject: x\r\n\r\nx\r\n",
        );
        let Outcome::Permanent(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!((f.stage, f.code), (Stage::Auth, Some(535)), "{}", f.reason);
        assert!(!f.reason.contains("wrong-pw"), "{}", f.reason);
    }
    assert_eq!(
        s.read(&s.dir.join("auth.log"), ""),
        "PLAIN fail\nLOGIN fail\n"
    );
    assert!(!s.saved(1).exists());
}

#[test]
fn without_auth_the_server_refuses_mail() {
    let Some(py) = aiosmtpd_python() else { return };
    let s = Server::start(&py, "noauth", &["--auth-required"]);
    let o = s.send(&["a@example.org"], None, b"Subject: x\r\n\r\nx\r\n");
    // aiosmtpd: 530 5.7.0 Authentication required.
    assert!(
        matches!(&o, Outcome::Permanent(f) if f.code == Some(530)),
        "{o:?}"
    );
}

#[test]
fn one_rejected_recipient_the_others_still_get_it() {
    let Some(py) = aiosmtpd_python() else { return };
    let s = Server::start(&py, "partial", &["--reject-rcpt", "nobody"]);
    let to = ["a@example.org", "nobody@example.org", "c@example.org"];
    let Outcome::Delivered { rejected } = s.send(&to, None, &report(&to)) else {
        panic!()
    };
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].recipient, "nobody@example.org");
    assert_eq!(rejected[0].code, 550);
    assert_eq!(
        s.read(&s.saved(1).with_extension("env"), ""),
        "netmon@router.lan\na@example.org\nc@example.org\n"
    );
}

/// A one-connection server on 127.0.0.1 running `script` in a thread.
fn fake_server(script: impl FnOnce(std::net::TcpStream) + Send + 'static) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((s, _)) = l.accept() {
            script(s)
        }
    });
    port
}

fn send_to(port: u16, timeout: Duration) -> Outcome {
    let env = Envelope::new("router.lan", "netmon@router.lan", &["a@example.org"]).unwrap();
    smtp::send(
        "127.0.0.1",
        port,
        timeout,
        &env,
        None,
        b"Subject: x\r\n\r\nx\r\n",
    )
}

#[test]
fn connection_refused_is_transient() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = send_to(port, Duration::from_secs(2));
    let Outcome::Transient(f) = o else {
        panic!("{o:?}")
    };
    assert_eq!(f.stage, Stage::Connect);
    assert!(
        f.reason
            .starts_with(&format!("connect: 127.0.0.1:{port}: ")),
        "{}",
        f.reason
    );
}

#[test]
fn unresolvable_host_is_transient() {
    let env = Envelope::new("router.lan", "netmon@router.lan", &["a@example.org"]).unwrap();
    let o = smtp::send(
        "no-such-host.invalid",
        25,
        Duration::from_secs(2),
        &env,
        None,
        b"x",
    );
    assert!(
        matches!(&o, Outcome::Transient(f) if f.stage == Stage::Connect),
        "{o:?}"
    );
}

#[test]
fn greeting_421_over_tcp_is_transient() {
    let port = fake_server(|mut s| {
        let _ = s.write_all(b"421 4.3.2 mx.test busy, try later\r\n");
    });
    let o = send_to(port, Duration::from_secs(2));
    let Outcome::Transient(f) = o else {
        panic!("{o:?}")
    };
    assert_eq!((f.stage, f.code), (Stage::Greeting, Some(421)));
}

#[test]
fn silent_server_wait_is_bounded_by_the_timeout() {
    let port = fake_server(|mut s| {
        let _ = s.write_all(b"220 mx.test\r\n");
        // Read EHLO, then say nothing until the client gives up.
        let mut buf = [0u8; 512];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    let t = Instant::now();
    let o = send_to(port, Duration::from_secs(1));
    let elapsed = t.elapsed();
    let Outcome::Transient(f) = o else {
        panic!("{o:?}")
    };
    assert_eq!(f.reason, "EHLO/HELO: timed out waiting for the server");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[test]
fn connection_closed_mid_data_is_transient() {
    let port = fake_server(|s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let mut line = String::new();
        let _ = w.write_all(b"220 mx.test\r\n");
        for reply in ["250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"] {
            line.clear();
            let _ = r.read_line(&mut line);
            let _ = w.write_all(reply.as_bytes());
        }
        // Take one line of the body, then hang up.
        let _ = r.read_line(&mut line);
    });
    let o = send_to(port, Duration::from_secs(2));
    let Outcome::Transient(f) = o else {
        panic!("{o:?}")
    };
    assert!(matches!(f.stage, Stage::Data | Stage::EndOfData), "{f:?}");
    assert!(
        f.reason.ends_with("connection closed by the server"),
        "{}",
        f.reason
    );
}
