//! `config mail 'mail'`: options read into a `MailDraft`, checked as a
//! whole when the section ends, and turned into a `mail::MailConfig`.
//!
//! ```text
//! config mail 'mail'
//!     option server 'smtp.example.org'
//!     option port '587'
//!     option from 'router@example.org'
//!     list to 'me@example.org'
//!     option subject 'Network usage %from .. %to'
//!     option auth 'login'
//!     option username 'router@example.org'
//!     option password '...'
//! ```
//!
//! Every value is refused when it holds a control character (tab
//! included: the lexer already refuses the others): values go into SMTP
//! commands and mail headers, where CR/LF would inject lines. Errors
//! quote the offending value, except the password's, which is never
//! quoted.

use super::{boolean, check_option, set_once, Msg};
use crate::mail::config::{
    bad_placeholder, Auth, MailConfig, Transport, DEFAULT_PORT, DEFAULT_SUBJECT, DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
};
use crate::mail::smtp::envelope::{valid_address, valid_helo, MAX_DOMAIN, MAX_RECIPIENTS};
use crate::mail::smtp::{Credentials, Mechanism};

/// Options of `config mail 'mail'`.
pub(super) const MAIL_OPTIONS: [&str; 13] = [
    "server",
    "port",
    "helo",
    "from",
    "to",
    "subject",
    "username",
    "password",
    "auth",
    "timeout",
    "transport",
    "html",
    "enabled",
];

type Opt<T> = Option<(T, u32)>;

/// A mail section being read: each option with the line it was set on.
#[derive(Default)]
pub(super) struct MailDraft {
    line: u32,
    server: Opt<String>,
    port: Opt<u16>,
    helo: Opt<String>,
    from: Opt<String>,
    /// Recipients with their lines; `to_option` is the line of an
    /// `option to` (which, as in uci, may be followed by `list to`).
    to: Vec<(String, u32)>,
    to_option: Option<u32>,
    subject: Opt<String>,
    username: Opt<String>,
    password: Opt<String>,
    auth: Opt<Auth>,
    timeout: Opt<u16>,
    transport: Opt<Transport>,
    html: Opt<bool>,
    enabled: Opt<bool>,
}

impl MailDraft {
    pub(super) fn new(line: u32) -> MailDraft {
        MailDraft {
            line,
            ..MailDraft::default()
        }
    }

    pub(super) fn line(&self) -> u32 {
        self.line
    }

    pub(super) fn option(
        &mut self,
        line: u32,
        key: &str,
        value: &str,
        list: bool,
    ) -> Result<(), String> {
        check_option(
            key,
            value,
            list && key != "to",
            &MAIL_OPTIONS,
            "the mail section",
        )?;
        if value.chars().any(char::is_control) {
            let m = Msg::new("option ").s(key);
            return Err(m
                .s(" holds a tab or control character (not allowed in mail values)")
                .into());
        }
        match key {
            "server" => set_once(&mut self.server, key, line, server(value)?),
            "port" => set_once(&mut self.port, key, line, number(key, value, 1, 65535)?),
            "helo" => set_once(&mut self.helo, key, line, helo(value)?),
            "from" => set_once(&mut self.from, key, line, address(key, value)?),
            "to" => self.add_to(line, value, list),
            "subject" => set_once(&mut self.subject, key, line, subject(value)?),
            "username" => set_once(&mut self.username, key, line, value.into()),
            "password" => set_once(&mut self.password, key, line, value.into()),
            "auth" => set_once(&mut self.auth, key, line, auth(value)?),
            "timeout" => {
                let t = number(key, value, 1, u32::from(MAX_TIMEOUT))?;
                set_once(&mut self.timeout, key, line, t)
            }
            "transport" => set_once(&mut self.transport, key, line, transport(value)?),
            "html" => set_once(&mut self.html, key, line, boolean(key, value)?),
            _ => set_once(&mut self.enabled, key, line, boolean(key, value)?),
        }
    }

    /// `list to 'a@b'` per recipient, or `option to 'a@b c@d'`.
    fn add_to(&mut self, line: u32, value: &str, list: bool) -> Result<(), String> {
        if let (false, Some(first)) = (list, self.to.first().map(|t| t.1)) {
            let m = Msg::new("option to is set twice (first on line ").n(first);
            return Err(m.s("); use one list to '...' line per recipient").into());
        }
        if !list {
            self.to_option = Some(line);
        }
        // uci lists hold one value each; `option to` may hold several.
        let words: Vec<&str> = match list {
            true => vec![value],
            false => value.split(' ').filter(|w| !w.is_empty()).collect(),
        };
        for word in words {
            let a = address("to", word)?;
            if self.to.iter().any(|(t, _)| *t == a) {
                return Err(Msg::option("to", word).s("recipient given twice").into());
            }
            if self.to.len() >= MAX_RECIPIENTS {
                let m = Msg::new("too many recipients (at most ").n(MAX_RECIPIENTS as u32);
                return Err(m.s("; use a mailing list)").into());
            }
            self.to.push((a, line));
        }
        Ok(())
    }

