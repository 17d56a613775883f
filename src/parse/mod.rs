//! Pure codecs: the text other programs write, read into netmon's values.
//! `nft` and `iptables` parse firewall tool output as it streams from the
//! child; `uci` lexes `/etc/config/*`; `route` reads the kernel's route
//! tables. None of them reads a file, the clock or the environment.
//!
//! Each firewall parser reads a child's stdout line by line through one fixed
//! buffer ([`LineReader`]), turns a borrowed view of each line into a small
//! record and hands it to a callback. Lines that are not understood and do
//! not matter are skipped; nothing panics and nothing allocates per line.
//!
//! Invariants shared by the parsers:
//! - memory is bounded: one `MAX_LINE` line buffer plus a few `MAX_NAME`
//!   name buffers per parser, allocated once per call;
//! - counters are `u64` and parsed exactly (no wrap, no float): a number
//!   that does not fit, or is not a number where a counter must be, is a
//!   [`ParseError::Syntax`] with the line number;
//! - a truncated line (longer than `MAX_LINE`, or not UTF-8 from some byte
//!   on) is skipped: netmon's own lines are short ASCII, so a truncated line
//!   is never one of netmon's rules, and its counters could be the rest of
//!   a line we did not see.

pub mod hosts;
pub mod ipset;
pub mod iptables;
pub mod nfnetlink;
pub mod nft;
pub mod route;
pub mod uci;

use crate::text::leading_u64;
pub use crate::text::NumError;
use std::io::{self, BufRead};

/// Longest line kept; the rest of a longer line is discarded and the line is
/// flagged truncated (a truncated line is never one of netmon's own rules).
pub const MAX_LINE: usize = 4096;

/// Longest table/chain/set/counter name kept. nftables limits names to 255
/// bytes (`NFT_NAME_MAXLEN` 256 with the NUL), iptables chains to 28; an
/// object whose name does not fit is not netmon's and is skipped.
pub const MAX_NAME: usize = 256;

/// A name kept across lines (table, chain, set): borrowed by the items.
pub(crate) type Name = heapless::String<MAX_NAME>;

/// A parse failure with the 1-based line number and (a prefix of) the line.
///
/// One word: the details are boxed, so every `?` in the parsers moves a
/// pointer.
#[derive(Debug)]
pub enum ParseError {
    Io(Box<io::Error>),
    Syntax(Box<Syntax>),
}

/// Where and why a line was not understood.
#[derive(Debug)]
pub struct Syntax {
    pub line: u32,
    pub what: &'static str,
    /// At most `MAX_SYNTAX_TEXT` bytes of the line.
    pub text: String,
}

/// Most bytes of an offending line kept in a syntax error.
pub const MAX_SYNTAX_TEXT: usize = 80;

impl ParseError {
    /// A syntax error keeping as much of `text` as fits (whole characters).
    pub(crate) fn syntax(line: u32, what: &'static str, text: &str) -> ParseError {
        let t = text.trim_ascii();
        let mut end = t.len().min(MAX_SYNTAX_TEXT);
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        let kept = String::from(t.get(..end).unwrap_or(""));
        ParseError::Syntax(Box::new(Syntax {
            line,
            what,
            text: kept,
        }))
    }
}

impl From<io::Error> for ParseError {
    fn from(e: io::Error) -> ParseError {
        ParseError::Io(Box::new(e))
    }
}

/// `line 12: bad counter: 'counter packets x bytes 1'` (the caller prefixes
/// what it was reading, e.g. `cannot read nft output: `).
impl ufmt::uDisplay for ParseError {
    fn fmt<W: ufmt::uWrite + ?Sized>(
        &self,
        f: &mut ufmt::Formatter<'_, W>,
    ) -> Result<(), W::Error> {
        match self {
            ParseError::Io(e) => f.write_str(crate::text::io_kind_words(e.kind())),
            ParseError::Syntax(s) => {
                ufmt::uwrite!(f, "line {}: {}: '{}'", s.line, s.what, s.text.as_str())
            }
        }
    }
}

/// One line as read: 1-based number, text without `\n`/`\r\n`, and whether
/// the text is only a prefix of the line (too long, or not UTF-8 there).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Line<'a> {
    pub no: u32,
    pub text: &'a str,
    pub truncated: bool,
}

