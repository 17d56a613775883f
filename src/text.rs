//! Text helpers every layer uses: a byte buffer to render into (`Buf`,
//! a `ufmt::uWrite`), sentence templates (`fill`), lossy UTF-8, number
//! parsing with the exact rules netmon's inputs need, keyword tables and
//! "did you mean" suggestions, and the canonical text of IP addresses.
//!
//! A leaf: imports nothing from the crate.

use core::convert::Infallible;
use core::net::IpAddr;

/// A byte buffer to render into; written to stdout/files in one go.
#[derive(Default)]
pub struct Buf(pub Vec<u8>);

impl Buf {
    pub fn new() -> Buf {
        Buf(Vec::new())
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn as_str(&self) -> &str {
        // Only `uWrite::write_str` appends, so the bytes are UTF-8.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
    pub fn clear(&mut self) {
        self.0.clear()
    }
    /// Appends `b`.
    pub fn push_bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b)
    }
    /// Appends `t` with each `{}` replaced by the next of `args` (nothing
    /// once they run out): sentences are templates, not format strings.
    pub fn fill(&mut self, t: &str, args: &[&str]) {
        let mut args = args.iter();
        let mut rest = t.as_bytes();
        while let Some(i) = rest.iter().position(|&c| c == b'{') {
            self.push_bytes(rest.get(..i).unwrap_or_default());
            self.push_bytes(args.next().map_or(&[][..], |a| a.as_bytes()));
            rest = rest.get(i + 2..).unwrap_or_default();
        }
        self.push_bytes(rest);
    }
}

impl Buf {
    /// The text written so far, without a copy.
    pub fn into_string(self) -> String {
        // Only `&str` pieces are ever appended, so the bytes are UTF-8.
        String::from_utf8(self.0).unwrap_or_default()
    }
}

/// `String::from_utf8_lossy(b).into_owned()`: each invalid sequence (its
/// maximal valid prefix, as `Utf8Error::error_len` measures it) becomes
/// U+FFFD.
pub fn lossy(b: &[u8]) -> String {
    let mut s = String::new();
    let mut rest = b;
    loop {
        match core::str::from_utf8(rest) {
            Ok(t) => {
                s.push_str(t);
                return s;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                s.push_str(core::str::from_utf8(good).unwrap_or(""));
                s.push(char::REPLACEMENT_CHARACTER);
                rest = bad
                    .get(e.error_len().unwrap_or(bad.len())..)
                    .unwrap_or_default();
            }
        }
    }
}

/// `n` in decimal, for `Buf::fill` and `fill` arguments.
pub fn num(n: u64) -> Buf {
    let mut b = Buf::new();
    let _ = ufmt::uwrite!(b, "{}", n);
    b
}

impl ufmt::uWrite for Buf {
    type Error = Infallible;
    fn write_str(&mut self, s: &str) -> Result<(), Infallible> {
        self.push_bytes(s.as_bytes());
        Ok(())
    }
}

/// Writes an IP address in its canonical text form (RFC 5952 for IPv6).
pub fn write_ip<W: ufmt::uWrite + ?Sized>(w: &mut W, a: &IpAddr) -> Result<(), W::Error> {
    match a {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            ufmt::uwrite!(w, "{}.{}.{}.{}", o[0], o[1], o[2], o[3])
        }
        IpAddr::V6(v6) => write_ipv6(w, &v6.segments()),
    }
}

fn write_ipv6<W: ufmt::uWrite + ?Sized>(w: &mut W, s: &[u16; 8]) -> Result<(), W::Error> {
    // Longest run of >= 2 zero groups is shortened to "::" (RFC 5952 4.2).
    let (mut best, mut best_len, mut i) = (8usize, 1usize, 0usize);
    while i < 8 {
        let start = i;
        while i < 8 && s[i] == 0 {
            i += 1;
        }
        if i - start > best_len {
            best = start;
            best_len = i - start;
        }
        i += 1;
    }
    let mut i = 0;
    while i < 8 {
        if i == best {
            w.write_str("::")?;
            i += best_len;
            continue;
        }
        if i > 0 && i != best + best_len {
            w.write_str(":")?;
        }
        write_hex(w, s[i])?;
        i += 1;
    }
    Ok(())
}