    /// The whole-section checks; errors carry the line to report.
    pub(super) fn finish(self) -> Result<MailConfig, (u32, String)> {
        let transport = self.transport.map_or(Transport::Smtp, |t| t.0);
        let server = match (self.server, transport) {
            (Some((s, _)), _) => s,
            (None, Transport::Sendmail) => String::new(),
            (None, Transport::Smtp) => {
                return Err(missing(self.line, "server", "'smtp.example.org'"))
            }
        };
        let Some((from, _)) = self.from else {
            return Err(missing(self.line, "from", "'router@example.org'"));
        };
        if self.to.is_empty() {
            let m = "the mail section has no recipient (add list to 'you@example.org')";
            return Err((self.line, m.into()));
        }
        let auth = self.auth.map_or(Auth::None, |a| a.0);
        check_credentials(self.line, auth, &self.auth, &self.username, &self.password)?;
        Ok(MailConfig {
            enabled: self.enabled.is_none_or(|e| e.0),
            transport,
            server,
            port: self.port.map_or(DEFAULT_PORT, |p| p.0),
            helo: self.helo.map(|h| h.0),
            from,
            to: self.to.into_iter().map(|t| t.0).collect(),
            subject: self.subject.map_or_else(|| DEFAULT_SUBJECT.into(), |s| s.0),
            auth,
            username: self.username.map(|u| u.0),
            password: self.password.map(|p| p.0),
            timeout: self.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0),
            html: self.html.is_none_or(|h| h.0),
        })
    }
}

fn missing(line: u32, key: &str, example: &str) -> (u32, String) {
    let m = Msg::new("the mail section needs option ")
        .s(key)
        .s(" (e.g. option ");
    (line, m.s(key).s(" ").s(example).s(")").into())
}

/// AUTH needs a user name and a password, and they mean nothing without
/// AUTH: refusing the mix avoids a config that silently sends no AUTH.
fn check_credentials(
    section: u32,
    auth: Auth,
    auth_opt: &Opt<Auth>,
    user: &Opt<String>,
    password: &Opt<String>,
) -> Result<(), (u32, String)> {
    let mech = match auth {
        Auth::Plain => Mechanism::Plain,
        Auth::Login => Mechanism::Login,
        Auth::None => {
            return match user.as_ref().or(password.as_ref()) {
                Some((_, l)) => Err((
                    *l,
                    "option username/password given but option auth is 'none' \
                     (set option auth 'plain' or 'login', or remove them)"
                        .into(),
                )),
                None => Ok(()),
            };
        }
    };
    let line = auth_opt.as_ref().map_or(section, |a| a.1);
    let (Some((u, _)), Some((p, pl))) = (user, password) else {
        let m = "option auth 'plain'/'login' needs option username and option password";
        return Err((line, m.into()));
    };
    // Same limits as AUTH itself; the message never quotes the password.
    Credentials::new(mech, u, p)
        .map(drop)
        .map_err(|e| (*pl, e.message().into()))
}

fn server(value: &str) -> Result<String, String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"-.:".contains(&b);
    if value.len() <= MAX_DOMAIN && value.bytes().all(ok) {
        return Ok(value.into());
    }
    let m = Msg::option("server", value).s("not a host name or IP address");
    Err(m.s(" (IPv6 without brackets, e.g. 2001:db8::25)").into())
}

fn helo(value: &str) -> Result<String, String> {
    if valid_helo(value) {
        return Ok(value.into());
    }
    let m = Msg::option("helo", value).s("not a domain name or address literal");
    Err(m.s(" (e.g. router.example.org or [192.0.2.1])").into())
}

fn address(key: &str, value: &str) -> Result<String, String> {
    if valid_address(value) {
        return Ok(value.into());
    }
    let m = Msg::option(key, value).s("not a plain mail address like user@example.org");
    Err(m.s(" (no names, brackets or quotes)").into())
}

fn subject(value: &str) -> Result<String, String> {
    match bad_placeholder(value) {
        None => Ok(value.into()),
        Some(p) => {
            let m = Msg::option("subject", value)
                .s("unknown placeholder '")
                .s(p);
            Err(m
                .s("' (known: %from, %to, %host; write %% for a percent sign)")
                .into())
        }
    }
}

fn auth(value: &str) -> Result<Auth, String> {
    match value {
        "none" => Ok(Auth::None),
        "plain" | "PLAIN" => Ok(Auth::Plain),
        "login" | "LOGIN" => Ok(Auth::Login),
        _ => Err(Msg::option("auth", value)
            .s("use none, plain or login")
            .into()),
    }
}

