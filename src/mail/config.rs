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
    /// The HELO name: `option helo`, else `hostname` (the caller reads
    /// /proc/sys/kernel/hostname) when it is a valid domain, else
    /// `FALLBACK_HELO`. RFC 5321 4.1.1.1 wants the client's FQDN; a
    /// router's bare name (`OpenWrt`) is what most servers accept from
    /// a LAN client, and `option helo` is there for strict ones.
    pub fn helo<'a>(&'a self, hostname: &'a str) -> &'a str {
        match &self.helo {
            Some(h) => h,
            None if valid_helo(hostname) => hostname,
            None => FALLBACK_HELO,
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
