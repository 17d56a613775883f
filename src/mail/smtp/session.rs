//! The SMTP dialogue (RFC 5321 section 3.3, AUTH from RFC 4954) over any
//! `BufRead + Write`, so tests replay transcripts and `net::send` runs it
//! over a TCP socket with timeouts.
//!
//! Order: greeting (220), EHLO (HELO if EHLO gets a 5xx), AUTH when
//! credentials are given and the server offers the mechanism, MAIL FROM,
//! one RCPT TO per recipient, DATA (354), the dot-stuffed body, the final
//! reply (250), QUIT. Commands go out one at a time (no PIPELINING): a
//! report is one small message and lock-step keeps every reply tied to
//! its command.
//!
//! Invariants: no server input can make the session panic or grow memory
//! beyond `MAX_LINE` x `MAX_REPLY_LINES` per reply; every failure is an
//! `Outcome` whose reason is server text, sanitized, at most `MAX_REASON`
//! bytes, with the password (plain or base64) redacted.

use std::io::{self, BufRead, Write};

use super::command::{
    AuthLogin, AuthPlain, AuthResponse, Command, Data, Ehlo, Helo, MailFrom, Quit, RcptTo,
};
use super::envelope::{Credentials, Envelope, Mechanism};
use super::reply::{read_line, Line, Reply, ReplyError, ReplyParser, MAX_LINE};
use super::stuff::DotStuffer;
use crate::mail::{base64, cat};
use crate::text::{io_kind_words, Buf};

/// Longest failure or rejection reason kept (they go to stderr, syslog
/// and the spool).
pub const MAX_REASON: usize = 512;
/// Bytes of the message stuffed and written per write call.
const BODY_CHUNK: usize = 4096;

/// The step of the dialogue a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Greeting,
    Hello,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    /// The reply after the body's final `.`.
    EndOfData,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Hello => "EHLO/HELO",
            Stage::Auth => "AUTH",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
            Stage::Data => "DATA",
            Stage::EndOfData => "end of data",
        }
    }
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub stage: Stage,
    /// The server's reply code, when the failure was a reply.
    pub code: Option<u16>,
    /// `stage: CODE server text` or `stage: what went wrong`.
    pub reason: String,
}

/// One recipient the server refused while others were accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub recipient: String,
    pub code: u16,
    pub reason: String,
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server took the message (250 after the data) for every
    /// recipient except `rejected`.
    Delivered { rejected: Vec<Rejection> },
    /// Try again later: a 4xx reply, a timeout, a refused or closed
    /// connection, a name that did not resolve.
    Transient(Failure),
    /// The server said no for good (5xx), refused the credentials (535),
    /// does not offer the configured AUTH, or broke the protocol.
    Permanent(Failure),
}

impl Outcome {
    /// Whether the failure concerns the server as a whole rather than
    /// this one message: connecting, the greeting, EHLO/HELO or AUTH
    /// failed, the server is closing (421), or the connection broke
    /// without a reply (a timeout, a reset, sendmail's exit). Another
    /// message tried now would fail the same way, each after a timeout
    /// (and, for AUTH, as one more failed login on the account). A 4xx
    /// or 5xx reply to MAIL, RCPT or DATA, or after the data, concerns
    /// the message only.
    pub fn concerns_server(&self) -> bool {
        let (f, transient) = match self {
            Outcome::Delivered { .. } => return false,
            Outcome::Transient(f) => (f, true),
            Outcome::Permanent(f) => (f, false),
        };
        let server_stage = matches!(
            f.stage,
            Stage::Connect | Stage::Greeting | Stage::Hello | Stage::Auth
        );
        server_stage || f.code == Some(421) || (transient && f.code.is_none())
    }
}

/// The dialogue stopped early; `Session::fail` recorded why. A unit
/// error keeps every `?` a plain branch: the outcome is written once,
/// where the failure happens, and not moved up through each step.
struct Halt;

type Step<T> = Result<T, Halt>;

/// Whether the EHLO reply `lines` advertise AUTH mechanism `name`: an
/// `AUTH mech...` line, or the old `AUTH=mech...` form that some
/// servers still send (RFC 5321 4.1.1.1). The first line is the
/// greeting, not an extension.
fn offers(lines: &[String], name: &str) -> bool {
    lines.iter().skip(1).any(|line| {
        let mut words = line.as_bytes().split(|&b| b == b' ' || b == b'=');
        words
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(b"AUTH"))
            && words.any(|m| m.eq_ignore_ascii_case(name.as_bytes()))
    })
}