fn write_hex<W: ufmt::uWrite + ?Sized>(w: &mut W, v: u16) -> Result<(), W::Error> {
    let digits = b"0123456789abcdef";
    let mut buf = [0u8; 4];
    let mut n = 0;
    let mut started = false;
    for shift in [12u32, 8, 4, 0] {
        let d = ((v >> shift) & 0xf) as usize;
        if d != 0 || started || shift == 0 {
            buf[n] = digits[d];
            n += 1;
            started = true;
        }
    }
    w.write_str(core::str::from_utf8(&buf[..n]).unwrap_or("0"))
}

/// A sentence from a template: each `{}` in `t` takes the next of `args`
/// (`Buf::fill`), as an owned string for error values.
pub fn fill(t: &str, args: &[&str]) -> String {
    let mut b = Buf::new();
    b.fill(t, args);
    b.into_string()
}

/// `fill` with `args` and then `n` in decimal (the number is the last
/// piece of the sentence).
pub fn fill_n(t: &str, args: &[&str], n: usize) -> String {
    let n = num(n as u64);
    // Spare slots stay unused: the template's `{}` run out first.
    let mut all = [""; 4];
    for (slot, a) in all.iter_mut().zip(args) {
        *slot = a;
    }
    if let Some(slot) = all.get_mut(args.len()) {
        *slot = n.as_str();
    }
    fill(t, &all)
}

/// `HEAD (did you mean 'X'?)`, or `HEAD` and `fallback` when no known
/// word is close.
pub fn suggest(head: &str, word: &str, known: &[&'static str], fallback: &str) -> String {
    match did_you_mean(word, known) {
        Some(k) => fill("{} (did you mean '{}'?)", &[head, k]),
        None => fill("{}{}", &[head, fallback]),
    }
}

/// Appends `words` with `sep` between them, without an intermediate String.
pub fn join(b: &mut Buf, words: &[&str], sep: &str) {
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            b.push_bytes(sep.as_bytes());
        }
        b.push_bytes(w.as_bytes());
    }
}

/// Position of `word` in `words`: keyword values read by table.
pub fn word_index(word: &str, words: &[&str]) -> Option<usize> {
    words.iter().position(|w| *w == word)
}

