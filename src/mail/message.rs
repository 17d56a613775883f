//! The report as an Internet message (RFC 5322) with MIME (RFC 2045-2047):
//! headers Date, Message-ID, From, To, Subject, MIME-Version,
//! Auto-Submitted, then either one text/plain part or a
//! multipart/alternative with text/plain and text/html (RFC 2046 5.1.4:
//! the last part is the preferred one, so HTML goes last).
//!
//! Invariants of the output: CRLF line ends; every header line at most
//! 78 bytes (RFC 5322 2.1.1) except an address list entry that cannot
//! fold, and never more than 998; every body line at most 76 bytes;
//! ASCII only (7bit-safe, so no 8BITMIME needed from the server).
//!
//! Bodies use quoted-printable (RFC 2045 6.7) rather than base64: reports
//! are mostly ASCII (names, numbers, markup), which QP leaves readable in
//! the spool, in `logread` and for anyone debugging with `tcpdump`, at no
//! size cost; base64 would add a third to every report. Soft line breaks
//! keep any input line (a long SVG path, say) within 76 bytes.
//!
//! Header values are refused when they contain CR, LF or any other
//! control character: config validation already refuses them, and this
//! second check makes header injection impossible whoever the caller is.

use crate::error::{Error, Result};
use crate::mail::base64;
use crate::mail::smtp::envelope::valid_address;

/// RFC 5322 2.1.1: lines SHOULD be at most 78 characters.
pub const MAX_HEADER_LINE: usize = 78;
/// RFC 5322 2.1.1 / RFC 5321 4.5.3.1.6: lines MUST be at most 998.
pub const MAX_LINE: usize = 998;
/// RFC 2045 6.7 rule 5: encoded lines at most 76 characters.
const QP_LINE: usize = 76;
/// UTF-8 bytes per encoded word: `Subject: ` (9) + `=?UTF-8?B?` (10) +
/// 56 base64 characters + `?=` (2) = 77, within 78; RFC 2047 section 2
/// caps an encoded word at 75.
const WORD_BYTES: usize = 42;

/// Everything the message is made of; the caller formats the date
/// (RFC 5322 3.3 text) and picks the Message-ID parts.
pub struct Message<'a> {
    pub from: &'a str,
    pub to: &'a [&'a str],
    pub subject: &'a str,
    /// e.g. `Sat, 21 Nov 2026 19:00:00 +0000`.
    pub date: &'a str,
    /// Message-ID `<unique@domain>`: `unique` must be unique per message.
    pub id_unique: &'a str,
    pub id_domain: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
}

/// Renders the message, or says which value would have broken it.
pub fn build(m: &Message) -> Result<Vec<u8>> {
    validate(m)?;
    let text = quoted_printable(m.text);
    let html = m.html.map(quoted_printable);
    let mut out = Vec::with_capacity(1024 + text.len() + html.as_ref().map_or(0, Vec::len));
    headers(m, &mut out);
    match &html {
        None => {
            part_headers(&mut out, b"plain");
            put(&mut out, &[b"\r\n", &text]);
        }
        Some(html) => multipart(&mut out, &text, html)?,
    }
    Ok(out)
}

/// Appends the pieces in order.
fn put(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for p in parts {
        out.extend_from_slice(p);
    }
}

fn validate(m: &Message) -> Result<()> {
    header_text("subject", m.subject)?;
    header_text("date", m.date)?;
    if m.date.is_empty() || m.date.bytes().any(|b| b >= 0x80) {
        return Err(Error::config(
            "mail date must be RFC 5322 text (ASCII, not empty)",
        ));
    }
    if !valid_address(m.from) {
        return Err(Error::config("invalid mail sender address"));
    }
    if m.to.is_empty() || !m.to.iter().all(|t| valid_address(t)) {
        return Err(Error::config("invalid or missing mail recipient address"));
    }
    if !valid_id_part(m.id_unique, b".!#$%&'*+-/=?^_`{|}~") || !valid_id_part(m.id_domain, b".-") {
        return Err(Error::config("invalid Message-ID part"));
    }
    Ok(())
}