/// One SMTP connection. `send` may be called once per connection.
pub struct Session<S> {
    io: S,
    line: Vec<u8>,
    out: Vec<u8>,
    parser: ReplyParser,
    /// The last reply read (kept here, not moved through every step).
    reply: Reply,
    /// Texts that must never appear in a reason (password, its base64).
    secrets: Vec<String>,
    /// The step under way: failures are reported as in this stage.
    stage: Stage,
    /// Recipients refused so far (RCPT TO), kept here rather than moved
    /// through every step.
    rejected: Vec<Rejection>,
    /// Set by `fail`: what became of the message, and whether the
    /// connection is still in step so a QUIT makes sense.
    outcome: Outcome,
    polite: bool,
    io_text: IoText,
}

impl<S: BufRead + Write> Session<S> {
    pub fn new(io: S) -> Session<S> {
        Session {
            io,
            line: Vec::new(),
            out: Vec::new(),
            parser: ReplyParser::new(),
            reply: Reply {
                code: 0,
                lines: Vec::new(),
            },
            secrets: Vec::new(),
            stage: Stage::Greeting,
            rejected: Vec::new(),
            outcome: Outcome::Delivered {
                rejected: Vec::new(),
            },
            polite: true,
            io_text: kind_text,
        }
    }

    /// Describes I/O errors other than timeouts and resets with `f`.
    pub fn with_io_text(mut self, f: IoText) -> Session<S> {
        self.io_text = f;
        self
    }

    /// The stream back (tests read what the client wrote).
    pub fn into_inner(self) -> S {
        self.io
    }

    /// Runs the whole dialogue for `message` (RFC 5322 text, LF or CRLF
    /// line ends; it is dot-stuffed here) and says what became of it.
    pub fn send<T: AsRef<str>>(
        &mut self,
        env: &Envelope<'_, T>,
        auth: Option<&Credentials>,
        message: &[u8],
    ) -> Outcome {
        self.secrets = auth.map(secrets_of).unwrap_or_default();
        self.polite = true;
        self.rejected.clear();
        if self.dialogue(env, auth, message).is_ok() {
            let rejected = core::mem::take(&mut self.rejected);
            self.outcome = Outcome::Delivered { rejected };
        }
        // Taken before the QUIT, whose failure changes nothing.
        let empty = Outcome::Delivered {
            rejected: Vec::new(),
        };
        let outcome = core::mem::replace(&mut self.outcome, empty);
        if self.polite {
            self.quit();
        }
        outcome
    }

    fn dialogue<T: AsRef<str>>(
        &mut self,
        env: &Envelope<'_, T>,
        auth: Option<&Credentials>,
        message: &[u8],
    ) -> Step<()> {
        self.stage = Stage::Greeting;
        self.expect(220)?;
        self.hello(env.helo())?;
        if let Some(c) = auth {
            self.auth(c)?;
        }
        self.stage = Stage::MailFrom;
        self.step(&MailFrom(env.from()), 250)?;
        self.recipients(env.to())?;
        self.stage = Stage::Data;
        self.step(&Data, 354)?;
        self.body(message)?;
        self.stage = Stage::EndOfData;
        self.expect(250)
    }

    /// EHLO, or HELO when the server rejects EHLO with a 5xx (RFC 5321
    /// section 4.1.4: "the client SHOULD fall back to HELO"). 4xx is not
    /// a "no EHLO" answer but a transient failure. Leaves the EHLO
    /// reply's lines in `self.reply` (none after HELO: no extensions).
    fn hello(&mut self, helo: &str) -> Step<()> {
        self.stage = Stage::Hello;
        self.command(&Ehlo(helo))?;
        match self.reply()? {
            2 => return Ok(()),
            5 => {}
            _ => return Err(self.refused()),
        }
        self.step(&Helo(helo), 250)?;
        self.reply.lines.clear();
        Ok(())
    }