/// Reads lines through one buffer of `MAX_LINE` bytes, allocated once.
///
/// Works on any chunking of the input (`fill_buf`/`consume`), so a child's
/// pipe delivering a line in pieces gives the same lines as a whole file.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    line_no: u32,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> LineReader<R> {
        LineReader {
            inner,
            buf: Vec::with_capacity(MAX_LINE),
            line_no: 0,
        }
    }

    /// The next line, or `None` at end of input. A last line without a
    /// newline is still a line.
    pub fn next_line(&mut self) -> Result<Option<Line<'_>>, ParseError> {
        self.buf.clear();
        let (seen, cut) = self.fill()?;
        if !seen {
            return Ok(None);
        }
        self.line_no = self.line_no.saturating_add(1);
        if !cut && self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let (text, bad) = match core::str::from_utf8(&self.buf) {
            Ok(s) => (s, false),
            Err(e) => {
                let good = self.buf.get(..e.valid_up_to()).unwrap_or(&[]);
                (core::str::from_utf8(good).unwrap_or(""), true)
            }
        };
        Ok(Some(Line {
            no: self.line_no,
            text,
            truncated: cut || bad,
        }))
    }

    /// Copies one line (up to `MAX_LINE` bytes of it) into `buf`, consuming
    /// the whole line and its newline. Returns (input seen, line cut).
    fn fill(&mut self) -> Result<(bool, bool), ParseError> {
        let (mut seen, mut cut) = (false, false);
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if avail.is_empty() {
                return Ok((seen, cut));
            }
            seen = true;
            let nl = avail.iter().position(|&b| b == b'\n');
            let end = nl.unwrap_or(avail.len());
            let room = MAX_LINE.saturating_sub(self.buf.len());
            let take = end.min(room);
            self.buf.extend_from_slice(avail.get(..take).unwrap_or(&[]));
            cut |= take < end;
            self.inner.consume(nl.map_or(end, |n| n + 1));
            if nl.is_some() {
                return Ok((true, cut));
            }
        }
    }
}

