//! Output through ufmt: a growable byte buffer that is a `uWrite`, and
//! the few formatters std would otherwise pull `core::fmt` in for.

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
    /// Appends `b`. Never inlined: it is called from hundreds of places
    /// (every `uwrite!` piece), and an inlined `extend_from_slice` is ~50
    /// bytes of mips code each time against ~12 for a call.
    #[inline(never)]
    pub fn push_bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b)
    }
    /// Appends `t` with each `{}` replaced by the next of `args` (nothing
    /// once they run out): one call where a `uwrite!` makes one per
    /// literal piece and argument.
    #[inline(never)]
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
/// U+FFFD. (std's version goes through `Utf8Chunks` and a `Cow`: ~1 KB on
/// mips next to the `from_utf8` netmon links anyway.)
#[inline(never)]
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

/// `n` in decimal, for `Buf::fill` and `config::fill` arguments.
#[inline(never)]
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
}