fn transport(value: &str) -> Result<Transport, String> {
    match value {
        "smtp" => Ok(Transport::Smtp),
        "sendmail" => Ok(Transport::Sendmail),
        _ => Err(Msg::option("transport", value)
            .s("use smtp or sendmail")
            .into()),
    }
}

/// A decimal number in `min..=max` (digits only: no sign, no spaces).
fn number<T: TryFrom<u32>>(key: &str, value: &str, min: u32, max: u32) -> Result<T, String> {
    let n = Some(value)
        .filter(|v| !v.is_empty() && v.len() <= 5 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| (min..=max).contains(n))
        .and_then(|n| T::try_from(n).ok());
    n.ok_or_else(|| {
        let m = Msg::option(key, value).s("not a number from ").n(min);
        m.s(" to ").n(max).into()
    })
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::mail::config::{Auth, MailConfig, Transport};

    const METER: &str = "config meter 'proxy'\n\toption hook 'input'\n\n";

    fn ok(mail: &str) -> MailConfig {
        let text = String::from(METER) + mail;
        let c = parse(&text, "/etc/config/netmon").unwrap_or_else(|e| panic!("{}", e.sentence()));
        c.mail.expect("a mail section")
    }

    /// (line, message) of the refusal; lines count from the meter's 3.
    fn err(mail: &str) -> (u32, String) {
        let text = String::from(METER) + mail;
        let e = parse(&text, "/etc/config/netmon").expect_err("should be refused");
        (e.line, e.msg)
    }

    const FULL: &str = "config mail 'mail'
\toption server 'smtp.example.org'
\toption port '587'
\toption helo 'gw.example.org'
\toption from 'router@example.org'
\tlist to 'me@example.org'
\tlist to 'you@example.org'
\toption subject 'Usage %from .. %to on %host'
\toption auth 'login'
\toption username 'router@example.org'
\toption password 'pa ss\"w0rd'
\toption timeout '10'
\toption transport 'smtp'
\toption html '0'
\toption enabled '1'
";

    #[test]
    fn every_option_read() {
        let m = ok(FULL);
        assert_eq!(m.server, "smtp.example.org");
        assert_eq!(m.port, 587);
        assert_eq!(m.helo.as_deref(), Some("gw.example.org"));
        assert_eq!(m.from, "router@example.org");
        assert_eq!(m.to, ["me@example.org", "you@example.org"]);
        assert_eq!(m.subject, "Usage %from .. %to on %host");
        assert_eq!(m.auth, Auth::Login);
        assert_eq!(m.username.as_deref(), Some("router@example.org"));
        assert_eq!(m.password.as_deref(), Some("pa ss\"w0rd"));
        assert_eq!(
            (m.timeout, m.transport, m.html, m.enabled),
            (10, Transport::Smtp, false, true)
        );
        assert!(m.credentials().unwrap().is_some());
    }

    #[test]
    fn defaults() {
        let m = ok("config mail 'mail'\n\toption server '192.0.2.25'\n\toption from 'a@b'\n\toption to 'c@d e@f'\n");
        assert_eq!((m.port, m.timeout, m.auth), (25, 30, Auth::None));
        assert_eq!(
            (m.transport, m.html, m.enabled),
            (Transport::Smtp, true, true)
        );
        assert_eq!(m.subject, "Network usage report %to");
        assert_eq!(m.to, ["c@d", "e@f"]);
        assert_eq!(m.helo, None);
        assert_eq!(m.helo("OpenWrt"), "OpenWrt");
        assert_eq!(m.helo("bad name"), "netmon");
        assert!(m.credentials().unwrap().is_none());
        // sendmail needs no server; no mail section means None.
        let s = ok("config mail 'mail'\n\toption transport 'sendmail'\n\toption from 'a@b'\n\tlist to 'c@d'\n");
        assert_eq!((s.transport, s.server.as_str()), (Transport::Sendmail, ""));
        assert_eq!(parse(METER, "f").unwrap().mail, None);
    }

    #[test]
    fn password_is_never_printed() {
        let m = ok(FULL);
        let dbg = format!("{m:?}");
        assert!(!dbg.contains("w0rd"), "{dbg}");
        assert!(dbg.contains("password: Some(\"<redacted>\")"), "{dbg}");
        let cfg = parse(&(String::from(METER) + FULL), "f").unwrap();
        assert!(!format!("{cfg:?}").contains("w0rd"));
        // Nor in errors about it.
        let (_, msg) = err("config mail 'mail'\n\toption password 'sec\tret'\n");
        assert!(!msg.contains("sec"), "{msg}");
        let (_, msg) =
            err("config mail 'mail'\n\toption password 'secret'\n\toption password 'secret2'\n");
        assert!(!msg.contains("secret"), "{msg}");
    }

    /// Done-when 4: CR/LF in a subject or an address is refused when the
    /// config is loaded, with the line it is on.
    #[test]
    fn line_breaks_in_subject_or_address_are_refused_with_their_line() {
        for (bad, line) in [
            ("\toption subject 'Report\r\nBcc: victim@example.org'\n", 6),
            ("\toption subject \"Report\rX\"\n", 6),
            ("\toption subject 'Report\nBcc: x@y'\n", 6),
            ("\tlist to 'me@example.org\r\nRCPT TO:<x@y>'\n", 6),
            ("\toption from \"a@b\r\"\n", 6),
            ("\toption helo 'gw\r\nQUIT'\n", 6),
        ] {
            let mail = String::from("config mail 'mail'\n\toption server 's'\n") + bad;
            let (l, msg) = err(&mail);
            assert_eq!(l, line, "{bad:?}: {msg}");
            assert!(!msg.contains('\r') && !msg.contains('\n'), "{msg:?}");
        }
        // A tab passes the lexer but not the mail section.
        let (l, msg) = err("config mail 'mail'\n\toption subject 'a\tb'\n");
        assert_eq!(l, 5);
        assert!(msg.contains("tab or control character"), "{msg}");
    }

    #[test]
    fn bad_values_and_missing_pieces() {
        let base =
            "config mail 'mail'\n\toption server 's'\n\toption from 'a@b'\n\tlist to 'c@d'\n";
        for (extra, line, want) in [
            ("\toption port '0'\n", 8, "option port '0': not a number from 1 to 65535"),
            ("\toption port '+25'\n", 8, "option port '+25': not a number from 1 to 65535"),
            ("\toption timeout '301'\n", 8, "option timeout '301': not a number from 1 to 300"),
            ("\toption auth 'cram-md5'\n", 8, "option auth 'cram-md5': use none, plain or login"),
            ("\toption transport 'tls'\n", 8, "option transport 'tls': use smtp or sendmail"),
            ("\toption html 'maybe'\n", 8, "option html 'maybe': not a boolean (use '1' or '0')"),
            ("\toption subject 'Usage %date'\n", 8, "option subject 'Usage %date': unknown placeholder '%date' (known: %from, %to, %host; write %% for a percent sign)"),
            ("\tlist to 'Me <me@x>'\n", 8, "option to 'Me <me@x>': not a plain mail address like user@example.org (no names, brackets or quotes)"),
            ("\tlist to 'c@d'\n", 8, "option to 'c@d': recipient given twice"),
            ("\toption server 't'\n", 8, "option server is set twice (first on line 5); keep one"),
            ("\toption helo 'a b'\n", 8, "option helo 'a b': not a domain name or address literal (e.g. router.example.org or [192.0.2.1])"),
            ("\toption auth 'plain'\n", 8, "option auth 'plain'/'login' needs option username and option password"),
            ("\toption username 'u'\n\toption password 'p'\n", 8, "option username/password given but option auth is 'none' (set option auth 'plain' or 'login', or remove them)"),
            ("\toption bcc 'x@y'\n", 8, "unknown option 'bcc' for the mail section (known: server, port, helo, from, to, subject, username, password, auth, timeout, transport, html, enabled)"),
            ("\tlist subject 'x'\n", 8, "option subject takes one value (write: option subject '...'; only hook may be a list)"),
        ] {
            assert_eq!(err(&(String::from(base) + extra)), (line, want.into()), "{extra}");
        }
        assert_eq!(
            err("config mail 'mail'\n\toption from 'a@b'\n\tlist to 'c@d'\n"),
            (
                4,
                "the mail section needs option server (e.g. option server 'smtp.example.org')"
                    .into()
            )
        );
        assert_eq!(
            err("config mail 'mail'\n\toption server 's'\n\toption from 'a@b'\n").0,
            4
        );
        assert_eq!(
            err("config mail 'other'\n").1,
            "the mail section must be named 'mail' (write: config mail 'mail')"
        );
        let twice = String::from(base) + "config mail 'mail'\n";
        assert_eq!(
            err(&twice),
            (
                8,
                "section mail 'mail' appears twice (first on line 4); merge the two".into()
            )
        );
        let many: String = (0..101).map(|i| format!("\tlist to 'u{i}@x'\n")).collect();
        let (l, m) = err(&(String::from(
            "config mail 'mail'\n\toption server 's'\n\toption from 'a@b'\n",
        ) + &many));
        assert_eq!(
            (l, m.as_str()),
            (107, "too many recipients (at most 100; use a mailing list)")
        );
    }
}
