//! What the app calls to mail: build the message (`build_report_message`,
//! `build_test_message`), put it into the spool (`Mailer::queue`: a
//! local write, done under netmon's state lock), and deliver the spool
//! oldest first (`Mailer::deliver_spool`, after the state lock is
//! released, under the spool's own lock; see `spool`). `mail-test`
//! tries its message once (`Mailer::attempt`) and spools nothing.
//!
//! Transports: `smtp` is netmon's own client (`smtp::send`); `sendmail`
//! runs `/usr/sbin/sendmail -t -i` (argv only, no shell) with the message
//! on stdin, LF line ends (the local convention sendmail expects); a
//! non-zero exit is a transient failure carrying its stderr. `-i`: a line
//! holding a single `.` is not the end of the message (busybox and msmtp
//! accept and imply it).
//!
//! Time and host name come from the caller; nothing here reads the clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::mail::config::{MailConfig, Transport};
use crate::mail::message::{self, Message};
use crate::mail::smtp::{self, Envelope, Failure, Outcome, Stage};
use crate::mail::spool;
use crate::sys::{self, Child, Pump, Status};
use crate::text::Buf;
use crate::time::Civil;

/// Where OpenWrt's msmtp-mta (and busybox) put sendmail.
pub const SENDMAIL: &str = "/usr/sbin/sendmail";
/// Bytes of sendmail's stderr kept for the reason.
const MAX_STDERR: usize = 1024;
/// How long to wait for sendmail's stderr to end after it exited.
const STDERR_GRACE: Duration = Duration::from_secs(1);

/// The configured way out, plus the bits of the environment the caller
/// supplies (host name for HELO and Message-ID, sendmail's path).
pub struct Mailer<'a> {
    pub cfg: &'a MailConfig,
    /// The router's host name, made safe (`MailConfig::host_name`).
    pub hostname: &'a str,
    /// `<state_dir>/spool`.
    pub spool_dir: &'a str,
    /// `SENDMAIL`, or a test's fake.
    pub sendmail: &'a str,
}

impl<'a> Mailer<'a> {
    pub fn new(cfg: &'a MailConfig, hostname: &'a str, spool_dir: &'a str) -> Mailer<'a> {
        Mailer {
            cfg,
            hostname,
            spool_dir,
            sendmail: SENDMAIL,
        }
    }

    /// The envelope for a message to the configured recipients.
    pub fn envelope(&self) -> Result<Envelope<'a>> {
        self.cfg.envelope(self.hostname)
    }

    /// One delivery attempt over the configured transport.
    pub fn attempt(&self, env: &Envelope, msg: &[u8]) -> Outcome {
        match self.cfg.transport {
            Transport::Smtp => {
                let auth = match self.cfg.credentials() {
                    Ok(a) => a,
                    Err(e) => return Outcome::Permanent(failure(Stage::Auth, e.message().into())),
                };
                let t = self.cfg.timeout();
                smtp::send(&self.cfg.server, self.cfg.port, t, env, auth.as_ref(), msg)
            }
            Transport::Sendmail => sendmail(self.sendmail, msg, self.cfg.timeout() * 2),
        }
    }

    /// Puts `msg`, to the configured recipients, into the spool for
    /// `deliver_spool`: no network. Returns the entry's name and the
    /// warnings about a full spool (see `spool::queue`).
    pub fn queue(&self, msg: &[u8], now: i64) -> Result<(String, Vec<String>)> {
        let env = self.envelope()?;
        spool::queue(self.spool_dir, env.from(), env.to(), msg, now)
    }

    /// Delivers the spool, oldest first; one sentence per event (see
    /// `spool::retry`; `fresh`: the entry the caller just queued), or
    /// Err(pid) when another netmon is delivering it. Entries keep their
    /// own sender and recipients; server, AUTH and HELO are today's
    /// config.
    pub fn deliver_spool(
        &self,
        now: i64,
        fresh: Option<&str>,
    ) -> core::result::Result<Vec<String>, u32> {
        spool::retry(
            self.spool_dir,
            now,
            fresh,
            |entry, msg| match Envelope::new(self.cfg.helo(self.hostname), &entry.from, &entry.to) {
                Ok(env) => self.attempt(&env, msg),
                Err(e) => Outcome::Permanent(failure(Stage::MailFrom, e.message().into())),
            },
        )
    }
}

