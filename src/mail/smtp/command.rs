//! SMTP commands (RFC 5321 section 4.1.1, AUTH from RFC 4954): one type
//! per verb whose `render` appends exactly the bytes sent on the wire,
//! CRLF included.
//!
//! Invariant: a rendered command is one line. Arguments are validated
//! before a session starts (`Envelope::new`), and `push_arg` also drops
//! any control byte, so a CR or LF can never split a command in two
//! (command injection) even if a caller skipped validation.

use crate::mail::base64;

/// A command that can be put on the wire.
pub trait Command {
    /// Appends the wire bytes of the command, ending in CRLF.
    fn render(&self, out: &mut Vec<u8>);
}

/// `EHLO domain` (RFC 5321 section 4.1.1.1).
pub struct Ehlo<'a>(pub &'a str);
/// `HELO domain`, the fallback when a server rejects EHLO.
pub struct Helo<'a>(pub &'a str);
/// `AUTH PLAIN <base64(\0user\0password)>`: the initial-response form
/// (RFC 4954 section 4, RFC 4616), one round trip.
pub struct AuthPlain<'a> {
    pub user: &'a str,
    pub password: &'a str,
}
/// `AUTH LOGIN`: the server then asks for the user name and the password,
/// each answered with an `AuthResponse`.
pub struct AuthLogin;
/// One base64 line answering a `334` challenge.
pub struct AuthResponse<'a>(pub &'a [u8]);
/// `MAIL FROM:<address>` (an empty address gives the null reverse path).
pub struct MailFrom<'a>(pub &'a str);
/// `RCPT TO:<address>`.
pub struct RcptTo<'a>(pub &'a str);
/// `DATA`; the server answers 354 and the body follows.
pub struct Data;
/// `QUIT`.
pub struct Quit;

const CRLF: &[u8] = b"\r\n";

/// Appends `s` without its control bytes (see the module invariant).
fn push_arg(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().filter(|&b| b >= 0x20 && b != 0x7f));
}

/// `verb`, the argument, `tail`: the shape of every command with an
/// argument.
fn line(out: &mut Vec<u8>, verb: &str, arg: &str, tail: &str) {
    out.extend_from_slice(verb.as_bytes());
    push_arg(out, arg);
    out.extend_from_slice(tail.as_bytes());
}

impl Command for Ehlo<'_> {
    fn render(&self, out: &mut Vec<u8>) {
        line(out, "EHLO ", self.0, "\r\n");
    }
}

impl Command for Helo<'_> {
    fn render(&self, out: &mut Vec<u8>) {
        line(out, "HELO ", self.0, "\r\n");
    }
}

impl AuthPlain<'_> {
    /// The SASL PLAIN message: empty authzid, NUL, authcid, NUL, passwd.
    pub fn token(&self) -> Vec<u8> {
        let mut t = Vec::with_capacity(self.user.len() + self.password.len() + 2);
        t.push(0);
        t.extend_from_slice(self.user.as_bytes());
        t.push(0);
        t.extend_from_slice(self.password.as_bytes());
        t
    }
}

impl Command for AuthPlain<'_> {
    fn render(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"AUTH PLAIN ");
        base64::encode_into(&self.token(), out);
        out.extend_from_slice(CRLF);
    }
}

impl Command for AuthLogin {
    fn render(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"AUTH LOGIN\r\n");
    }
}

impl Command for AuthResponse<'_> {
    fn render(&self, out: &mut Vec<u8>) {
        base64::encode_into(self.0, out);
        out.extend_from_slice(CRLF);
    }
}

impl Command for MailFrom<'_> {
    fn render(&self, out: &mut Vec<u8>) {
        line(out, "MAIL FROM:<", self.0, ">\r\n");
    }
}

impl Command for RcptTo<'_> {
    fn render(&self, out: &mut Vec<u8>) {
        line(out, "RCPT TO:<", self.0, ">\r\n");
    }
}

impl Command for Data {
    fn render(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"DATA\r\n");
    }
}

impl Command for Quit {
    fn render(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"QUIT\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(c: &dyn Command) -> String {
        let mut v = Vec::new();
        c.render(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn commands_render_as_rfc5321_lines() {
        assert_eq!(wire(&Ehlo("router.lan")), "EHLO router.lan\r\n");
        assert_eq!(wire(&Helo("router.lan")), "HELO router.lan\r\n");
        assert_eq!(wire(&MailFrom("a@b.c")), "MAIL FROM:<a@b.c>\r\n");
        assert_eq!(wire(&MailFrom("")), "MAIL FROM:<>\r\n");
        assert_eq!(wire(&RcptTo("x@y.z")), "RCPT TO:<x@y.z>\r\n");
        assert_eq!(wire(&Data), "DATA\r\n");
        assert_eq!(wire(&Quit), "QUIT\r\n");
        assert_eq!(wire(&AuthLogin), "AUTH LOGIN\r\n");
        assert_eq!(wire(&AuthResponse(b"tim")), "dGlt\r\n");
    }

    #[test]
    fn auth_plain_is_rfc4616_initial_response() {
        let c = AuthPlain {
            user: "tim",
            password: "tanstaaftanstaaf",
        };
        assert_eq!(wire(&c), "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    }

    #[test]
    fn control_bytes_in_arguments_cannot_inject_a_command() {
        let w = wire(&RcptTo("a@b\r\nRCPT TO:<evil@x>"));
        assert_eq!(w, "RCPT TO:<a@bRCPT TO:<evil@x>>\r\n");
        assert_eq!(w.matches("\r\n").count(), 1);
    }
}