/// Unstructured header text: refused if it holds a control character
/// (C0, DEL, or C1: U+0080..U+009F, which UTF-8 writes as C2 80..C2 9F).
fn header_text(what: &str, v: &str) -> Result<()> {
    let b = v.as_bytes();
    let tail = if b.contains(&b'\r') || b.contains(&b'\n') {
        " contains a line break (CR/LF): refused (header injection)"
    } else if b.iter().any(|&c| c < 0x20 || c == 0x7f)
        || b.windows(2).any(|w| w[0] == 0xc2 && w[1] < 0xa0)
    {
        " contains a control character"
    } else {
        return Ok(());
    };
    Err(Error::config(crate::mail::cat(&["mail ", what, tail])))
}

/// RFC 5322 3.6.4 `dot-atom-text` (alphanumerics plus `extra`).
fn valid_id_part(s: &str, extra: &[u8]) -> bool {
    (1..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

fn headers(m: &Message, out: &mut Vec<u8>) {
    put(
        out,
        &[
            b"Date: ",
            m.date.as_bytes(),
            b"\r\nMessage-ID: <",
            m.id_unique.as_bytes(),
            b"@",
            m.id_domain.as_bytes(),
            b">\r\nFrom: ",
            m.from.as_bytes(),
            b"\r\nTo: ",
        ],
    );
    fold(out, &m.to.join(", "), 4);
    out.extend_from_slice(b"\r\nSubject: ");
    subject(out, m.subject);
    // RFC 3834 section 5: Auto-Submitted marks the report as
    // machine-made, so vacation responders do not answer it.
    out.extend_from_slice(b"\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
}

/// Folds at spaces (RFC 5322 2.2.3: CRLF before the whitespace) so lines
/// stay within 78 when words allow; `col` is where the value starts.
fn fold(out: &mut Vec<u8>, value: &str, mut col: usize) {
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 {
            if !word.is_empty() && col + 1 + word.len() > MAX_HEADER_LINE {
                out.extend_from_slice(b"\r\n");
                col = 0;
            }
            out.push(b' ');
            col += 1;
        }
        out.extend_from_slice(word.as_bytes());
        col += word.len();
    }
}

/// Plain folded ASCII when that is unambiguous and fits, else RFC 2047
/// encoded words. ASCII containing `=?` is encoded too, or a reader
/// would try to decode it.
fn subject(out: &mut Vec<u8>, s: &str) {
    let plain = s.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !contains(s.as_bytes(), b"=?")
        && s.split(' ').all(|w| w.len() <= MAX_LINE - 20);
    if plain {
        fold(out, s, 9);
    } else {
        encoded_words(out, s);
    }
}

/// `=?UTF-8?B?...?=` words of at most `WORD_BYTES` bytes each, cut on
/// character boundaries (RFC 2047 section 5: a word holds whole
/// characters), one per line; the folding whitespace between two encoded
/// words is not part of the text (RFC 2047 section 6.2).
fn encoded_words(out: &mut Vec<u8>, s: &str) {
    let mut rest = s;
    let mut first = true;
    while first || !rest.is_empty() {
        let mut end = rest.len().min(WORD_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (word, tail) = rest.split_at(end);
        if !first {
            out.extend_from_slice(b"\r\n ");
        }
        out.extend_from_slice(b"=?UTF-8?B?");
        base64::encode_into(word.as_bytes(), out);
        out.extend_from_slice(b"?=");
        rest = tail;
        first = false;
    }
}

fn part_headers(out: &mut Vec<u8>, subtype: &[u8]) {
    put(
        out,
        &[
            b"Content-Type: text/",
            subtype,
            b"; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
        ],
    );
}

/// RFC 2046 5.1.1: `--boundary` lines around the parts, `--boundary--`
/// at the end; each delimiter's leading CRLF belongs to the delimiter.
fn multipart(out: &mut Vec<u8>, text: &[u8], html: &[u8]) -> Result<()> {
    let b = &boundary(&[text, html])?;
    put(
        out,
        &[
            b"Content-Type: multipart/alternative; boundary=\"",
            b,
            b"\"\r\n\r\n",
        ],
    );
    for &(subtype, body) in &[(&b"plain"[..], text), (b"html", html)] {
        put(out, &[b"--", b, b"\r\n"]);
        part_headers(out, subtype);
        put(out, &[b"\r\n", body, b"\r\n"]);
    }
    put(out, &[b"--", b, b"--\r\n"]);
    Ok(())
}

/// A boundary that occurs in no encoded part. `=_` can never occur in
/// quoted-printable output (`=` is always followed by a hex digit or a
/// line break; RFC 2045 section 6.7), so the first candidate always
/// fits; the search is the proof, not a hope.
fn boundary(parts: &[&[u8]]) -> Result<[u8; 15]> {
    let mut b = *b"=_netmon_alt_00";
    for n in 0u8..100 {
        b[13] = b'0' + n / 10;
        b[14] = b'0' + n % 10;
        if !parts.iter().any(|p| contains(p, &b)) {
            return Ok(b);
        }
    }
    Err(Error::runtime(
        "cannot find a MIME boundary absent from the report",
    ))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Quoted-printable (RFC 2045 section 6.7) of `text`: LF and CRLF both
/// become CRLF; `=`, controls, non-ASCII and whitespace before a line end
/// are escaped; lines are cut with soft breaks (`=` CRLF) at 76. A line
/// starting with `From ` is escaped too (RFC 2049 section 3 item 8) so
/// mbox delivery does not mangle it.
pub fn quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16 + 8);
    let mut rest = text.as_bytes();
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        let line = rest.get(..i).unwrap_or(&[]);
        qp_line(&mut out, line.strip_suffix(b"\r").unwrap_or(line));
        out.extend_from_slice(b"\r\n");
        rest = rest.get(i + 1..).unwrap_or(&[]);
    }
    qp_line(&mut out, rest);
    out
}

fn qp_line(out: &mut Vec<u8>, line: &[u8]) {
    let mut col = 0;
    for (i, &b) in line.iter().enumerate() {
        let last = i + 1 == line.len();
        let literal = match b {
            b' ' | b'\t' => !last,
            b'=' => false,
            b'F' => !(i == 0 && line.starts_with(b"From ")),
            33..=126 => true,
            _ => false,
        };
        let width = if literal { 1 } else { 3 };
        // Room for the soft break's `=` unless this is the line's end.
        let limit = if last { QP_LINE } else { QP_LINE - 1 };
        if col + width > limit {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        if literal {
            out.push(b);
        } else {
            push_hex(out, b);
        }
        col += width;
    }
}

fn push_hex(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'=');
    out.push(HEX[usize::from(b >> 4)]);
    out.push(HEX[usize::from(b & 15)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(subject: &str, html: Option<&'static str>) -> Vec<u8> {
        let to = ["a@example.org", "b@example.org"];
        let m = Message {
            from: "netmon@router.lan",
            to: &to,
            subject,
            date: "Sat, 21 Nov 2026 19:00:00 +0000",
            id_unique: "20261121190000.1a2b",
            id_domain: "router.lan",
            text: "proxy  1.2 GB\n",
            html,
        };
        build(&m).unwrap()
    }

    fn text(v: &[u8]) -> &str {
        std::str::from_utf8(v).unwrap()
    }

    /// Test-only decoders, written from RFC 2045 independently of the encoders.
    fn qp_decode(s: &str) -> Vec<u8> {
        let s = s.replace("=\r\n", "");
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'=' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    fn b64_decode(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let mut out = Vec::new();
        for q in s.as_bytes().chunks(4) {
            let n = q.iter().filter(|&&c| c != b'=').count();
            let v = q
                .iter()
                .take(n)
                .fold(0u32, |a, &c| a << 6 | u32::from(val(c)))
                << (6 * (4 - n));
            out.extend_from_slice(&v.to_be_bytes()[1..n]);
        }
        out
    }

    fn decode_subject(msg: &str) -> String {
        let start = msg.find("\r\nSubject: ").unwrap() + 11;
        let end = start + msg[start..].find("\r\nMIME-Version").unwrap();
        let v = &msg[start..end];
        if !v.starts_with("=?") {
            return v.replace("\r\n", "");
        }
        let mut out = Vec::new();
        for w in v.split("\r\n ") {
            let inner = w
                .strip_prefix("=?UTF-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            assert!(w.len() <= 75, "encoded word too long: {w}");
            out.extend(b64_decode(inner));
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn single_part_message_layout() {
        let m = base("netmon report", None);
        assert_eq!(
            text(&m),
            "Date: Sat, 21 Nov 2026 19:00:00 +0000\r\n\
             Message-ID: <20261121190000.1a2b@router.lan>\r\n\
             From: netmon@router.lan\r\n\
             To: a@example.org, b@example.org\r\n\
             Subject: netmon report\r\n\
             MIME-Version: 1.0\r\n\
             Auto-Submitted: auto-generated\r\n\
             Content-Type: text/plain; charset=UTF-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\
             \r\n\
             proxy  1.2 GB\r\n"
        );
    }

    #[test]
    fn multipart_alternative_layout() {
        let m = base("r", Some("<p>x</p>"));
        let m = text(&m);
        let body = m
            .split_once("Auto-Submitted: auto-generated\r\n")
            .unwrap()
            .1;
        assert_eq!(
            body,
            "Content-Type: multipart/alternative; boundary=\"=_netmon_alt_00\"\r\n\
             \r\n\
             --=_netmon_alt_00\r\n\
             Content-Type: text/plain; charset=UTF-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\
             \r\n\
             proxy  1.2 GB\r\n\
             \r\n\
             --=_netmon_alt_00\r\n\
             Content-Type: text/html; charset=UTF-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\
             \r\n\
             <p>x</p>\r\n\
             --=_netmon_alt_00--\r\n"
        );
    }

    #[test]
    fn boundary_skips_candidates_found_in_a_part() {
        assert_eq!(
            &boundary(&[b"x--=_netmon_alt_00", b"=_netmon_alt_01"]).unwrap(),
            b"=_netmon_alt_02"
        );
    }

    #[test]
    fn non_ascii_subject_becomes_encoded_words_that_decode_back() {
        for s in [
            "Bericht für Mai",
            "日本語のレポート".repeat(6).as_str(),
            "ü",
            "",
        ] {
            let m = base(s, None);
            let m = text(&m);
            if !s.is_empty() {
                assert!(m.contains("Subject: =?UTF-8?B?"), "{m}");
            }
            assert_eq!(decode_subject(m), s);
            assert!(m.split("\r\n").all(|l| l.len() <= MAX_HEADER_LINE), "{m}");
        }
    }

    #[test]
    fn long_ascii_subject_and_recipients_fold_within_78() {
        let subject =
            "usage report for the period from 2026-11-01 to 2026-11-30 on router.lan, all meters"
                .repeat(3);
        let to: Vec<String> = (0..20)
            .map(|i| ["user", &i.to_string(), "@example.org"].concat())
            .collect();
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let m = Message {
            to: &to,
            subject: &subject,
            ..msg()
        };
        let out = build(&m).unwrap();
        let out = text(&out);
        assert!(
            out.split("\r\n").all(|l| l.len() <= MAX_HEADER_LINE),
            "{out}"
        );
        assert_eq!(decode_subject(out), subject);
        let to_hdr = out
            .split_once("\r\nTo: ")
            .unwrap()
            .1
            .split_once("\r\nSubject")
            .unwrap()
            .0;
        assert_eq!(to_hdr.replace("\r\n", ""), to.join(", "));
    }

    #[test]
    fn ascii_subject_that_looks_encoded_is_encoded() {
        let m = base("=?UTF-8?B?eA==?=", None);
        assert_eq!(decode_subject(text(&m)), "=?UTF-8?B?eA==?=");
        assert!(text(&m).contains("Subject: =?UTF-8?B?PT9VVEYtOD9CP2VBPT0/PQ==?="));
    }

    fn msg() -> Message<'static> {
        Message {
            from: "netmon@router.lan",
            to: &["a@example.org"],
            subject: "s",
            date: "Sat, 21 Nov 2026 19:00:00 +0000",
            id_unique: "u1",
            id_domain: "router.lan",
            text: "t",
            html: None,
        }
    }

    #[test]
    fn header_injection_is_refused() {
        let cases: [Message; 8] = [
            Message {
                subject: "hi\r\nBcc: victim@example.org",
                ..msg()
            },
            Message {
                subject: "hi\nX: y",
                ..msg()
            },
            Message {
                subject: "bell\x07",
                ..msg()
            },
            Message {
                date: "Sat\r\nX: y",
                ..msg()
            },
            Message {
                date: "Sat, 21 Nov 2026 19:00:00 +0000 ü",
                ..msg()
            },
            Message {
                from: "a@b\r\nX: y",
                ..msg()
            },
            Message {
                to: &["a@b", "c@d\nX: y"],
                ..msg()
            },
            Message {
                id_domain: "x>\r\nX: y",
                ..msg()
            },
        ];
        for m in &cases {
            assert!(build(m).is_err(), "{:?} / {:?}", m.subject, m.to);
        }
        let e = build(&cases[0]).unwrap_err();
        assert_eq!(
            e.message(),
            "mail subject contains a line break (CR/LF): refused (header injection)"
        );
        assert!(build(&msg()).is_ok());
    }

    #[test]
    fn control_characters_are_those_of_char_is_control() {
        for v in [
            "a\u{80}", "\u{9f}", "x\u{85}y", "\u{7f}", "\t", "\u{a0}", "ü€", "plain",
        ] {
            let refused = header_text("subject", v).is_err();
            assert_eq!(refused, v.chars().any(char::is_control), "{v:?}");
        }
    }

    #[test]
    fn quoted_printable_round_trips_and_bounds_lines() {
        let long_svg = ["<path d=\"", &"M0 0L1 1 ".repeat(700), "\"/>"].concat();
        let inputs = [
            "plain\nlines\n".to_string(),
            "trailing space \nand tab\t\nx".to_string(),
            "a=b ü € 日本\r\ncrlf\r\n".to_string(),
            "From here\nFrom: x\n.dot\n".to_string(),
            long_svg,
            "=".repeat(200),
            "é".repeat(100),
        ];
        for s in &inputs {
            let qp = quoted_printable(s);
            let qp = text(&qp);
            for l in qp.split("\r\n") {
                assert!(l.len() <= QP_LINE, "{l}");
                assert!(!l.ends_with(' ') && !l.ends_with('\t'), "{l:?}");
                assert!(l.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t'));
            }
            assert_eq!(
                qp_decode(qp),
                s.replace("\r\n", "\n").replace('\n', "\r\n").as_bytes()
            );
        }
        assert_eq!(text(&quoted_printable("From here\n")), "=46rom here\r\n");
        assert_eq!(text(&quoted_printable("a \nb\t")), "a=20\r\nb=09");
    }

    #[test]
    fn every_line_of_a_big_html_message_is_within_limits() {
        let html: &'static str = Box::leak(
            ["<svg>", &"<rect x=\"1\"/>".repeat(500), "</svg>"]
                .concat()
                .into_boxed_str(),
        );
        let m = base("r", Some(html));
        assert!(text(&m).split("\r\n").all(|l| l.len() <= MAX_HEADER_LINE));
        assert!(!text(&m).contains('\n') || !text(&m).replace("\r\n", "").contains('\n'));
    }
}
