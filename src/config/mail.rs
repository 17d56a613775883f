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

use super::{bad, boolean, check_option, set_once};
use crate::mail::config::{
    bad_placeholder, Auth, MailConfig, Transport, DEFAULT_PORT, DEFAULT_SUBJECT, DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
};
use crate::mail::smtp::envelope::{valid_address, valid_helo, MAX_DOMAIN, MAX_RECIPIENTS};
use crate::mail::smtp::{Credentials, Mechanism};
use crate::text::parse_u64;
use crate::text::{fill, num, word_index};

/// Options of `config mail 'mail'`; positions index `MailDraft::lines`.
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
const SERVER: usize = 0;
const FROM: usize = 3;
const TO: usize = 4;
const USERNAME: usize = 6;
const PASSWORD: usize = 7;
const AUTH: usize = 8;

/// A mail section being read: the config with its defaults, and the line
/// each option was set on (0 = not yet; `TO`: the first recipient's).
pub(super) struct MailDraft {
    line: u32,
    cfg: MailConfig,
    lines: [u32; MAIL_OPTIONS.len()],
}

impl MailDraft {
    pub(super) fn new(line: u32) -> MailDraft {
        MailDraft {
            line,
            cfg: MailConfig {
                enabled: true,
                transport: Transport::Smtp,
                server: String::new(),
                port: DEFAULT_PORT,
                helo: None,
                from: String::new(),
                to: Vec::new(),
                subject: DEFAULT_SUBJECT.into(),
                auth: Auth::None,
                username: None,
                password: None,
                timeout: DEFAULT_TIMEOUT,
                html: true,
            },
            lines: [0; MAIL_OPTIONS.len()],
        }
    }

    pub(super) fn option(
        &mut self,
        line: u32,
        key: &str,
        value: &str,
        list: bool,
    ) -> Result<(), String> {
        let i = check_option(
            key,
            value,
            list && key != "to",
            &MAIL_OPTIONS,
            "the mail section",
        )?;
        if value.chars().any(char::is_control) {
            let m = "option {} holds a tab or control character (not allowed in mail values)";
            return Err(fill(m, &[key]));
        }
        let c = &mut self.cfg;
        match i {
            SERVER => c.server = server(value)?,
            1 => c.port = number(key, value, 65535)?,
            2 => c.helo = Some(helo(value)?),
            FROM => c.from = address(key, value)?,
            TO => return self.add_to(line, value, list),
            5 => c.subject = subject(value)?,
            USERNAME => c.username = Some(value.into()),
            PASSWORD => c.password = Some(value.into()),
            AUTH => c.auth = auth(value)?,
            9 => c.timeout = number(key, value, MAX_TIMEOUT)?,
            10 => c.transport = transport(value)?,
            11 => c.html = boolean(key, value)?,
            _ => c.enabled = boolean(key, value)?,
        }
        set_once(&mut self.lines, i, key, line)
    }

    /// `list to 'a@b'` per recipient, or `option to 'a@b c@d'`.
    fn add_to(&mut self, line: u32, value: &str, list: bool) -> Result<(), String> {
        let first = self.lines[TO];
        if !list && first != 0 {
            let m = "option to is set twice (first on line {}); use one list to '...' line per \
                     recipient";
            return Err(fill(m, &[num(u64::from(first)).as_str()]));
        }
        // uci lists hold one value each; `option to` may hold several. A
        // NUL cannot be in a value (the lexer refuses it): no split.
        let sep = if list { '\0' } else { ' ' };
        for word in value.split(sep).filter(|w| !w.is_empty()) {
            let a = address("to", word)?;
            let to = &mut self.cfg.to;
            if to.contains(&a) {
                return Err(bad("to", word, "recipient given twice"));
            }
            if to.len() >= MAX_RECIPIENTS {
                let m = "too many recipients (at most {}; use a mailing list)";
                return Err(fill(m, &[num(MAX_RECIPIENTS as u64).as_str()]));
            }
            to.push(a);
            if first == 0 {
                self.lines[TO] = line;
            }
        }
        Ok(())
    }

