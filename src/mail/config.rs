//! The validated `config mail 'mail'` section (parsed by `config::mail`).
//!
//! Invariants of a `MailConfig` the config parser returns: `server` is a
//! host name or IP literal (required for `transport smtp`), `from` and
//! every `to` pass `smtp::valid_address`, 1..=`MAX_RECIPIENTS` recipients,
//! `helo` (when set) passes `smtp::valid_helo`, no value holds a control
//! character (header injection), the subject template uses only known
//! placeholders, `timeout` is 1..=300 s, and credentials exist exactly
//! when `auth` is plain or login. The password is private and never
//! printed: `Debug` is written by hand and redacts it.

use core::time::Duration;

use crate::error::Result;
use crate::mail::smtp::envelope::valid_helo;
use crate::mail::smtp::{Credentials, Envelope, Mechanism};
use crate::text::Buf;
use crate::tz::Zone;

/// Default SMTP port (RFC 5321 section 4.5.4; 587 is submission, RFC 6409).
pub const DEFAULT_PORT: u16 = 25;
/// Default wait for any one connect, read or write, in seconds.
pub const DEFAULT_TIMEOUT: u16 = 30;
/// Longest timeout accepted: a cron job must not hang for long.
pub const MAX_TIMEOUT: u16 = 300;
/// HELO name when neither `option helo` nor a usable host name is given.
pub const FALLBACK_HELO: &str = "netmon";
/// Default subject template.
pub const DEFAULT_SUBJECT: &str = "Network usage report %to";
/// Placeholders of the subject template, expanded by `subject`.
pub const PLACEHOLDERS: [&str; 4] = ["%from", "%to", "%host", "%%"];

/// The router's host name as mail uses it (`MailConfig::host_name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostName {
    /// For the subject's `%host` and the test message, and, when it is a
    /// domain, HELO and the Message-ID: the name with every control
    /// character and every byte that is not UTF-8 shown as `?`, so a line
    /// break in the kernel's host name can never reach a header.
    pub text: String,
    /// Why the name is not used as it is (empty, a line break, another
    /// control character, not UTF-8), as one sentence for a warning.
    pub problem: Option<String>,
}

/// How a message leaves the router.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    /// netmon's own SMTP client (no TLS).
    Smtp,
    /// `/usr/sbin/sendmail -t -i` (msmtp-mta, for providers that need TLS).
    Sendmail,
}

/// AUTH mechanism, or none.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Auth {
    None,
    Plain,
    Login,
}

/// A validated mail section. Fields are public except the password.
#[derive(Clone, PartialEq, Eq)]
pub struct MailConfig {
    pub enabled: bool,
    pub transport: Transport,
    /// Host name or IP literal (IPv6 without brackets); empty for sendmail.
    pub server: String,
    pub port: u16,
    /// `option helo`; `None` = the router's host name (see `helo`).
    pub helo: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// Template, see `PLACEHOLDERS`.
    pub subject: String,
    pub auth: Auth,
    pub username: Option<String>,
    pub(crate) password: Option<String>,
    /// Seconds, 1..=`MAX_TIMEOUT`.
    pub timeout: u16,
    /// Send a text/html alternative with the chart.
    pub html: bool,
}

impl core::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MailConfig")
            .field("enabled", &self.enabled)
            .field("transport", &self.transport)
            .field("server", &self.server)
            .field("port", &self.port)
            .field("helo", &self.helo)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("auth", &self.auth)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("html", &self.html)
            .finish()
    }
}

impl MailConfig {
    /// The HELO name, never empty: `option helo`, else `hostname` (the
    /// caller reads /proc/sys/kernel/hostname) when it is a valid domain,
    /// else `FALLBACK_HELO`. RFC 5321 4.1.1.1 wants the client's FQDN; a
    /// router's bare name (`OpenWrt`) is what most servers accept from
    /// a LAN client, and `option helo` is there for strict ones.
    pub fn helo<'a>(&'a self, hostname: &'a str) -> &'a str {
        match &self.helo {
            Some(h) => h,
            None if valid_helo(hostname) => hostname,
            None => FALLBACK_HELO,
        }
    }

