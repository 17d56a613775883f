//! SMTP replies (RFC 5321 section 4.2): a three-digit code, then text;
//! a multi-line reply repeats the code with `-` on every line but the
//! last, which has a space or nothing after the code:
//!
//! ```text
//! 250-mail.example.org
//! 250-AUTH PLAIN LOGIN
//! 250 8BITMIME
//! ```
//!
//! Two stages, as elsewhere in netmon: `read_line` takes one line off a
//! `BufRead` with a hard length limit; `ReplyParser::push_line` checks it
//! and returns the `Reply` once the final line arrives. Nothing here can
//! panic on server input, and memory is bounded by `MAX_LINE` and
//! `MAX_REPLY_LINES`: a server that sends more is a protocol error.

use std::io::{self, BufRead};

/// Longest reply line accepted, CRLF included. RFC 5321 section
/// 4.5.3.1.5 allows 512; real servers sometimes send longer banners, so
/// twice that, and a longer line is an error rather than a buffer growth.
pub const MAX_LINE: usize = 1024;
/// Most lines in one reply. EHLO replies are the longest in practice
/// (10 to 20 extensions); more than this is treated as a broken server.
pub const MAX_REPLY_LINES: usize = 64;

/// A complete reply. `lines` hold the text after the code and separator,
/// with control characters replaced by spaces (they end up in messages
/// the user reads and in syslog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// 2 (success), 3 (intermediate), 4 (transient failure) or 5 (permanent).
    pub fn class(&self) -> u16 {
        self.code / 100
    }
    /// Appends `CODE text` with the lines joined by spaces.
    pub fn push_text(&self, out: &mut String) {
        push_code(out, self.code);
        for l in &self.lines {
            if !l.is_empty() {
                out.push(' ');
                out.push_str(l);
            }
        }
    }
}

/// Appends a three-digit code (replies are checked to be 200..=599).
pub fn push_code(out: &mut String, code: u16) {
    for d in [code / 100 % 10, code / 10 % 10, code % 10] {
        out.push(char::from(b'0' + d as u8));
    }
}

/// Why a reply was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// The line does not start with a code 200..=599.
    BadCode,
    /// The fourth byte is neither `-`, a space, nor the end of the line.
    BadSeparator,
    /// A continuation line carries a different code than the first line.
    MixedCodes,
    /// A line longer than `MAX_LINE`.
    LineTooLong,
    /// More than `MAX_REPLY_LINES` lines.
    TooManyLines,
}

impl ReplyError {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyError::BadCode => "malformed reply (no 3-digit code)",
            ReplyError::BadSeparator => "malformed reply (bad character after the code)",
            ReplyError::MixedCodes => "malformed reply (lines with different codes)",
            ReplyError::LineTooLong => "reply line too long",
            ReplyError::TooManyLines => "reply has too many lines",
        }
    }
}

/// Collects the lines of one reply.
#[derive(Default)]
pub struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    /// Takes one line (with or without its CRLF or bare LF). Returns the
    /// reply when this was its last line; the parser is then reset.
    pub fn push_line(&mut self, raw: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let line = trim_eol(raw);
        if raw.len() > MAX_LINE {
            return Err(ReplyError::LineTooLong);
        }
        let code = parse_code(line).ok_or(ReplyError::BadCode)?;
        if self.code.is_some_and(|c| c != code) {
            return Err(ReplyError::MixedCodes);
        }
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
        let last = match line.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return Err(ReplyError::BadSeparator),
        };
        self.code = Some(code);
        self.lines.push(sanitize(line.get(4..).unwrap_or(b"")));
        if !last {
            return Ok(None);
        }
        self.code = None;
        Ok(Some(Reply {
            code,
            lines: core::mem::take(&mut self.lines),
        }))
    }
}

