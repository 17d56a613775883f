//! What a session needs besides the message: the HELO name, the envelope
//! addresses and the optional AUTH credentials, checked once up front so
//! the dialogue itself never has to refuse input.

use crate::error::{Error, Result};
use crate::mail::cat;

/// Most recipients per message. RFC 5321 section 4.5.3.1.8: servers
/// must accept at least 100 RCPT commands per transaction.
pub const MAX_RECIPIENTS: usize = 100;
/// Longest address: a path is at most 256 octets with its angle
/// brackets (RFC 5321 section 4.5.3.1.3).
pub const MAX_ADDRESS: usize = 254;
/// Longest HELO name (a domain, RFC 5321 section 4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest user name or password accepted for AUTH.
pub const MAX_CREDENTIAL: usize = 255;

/// HELO name, sender and recipients, validated; borrowed from their
/// owner (the config or a spool entry), so an attempt copies nothing.
/// `to` as the caller holds it (the app has `String`s: one
/// instantiation in the router binary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a, T = String> {
    helo: &'a str,
    from: &'a str,
    to: &'a [T],
}

impl<'a, T: AsRef<str>> Envelope<'a, T> {
    /// Checks every value: `helo` a domain or address literal, `from` and
    /// each `to` a plain `local@domain` (see `valid_address`), 1 to
    /// `MAX_RECIPIENTS` recipients.
    pub fn new(helo: &'a str, from: &'a str, to: &'a [T]) -> Result<Envelope<'a, T>> {
        if !valid_helo(helo) {
            return Err(bad("HELO name", helo));
        }
        if !valid_address(from) {
            return Err(bad("sender address", from));
        }
        if to.is_empty() || to.len() > MAX_RECIPIENTS {
            return Err(Error::config("mail needs 1 to 100 recipients"));
        }
        for t in to {
            let t = t.as_ref();
            if !valid_address(t) {
                return Err(bad("recipient address", t));
            }
        }
        Ok(Envelope { helo, from, to })
    }
    pub fn helo(&self) -> &'a str {
        self.helo
    }
    pub fn from(&self) -> &'a str {
        self.from
    }
    pub fn to(&self) -> &'a [T] {
        self.to
    }
}

/// The error for a refused value. It quotes the value only when it is
/// printable, so the message itself cannot carry a line break.
fn bad(what: &str, value: &str) -> Error {
    let m = if value.bytes().all(|b| (0x20..0x7f).contains(&b)) && value.len() <= MAX_DOMAIN {
        cat(&["invalid mail ", what, " '", value, "'"])
    } else {
        cat(&[
            "invalid mail ",
            what,
            " (control or non-ASCII characters, or too long)",
        ])
    };
    Error::config(m)
}

/// A HELO argument: letters, digits, `-` and `.`, or an address literal
/// in brackets (RFC 5321 section 4.1.3).
pub fn valid_helo(s: &str) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    let literal = |b: u8| ok(b) || b == b':';
    match s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => !inner.is_empty() && inner.bytes().all(literal),
        None => !s.is_empty() && s.len() <= MAX_DOMAIN && s.bytes().all(ok),
    }
}

/// A deliberately plain address: `local@domain`, printable ASCII without
/// spaces, quotes, brackets or separators, at most `MAX_ADDRESS` bytes.
/// Stricter than RFC 5321 (no quoted local parts, no SMTPUTF8) because the
/// same text goes into MAIL FROM/RCPT TO and into the From/To headers, and
/// this way it can never break either.
pub fn valid_address(s: &str) -> bool {
    let ok = |b: u8| (0x21..0x7f).contains(&b) && !b"<>()[]\\,;:\"@".contains(&b);
    match s.split_once('@') {
        Some((local, domain)) => {
            s.len() <= MAX_ADDRESS
                && !local.is_empty()
                && !domain.is_empty()
                && local.bytes().all(ok)
                && domain.bytes().all(ok)
        }
        None => false,
    }
}

/// SASL mechanisms netmon speaks (RFC 4954 AUTH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616, sent with the initial response.
    Plain,
    /// The de-facto LOGIN mechanism (user name and password in two 334 steps).
    Login,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// User name and password for AUTH. Deliberately no `Debug`/`uDisplay`:
/// the password must not be printable by accident. Borrowed from the
/// config: an attempt neither copies nor frees them.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    mechanism: Mechanism,
    user: &'a str,
    password: &'a str,
}

impl<'a> Credentials<'a> {
    /// Refuses NUL (RFC 4616 section 2: it separates the PLAIN fields)
    /// and values longer than `MAX_CREDENTIAL`. The error never quotes
    /// the password.
    pub fn new(mechanism: Mechanism, user: &'a str, password: &'a str) -> Result<Credentials<'a>> {
        let fine = |s: &str| !s.is_empty() && s.len() <= MAX_CREDENTIAL && !s.contains('\0');
        if !fine(user) {
            return Err(Error::config(
                "invalid mail username (empty, too long or NUL)",
            ));
        }
        if !fine(password) {
            return Err(Error::config(
                "invalid mail password (empty, too long or NUL)",
            ));
        }
        Ok(Credentials {
            mechanism,
            user,
            password,
        })
    }
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }
    pub fn user(&self) -> &'a str {
        self.user
    }
    pub(crate) fn password(&self) -> &'a str {
        self.password
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for a in ["a@b", "router+netmon@example.org", "x.y-z@[192.0.2.1"] {
            assert_eq!(valid_address(a), !a.contains('['), "{a}");
        }
        for a in [
            "",
            "a",
            "@b",
            "a@",
            "a b@c",
            "a@b\r\nRCPT TO:<x@y>",
            "a@b@c",
            "<a@b>",
            "ü@b.c",
        ] {
            assert!(!valid_address(a), "{a:?}");
        }
        let long = "a".repeat(250) + "@b.cd";
        assert!(!valid_address(&long));
    }

    #[test]
    fn envelope_refuses_line_breaks_everywhere() {
        assert!(Envelope::new("r.lan\r\nQUIT", "a@b", &["c@d"]).is_err());
        assert!(Envelope::new("r.lan", "a@b\n", &["c@d"]).is_err());
        let e = Envelope::new("r.lan", "a@b", &["c@d", "e@f\r"]).unwrap_err();
        assert!(!e.message().contains('\r'), "{}", e.message());
        assert!(Envelope::new("r.lan", "a@b", &[] as &[&str]).is_err());
        let many: Vec<&str> = std::iter::repeat_n("c@d", MAX_RECIPIENTS + 1).collect();
        assert!(Envelope::new("r.lan", "a@b", &many).is_err());
        assert!(Envelope::new("r.lan", "a@b", &many[1..]).is_ok());
        assert!(Envelope::new("[192.0.2.1]", "a@b", &["c@d"]).is_ok());
        assert!(Envelope::new("[IPv6:2001:db8::1]", "a@b", &["c@d"]).is_ok());
    }

    #[test]
    fn credential_errors_never_quote_the_password() {
        let e = Credentials::new(Mechanism::Plain, "u", "se\0cret")
            .err()
            .unwrap();
        assert!(!e.message().contains("se"), "{}", e.message());
        let user = "invalid mail username (empty, too long or NUL)";
        let password = "invalid mail password (empty, too long or NUL)";
        for (u, p, want) in [
            ("", "", user),
            ("u", "", password),
            (&"u".repeat(256), "p", user),
        ] {
            let e = Credentials::new(Mechanism::Login, u, p).err().unwrap();
            assert_eq!(e.message(), want);
        }
        assert!(Credentials::new(Mechanism::Login, "u", "p").is_ok());
    }
}