/// The known word closest to `word` if it is a likely typo of it: edit
/// distance (a swap of two neighbours counts as one edit) at most 2, and at
/// most 1 for words of 4 bytes or fewer, where 2 edits make anything match
/// (`ospf` is not a typo of `esp`). First on ties.
pub fn did_you_mean(word: &str, known: &[&'static str]) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for &k in known {
        let Some(d) = edit_distance(word.as_bytes(), k.as_bytes()) else {
            continue;
        };
        let limit = if k.len() <= 4 { 1 } else { 2 };
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

/// Optimal-string-alignment distance over bytes (Levenshtein plus adjacent
/// transpositions); `None` past 32 bytes (no keyword is that long, so such
/// a word is no typo of one).
fn edit_distance(a: &[u8], b: &[u8]) -> Option<usize> {
    const MAX: usize = 32;
    if a.len() > MAX || b.len() > MAX {
        return None;
    }
    // Three rows of the DP table: i-2, i-1, i, rotated by reference (no
    // copies). Indices stay under b.len() + 1 <= MAX + 1, the rows'
    // length, so none can panic; distances stay under MAX + 2, so a byte
    // holds them.
    let (mut r0, mut r1, mut r2) = ([0u8; MAX + 1], [0u8; MAX + 1], [0u8; MAX + 1]);
    let (mut back, mut prev, mut cur) = (&mut r0, &mut r1, &mut r2);
    for (j, p) in (0u8..).zip(prev.iter_mut()) {
        *p = j;
    }
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = prev[0] + 1;
        for (j, &cb) in b.iter().enumerate() {
            let mut d = (prev[j] + u8::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
            if i > 0 && j > 0 && a.get(i - 1) == Some(&cb) && b.get(j - 1) == Some(&ca) {
                d = d.min(back[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        (back, prev, cur) = (prev, cur, back);
    }
    Some(usize::from(prev[b.len()]))
}

/// An I/O error kind in words, for errors that carry no errno (the C
/// library's text is used for those that do).
pub fn io_kind_words(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind as K;
    match kind {
        K::NotFound => "not found",
        K::PermissionDenied => "permission denied",
        K::UnexpectedEof => "unexpected end of file",
        K::InvalidData => "invalid data (not UTF-8?)",
        K::TimedOut => "timed out",
        K::WriteZero => "no space left",
        _ => "input/output error",
    }
}

/// Most decimal digits accepted in a number: `u64::MAX` has 20.
const MAX_DIGITS: usize = 20;

/// Why a number was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NumError {
    /// No digit where a number must be (also `-1`, `+1`, `x`).
    Missing,
    /// Digits followed by something that is not part of the number.
    Garbage,
    /// More than 20 digits, or a value above `u64::MAX`.
    Overflow,
}

/// The leading decimal digits of `b` as a `u64` and how many bytes they
/// take: at most 20 digits, overflow refused. Does not look at what
/// follows the digits.
pub fn leading_u64(b: &[u8]) -> Result<(u64, usize), NumError> {
    let n = b.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return Err(NumError::Missing);
    }
    if n > MAX_DIGITS {
        return Err(NumError::Overflow);
    }
    let mut v: u64 = 0;
    for &d in b.iter().take(n) {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(NumError::Overflow)?;
    }
    Ok((v, n))
}

/// A whole token as a `u64` counter: digits only, nothing after them.
pub fn parse_u64(s: &str) -> Result<u64, NumError> {
    match leading_u64(s.as_bytes())? {
        (v, n) if n == s.len() => Ok(v),
        _ => Err(NumError::Garbage),
    }
}

/// A decimal number as `str::parse` takes it for an unsigned type
/// (`signed` false) or `i64`: an optional `+` (or `-` when signed), then
/// one or more digits (any number of leading zeros), no i64 overflow.
pub fn parse_int(v: &str, signed: bool) -> Option<i64> {
    let b = v.as_bytes();
    let (neg, digits) = match b {
        [b'-', rest @ ..] if signed => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    // Negative values are summed downwards: i64::MIN has no positive twin.
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        n = n.checked_mul(10)?;
        n = if neg {
            n.checked_sub(d)?
        } else {
            n.checked_add(d)?
        };
    }
    Some(n)
}

/// Byte offset of the first `needle` in `hay` (`str::find` with a `&str`
/// pattern), by a plain byte-window scan: the needles are short literals.
pub fn find(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    if n.is_empty() {
        return Some(0);
    }
    hay.as_bytes().windows(n.len()).position(|w| w == n)
}

/// `hay.contains(needle)`, through [`find`].
pub fn contains(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

// Untrusted names (DHCP host names: chosen by anyone on the LAN, any
// bytes) on their way out. Every writer below reads the bytes as UTF-8
// with each invalid sequence as U+FFFD (as `lossy` does), so what it
// appends to the `Buf` is always UTF-8, and none of them lets a control
// character through: C0, DEL and C1 (`char::is_control`) include ESC,
// CSI (U+009B), CR, LF and tab, which would move a terminal's cursor,
// recolour it, forge a line of a table, or end a mail header.

/// The characters of `bytes`, each invalid UTF-8 sequence as U+FFFD.
pub fn lossy_chars(bytes: &[u8]) -> impl Iterator<Item = char> + '_ {
    bytes.utf8_chunks().flat_map(|c| {
        let bad = (!c.invalid().is_empty()).then_some(char::REPLACEMENT_CHARACTER);
        c.valid().chars().chain(bad)
    })
}

/// Bidirectional formatting characters (Unicode UAX #9: embeddings,
/// overrides, isolates): not controls, but they reorder what a terminal
/// shows after them ("Trojan Source", CVE-2021-42574).
fn is_bidi_format(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// One output piece of a name: a character as itself or its escape
/// (at most `\u{10ffff}`, 10 bytes), kept on the stack.
struct Piece {
    bytes: [u8; 12],
    len: u8,
}

impl Piece {
    fn text(&self) -> &str {
        let b = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        core::str::from_utf8(b).unwrap_or("")
    }

    /// Characters it shows (an escape counts in full).
    fn chars(&self) -> usize {
        self.text().chars().count()
    }

    /// Appends what fits of `s` (every caller's text fits).
    fn push(&mut self, s: &[u8]) {
        for &c in s {
            if let Some(d) = self.bytes.get_mut(usize::from(self.len)) {
                *d = c;
                self.len += 1;
            }
        }
    }

    fn of(c: char) -> Piece {
        let mut p = Piece {
            bytes: [0; 12],
            len: 0,
        };
        p.push(c.encode_utf8(&mut [0; 4]).as_bytes());
        p
    }

    /// `head`, the code point of `c` in lower-case hex (at least `digits`
    /// digits), `tail`.
    fn escape(head: &str, c: char, digits: u32, tail: &str) -> Piece {
        let hex = b"0123456789abcdef";
        let v = u32::from(c);
        let width = (8 - v.leading_zeros() / 4).max(digits);
        let mut p = Piece {
            bytes: [0; 12],
            len: 0,
        };
        p.push(head.as_bytes());
        for i in (0..width).rev() {
            let d = ((v >> (i * 4)) & 0xf) as usize;
            p.push(hex.get(d..d + 1).unwrap_or(b"0"));
        }
        p.push(tail.as_bytes());
        p
    }

    /// `c` itself, `\xNN` for a control (its code point: `\x1b`, `\x9b`),
    /// `\u{NNNN}` for a bidi format character.
    fn terminal(c: char) -> Piece {
        if c.is_control() {
            Piece::escape("\\x", c, 2, "")
        } else if is_bidi_format(c) {
            Piece::escape("\\u{", c, 4, "}")
        } else {
            Piece::of(c)
        }
    }

    /// `c` itself, `?` for a control or bidi format character.
    fn header(c: char) -> Piece {
        if c.is_control() || is_bidi_format(c) {
            return Piece::of('?');
        }
        Piece::of(c)
    }
}

/// Appends the pieces of `bytes`, at most `max_chars` characters in all:
/// when the whole does not fit, as many whole pieces as fit in one less,
/// then `…` (an escape is never cut in half).
fn write_pieces(b: &mut Buf, bytes: &[u8], max_chars: usize, piece: fn(char) -> Piece) {
    let total: usize = lossy_chars(bytes).map(|c| piece(c).chars()).sum();
    let budget = if total <= max_chars {
        total
    } else {
        max_chars.saturating_sub(1)
    };
    let mut used = 0;
    for p in lossy_chars(bytes).map(piece) {
        used += p.chars();
        if used > budget {
            break;
        }
        b.push_bytes(p.text().as_bytes());
    }
    if total > max_chars && max_chars > 0 {
        b.push_bytes("…".as_bytes());
    }
}

/// Writes an untrusted name for a terminal or a log line: invalid UTF-8
/// as U+FFFD, controls as a visible `\x1b`, bidi format characters as
/// `\u{202e}`, at most `max_chars` characters (escapes count in full),
/// ending in `…` when cut.
pub fn write_terminal_safe(b: &mut Buf, bytes: &[u8], max_chars: usize) {
    write_pieces(b, bytes, max_chars, Piece::terminal);
}

/// Writes an untrusted name for a mail header: invalid UTF-8 as U+FFFD,
/// controls (CR and LF among them) and bidi format characters as `?`, at
/// most `max_chars` characters, ending in `…` when cut. Non-ASCII is
/// left for the message builder to encode (RFC 2047).
pub fn write_header_safe(b: &mut Buf, bytes: &[u8], max_chars: usize) {
    write_pieces(b, bytes, max_chars, Piece::header);
}

/// Writes an untrusted name as HTML text, safe in element content and in
/// quoted attributes alike (HTML 5 section 13.1): `& < > " '` as
/// character references, controls as `?`, invalid UTF-8 as U+FFFD;
/// at most `max_chars` characters of the name, then `…` if there are more
/// (the byte-taking twin of `report::html::escape`).
pub fn write_html_escaped(b: &mut Buf, bytes: &[u8], max_chars: usize) {
    for (n, c) in lossy_chars(bytes).enumerate() {
        if n == max_chars {
            b.push_bytes("…".as_bytes());
            return;
        }
        let rep = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            c if c.is_control() => "?",
            c => {
                b.push_bytes(c.encode_utf8(&mut [0; 4]).as_bytes());
                continue;
            }
        };
        b.push_bytes(rep.as_bytes());
    }
}

/// Writes an untrusted name as a JSON string (RFC 8259 section 7):
/// invalid UTF-8 as U+FFFD, `"` and `\` escaped, every control (C0, DEL,
/// C1) and U+2028/U+2029 (line ends to JavaScript) as `\u00XX`/`\u2028`
/// (the byte-taking twin of `report::json::write_string`).
pub fn write_json_string(b: &mut Buf, bytes: &[u8]) {
    b.push_bytes(b"\"");
    for c in lossy_chars(bytes) {
        match c {
            '"' => b.push_bytes(b"\\\""),
            '\\' => b.push_bytes(b"\\\\"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                b.push_bytes(Piece::escape("\\u", c, 4, "").text().as_bytes())
            }
            c => b.push_bytes(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    b.push_bytes(b"\"");
}

/// Writes an untrusted name as a Prometheus label value, without the
/// quotes (text exposition format 0.0.4): invalid UTF-8 as U+FFFD;
/// backslash, `"` and line feed as `\\`, `\"` and `\n` (the format's only
/// escapes); any other control (C0, DEL, C1) or bidi format character as
/// the visible text `write_terminal_safe` shows (`\x1b`, whose backslash
/// is escaped in turn), so no raw control character reaches a scraper.
pub fn write_label_value(b: &mut Buf, bytes: &[u8]) {
    for c in lossy_chars(bytes) {
        match c {
            '\\' => b.push_bytes(b"\\\\"),
            '"' => b.push_bytes(b"\\\""),
            '\n' => b.push_bytes(b"\\n"),
            c => {
                for e in Piece::terminal(c).text().chars() {
                    if e == '\\' {
                        b.push_bytes(b"\\\\");
                    } else {
                        b.push_bytes(e.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_takes_arguments_in_order() {
        let mut b = Buf::new();
        b.fill("a {} b {}{} c", &["1", "{}", "3"]);
        b.fill("{} end {}", &["x"]);
        assert_eq!(b.as_str(), "a 1 b {}3 cx end ");
    }
    use core::str::FromStr;

    #[test]
    fn lossy_is_std_from_utf8_lossy() {
        let cases: [&[u8]; 9] = [
            b"",
            b"plain",
            "caf\u{e9} \u{1f600}".as_bytes(),
            b"a\xffb",
            b"\xff\xfe",
            b"cut \xe2\x82",
            b"\xe2\x82x\xf0\x9f\x98",
            b"\xed\xa0\x80 surrogate",
            b"\xc0\xaf overlong \xf4\x90\x80\x80",
        ];
        for c in cases {
            assert_eq!(lossy(c), String::from_utf8_lossy(c), "{c:?}");
        }
    }

    fn ip(s: &str) -> String {
        let mut b = Buf::new();
        write_ip(&mut b, &IpAddr::from_str(s).unwrap()).unwrap();
        b.as_str().to_string()
    }

    #[test]
    fn ip_text_round_trips_like_std() {
        for s in [
            "192.168.1.10",
            "0.0.0.0",
            "::",
            "::1",
            "fd00::",
            "2001:db8::1:0:0:1",
            "2001:db8:0:1:1:1:1:1",
            "fe80::1:2",
            "1:0:0:2:0:0:0:3",
        ] {
            assert_eq!(ip(s), IpAddr::from_str(s).unwrap().to_string(), "{s}");
        }
    }

    #[test]
    fn header_numbers_parse_like_str_parse() {
        for v in [
            "",
            "0",
            "7",
            "+7",
            "-7",
            "+",
            "-",
            "-0",
            "+-1",
            "1a",
            " 1",
            "007",
            "4294967295",
            "4294967296",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "0000000000000000000000042",
        ] {
            let u = parse_int(v, false).and_then(|n| u32::try_from(n).ok());
            assert_eq!(u, v.parse::<u32>().ok(), "u32 {v:?}");
            assert_eq!(parse_int(v, true), v.parse::<i64>().ok(), "i64 {v:?}");
        }
    }

    #[test]
    fn numbers_exact_at_the_edges() {
        assert_eq!(parse_u64("0"), Ok(0));
        assert_eq!(parse_u64("4294967296"), Ok(1 << 32));
        assert_eq!(parse_u64("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), Err(NumError::Overflow));
        assert_eq!(parse_u64("99999999999999999999"), Err(NumError::Overflow));
        assert_eq!(parse_u64("000000000000000000001"), Err(NumError::Overflow));
        assert_eq!(parse_u64("-1"), Err(NumError::Missing));
        assert_eq!(parse_u64("+1"), Err(NumError::Missing));
        assert_eq!(parse_u64(""), Err(NumError::Missing));
        assert_eq!(parse_u64("12x"), Err(NumError::Garbage));
        assert_eq!(parse_u64("1.5"), Err(NumError::Garbage));
    }

    #[test]
    fn find_is_str_find() {
        for (h, n) in [
            ("", ""),
            ("abc", ""),
            ("", "a"),
            ("abc", "abc"),
            ("ab", "abc"),
            ("a /* c */ b", "/* "),
            ("a /* c */ b", " */"),
            ("x**/* */", " */"),
            ("é/* x", "/* "),
            ("aaab", "aab"),
        ] {
            assert_eq!(find(h, n), h.find(n), "{h:?} {n:?}");
            assert_eq!(contains(h, n), h.contains(n));
        }
    }

    #[test]
    fn fill_builds_a_string() {
        assert_eq!(fill("a {} b {} c", &["1", "2"]), "a 1 b 2 c");
        assert_eq!(fill("{}{}", &["x"]), "x");
        assert_eq!(fill("none", &[]), "none");
    }

    #[test]
    fn the_brief_example_suggests_interval() {
        // The suggestion engine itself, on the example of STYLE.md item 6.
        assert_eq!(
            did_you_mean("intreval", &["interval", "backend"]),
            Some("interval")
        );
        assert_eq!(did_you_mean("zzz", &["interval"]), None);
        assert_eq!(did_you_mean("ab", &["ac", "ab"]), Some("ab"));
        assert_eq!(did_you_mean(&"x".repeat(40), &["x"]), None);
        // A swap of neighbours is one edit; short words allow only one.
        assert_eq!(edit_distance(b"tpc", b"tcp"), Some(1));
        assert_eq!(edit_distance(b"kitten", b"sitting"), Some(3));
        assert_eq!(
            did_you_mean(
                "tpc",
                &["tcp", "udp", "icmp", "icmpv6", "sctp", "gre", "esp"]
            ),
            Some("tcp")
        );
        assert_eq!(
            did_you_mean(
                "ospf",
                &["tcp", "udp", "icmp", "icmpv6", "sctp", "gre", "esp"]
            ),
            None
        );
    }

    /// The full optimal-string-alignment table, for comparison.
    fn osa_reference(a: &[u8], b: &[u8]) -> usize {
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, v) in d[0].iter_mut().enumerate() {
            *v = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        d[a.len()][b.len()]
    }

    #[test]
    fn edit_distance_matches_the_full_table() {
        let mut state = 7u64;
        let mut rng = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        for _ in 0..3000 {
            let mut word = |max: u64| -> Vec<u8> {
                let n = rng() % (max + 1);
                (0..n).map(|_| b"abcx"[(rng() % 4) as usize]).collect()
            };
            let (a, b) = (word(32), word(32));
            assert_eq!(
                edit_distance(&a, &b),
                Some(osa_reference(&a, &b)),
                "{a:?} {b:?}"
            );
        }
        let long = [b'a'; 32];
        assert_eq!(edit_distance(&long, b""), Some(32));
        assert_eq!(edit_distance(&[b'a'; 33], b"a"), None);
    }
}