fn trim_eol(l: &[u8]) -> &[u8] {
    let l = l.strip_suffix(b"\n").unwrap_or(l);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn parse_code(line: &[u8]) -> Option<u16> {
    let mut code = 0u16;
    for &b in line.get(..3)? {
        if !b.is_ascii_digit() {
            return None;
        }
        code = code * 10 + u16::from(b - b'0');
    }
    (200..=599).contains(&code).then_some(code)
}

/// Server text as UTF-8 (lossy) with every control character replaced by
/// a space, so it cannot forge lines in stderr, syslog or the spool.
pub fn sanitize(b: &[u8]) -> String {
    crate::text::lossy(b)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What `read_line` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// `buf` holds one line, ending in LF.
    Complete,
    /// The peer closed the connection (possibly mid-line).
    Closed,
    /// The line exceeded `max` bytes; what was read is discarded.
    TooLong,
}

/// Reads one LF-terminated line into `buf` (cleared first), never holding
/// more than `max` bytes however the peer splits or withholds its data.
pub fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(Line::Closed);
        }
        let (take, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if buf.len().saturating_add(take) > max {
            r.consume(take);
            buf.clear();
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(avail.get(..take).unwrap_or(&[]));
        r.consume(take);
        if done {
            return Ok(Line::Complete);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(lines: &[&[u8]]) -> Result<Option<Reply>, ReplyError> {
        let mut p = ReplyParser::new();
        let mut last = None;
        for l in lines {
            last = p.push_line(l)?;
        }
        Ok(last)
    }

    #[test]
    fn single_line_reply() {
        let r = parse_all(&[b"220 mx.example.org ESMTP ready\r\n"])
            .unwrap()
            .unwrap();
        assert_eq!(r.code, 220);
        assert_eq!(r.lines, ["mx.example.org ESMTP ready"]);
    }

    #[test]
    fn multi_line_reply_ends_at_the_line_with_a_space() {
        let mut p = ReplyParser::new();
        assert_eq!(p.push_line(b"250-mx.example.org\r\n"), Ok(None));
        assert_eq!(p.push_line(b"250-AUTH PLAIN LOGIN\r\n"), Ok(None));
        let r = p.push_line(b"250 8BITMIME\r\n").unwrap().unwrap();
        assert_eq!(r.lines, ["mx.example.org", "AUTH PLAIN LOGIN", "8BITMIME"]);
        // The parser is ready for the next reply.
        let r = p.push_line(b"221 bye\n").unwrap().unwrap();
        assert_eq!((r.code, r.lines), (221, vec!["bye".to_string()]));
    }

    #[test]
    fn code_alone_is_a_complete_reply() {
        // RFC 5321 section 4.2: the text after the code is optional.
        let r = parse_all(&[b"250\r\n"]).unwrap().unwrap();
        assert_eq!((r.code, r.lines), (250, vec![String::new()]));
    }

    #[test]
    fn malformed_replies_are_errors() {
        for (l, e) in [
            (&b"\r\n"[..], ReplyError::BadCode),
            (b"25\r\n", ReplyError::BadCode),
            (b"abc def\r\n", ReplyError::BadCode),
            (b"199 too low\r\n", ReplyError::BadCode),
            (b"600 too high\r\n", ReplyError::BadCode),
            (b"250_x\r\n", ReplyError::BadSeparator),
        ] {
            assert_eq!(parse_all(&[l]), Err(e), "{:?}", String::from_utf8_lossy(l));
        }
        assert_eq!(
            parse_all(&[b"250-a\r\n", b"251 b\r\n"]),
            Err(ReplyError::MixedCodes)
        );
    }

    #[test]
    fn reply_line_count_is_bounded() {
        let mut p = ReplyParser::new();
        for _ in 0..MAX_REPLY_LINES {
            assert_eq!(p.push_line(b"250-x\r\n"), Ok(None));
        }
        assert_eq!(p.push_line(b"250 x\r\n"), Err(ReplyError::TooManyLines));
    }

    #[test]
    fn max_reply_lines_exactly_is_accepted() {
        let mut p = ReplyParser::new();
        for _ in 0..MAX_REPLY_LINES - 1 {
            assert_eq!(p.push_line(b"250-x\r\n"), Ok(None));
        }
        assert_eq!(p.push_line(b"250 x\r\n").unwrap().unwrap().lines.len(), 64);
    }

    #[test]
    fn control_characters_in_text_become_spaces() {
        let r = parse_all(&[b"550 bad\x1b[31m\x00user\r\n"])
            .unwrap()
            .unwrap();
        assert_eq!(r.lines, ["bad [31m user"]);
        let mut s = String::new();
        r.push_text(&mut s);
        assert_eq!(s, "550 bad [31m user");
    }

    #[test]
    fn read_line_is_bounded_and_reports_close() {
        let mut r = &b"250 ok\r\nxxxxxxxxxxxxxxxxxxxx\n250 tail"[..];
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 10).unwrap(), Line::Complete);
        assert_eq!(buf, b"250 ok\r\n");
        assert_eq!(read_line(&mut r, &mut buf, 10).unwrap(), Line::TooLong);
        assert!(buf.is_empty());
        // An unterminated last line is a close, not a line.
        assert_eq!(read_line(&mut r, &mut buf, 1000).unwrap(), Line::Closed);
    }
}