    /// The router's host name `raw` as mail uses it (the caller reads
    /// /proc/sys/kernel/hostname; the kernel takes any bytes): see
    /// `HostName`. The problem sentence names the host name, what is
    /// wrong with it, what mail uses instead, and what to do.
    pub fn host_name(&self, raw: &[u8]) -> HostName {
        let lossy = crate::text::lossy(raw);
        let bad = |c: char| c.is_control() || c == char::REPLACEMENT_CHARACTER;
        let text: String = lossy
            .chars()
            .map(|c| if bad(c) { '?' } else { c })
            .collect();
        let why = if raw.is_empty() {
            "is empty"
        } else if raw.contains(&b'\r') || raw.contains(&b'\n') {
            "contains a line break"
        } else if lossy.chars().any(char::is_control) {
            "contains a control character"
        } else if core::str::from_utf8(raw).is_err() {
            "is not UTF-8 text"
        } else {
            return HostName {
                text,
                problem: None,
            };
        };
        let (shown, uses) = if raw.is_empty() {
            (String::new(), String::from(", so mail leaves %host empty"))
        } else {
            let q = crate::mail::cat(&["'", &text, "'"]);
            let uses = crate::mail::cat(&[", so mail uses ", &q, " for it"]);
            (q + " ", uses)
        };
        let problem = crate::mail::cat(&[
            "the router's host name ",
            &shown,
            why,
            &uses,
            " and says HELO ",
            self.helo(&text),
            ": set a plain host name in /etc/config/system (option hostname)",
        ]);
        HostName {
            text,
            problem: Some(problem),
        }
    }

    /// The envelope for this config (`helo` as above).
    pub fn envelope<'a>(&'a self, hostname: &'a str) -> Result<Envelope<'a>> {
        Envelope::new(self.helo(hostname), &self.from, &self.to)
    }

    /// AUTH credentials when `auth` is plain or login.
    pub fn credentials(&self) -> Result<Option<Credentials<'_>>> {
        let m = match self.auth {
            Auth::None => return Ok(None),
            Auth::Plain => Mechanism::Plain,
            Auth::Login => Mechanism::Login,
        };
        let user = self.username.as_deref().unwrap_or("");
        let password = self.password.as_deref().unwrap_or("");
        Credentials::new(m, user, password).map(Some)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout.max(1)))
    }

    /// The subject: `%from` and `%to` become the period's ends in the
    /// router's local time (`2026-11-21 20:00:00 CET`), `%host` the host
    /// name, `%%` a `%`.
    pub fn subject(&self, from: i64, to: i64, host: &str, zone: &Zone) -> String {
        expand_subject(&self.subject, from, to, host, zone)
    }
}

/// Expands a subject template (see `MailConfig::subject`); a `%` that
/// starts no placeholder stays as it is (the parser refuses those).
pub fn expand_subject(template: &str, from: i64, to: i64, host: &str, zone: &Zone) -> String {
    let mut out = Buf::new();
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_bytes(rest.get(..i).unwrap_or("").as_bytes());
        let tail = rest.get(i..).unwrap_or("");
        let p = PLACEHOLDERS.iter().find(|p| tail.starts_with(**p));
        match p {
            Some(&"%from") => drop(zone.write_human(&mut out, from)),
            Some(&"%to") => drop(zone.write_human(&mut out, to)),
            Some(&"%host") => out.push_bytes(host.as_bytes()),
            _ => out.push_bytes(b"%"),
        }
        rest = tail.get(p.map_or(1, |p| p.len())..).unwrap_or("");
    }
    out.push_bytes(rest.as_bytes());
    String::from(out.as_str())
}