    /// AUTH, right after `hello`: `self.reply` holds the extensions.
    fn auth(&mut self, c: &Credentials) -> Step<()> {
        self.stage = Stage::Auth;
        let m = c.mechanism();
        if !offers(&self.reply.lines, m.name()) {
            let r = cat(&[
                "server does not offer AUTH ",
                m.name(),
                " (not over this connection; is TLS required? use transport sendmail)",
            ]);
            return Err(self.fail(None, &r, false, true));
        }
        let secret = c.password();
        match m {
            Mechanism::Plain => {
                let cmd = AuthPlain {
                    user: c.user(),
                    password: secret,
                };
                self.command(&cmd)?;
            }
            Mechanism::Login => {
                self.step(&AuthLogin, 334)?;
                self.step(&AuthResponse(c.user().as_bytes()), 334)?;
                self.command(&AuthResponse(secret.as_bytes()))?;
            }
        }
        // 235 success; 535 credentials refused (permanent); 454 transient
        // (RFC 4954 section 6).
        self.expect(235)
    }

    /// One RCPT TO per recipient; refusals are collected, and only a
    /// refusal of all of them (or a 421: the server is closing) stops.
    /// The refusals go to `self.rejected`.
    fn recipients<T: AsRef<str>>(&mut self, to: &[T]) -> Step<()> {
        self.stage = Stage::RcptTo;
        for rcpt in to {
            let rcpt = rcpt.as_ref();
            self.command(&RcptTo(rcpt))?;
            match self.reply()? {
                2 => {}
                4 | 5 if self.reply.code != 421 => {
                    let r = self.rejection(rcpt);
                    self.rejected.push(r);
                }
                _ => return Err(self.refused()),
            }
        }
        if self.rejected.len() < to.len() {
            return Ok(());
        }
        Err(self.all_rejected())
    }

    fn rejection(&self, rcpt: &str) -> Rejection {
        let mut r = cat(&[rcpt, ": "]);
        self.reply.push_text(&mut r);
        Rejection {
            recipient: rcpt.into(),
            code: self.reply.code,
            reason: self.clean(r),
        }
    }

    /// Every recipient refused: transient if any refusal was, so a retry
    /// can still reach that one.
    fn all_rejected(&mut self) -> Halt {
        let rejected = &self.rejected;
        let mut r = String::from("every recipient refused: ");
        for (i, x) in rejected.iter().enumerate() {
            if i > 0 {
                r.push_str("; ");
            }
            r.push_str(&x.reason);
        }
        let transient = rejected.iter().any(|x| x.code / 100 == 4);
        let code = rejected.first().map(|x| x.code);
        self.fail(code, &r, transient, true)
    }

    /// Streams the message through the dot-stuffer in bounded chunks.
    fn body(&mut self, message: &[u8]) -> Step<()> {
        let mut stuffer = DotStuffer::new();
        for chunk in message.chunks(BODY_CHUNK) {
            self.out.clear();
            stuffer.feed(chunk, &mut self.out);
            self.write_out()?;
        }
        self.out.clear();
        stuffer.finish(&mut self.out);
        self.write_out()?;
        self.flush()
    }

    /// Best effort: the message is already delivered or lost, so errors
    /// here change nothing and are ignored.
    fn quit(&mut self) {
        if self.command(&Quit).is_ok() {
            let _ = self.reply();
        }
    }

    /// A command, then its reply, which must be in the class of `want`.
    fn step(&mut self, c: &dyn Command, want: u16) -> Step<()> {
        self.command(c)?;
        self.expect(want)
    }

    fn command(&mut self, c: &dyn Command) -> Step<()> {
        self.out.clear();
        c.render(&mut self.out);
        self.write_out()?;
        self.flush()
    }

    fn write_out(&mut self) -> Step<()> {
        let r = self.io.write_all(&self.out);
        r.map_err(|e| self.io_failure(&e))
    }

    fn flush(&mut self) -> Step<()> {
        let r = self.io.flush();
        r.map_err(|e| self.io_failure(&e))
    }

    /// Reads a reply and checks it is in the class of `want` (RFC 5321
    /// section 4.2.1: the first digit decides; clients must not depend
    /// on the exact code beyond that).
    fn expect(&mut self, want: u16) -> Step<()> {
        if self.reply()? == want / 100 {
            return Ok(());
        }
        Err(self.refused())
    }

