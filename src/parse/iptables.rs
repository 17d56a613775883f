//! iptables/ip6tables output parsers: `-L -n -v [-x] [--line-numbers]` and
//! `iptables-save [-c]` (also `iptables -S [-v]`, which shares the syntax).
//!
//! `-L` prints fixed-width columns, but only nominally: a wide number, a
//! long target or protocol name pushes the rest of the line right, and an
//! empty target column leaves no token. So a rule line is read as tokens
//! and anchored on the `opt` column (`--`, `-f`, `!f`, `!-`), which no
//! target or protocol can look like (chain names may not start with `-` or
//! `!`). Old ip6tables (before 1.6) printed `opt` as blanks; then the
//! source/destination address pair is the anchor.
//!
//! Truncated lines are skipped (see `parse`'s module doc).

use super::{unquote, Cursor, LineReader, Name, NumError, ParseError};
use std::io::BufRead;

/// One rule with its counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rule<'a> {
    /// Table from `*filter` in save output; `""` from `-L` (the caller
    /// chose it with `-t`).
    pub table: &'a str,
    pub chain: &'a str,
    pub packets: u64,
    pub bytes: u64,
    /// Jump/goto target, `""` when none.
    pub target: &'a str,
    /// Text of `-m comment` (`/* x */` in -L output, `--comment x` in save;
    /// quotes removed, backslash escapes left as printed).
    pub comment: Option<&'a str>,
}