fn failure(stage: Stage, reason: String) -> Failure {
    Failure {
        stage,
        code: None,
        reason,
    }
}

/// Runs `path -t -i` with `msg` (LF line ends) on stdin, waiting at most
/// `limit`; the child is killed after that. stdin is fed and stderr
/// drained while waiting (`sys::Pump`), so neither pipe can block the
/// wait. After the exit, stderr gets `STDERR_GRACE` to end: a grandchild
/// (a sendmail that forks) may keep it open, and the wait must stay
/// bounded; its text is then left out.
pub fn sendmail(path: &str, msg: &[u8], limit: Duration) -> Outcome {
    // stdout to /dev/null; the environment as netmon's (not LC_ALL=C).
    let spawned = sys::spawn(&[path, "-t", "-i"], [true, false, true], false);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let mut b = sendmail_head(path, "cannot run it: ");
            crate::error::write_io_error(&mut b, &e);
            return Outcome::Transient(failure(Stage::Connect, b.into_string()));
        }
    };
    let body = lf_line_ends(msg);
    let mut pump = Pump::new(
        child.stdin.take(),
        body,
        None,
        child.stderr.take(),
        MAX_STDERR,
    );
    let status = wait_bounded(&mut child, &mut pump, limit);
    pump.close_stdin();
    let start = Instant::now();
    while !pump.reads_done() && start.elapsed() < STDERR_GRACE {
        pump.step(20);
    }
    let err = if pump.reads_done() {
        tidy_stderr(&pump.err)
    } else {
        String::new()
    };
    let mut b = sendmail_head(path, "");
    match status.map(Status::code) {
        Some(Some(0)) => return Outcome::Delivered { rejected: vec![] },
        Some(Some(c)) => {
            let _ = ufmt::uwrite!(b, "exit status {}", c);
        }
        Some(None) => b.push_bytes(b"killed by a signal"),
        None => {
            let _ = ufmt::uwrite!(b, "no exit after {} s; killed", limit.as_secs());
        }
    }
    if status.is_some() && !err.is_empty() {
        b.fill(": {}", &[&err]);
    }
    Outcome::Transient(failure(Stage::EndOfData, b.into_string()))
}