    /// Reads the next reply into `self.reply`; returns its class.
    fn reply(&mut self) -> Step<u16> {
        loop {
            match read_line(&mut self.io, &mut self.line, MAX_LINE) {
                Ok(Line::Complete) => {}
                Ok(Line::Closed) => {
                    return Err(self.fail(None, "connection closed by the server", true, false))
                }
                Ok(Line::TooLong) => return Err(self.malformed(ReplyError::LineTooLong)),
                Err(e) => return Err(self.io_failure(&e)),
            }
            match self.parser.push_line(&self.line) {
                Ok(Some(reply)) => {
                    self.reply = reply;
                    return Ok(self.reply.class());
                }
                Ok(None) => {}
                Err(e) => return Err(self.malformed(e)),
            }
        }
    }

    /// A reply that is not the one wanted: 4xx transient, 5xx and
    /// anything unexpected permanent. After 421 the server closes the
    /// connection (RFC 5321 section 3.8), so no QUIT then.
    fn refused(&mut self) -> Halt {
        let mut r = String::new();
        self.reply.push_text(&mut r);
        let code = self.reply.code;
        self.fail(Some(code), &r, code / 100 == 4, code != 421)
    }

    fn malformed(&mut self, e: ReplyError) -> Halt {
        self.fail(None, e.as_str(), false, false)
    }

    fn io_failure(&mut self, e: &io::Error) -> Halt {
        let mut r = Buf::new();
        push_io_error(&mut r, e, self.io_text);
        self.fail(None, r.as_str(), true, false)
    }

    /// Records the outcome `stage: what` for the current stage.
    fn fail(&mut self, code: Option<u16>, what: &str, transient: bool, polite: bool) -> Halt {
        let r = cat(&[self.stage.as_str(), ": ", what]);
        let f = Failure {
            stage: self.stage,
            code,
            reason: self.clean(r),
        };
        self.outcome = if transient {
            Outcome::Transient(f)
        } else {
            Outcome::Permanent(f)
        };
        self.polite = polite;
        Halt
    }

    /// Redacts the secrets, then bounds the length.
    fn clean(&self, mut r: String) -> String {
        for s in &self.secrets {
            r = redact(&r, s);
        }
        truncate(&mut r, MAX_REASON);
        r
    }
}