/// `iptables -w -t filter -L -n -v -x [--line-numbers]`.
///
/// Without `-x`, iptables rounds counters to K/M/G/T (powers of 1000,
/// half up); they are accepted and scaled, so they are only approximate.
/// Chain policy counters are not reported.
pub fn parse_list<R: BufRead>(r: R, mut f: impl FnMut(Rule<'_>)) -> Result<(), ParseError> {
    let mut lines = LineReader::new(r);
    let mut st = ListState::default();
    while let Some(l) = lines.next_line()? {
        if !l.truncated {
            st.line(l.text, l.no, &mut f)?;
        }
    }
    Ok(())
}

#[derive(Default)]
struct ListState {
    chain: Name,
    /// A `Chain` header was read and its name fits.
    in_chain: bool,
    /// The column header starts with `num` (`--line-numbers`).
    numbered: bool,
}

impl ListState {
    fn line(&mut self, t: &str, no: u32, f: &mut impl FnMut(Rule<'_>)) -> Result<(), ParseError> {
        let mut c = Cursor::new(t);
        match c.word() {
            None => Ok(()),
            Some("Chain") => {
                self.chain_header(c.word());
                Ok(())
            }
            Some(w @ ("pkts" | "num")) => {
                self.numbered = w == "num";
                Ok(())
            }
            Some(_) if !self.in_chain => Ok(()), // e.g. a `# Warning:` line
            Some(_) => self.rule(t, no, f),
        }
    }

    /// `Chain NAME (policy ACCEPT 0 packets, 0 bytes)` / `(N references)`.
    fn chain_header(&mut self, name: Option<&str>) {
        self.chain.clear();
        self.numbered = false;
        self.in_chain = name.is_some_and(|n| self.chain.push_str(n).is_ok());
    }

    fn rule(&self, t: &str, no: u32, f: &mut impl FnMut(Rule<'_>)) -> Result<(), ParseError> {
        let bad = |what| ParseError::syntax(no, what, t);
        let mut c = Cursor::new(t);
        if self.numbered {
            c.word()
                .map(crate::text::parse_u64)
                .and_then(Result::ok)
                .ok_or_else(|| bad("bad rule number"))?;
        }
        let packets = scaled(c.word()).map_err(|_| bad("bad packet counter"))?;
        let bytes = scaled(c.word()).map_err(|_| bad("bad byte counter"))?;
        let cols = columns(c).ok_or_else(|| bad("unrecognised rule columns"))?;
        f(Rule {
            table: "",
            chain: &self.chain,
            packets,
            bytes,
            target: cols.target,
            comment: list_comment(cols.extras),
        });
        Ok(())
    }
}

/// A `-L` counter: digits with an optional K/M/G/T suffix (x1000 each).
fn scaled(tok: Option<&str>) -> Result<u64, NumError> {
    let tok = tok.ok_or(NumError::Missing)?;
    let (digits, exp) = match tok.as_bytes().last() {
        Some(b'K') => (tok.get(..tok.len() - 1), 1),
        Some(b'M') => (tok.get(..tok.len() - 1), 2),
        Some(b'G') => (tok.get(..tok.len() - 1), 3),
        Some(b'T') => (tok.get(..tok.len() - 1), 4),
        _ => (Some(tok), 0),
    };
    let mut v = crate::text::parse_u64(digits.unwrap_or(""))?;
    for _ in 0..exp {
        v = v.checked_mul(1000).ok_or(NumError::Overflow)?;
    }
    Ok(v)
}

/// The columns after the counters that netmon uses.
struct Columns<'a> {
    target: &'a str,
    /// Everything after the destination column (matches, `/* comment */`).
    extras: &'a str,
}

/// Most tokens looked at before the extras: target prot opt in out src dst.
const MAX_COLS: usize = 7;

/// `[target] prot [opt] in out source destination [extras]`.
fn columns(c: Cursor<'_>) -> Option<Columns<'_>> {
    let mut toks: heapless::Vec<(&str, Cursor<'_>), MAX_COLS> = heapless::Vec::new();
    let mut cur = c;
    while toks.len() < MAX_COLS {
        let Some(w) = cur.word() else { break };
        toks.push((w, cur)).ok()?;
    }
    let word = |i: usize| toks.get(i).map(|t| t.0);
    // Index of the destination column and whether a target is present.
    let (dst, has_target) = if word(1).is_some_and(is_opt) {
        (5, false)
    } else if word(2).is_some_and(is_opt) {
        (6, true)
    } else {
        no_opt_layout(&toks)?
    };
    let (_, after_dst) = toks.get(dst)?;
    Some(Columns {
        target: if has_target { word(0)? } else { "" },
        extras: after_dst.rest(),
    })
}

/// Layout without an `opt` column (ip6tables < 1.6): the first address pair
/// is source/destination; one token before `in out` is prot, two are
/// target and prot.
fn no_opt_layout(toks: &[(&str, Cursor<'_>)]) -> Option<(usize, bool)> {
    let src = (2..toks.len().saturating_sub(1)).find(|&i| {
        let addr = |i: usize| toks.get(i).is_some_and(|t| is_addr(t.0));
        addr(i) && addr(i + 1)
    })?;
    match src {
        3 => Some((4, false)),
        4 => Some((5, true)),
        _ => None,
    }
}

/// The `opt` column: `-` or `!` (fragment inversion) then `-` or `f`.
fn is_opt(s: &str) -> bool {
    matches!(s.as_bytes(), [b'-' | b'!', b'-' | b'f'])
}

/// `-n` address column: `[!]ADDR[/MASK]` for IPv4 or IPv6.
fn is_addr(s: &str) -> bool {
    let s = s.strip_prefix('!').unwrap_or(s);
    let a = s.split_once('/').map_or(s, |(a, _)| a);
    a.parse::<core::net::IpAddr>().is_ok()
}

/// `/* text */` in the extras (iptables prints `/* %s */`); the first one.
fn list_comment(extras: &str) -> Option<&str> {
    // The needles are ASCII, so the offsets are char boundaries.
    let after = extras.get(crate::text::find(extras, "/* ")? + 3..)?;
    after.get(..crate::text::find(after, " */")?)
}

/// `iptables-save -c` (also without `-c`, and `iptables -S [-v]`).
///
/// Rule lines are `[P:B] -A CHAIN ...`, or `-A CHAIN ... -c P B` (`-S -v`).
/// A rule without counters (a dump taken without `-c`) is reported with
/// packets and bytes 0: such a dump cannot be used for accounting.
/// Chain declarations (`:CHAIN POLICY [P:B]`), `COMMIT` and `#` lines are
/// skipped.
pub fn parse_save<R: BufRead>(r: R, mut f: impl FnMut(Rule<'_>)) -> Result<(), ParseError> {
    let mut lines = LineReader::new(r);
    let mut table = Name::new();
    while let Some(l) = lines.next_line()? {
        if l.truncated {
            continue;
        }
        let t = l.text.trim_ascii();
        if let Some(name) = t.strip_prefix('*') {
            table.clear();
            // A table name that does not fit is not one netmon reads.
            let _ = table.push_str(name.trim_ascii());
        } else if t.starts_with('[') || t.starts_with("-A ") {
            save_rule(&table, t, l.no, &mut f)?;
        }
    }
    Ok(())
}

fn save_rule(
    table: &str,
    t: &str,
    no: u32,
    f: &mut impl FnMut(Rule<'_>),
) -> Result<(), ParseError> {
    let mut c = Cursor::new(t);
    let mut counters =
        bracket_counters(&mut c).ok_or_else(|| ParseError::syntax(no, "bad [packets:bytes]", t))?;
    if !c.accept_word("-A") {
        return Err(ParseError::syntax(no, "expected -A after counters", t));
    }
    let chain = c
        .word()
        .ok_or_else(|| ParseError::syntax(no, "missing chain", t))?;
    let (mut target, mut comment) = ("", None);
    while let Some(tok) = c.token() {
        match tok {
            "-j" | "--jump" | "-g" | "--goto" => target = c.token().unwrap_or(""),
            "--comment" if comment.is_none() => comment = c.token().map(unquote),
            "-c" | "--set-counters" => {
                counters = Some(
                    set_counters(&mut c)
                        .ok_or_else(|| ParseError::syntax(no, "bad -c counters", t))?,
                )
            }
            _ => {}
        }
    }
    let (packets, bytes) = counters.unwrap_or((0, 0));
    f(Rule {
        table,
        chain,
        packets,
        bytes,
        target,
        comment,
    });
    Ok(())
}

/// `[P:B]` at the start, if any: `Some(None)` when absent, `None` when
/// malformed.
fn bracket_counters(c: &mut Cursor<'_>) -> Option<Option<(u64, u64)>> {
    if !c.accept_char(b'[') {
        return Some(None);
    }
    let p = c.accept_u64().ok()?;
    if !c.accept_char(b':') {
        return None;
    }
    let b = c.accept_u64().ok()?;
    if !c.accept_char(b']') {
        return None;
    }
    Some(Some((p, b)))
}

/// `P B` after `-c`.
fn set_counters(c: &mut Cursor<'_>) -> Option<(u64, u64)> {
    let p = crate::text::parse_u64(c.word()?).ok()?;
    let b = crate::text::parse_u64(c.word()?).ok()?;
    Some((p, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    type Owned = (String, String, u64, u64, String, Option<String>);

    fn own(r: Rule<'_>) -> Owned {
        let c = r.comment.map(str::to_string);
        (
            r.table.into(),
            r.chain.into(),
            r.packets,
            r.bytes,
            r.target.into(),
            c,
        )
    }

    fn list_cap(input: &str, cap: usize) -> Result<Vec<Owned>, ParseError> {
        let mut v = Vec::new();
        parse_list(BufReader::with_capacity(cap, input.as_bytes()), |r| {
            v.push(own(r))
        })?;
        Ok(v)
    }

    fn save_cap(input: &str, cap: usize) -> Result<Vec<Owned>, ParseError> {
        let mut v = Vec::new();
        parse_save(BufReader::with_capacity(cap, input.as_bytes()), |r| {
            v.push(own(r))
        })?;
        Ok(v)
    }

    fn r(chain: &str, p: u64, b: u64, target: &str, comment: Option<&str>) -> Owned {
        (
            String::new(),
            chain.into(),
            p,
            b,
            target.into(),
            comment.map(str::to_string),
        )
    }

    fn err_line<T: std::fmt::Debug>(res: Result<T, ParseError>) -> u32 {
        match res {
            Err(ParseError::Syntax(s)) => s.line,
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    /// Captured from iptables-nft 1.8.9 `-L -n -v -x --line-numbers`.
    const LIST_NUM: &str = "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
num      pkts      bytes target     prot opt in     out     source               destination         
1        3010  2406840 netmon_in  0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* netmon */

Chain netmon_in (1 references)
num      pkts      bytes target     prot opt in     out     source               destination         
1        3010  2406840            0    --  *      *       127.0.0.1            0.0.0.0/0            /* netmon:proxy:0123abcd */
2        3010  2406840            0    --  *      *      !192.168.1.0/24       0.0.0.0/0            /* netmon:offnet:89abcdef */
3    4294967296 18446744073709551615            6    --  *      *       0.0.0.0/0            0.0.0.0/0            /* netmon:big:ffffffff */

Chain netmon_out (1 references)
num      pkts      bytes target     prot opt in     out     source               destination         
2        1500  1542000 some_user_chain_with_long_nm  17   --  *      *       0.0.0.0/0            0.0.0.0/0           [goto]  /* netmon:udp:00c0ffee */
";

    #[test]
    fn list_with_line_numbers_wide_counters_and_empty_targets() {
        let want = vec![
            r("INPUT", 3010, 2406840, "netmon_in", Some("netmon")),
            r(
                "netmon_in",
                3010,
                2406840,
                "",
                Some("netmon:proxy:0123abcd"),
            ),
            r(
                "netmon_in",
                3010,
                2406840,
                "",
                Some("netmon:offnet:89abcdef"),
            ),
            r(
                "netmon_in",
                1 << 32,
                u64::MAX,
                "",
                Some("netmon:big:ffffffff"),
            ),
            r(
                "netmon_out",
                1500,
                1542000,
                "some_user_chain_with_long_nm",
                Some("netmon:udp:00c0ffee"),
            ),
        ];
        assert_eq!(list_cap(LIST_NUM, 8192).unwrap(), want);
    }

    #[test]
    fn list_chunking_and_crlf_do_not_matter() {
        let whole = list_cap(LIST_NUM, 8192).unwrap();
        for cap in [1, 2, 7] {
            assert_eq!(list_cap(LIST_NUM, cap).unwrap(), whole);
        }
        assert_eq!(list_cap(&LIST_NUM.replace('\n', "\r\n"), 3).unwrap(), whole);
    }

    #[test]
    fn list_old_ip6tables_blank_opt_and_wide_prot() {
        let t = "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination
    5   400 ACCEPT     all      lo     *       ::/0                 ::/0
    0     0            ipv6-icmp    *      *       ::/0                 ::/0                 ipv6-icmptype 1 code 0
    0     0            ipv6-icmp --  *      *       ::/0                 ::/0                 ipv6-icmptype 1 code 0
";
        let want = vec![
            r("INPUT", 5, 400, "ACCEPT", None),
            r("INPUT", 0, 0, "", None),
            r("INPUT", 0, 0, "", None),
        ];
        assert_eq!(list_cap(t, 64).unwrap(), want);
    }

    #[test]
    fn list_suffixes_scale_by_1000() {
        let t = "Chain X (1 references)
 pkts bytes target     prot opt in     out     source               destination
 3010 2407K            0    --  *      *       127.0.0.1            0.0.0.0/0            /* netmon:a:00000000 */
4295M 18446744T RETURN 0    --  *      *       0.0.0.0/0            0.0.0.0/0
   1G    2T            0    --  *      *       0.0.0.0/0            0.0.0.0/0
";
        let got = list_cap(t, 64).unwrap();
        assert_eq!((got[0].2, got[0].3), (3010, 2_407_000));
        assert_eq!(
            (got[1].2, got[1].3),
            (4_295_000_000, 18_446_744_000_000_000_000)
        );
        assert_eq!((got[2].2, got[2].3), (1_000_000_000, 2_000_000_000_000));
        let over = "Chain X (1 references)\n 1 18446745T RETURN 0 -- * * 0.0.0.0/0 0.0.0.0/0\n";
        assert_eq!(err_line(list_cap(over, 64)), 2);
    }

    #[test]
    fn list_bad_numbers_are_errors_with_line_numbers() {
        let head =
            "Chain X (1 references)\n pkts bytes target prot opt in out source destination\n";
        for bad in [
            "18446744073709551616 0 RETURN 0 -- * * 0.0.0.0/0 0.0.0.0/0\n",
            "0 18446744073709551616 RETURN 0 -- * * 0.0.0.0/0 0.0.0.0/0\n",
            "-1 0 RETURN 0 -- * * 0.0.0.0/0 0.0.0.0/0\n",
            "12x 0 RETURN 0 -- * * 0.0.0.0/0 0.0.0.0/0\n",
            "1 2 what is this\n",
        ] {
            assert_eq!(err_line(list_cap(&format!("{head}{bad}"), 64)), 3, "{bad}");
        }
        let max = format!(
            "{head}18446744073709551615 18446744073709551615 RETURN 0 -- * * 0.0.0.0/0 0.0.0.0/0\n"
        );
        assert_eq!(list_cap(&max, 64).unwrap()[0].2, u64::MAX);
    }

    #[test]
    fn list_lines_outside_chains_and_truncated_lines_are_skipped() {
        let mut t = String::from(
            "# Warning: iptables-legacy tables present, use iptables-legacy to see them\n",
        );
        t.push_str(
            "Chain X (1 references)\n pkts bytes target prot opt in out source destination\n",
        );
        t.push_str("    1     2 RETURN 0 -- * * 0.0.0.0/0 0.0.0.0/0 ");
        t.push_str(&"u32 x ".repeat(1000));
        t.push_str("/* netmon:x:00000000 */\n    3     4 RETURN 0 -- * * 0.0.0.0/0 0.0.0.0/0\n");
        assert_eq!(list_cap(&t, 5).unwrap(), vec![r("X", 3, 4, "RETURN", None)]);
    }

    const SAVE: &str = "# Generated by iptables-nft-save v1.8.9 (nf_tables) on Sat Nov 21 19:27:45 2026
*filter
:INPUT ACCEPT [0:0]
:netmon_in - [0:0]
[3010:2406840] -A INPUT -m comment --comment netmon -j netmon_in
[1500:1542000] -A INPUT -i lo -p udp -m udp --dport 9 -m comment --comment \"user rule: has spaces\" -j some_chain
[4294967296:18446744073709551615] -A netmon_in -p tcp -m comment --comment \"netmon:big:ffffffff\"
[1:2] -A netmon_out -p udp -m comment --comment \"a \\\"-j\\\" b\" -g some_chain
COMMIT
# Completed on Sat Nov 21 19:27:45 2026

*mangle
-A PREROUTING -j MARK --set-mark 1
-A POSTROUTING -o eth0 -c 7 8
";

    #[test]
    fn save_rules_counters_comments_targets_tables() {
        let f = |t: &str, c, p, b, tg: &str, cm: Option<&str>| {
            (
                t.into(),
                String::from(c),
                p,
                b,
                tg.into(),
                cm.map(str::to_string),
            )
        };
        let want: Vec<Owned> = vec![
            f(
                "filter",
                "INPUT",
                3010,
                2406840,
                "netmon_in",
                Some("netmon"),
            ),
            f(
                "filter",
                "INPUT",
                1500,
                1542000,
                "some_chain",
                Some("user rule: has spaces"),
            ),
            f(
                "filter",
                "netmon_in",
                1 << 32,
                u64::MAX,
                "",
                Some("netmon:big:ffffffff"),
            ),
            f(
                "filter",
                "netmon_out",
                1,
                2,
                "some_chain",
                Some("a \\\"-j\\\" b"),
            ),
            f("mangle", "PREROUTING", 0, 0, "MARK", None),
            f("mangle", "POSTROUTING", 7, 8, "", None),
        ];
        assert_eq!(save_cap(SAVE, 8192).unwrap(), want);
        for cap in [1, 3] {
            assert_eq!(save_cap(&SAVE.replace('\n', "\r\n"), cap).unwrap(), want);
        }
    }

    #[test]
    fn save_bad_counters_are_errors() {
        for bad in [
            "[18446744073709551616:0] -A X -j Y\n",
            "[0:18446744073709551616] -A X -j Y\n",
            "[1:-1] -A X\n",
            "[1 2] -A X\n",
            "[1:2] X\n",
            "-A X -c 1\n",
            "[1:2] -A\n",
        ] {
            assert_eq!(
                err_line(save_cap(&format!("*filter\n{bad}"), 4)),
                2,
                "{bad}"
            );
        }
        let max = "[18446744073709551615:18446744073709551615] -A X\n";
        assert_eq!(save_cap(max, 4).unwrap()[0].3, u64::MAX);
    }

    #[test]
    fn garbage_does_not_panic() {
        for t in [
            "Chain\n1 2\n",
            "Chain X\n\u{e9}\u{e9} 1\n",
            "Chain X\nnum\n1\n",
            "[\n[1:\n-A \"\n",
            "Chain X (\n5K 5G - - - -\n",
        ] {
            let _ = list_cap(t, 2);
            let _ = save_cap(t, 2);
        }
    }
}