/// The exit status, or None (after killing it) when `limit` passed;
/// the pipes are served every 20 ms meanwhile.
fn wait_bounded(child: &mut Child, pump: &mut Pump, limit: Duration) -> Option<Status> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if start.elapsed() < limit => pump.step(20),
            _ => {
                child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// stderr's lines, ASCII-trimmed (sendmail runs in the C locale), blank
/// ones dropped, joined with `; `.
fn tidy_stderr(kept: &[u8]) -> String {
    let text = crate::text::lossy(kept);
    let mut out = String::new();
    for l in text.split(['\n', '\r']).map(str::trim_ascii) {
        if !l.is_empty() {
            let sep = if out.is_empty() { "" } else { "; " };
            crate::mail::push_all(&mut out, &[sep, l]);
        }
    }
    out
}

/// `sendmail PATH: WHAT`, the start of every sendmail failure reason.
fn sendmail_head(path: &str, what: &str) -> Buf {
    let mut b = Buf::new();
    b.fill("sendmail {}: {}", &[path, what]);
    b
}

/// CRLF to LF (sendmail reads a local text file; msmtp and postfix
/// turn LF back into CRLF on the wire).
fn lf_line_ends(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut i = 0;
    while let Some(&b) = msg.get(i) {
        if !(b == b'\r' && msg.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
        i += 1;
    }
    out
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// RFC 5322 section 3.3 date in UTC: `Sat, 21 Nov 2026 19:00:00 +0000`.
pub fn rfc5322_date(now: i64) -> String {
    let c = Civil::from_unix(now);
    // Day 0 (1970-01-01) was a Thursday.
    let wd = DAYS
        .get(now.div_euclid(86_400).rem_euclid(7) as usize)
        .unwrap_or(&"Thu");
    let mon = MONTHS
        .get(usize::from(c.month).wrapping_sub(1))
        .unwrap_or(&"Jan");
    let mut b = Buf::new();
    let _ = ufmt::uwrite!(b, "{}, {} {} {} ", *wd, c.day, *mon, c.year);
    for (i, v) in [c.hour, c.min, c.sec].into_iter().enumerate() {
        b.push_bytes(if i > 0 { b":" } else { b"" });
        b.push_bytes(if v < 10 { b"0" } else { b"" });
        let _ = ufmt::uwrite!(b, "{}", v);
    }
    b.push_bytes(b" +0000");
    b.as_str().into()
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// `now.pid.counter`: unique per message from this host (the counter
/// covers several messages in one second from one process).
fn id_unique(now: i64) -> String {
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let mut b = Buf::new();
    let _ = ufmt::uwrite!(b, "{}.{}.{}", now, sys::pid(), n);
    b.as_str().into()
}

/// The host name when it is a dot-atom (RFC 5322 3.6.4), else a name
/// that cannot clash with a real domain (RFC 2606 `.invalid`).
fn id_domain(hostname: &str) -> &str {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    if !hostname.is_empty() && hostname.len() <= 255 && hostname.bytes().all(ok) {
        hostname
    } else {
        "netmon.invalid"
    }
}

/// The report as a message: the subject from the template, the text
/// part, and the HTML part when given and `option html` is on.
#[allow(clippy::too_many_arguments)]
pub fn build_report_message(
    cfg: &MailConfig,
    text: &str,
    html: Option<&str>,
    from: i64,
    to: i64,
    hostname: &str,
    now: i64,
    zone: &crate::tz::Zone,
) -> Result<Vec<u8>> {
    let subject = cfg.subject(from, to, hostname, zone);
    build(
        cfg,
        &subject,
        text,
        html.filter(|_| cfg.html),
        hostname,
        now,
    )
}

/// A plain-text message with its own subject (quota warnings).
pub fn build_text_message(
    cfg: &MailConfig,
    subject: &str,
    text: &str,
    hostname: &str,
    now: i64,
) -> Result<Vec<u8>> {
    build(cfg, subject, text, None, hostname, now)
}

/// `netmon mail-test`: a short text message proving the path works.
pub fn build_test_message(cfg: &MailConfig, hostname: &str, now: i64) -> Result<Vec<u8>> {
    let text = crate::mail::cat(&[
        "This is a test message from netmon on ",
        hostname,
        ".\nIf you can read it, report mail works.\n",
    ]);
    let subject = crate::mail::cat(&["netmon test message from ", hostname]);
    build(cfg, &subject, &text, None, hostname, now)
}

fn build(
    cfg: &MailConfig,
    subject: &str,
    text: &str,
    html: Option<&str>,
    hostname: &str,
    now: i64,
) -> Result<Vec<u8>> {
    let to: Vec<&str> = cfg.to.iter().map(String::as_str).collect();
    let date = rfc5322_date(now);
    let unique = id_unique(now);
    message::build(&Message {
        from: &cfg.from,
        to: &to,
        subject,
        date: &date,
        id_unique: &unique,
        id_domain: id_domain(hostname),
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_779_305_040),
            "Wed, 20 May 2026 19:24:00 +0000"
        );
        assert_eq!(
            rfc5322_date(1_795_287_600),
            "Sat, 21 Nov 2026 19:00:00 +0000"
        );
        assert_eq!(rfc5322_date(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
    }

    #[test]
    fn message_ids_are_unique_and_domains_safe() {
        assert_ne!(id_unique(5), id_unique(5));
        assert!(id_unique(5).starts_with(&format!("5.{}.", std::process::id())));
        assert_eq!(id_domain("OpenWrt"), "OpenWrt");
        assert_eq!(id_domain("my router"), "netmon.invalid");
        assert_eq!(id_domain(""), "netmon.invalid");
    }

    /// The kernel's host name with a line break: the subject, the
    /// Message-ID and HELO get a safe name, the message is built (the
    /// problem is the host name's, not the subject's), and no header
    /// line holds anything but what it should.
    #[test]
    fn host_name_with_a_line_break_never_reaches_a_header() {
        let text = "config meter 'p'\n\toption hook 'input'\n\nconfig mail 'mail'\n\
            \toption server '127.0.0.1'\n\toption from 'n@gw.lan'\n\tlist to 'me@example.org'\n\
            \toption subject 'Usage on %host'\n";
        let cfg = crate::config::parse(text, "t").unwrap().mail.unwrap();
        for raw in [
            &b"gw\r\nBcc: evil@x.test"[..],
            b"gw\nBcc: evil@x.test\r",
            b"\xff\n",
            b"",
        ] {
            let host = cfg.host_name(raw.trim_ascii());
            assert!(host.problem.is_some(), "{raw:?}");
            for msg in [
                build_report_message(&cfg, "t", None, 0, 60, &host.text, 0, &crate::tz::Zone::UTC)
                    .unwrap(),
                build_test_message(&cfg, &host.text, 0).unwrap(),
            ] {
                let m = String::from_utf8(msg).unwrap();
                let (head, _) = m.split_once("\r\n\r\n").unwrap();
                assert!(!head.replace("\r\n", "").contains(['\r', '\n']), "{m}");
                assert!(!head.contains("\r\nBcc:"), "{head}");
                assert!(head.contains("@netmon.invalid>\r\n"), "{head}");
            }
            let env = Mailer::new(&cfg, &host.text, "/nonexistent")
                .envelope()
                .unwrap();
            assert_eq!(env.helo(), "netmon");
        }
    }

    /// A message and a stderr both larger than a pipe's buffer, the
    /// stderr written before stdin is read: neither pipe may block.
    #[test]
    fn sendmail_pipes_do_not_block_each_other() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("netmon-pump-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let got = dir.join("got");
        let script = dir.join("sendmail");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nhead -c 200000 /dev/zero | tr '\\0' e >&2\ncat > {}\nexit 75\n",
                got.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let msg: Vec<u8> = (0..300_000u32)
            .map(|i| b"ab\r\n"[(i % 4) as usize])
            .collect();
        let out = sendmail(script.to_str().unwrap(), &msg, Duration::from_secs(20));
        let Outcome::Transient(f) = out else {
            panic!("{out:?}")
        };
        let want = format!(
            "sendmail {}: exit status 75: {}",
            script.display(),
            "e".repeat(1024)
        );
        assert_eq!(f.reason, want);
        assert_eq!(std::fs::read(&got).unwrap(), lf_line_ends(&msg));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sendmail_killed_by_a_signal_keeps_its_stderr() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("netmon-kill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("sendmail");
        std::fs::write(
            &script,
            "#!/bin/sh\ncat >/dev/null\necho oops >&2\nkill -9 $$\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = sendmail(script.to_str().unwrap(), b"x\r\n", Duration::from_secs(20));
        let Outcome::Transient(f) = out else {
            panic!("{out:?}")
        };
        let want = format!("sendmail {}: killed by a signal: oops", script.display());
        assert_eq!((f.stage, f.reason), (Stage::EndOfData, want));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stderr_lines_are_trimmed_and_joined() {
        assert_eq!(tidy_stderr(b"  a \r\n\n b\rc\t\n \n"), "a; b; c");
        assert_eq!(tidy_stderr(b"x\xff\n"), "x\u{fffd}");
        assert_eq!(tidy_stderr(b"\n \r\n"), "");
    }

    #[test]
    fn crlf_becomes_lf_for_sendmail() {
        assert_eq!(lf_line_ends(b"a\r\nb\rc\n\r\n"), b"a\nb\rc\n\n");
    }
}