/// `r` with every occurrence of `secret` (not empty) replaced by `***`,
/// leftmost first, like `str::replace`, without the generic substring
/// searcher: reasons are short. Bytewise: a match of UTF-8 in UTF-8
/// always starts and ends on character boundaries, so the result is
/// UTF-8 again.
fn redact(r: &str, secret: &str) -> String {
    let (secret, mut rest) = (secret.as_bytes(), r.as_bytes());
    let mut out = Vec::with_capacity(rest.len());
    while let Some(&b) = rest.first() {
        let n = if !secret.is_empty() && rest.starts_with(secret) {
            out.extend_from_slice(b"***");
            secret.len()
        } else {
            out.push(b);
            1
        };
        rest = rest.get(n..).unwrap_or_default();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The password and the base64 forms it takes on the wire (LOGIN sends
/// base64(password); PLAIN sends base64(\0user\0password)).
fn secrets_of(c: &Credentials) -> Vec<String> {
    let plain = AuthPlain {
        user: c.user(),
        password: c.password(),
    };
    vec![
        c.password().into(),
        base64::encode(c.password().as_bytes()),
        base64::encode(&plain.token()),
    ]
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str("...");
}

/// How an I/O error reads in a reason: `Session::with_io_text` sets it
/// (the socket edge passes the C library's text); the default says
/// what the error's kind says.
pub type IoText = fn(&mut Buf, &io::Error);

fn kind_text(out: &mut Buf, e: &io::Error) {
    out.push_bytes(io_kind_words(e.kind()).as_bytes());
}

/// Timeouts and resets in words; the rest by `other`.
pub(crate) fn push_io_error(out: &mut Buf, e: &io::Error, other: IoText) {
    use io::ErrorKind as K;
    let words: &[u8] = match e.kind() {
        K::TimedOut | K::WouldBlock => b"timed out waiting for the server",
        K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
            b"connection closed by the server"
        }
        _ => return other(out, e),
    };
    out.push_bytes(words);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::smtp::stuff::tests::unstuff;
    use std::io::Read;

    /// A scripted server: returns `input` in chunks of `chunk` bytes
    /// (so replies arrive split across reads), records what the client
    /// writes, and at the end of the script either closes or times out.
    struct Fake {
        input: Vec<u8>,
        pos: usize,
        chunk: usize,
        timeout_at_end: bool,
        /// Writes fail (broken pipe) once this many bytes were written.
        write_limit: Option<usize>,
        written: Vec<u8>,
    }

    impl Fake {
        fn new(server: &str) -> Fake {
            Fake {
                input: server.as_bytes().to_vec(),
                pos: 0,
                chunk: 3,
                timeout_at_end: false,
                write_limit: None,
                written: Vec::new(),
            }
        }
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.fill_buf()?.len().min(buf.len());
            buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl BufRead for Fake {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if self.pos >= self.input.len() && self.timeout_at_end {
                return Err(io::Error::new(io::ErrorKind::WouldBlock, "timeout"));
            }
            let end = (self.pos + self.chunk).min(self.input.len());
            Ok(&self.input[self.pos..end])
        }
        fn consume(&mut self, n: usize) {
            self.pos += n;
        }
    }

    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let room = match self.write_limit {
                Some(l) if self.written.len() >= l => {
                    return Err(io::Error::from(io::ErrorKind::BrokenPipe))
                }
                Some(l) => l - self.written.len(),
                None => usize::MAX,
            };
            let n = buf.len().min(room);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const EHLO_REPLY: &str =
        "250-mx.example.org hello\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n";
    const MSG: &str = "Subject: t\r\n\r\nbody\r\n";

    fn env<'a>(to: &'a [&'a str]) -> Envelope<'a, &'a str> {
        Envelope::new("router.lan", "netmon@example.org", to).unwrap()
    }

    fn run_fake(
        fake: Fake,
        to: &[&str],
        auth: Option<&Credentials>,
        msg: &str,
    ) -> (Outcome, String) {
        let mut s = Session::new(fake);
        let outcome = s.send(&env(to), auth, msg.as_bytes());
        let written = String::from_utf8(s.into_inner().written).unwrap();
        (outcome, written)
    }

    fn run(server: &str, to: &[&str], auth: Option<&Credentials>) -> (Outcome, String) {
        run_fake(Fake::new(server), to, auth, MSG)
    }

    fn ok_server(after_hello: &str) -> String {
        ["220 mx.example.org ESMTP\r\n", EHLO_REPLY, after_hello].concat()
    }

    fn delivered(rejected: Vec<Rejection>) -> Outcome {
        Outcome::Delivered { rejected }
    }

    const CLIENT_TAIL: &str = "MAIL FROM:<netmon@example.org>\r\nRCPT TO:<a@example.org>\r\n\
        DATA\r\nSubject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n";

    #[test]
    fn multi_line_ehlo_then_delivery() {
        let server = ok_server(
            "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n250 2.0.0 queued\r\n221 bye\r\n",
        );
        let (o, w) = run(&server, &["a@example.org"], None);
        assert_eq!(o, delivered(vec![]));
        assert_eq!(w, ["EHLO router.lan\r\n", CLIENT_TAIL].concat());
    }

    #[test]
    fn same_transcript_whatever_the_read_size() {
        let server = ok_server("250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n");
        for chunk in 1..=server.len() {
            let mut f = Fake::new(&server);
            f.chunk = chunk;
            let (o, w) = run_fake(f, &["a@example.org"], None, MSG);
            assert_eq!(o, delivered(vec![]), "chunk {chunk}");
            assert_eq!(w, ["EHLO router.lan\r\n", CLIENT_TAIL].concat());
        }
    }

    #[test]
    fn helo_fallback_when_ehlo_is_refused() {
        let server =
            "220 old.example ready\r\n502 5.5.2 command not recognized\r\n250 old.example\r\n\
            250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n";
        let (o, w) = run(server, &["a@example.org"], None);
        assert_eq!(o, delivered(vec![]));
        assert_eq!(
            w,
            ["EHLO router.lan\r\nHELO router.lan\r\n", CLIENT_TAIL].concat()
        );
    }

    #[test]
    fn ehlo_4xx_is_transient_not_a_helo_fallback() {
        let (o, w) = run(
            "220 x\r\n451 4.3.0 try later\r\n221 bye\r\n",
            &["a@example.org"],
            None,
        );
        let Outcome::Transient(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!((f.stage, f.code), (Stage::Hello, Some(451)));
        assert_eq!(f.reason, "EHLO/HELO: 451 4.3.0 try later");
        assert_eq!(w, "EHLO router.lan\r\nQUIT\r\n");
    }

    fn creds(m: Mechanism) -> Credentials<'static> {
        Credentials::new(m, "tim", "tanstaaftanstaaf").unwrap()
    }

    #[test]
    fn auth_plain_success() {
        let server =
            ok_server("235 2.7.0 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n");
        let (o, w) = run(&server, &["a@example.org"], Some(&creds(Mechanism::Plain)));
        assert_eq!(o, delivered(vec![]));
        let auth = "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n";
        assert_eq!(w, ["EHLO router.lan\r\n", auth, CLIENT_TAIL].concat());
    }

    #[test]
    fn auth_login_success() {
        let server = ok_server(
            "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
        );
        let (o, w) = run(&server, &["a@example.org"], Some(&creds(Mechanism::Login)));
        assert_eq!(o, delivered(vec![]));
        let auth = "AUTH LOGIN\r\ndGlt\r\ndGFuc3RhYWZ0YW5zdGFhZg==\r\n";
        assert_eq!(w, ["EHLO router.lan\r\n", auth, CLIENT_TAIL].concat());
    }

    #[test]
    fn auth_535_is_permanent_and_quits() {
        let server = ok_server("535 5.7.8 Authentication credentials invalid\r\n221 bye\r\n");
        let (o, w) = run(&server, &["a@example.org"], Some(&creds(Mechanism::Plain)));
        let Outcome::Permanent(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!((f.stage, f.code), (Stage::Auth, Some(535)));
        assert_eq!(
            f.reason,
            "AUTH: 535 5.7.8 Authentication credentials invalid"
        );
        assert_eq!(
            w,
            "EHLO router.lan\r\nAUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\nQUIT\r\n"
        );
    }

    /// Which failures stop a spool run (the server as a whole) and which
    /// concern one message, on real transcripts.
    #[test]
    fn failures_that_concern_the_server() {
        let to = &["a@example.org"][..];
        let c = creds(Mechanism::Plain);
        let ok = "250 ok\r\n";
        let cases: [(String, Option<&Credentials>, bool); 9] = [
            ("421 4.3.2 busy\r\n".into(), None, true),
            ("220 x\r\n451 4.3.0 later\r\n".into(), None, true),
            (ok_server("535 5.7.8 no\r\n"), Some(&c), true),
            (ok_server("454 4.7.0 later\r\n"), Some(&c), true),
            (ok_server("421 4.3.2 closing\r\n"), None, true),
            // Silence after MAIL FROM: a timeout, no reply code.
            (ok_server(""), None, true),
            (ok_server("451 4.3.0 later\r\n"), None, false),
            (ok_server(&[ok, "550 5.1.1 no\r\n"].concat()), None, false),
            (
                ok_server(&[ok, ok, "354 go\r\n552 5.3.4 too big\r\n"].concat()),
                None,
                false,
            ),
        ];
        for (server, auth, server_wide) in cases {
            let mut f = Fake::new(&server);
            f.timeout_at_end = true;
            let (o, _) = run_fake(f, to, auth, MSG);
            assert!(!matches!(o, Outcome::Delivered { .. }), "{server:?}");
            assert_eq!(o.concerns_server(), server_wide, "{server:?}: {o:?}");
        }
        assert!(!delivered(vec![]).concerns_server());
    }

    #[test]
    fn reasons_never_contain_the_password() {
        // A server that echoes what it got, in every form.
        let server = ok_server(
            "334 x\r\n334 y\r\n535 bad tanstaaftanstaaf dGFuc3RhYWZ0YW5zdGFhZg== AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n",
        );
        let (o, _) = run(&server, &["a@example.org"], Some(&creds(Mechanism::Login)));
        let Outcome::Permanent(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!(f.reason, "AUTH: 535 bad *** *** ***");
    }

    #[test]
    fn auth_not_offered_is_permanent_and_sends_no_credentials() {
        let server = "220 x\r\n250-x\r\n250 8BITMIME\r\n221 bye\r\n";
        let (o, w) = run(server, &["a@example.org"], Some(&creds(Mechanism::Plain)));
        let Outcome::Permanent(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!((f.stage, f.code), (Stage::Auth, None));
        assert!(
            f.reason
                .starts_with("AUTH: server does not offer AUTH PLAIN"),
            "{}",
            f.reason
        );
        assert_eq!(w, "EHLO router.lan\r\nQUIT\r\n");
    }

    #[test]
    fn old_auth_equals_form_is_understood() {
        let server = "220 x\r\n250-x\r\n250 AUTH=LOGIN\r\n334 a\r\n334 b\r\n235 ok\r\n\
            250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n";
        let (o, _) = run(server, &["a@example.org"], Some(&creds(Mechanism::Login)));
        assert_eq!(o, delivered(vec![]));
    }

    #[test]
    fn one_of_three_recipients_rejected() {
        let server = ok_server(
            "250 ok\r\n250 ok\r\n550 5.1.1 <b@example.org>: no such user\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
        );
        let to = ["a@example.org", "b@example.org", "c@example.org"];
        let (o, w) = run(&server, &to, None);
        let rejected = vec![Rejection {
            recipient: "b@example.org".into(),
            code: 550,
            reason: "b@example.org: 550 5.1.1 <b@example.org>: no such user".into(),
        }];
        assert_eq!(o, delivered(rejected));
        assert_eq!(
            w,
            "EHLO router.lan\r\nMAIL FROM:<netmon@example.org>\r\nRCPT TO:<a@example.org>\r\n\
             RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n\
             DATA\r\nSubject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n"
        );
    }

    #[test]
    fn every_recipient_refused_is_permanent() {
        let server =
            ok_server("250 ok\r\n550 5.1.1 no such user\r\n550 5.7.1 relay denied\r\n221 bye\r\n");
        let (o, w) = run(&server, &["a@example.org", "b@example.org"], None);
        let Outcome::Permanent(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!((f.stage, f.code), (Stage::RcptTo, Some(550)));
        assert_eq!(
            f.reason,
            "RCPT TO: every recipient refused: a@example.org: 550 5.1.1 no such user; \
             b@example.org: 550 5.7.1 relay denied"
        );
        assert_eq!(
            w,
            "EHLO router.lan\r\nMAIL FROM:<netmon@example.org>\r\nRCPT TO:<a@example.org>\r\n\
             RCPT TO:<b@example.org>\r\nQUIT\r\n"
        );
    }

    #[test]
    fn every_recipient_refused_with_one_4xx_is_transient() {
        let server = ok_server("250 ok\r\n550 no\r\n450 4.2.1 mailbox busy\r\n221 bye\r\n");
        let (o, _) = run(&server, &["a@example.org", "b@example.org"], None);
        assert!(matches!(o, Outcome::Transient(_)), "{o:?}");
    }

    #[test]
    fn body_lines_starting_with_a_dot_are_stuffed_and_restored() {
        let msg = "Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nend\r\n";
        let server = ok_server("250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n");
        let (o, w) = run_fake(Fake::new(&server), &["a@example.org"], None, msg);
        assert_eq!(o, delivered(vec![]));
        let data = w.split_once("DATA\r\n").unwrap().1;
        assert!(
            data.starts_with("Subject: dots\r\n\r\n..hidden\r\n...two\r\n..\r\nend\r\n.\r\nQUIT")
        );
        assert_eq!(unstuff(data.as_bytes()).unwrap(), msg.as_bytes());
    }

    #[test]
    fn greeting_421_is_transient_without_quit() {
        let (o, w) = run(
            "421 4.3.2 too busy, try later\r\n",
            &["a@example.org"],
            None,
        );
        let Outcome::Transient(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!((f.stage, f.code), (Stage::Greeting, Some(421)));
        assert_eq!(f.reason, "greeting: 421 4.3.2 too busy, try later");
        assert_eq!(w, "");
    }

    #[test]
    fn greeting_554_is_permanent() {
        let (o, w) = run(
            "554 no service for you\r\n221 bye\r\n",
            &["a@example.org"],
            None,
        );
        assert!(
            matches!(
                o,
                Outcome::Permanent(Failure {
                    code: Some(554),
                    ..
                })
            ),
            "{o:?}"
        );
        assert_eq!(w, "QUIT\r\n");
    }

    #[test]
    fn reply_451_after_data_is_transient() {
        let server =
            ok_server("250 ok\r\n250 ok\r\n354 go\r\n451 4.3.0 local error\r\n221 bye\r\n");
        let (o, w) = run(&server, &["a@example.org"], None);
        let Outcome::Transient(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!((f.stage, f.code), (Stage::EndOfData, Some(451)));
        assert_eq!(f.reason, "end of data: 451 4.3.0 local error");
        assert_eq!(w, ["EHLO router.lan\r\n", CLIENT_TAIL].concat());
    }

    #[test]
    fn server_closing_mid_data_is_transient() {
        let server = ok_server("250 ok\r\n250 ok\r\n354 go\r\n");
        let mut f = Fake::new(&server);
        // The connection drops after part of the body went out.
        f.write_limit = Some("EHLO router.lan\r\n".len() + CLIENT_TAIL.len() - 12);
        let (o, _) = run_fake(f, &["a@example.org"], None, MSG);
        let Outcome::Transient(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!(f.stage, Stage::Data);
        assert_eq!(f.reason, "DATA: connection closed by the server");
        // And when the writes got through but the reply never comes:
        let (o, w) = run(&server, &["a@example.org"], None);
        let Outcome::Transient(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!(
            (f.stage, f.reason.as_str()),
            (
                Stage::EndOfData,
                "end of data: connection closed by the server"
            )
        );
        assert!(
            w.ends_with("body\r\n.\r\n"),
            "no QUIT on a dead connection: {w}"
        );
    }

    #[test]
    fn silent_server_is_a_transient_timeout() {
        let mut f = Fake::new("220 x\r\n");
        f.timeout_at_end = true;
        let (o, w) = run_fake(f, &["a@example.org"], None, MSG);
        let Outcome::Transient(f) = o else {
            panic!("{o:?}")
        };
        assert_eq!(f.reason, "EHLO/HELO: timed out waiting for the server");
        assert_eq!(w, "EHLO router.lan\r\n");
    }

    #[test]
    fn malformed_and_oversized_replies_are_permanent_errors() {
        for (server, reason) in [
            (
                "hello there\r\n",
                "greeting: malformed reply (no 3-digit code)",
            ),
            (
                "220-a\r\n250 b\r\n",
                "greeting: malformed reply (lines with different codes)",
            ),
        ] {
            let (o, w) = run(server, &["a@example.org"], None);
            let Outcome::Permanent(f) = o else {
                panic!("{o:?}")
            };
            assert_eq!(f.reason, reason);
            assert_eq!(w, "");
        }
        let long = ["220 ", &"x".repeat(MAX_LINE), "\r\n"].concat();
        let (o, _) = run(&long, &["a@example.org"], None);
        assert!(
            matches!(&o, Outcome::Permanent(f) if f.reason == "greeting: reply line too long"),
            "{o:?}"
        );
        let many = ["220 x\r\n", &"250-x\r\n".repeat(200), "250 x\r\n"].concat();
        let (o, _) = run(&many, &["a@example.org"], None);
        assert!(
            matches!(&o, Outcome::Permanent(f) if f.reason == "EHLO/HELO: reply has too many lines"),
            "{o:?}"
        );
    }

    #[test]
    fn reasons_are_bounded_and_free_of_control_characters() {
        let text = "y\x07".repeat(400);
        let server = ["554-", &text, "\r\n554 ", &text, "\r\n"].concat();
        let (o, _) = run(&server, &["a@example.org"], None);
        let Outcome::Permanent(f) = o else {
            panic!("{o:?}")
        };
        assert!(f.reason.len() <= MAX_REASON, "{}", f.reason.len());
        assert!(f.reason.ends_with("..."));
        assert!(!f.reason.chars().any(char::is_control));
    }

    #[test]
    fn redact_replaces_like_str_replace() {
        for (r, s) in [
            ("a pw b pwpw", "pw"),
            ("ü pw € pw", "pw"),
            ("", "x"),
            ("ppw", "pw"),
            ("aaaaa", "aa"),
            ("none here", "zz"),
            ("€€ ü€ €", "€"),
            ("aüb", "ü"),
            ("pä x pä", "pä"),
        ] {
            assert_eq!(redact(r, s), r.replace(s, "***"), "{r:?} {s:?}");
        }
    }

    #[test]
    fn garbage_from_the_server_never_panics() {
        // A small deterministic generator; biased towards protocol bytes.
        let mut x: u32 = 12345;
        let alphabet = b"0123456789 -\r\n2345\xff\x00.";
        for _ in 0..500 {
            let mut server = Vec::new();
            for _ in 0..(x % 200) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                server.push(alphabet[(x >> 16) as usize % alphabet.len()]);
            }
            let mut f = Fake::new("");
            f.input = server;
            f.chunk = 1 + (x as usize % 7);
            let mut s = Session::new(f);
            let _ = s.send(
                &env(&["a@example.org"]),
                Some(&creds(Mechanism::Plain)),
                b"x",
            );
        }
    }
}