/// A small bounded cursor over one line (smoltcp `parsers.rs` style):
/// every `accept_*` either consumes what it recognised or leaves the
/// position unchanged.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a str) -> Cursor<'a> {
        Cursor { s, pos: 0 }
    }

    /// What is left of the line.
    pub fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    /// Byte offset from the start of the line.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn skip_ws(&mut self) {
        self.pos += self.rest().bytes().take_while(|&b| is_blank(b)).count();
    }

    /// Consumes `lit` if the rest starts with it.
    pub fn accept(&mut self, lit: &str) -> bool {
        let hit = self.rest().starts_with(lit);
        if hit {
            self.pos += lit.len();
        }
        hit
    }

    /// Consumes one byte if it is `c` (ASCII).
    pub fn accept_char(&mut self, c: u8) -> bool {
        let hit = self.rest().as_bytes().first() == Some(&c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Skips blanks, then returns the next run of non-blank characters.
    pub fn word(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let r = self.rest();
        let n = r.bytes().position(is_blank).unwrap_or(r.len());
        self.pos += n;
        r.get(..n).filter(|w| !w.is_empty())
    }

    /// Consumes the next word if it is `w`; otherwise leaves the cursor.
    pub fn accept_word(&mut self, w: &str) -> bool {
        let save = *self;
        let hit = self.word() == Some(w);
        if !hit {
            *self = save;
        }
        hit
    }

    /// Skips blanks, then returns the next token: a `"quoted string"` (with
    /// its quotes; `\"` inside does not end it) or a run of non-blanks.
    /// An unterminated quote runs to the end of the line.
    pub fn token(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let r = self.rest();
        if !r.starts_with('"') {
            return self.word();
        }
        let n = quoted_len(r);
        self.pos += n;
        r.get(..n)
    }

    /// Decimal digits as a `u64`: at most 20 digits, overflow refused.
    /// Does not look at what follows the digits.
    pub fn accept_u64(&mut self) -> Result<u64, NumError> {
        let (v, n) = leading_u64(self.rest().as_bytes())?;
        self.pos += n;
        Ok(v)
    }
}

/// A space or tab: the blanks between words. (Byte tests: a `[char; 2]`
/// pattern links str's multi-char searcher.)
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Length of a leading `"..."` including both quotes (or the whole string
/// if the closing quote is missing). A backslash escapes the next byte, as
/// iptables-save writes `\"` and `\\` inside quoted arguments.
fn quoted_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// Strips one pair of surrounding double quotes, if present.
pub fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn lines(input: &[u8], cap: usize) -> Vec<(u32, String, bool)> {
        let mut r = LineReader::new(BufReader::with_capacity(cap, input));
        let mut v = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            v.push((l.no, l.text.to_string(), l.truncated));
        }
        v
    }

    #[test]
    fn lines_crlf_and_last_line_without_newline() {
        let got = lines(b"a\r\nb\n\nc", 64);
        let want = [
            (1, "a", false),
            (2, "b", false),
            (3, "", false),
            (4, "c", false),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|&(n, s, t)| (n, s.to_string(), t))
            .collect();
        assert_eq!(got, want);
        assert!(lines(b"", 64).is_empty());
        assert_eq!(lines(b"\n", 64), vec![(1, String::new(), false)]);
    }

    #[test]
    fn lines_same_for_any_chunking() {
        let input = b"table inet netmon {\r\n\tcounter m_x {\n\t\tpackets 1 bytes 2\n}\n";
        let whole = lines(input, 8192);
        for cap in 1..8 {
            assert_eq!(lines(input, cap), whole, "capacity {cap}");
        }
    }

    #[test]
    fn long_line_is_cut_and_flagged_and_next_line_is_intact() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\nnext\n");
        for cap in [1, 7, 8192] {
            let got = lines(&input, cap);
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].1.len(), MAX_LINE);
            assert!(got[0].2);
            assert_eq!(got[1], (2, "next".to_string(), false));
        }
        // Exactly MAX_LINE bytes is not truncated.
        let mut input = vec![b'y'; MAX_LINE];
        input.push(b'\n');
        assert!(!lines(&input, 16)[0].2);
    }

    #[test]
    fn non_utf8_keeps_valid_prefix_flagged() {
        let got = lines(b"ok \xff\xfe tail\nfine\n", 3);
        assert_eq!(got[0], (1, "ok ".to_string(), true));
        assert_eq!(got[1], (2, "fine".to_string(), false));
    }

    #[test]
    fn io_error_surfaces() {
        struct Broken;
        impl io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("pipe broke"))
            }
        }
        let mut r = LineReader::new(BufReader::new(Broken));
        assert!(matches!(r.next_line(), Err(ParseError::Io(_))));
    }

    #[test]
    fn cursor_rewinds_on_refusal() {
        let mut c = Cursor::new("99999999999999999999999 rest");
        assert_eq!(c.accept_u64(), Err(NumError::Overflow));
        assert_eq!(c.pos(), 0);
        assert!(!c.accept("x"));
        assert_eq!(c.word(), Some("99999999999999999999999"));
        assert_eq!(c.word(), Some("rest"));
        assert_eq!(c.word(), None);
    }

    #[test]
    fn tokens_keep_quoted_strings_whole() {
        let mut c = Cursor::new(r#"comment "a b \"c\" d" x "open"#);
        assert_eq!(c.token(), Some("comment"));
        assert_eq!(c.token(), Some(r#""a b \"c\" d""#));
        assert_eq!(c.token(), Some("x"));
        assert_eq!(c.token(), Some("\"open"));
        assert_eq!(c.token(), None);
        assert_eq!(unquote("\"a b\""), "a b");
        assert_eq!(unquote("\""), "\"");
    }

    #[test]
    fn error_text_is_a_bounded_prefix() {
        let long = "é".repeat(100);
        let ParseError::Syntax(s) = ParseError::syntax(7, "bad", &long) else {
            panic!()
        };
        assert_eq!(s.line, 7);
        assert_eq!(s.text.chars().count(), 40);
        let mut b = crate::text::Buf::new();
        ufmt::uwrite!(b, "{}", ParseError::syntax(3, "bad counter", "x y")).unwrap();
        assert_eq!(b.as_str(), "line 3: bad counter: 'x y'");
    }
}