    /// The whole-section checks; errors carry the line to report.
    pub(super) fn finish(self) -> Result<MailConfig, (u32, String)> {
        let (c, l) = (&self.cfg, &self.lines);
        if l[SERVER] == 0 && c.transport == Transport::Smtp {
            return Err(missing(self.line, "server", "'smtp.example.org'"));
        }
        if l[FROM] == 0 {
            return Err(missing(self.line, "from", "'router@example.org'"));
        }
        if c.to.is_empty() {
            let m = "the mail section has no recipient (add list to 'you@example.org')";
            return Err((self.line, m.into()));
        }
        self.check_credentials()?;
        Ok(self.cfg)
    }

    /// AUTH needs a user name and a password, and they mean nothing without
    /// AUTH: refusing the mix avoids a config that silently sends no AUTH.
    fn check_credentials(&self) -> Result<(), (u32, String)> {
        let (c, l) = (&self.cfg, &self.lines);
        let mech = match c.auth {
            Auth::Plain => Mechanism::Plain,
            Auth::Login => Mechanism::Login,
            Auth::None => {
                // The username's line if it is set, else the password's.
                let given = match l[USERNAME] {
                    0 => l[PASSWORD],
                    u => u,
                };
                if given == 0 {
                    return Ok(());
                }
                let m = "option username/password given but option auth is 'none' \
                         (set option auth 'plain' or 'login', or remove them)";
                return Err((given, m.into()));
            }
        };
        let (Some(u), Some(p)) = (&c.username, &c.password) else {
            let m = "option auth 'plain'/'login' needs option username and option password";
            return Err((l[AUTH], m.into()));
        };
        // Same limits as AUTH itself; the message never quotes the password.
        Credentials::new(mech, u, p)
            .map(drop)
            .map_err(|e| (l[PASSWORD], e.message().into()))
    }
}

fn missing(line: u32, key: &str, example: &str) -> (u32, String) {
    let m = "the mail section needs option {} (e.g. option {} {})";
    (line, fill(m, &[key, key, example]))
}

fn server(value: &str) -> Result<String, String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"-.:".contains(&b);
    if value.len() <= MAX_DOMAIN && value.bytes().all(ok) {
        return Ok(value.into());
    }
    let why = "not a host name or IP address (IPv6 without brackets, e.g. 2001:db8::25)";
    Err(bad("server", value, why))
}

fn helo(value: &str) -> Result<String, String> {
    if valid_helo(value) {
        return Ok(value.into());
    }
    let why = "not a domain name or address literal (e.g. router.example.org or [192.0.2.1])";
    Err(bad("helo", value, why))
}

fn address(key: &str, value: &str) -> Result<String, String> {
    if valid_address(value) {
        return Ok(value.into());
    }
    let why = "not a plain mail address like user@example.org (no names, brackets or quotes)";
    Err(bad(key, value, why))
}

fn subject(value: &str) -> Result<String, String> {
    match bad_placeholder(value) {
        None => Ok(value.into()),
        Some(p) => {
            let m = "option subject '{}': unknown placeholder '{}' (known: %from, %to, %host; \
                     write %% for a percent sign)";
            Err(fill(m, &[value, p]))
        }
    }
}

fn auth(value: &str) -> Result<Auth, String> {
    const A: [Auth; 5] = [
        Auth::None,
        Auth::Plain,
        Auth::Plain,
        Auth::Login,
        Auth::Login,
    ];
    let words = ["none", "plain", "PLAIN", "login", "LOGIN"];
    word_index(value, &words)
        .and_then(|i| A.get(i).copied())
        .ok_or_else(|| bad("auth", value, "use none, plain or login"))
}

fn transport(value: &str) -> Result<Transport, String> {
    match word_index(value, &["smtp", "sendmail"]) {
        Some(0) => Ok(Transport::Smtp),
        Some(_) => Ok(Transport::Sendmail),
        None => Err(bad("transport", value, "use smtp or sendmail")),
    }
}

/// A decimal number in `1..=max` (digits only: no sign, no spaces).
fn number(key: &str, value: &str, max: u16) -> Result<u16, String> {
    match parse_u64(value) {
        Ok(n) if value.len() <= 5 && (1..=u64::from(max)).contains(&n) => Ok(n as u16),
        _ => {
            let m = "option {} '{}': not a number from 1 to {}";
            Err(fill(m, &[key, value, num(u64::from(max)).as_str()]))
        }
    }
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