/// The first `%...` in `template` that is no placeholder, if any.
pub fn bad_placeholder(template: &str) -> Option<&str> {
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        let tail = rest.get(i..).unwrap_or("");
        match PLACEHOLDERS.iter().find(|p| tail.starts_with(**p)) {
            Some(p) => rest = tail.get(p.len()..).unwrap_or(""),
            None => {
                let end = tail
                    .char_indices()
                    .skip(1)
                    .find(|(_, c)| !c.is_ascii_alphabetic())
                    .map_or(tail.len(), |(j, _)| j);
                return Some(tail.get(..end).unwrap_or(tail));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(helo: Option<&str>) -> MailConfig {
        MailConfig {
            enabled: true,
            transport: Transport::Smtp,
            server: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            helo: helo.map(Into::into),
            from: "n@gw.lan".into(),
            to: vec!["me@example.org".into()],
            subject: "Usage on %host".into(),
            auth: Auth::None,
            username: None,
            password: None,
            timeout: DEFAULT_TIMEOUT,
            html: false,
        }
    }

    /// The kernel takes any bytes as host name: a line break, another
    /// control character or bytes that are not UTF-8 are named as the
    /// host name's problem, shown as `?`, and never reach HELO.
    #[test]
    fn host_name_problems_name_the_host_name() {
        let tail = ": set a plain host name in /etc/config/system (option hostname)";
        let c = cfg(None);
        let cases: [(&[u8], &str, &str); 4] = [
            (
                b"gw\r\nBcc: evil@x.test",
                "gw??Bcc: evil@x.test",
                "'gw??Bcc: evil@x.test' contains a line break, so mail uses 'gw??Bcc: evil@x.test' for it",
            ),
            (
                b"gw\tlan",
                "gw?lan",
                "'gw?lan' contains a control character, so mail uses 'gw?lan' for it",
            ),
            (
                b"gw\xff\xfe.lan",
                "gw??.lan",
                "'gw??.lan' is not UTF-8 text, so mail uses 'gw??.lan' for it",
            ),
            (b"", "", "is empty, so mail leaves %host empty"),
        ];
        for (raw, text, middle) in cases {
            let h = c.host_name(raw);
            assert_eq!(h.text, text, "{raw:?}");
            let want = [
                "the router's host name ",
                middle,
                " and says HELO netmon",
                tail,
            ]
            .concat();
            assert_eq!(h.problem.as_deref(), Some(want.as_str()), "{raw:?}");
            assert_eq!(c.helo(&h.text), FALLBACK_HELO);
            assert!(!h.text.chars().any(char::is_control));
        }
        let h = cfg(Some("gw.example.org")).host_name(b"gw\n");
        assert!(h
            .problem
            .unwrap()
            .contains(" and says HELO gw.example.org: "));
        for plain in ["OpenWrt", "gw.lan", "Küche", "my router"] {
            let h = c.host_name(plain.as_bytes());
            assert_eq!((h.text.as_str(), h.problem), (plain, None));
            assert!(!c.helo(&h.text).is_empty());
        }
        assert_eq!(c.helo("my router"), FALLBACK_HELO);
        assert_eq!(c.helo("gw.lan"), "gw.lan");
    }

    #[test]
    fn subject_placeholders() {
        let s = expand_subject(
            "Usage %from .. %to on %host (100%%)",
            0,
            3600,
            "gw",
            &Zone::UTC,
        );
        assert_eq!(
            s,
            "Usage 1970-01-01 00:00:00 UTC .. 1970-01-01 01:00:00 UTC on gw (100%)"
        );
        assert_eq!(expand_subject("50% off", 0, 0, "h", &Zone::UTC), "50% off");
        assert_eq!(bad_placeholder("a %to b %% %host"), None);
        assert_eq!(bad_placeholder("a %tox"), None, "prefix %to matches");
        assert_eq!(bad_placeholder("usage %date here"), Some("%date"));
        assert_eq!(bad_placeholder("100%"), Some("%"));
    }

    /// Issue 10, defect 12: the subject's times are the router's local
    /// time, as every other time a person reads, with the zone's name.
    #[test]
    fn subject_times_are_local() {
        let zone = Zone::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2026-07-01 10:00 UTC (summer) and 2026-12-01 10:00 UTC (winter).
        let s = expand_subject("%from .. %to", 1_782_900_000, 1_796_119_200, "gw", &zone);
        assert_eq!(s, "2026-07-01 12:00:00 CEST .. 2026-12-01 11:00:00 CET");
        let india = Zone::parse("<+0530>-5:30").unwrap();
        let s = expand_subject("%to", 0, 0, "gw", &india);
        assert_eq!(s, "1970-01-01 05:30:00 +0530");
    }
}
