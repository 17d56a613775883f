//! `nft [-a] list table|ruleset` (text) parser.
//!
//! nft prints a ruleset as nested blocks, one statement per line (nftables
//! 1.0.6, `nft -a list table inet netmon`; tabs shown as spaces):
//!
//! ```text
//! table inet netmon { # handle 1
//!     counter m_proxy { # handle 4
//!         packets 6020 bytes 4813680
//!     }
//!     chain input { # handle 1
//!         type filter hook input priority filter - 1; policy accept;
//!         ip saddr 127.0.0.1 counter name "m_proxy" comment "netmon:proxy:0123abcd" # handle 6
//!     }
//! }
//! ```
//!
//! The parser follows the brace depth (braces inside `"..."` and after a
//! `#` comment do not count) and looks at a line's meaning only by where it
//! is: depth 0 `table`, depth 1 objects (`chain`, `set`, `map`, `counter`;
//! anything else with a block is skipped), depth 2 rule lines / counter
//! values / set `elements`. Anything else, including `nft -j` JSON, is
//! foreign and skipped. Items come out in input order; a `Table` item
//! precedes everything that belongs to it (the same counter name can exist
//! in several tables).
//!
//! A truncated line is skipped and assumed brace-balanced: the only lines
//! nft prints that can be long are rules with inline anonymous sets (one
//! line each); set `elements` are wrapped by nft.

use super::{unquote, Cursor, LineReader, Name, ParseError};
use std::io::BufRead;

/// One thing of interest in `nft list` output.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Item<'a> {
    /// `table FAMILY NAME { [# handle N]`
    Table {
        family: &'a str,
        name: &'a str,
        handle: Option<u64>,
    },
    /// `chain NAME { [# handle N]` in the current table (emitted even when
    /// the chain has no rules, so a caller can tell "chain missing" from
    /// "chain empty").
    Chain { name: &'a str, handle: Option<u64> },
    /// `counter NAME { ... packets P bytes B ... }` (a named counter object
    /// in the current table)
    Counter {
        name: &'a str,
        packets: u64,
        bytes: u64,
    },
    /// A rule line inside `chain CHAIN { ... }`: the named counter it refers
    /// to (`counter name "X"`/`counter name X`), its inline counter
    /// (`counter packets P bytes B`), its `comment "..."`, and its handle
    /// (`# handle N`, printed with `nft -a`). Emitted for every rule line.
    Rule {
        chain: &'a str,
        counter_ref: Option<&'a str>,
        counter: Option<(u64, u64)>,
        comment: Option<&'a str>,
        handle: Option<u64>,
    },
    /// The `type ...` line of a chain (its hook, devices and priority),
    /// e.g. `type filter hook ingress devices = { lan1, lan2 } priority
    /// -500; policy accept;` (see `hook_devices`).
    ChainType { chain: &'a str, text: &'a str },
    /// One element of a set with a per-element counter
    /// (`elements = { 10.0.0.2 counter packets P bytes B, ... }`).
    /// `key` is the element text before its first statement (`1.1.1.1`,
    /// `10.0.0.0/24`, `1.2.3.4 . "eth0"`). Elements without a `counter`
    /// statement (only `quota`, `limit`, ...) are not emitted.
    SetElem {
        set: &'a str,
        key: &'a str,
        packets: u64,
        bytes: u64,
    },
    /// An element without a counter: a plain member (`value` None) or a
    /// map element `KEY : VALUE` (the value unquoted).
    Elem {
        set: &'a str,
        key: &'a str,
        value: Option<&'a str>,
    },
    /// `quota NAME { [over] LIMIT UNIT used USED UNIT }`, in bytes.
    Quota {
        name: &'a str,
        over: bool,
        limit: u64,
        used: u64,
    },
}

/// Streams `nft list` text output into `f`, in order.
pub fn parse<R: BufRead>(r: R, mut f: impl FnMut(Item<'_>)) -> Result<(), ParseError> {
    let mut lines = LineReader::new(r);
    let mut st = State::default();
    while let Some(l) = lines.next_line()? {
        if !l.truncated {
            st.line(l.text, l.no, &mut f)?;
        }
    }
    Ok(())
}

/// What the current depth-2 block is.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
enum Obj {
    #[default]
    None,
    Chain,
    Set,
    Counter,
    Quota,
    Other,
}

#[derive(Default)]
struct State {
    depth: u32,
    /// Inside a `table` block we could name (depth >= 1).
    in_table: bool,
    family: Name,
    table: Name,
    obj: Obj,
    obj_name: Name,
}

impl State {
    fn line(
        &mut self,
        text: &str,
        no: u32,
        f: &mut impl FnMut(Item<'_>),
    ) -> Result<(), ParseError> {
        let t = text.trim_ascii();
        if t.is_empty() {
            return Ok(());
        }
        if text.starts_with("table ") {
            // nft prints tables at column 0 and nothing else there: resync
            // even if a skipped truncated line left the depth wrong.
            self.depth = 0;
        }
        match self.depth {
            _ if t.starts_with('}') => {} // closes a block; nothing else on it
            0 => self.top(t, f),
            1 if self.in_table => self.table_body(t, f),
            2 => self.object_body(t, no, f)?,
            3 if self.obj == Obj::Set => elements(&self.obj_name, t, no, f)?,
            _ => {}
        }
        self.depth = self.depth.saturating_add_signed(brace_delta(t));
        if self.depth < 2 {
            self.obj = Obj::None;
        }
        if self.depth == 0 {
            self.in_table = false;
        }
        Ok(())
    }

    /// Depth 0: `table FAMILY NAME {`; anything else is foreign.
    fn top(&mut self, t: &str, f: &mut impl FnMut(Item<'_>)) {
        self.in_table = false;
        let mut c = Cursor::new(t);
        if c.word() != Some("table") {
            return;
        }
        let (Some(family), Some(name)) = (c.word(), c.token()) else {
            return;
        };
        self.family.clear();
        self.table.clear();
        let fits =
            self.family.push_str(family).is_ok() && self.table.push_str(unquote(name)).is_ok();
        if !fits {
            return;
        }
        self.in_table = true;
        f(Item::Table {
            family: &self.family,
            name: &self.table,
            handle: handle_of(c.rest()),
        });
    }

    /// Depth 1: which object block opens here.
    fn table_body(&mut self, t: &str, f: &mut impl FnMut(Item<'_>)) {
        if !opens_block(t) {
            return;
        }
        let mut c = Cursor::new(t);
        let kind = match c.word() {
            Some("chain") => Obj::Chain,
            Some("set") | Some("map") => Obj::Set,
            Some("counter") => Obj::Counter,
            Some("quota") => Obj::Quota,
            _ => Obj::Other,
        };
        self.obj = Obj::Other;
        self.obj_name.clear();
        if kind == Obj::Other {
            return;
        }
        match c.token() {
            Some(n) if n != "{" && self.obj_name.push_str(unquote(n)).is_ok() => self.obj = kind,
            _ => return,
        }
        if kind == Obj::Chain {
            let handle = handle_of(c.rest());
            f(Item::Chain {
                name: &self.obj_name,
                handle,
            });
        }
    }

    /// Depth 2: a line inside an object block.
    fn object_body(
        &self,
        t: &str,
        no: u32,
        f: &mut impl FnMut(Item<'_>),
    ) -> Result<(), ParseError> {
        match self.obj {
            Obj::Chain => rule(&self.obj_name, t, no, f),
            Obj::Counter => counter_values(&self.obj_name, t, no, f),
            Obj::Quota => quota_values(&self.obj_name, t, no, f),
            Obj::Set => match t.strip_prefix("elements = {") {
                Some(rest) => elements(&self.obj_name, rest, no, f),
                None => Ok(()),
            },
            Obj::None | Obj::Other => Ok(()),
        }
    }
}

/// True when the line opens a block (`... {` before any `#` comment).
fn opens_block(t: &str) -> bool {
    brace_delta(t) > 0
}

/// Net `{` minus `}` outside quotes and before a `#` comment.
fn brace_delta(t: &str) -> i32 {
    let mut d: i32 = 0;
    let mut quoted = false;
    for b in t.bytes() {
        match (b, quoted) {
            (b'"', _) => quoted = !quoted,
            (b'#', false) => break,
            (b'{', false) => d = d.saturating_add(1),
            (b'}', false) => d = d.saturating_sub(1),
            _ => {}
        }
    }
    d
}

/// `N` from a trailing `# handle N` (nft -a), if present and a number.
fn handle_of(rest: &str) -> Option<u64> {
    let (_, comment) = rest.split_once('#')?;
    let mut c = Cursor::new(comment);
    if c.word() != Some("handle") {
        return None;
    }
    crate::text::parse_u64(c.word()?).ok()
}

/// `packets P bytes B` inside a named counter block.
fn counter_values(
    name: &str,
    t: &str,
    no: u32,
    f: &mut impl FnMut(Item<'_>),
) -> Result<(), ParseError> {
    let mut c = Cursor::new(t);
    if c.word() != Some("packets") {
        return Ok(()); // `comment "..."` and future fields
    }
    let (packets, bytes) =
        packets_bytes(&mut c).ok_or_else(|| ParseError::syntax(no, "bad counter", t))?;
    f(Item::Counter {
        name,
        packets,
        bytes,
    });
    Ok(())
}

/// `[over] N UNIT used M UNIT` inside a named quota block (nft prints
/// each amount in the largest of bytes, kbytes, mbytes, gbytes that
/// divides it).
fn quota_values(
    name: &str,
    t: &str,
    no: u32,
    f: &mut impl FnMut(Item<'_>),
) -> Result<(), ParseError> {
    let mut c = Cursor::new(t);
    let over = c.accept_word("over");
    let Some(limit) = amount(&mut c) else {
        return Ok(()); // `comment "..."` and future fields
    };
    let used = match c.word() {
        Some("used") => amount(&mut c).ok_or_else(|| ParseError::syntax(no, "bad quota", t))?,
        _ => 0,
    };
    f(Item::Quota {
        name,
        over,
        limit,
        used,
    });
    Ok(())
}

/// `N bytes`, `N kbytes`, `N mbytes` or `N gbytes`, in bytes.
fn amount(c: &mut Cursor<'_>) -> Option<u64> {
    let n = crate::text::parse_u64(c.word()?).ok()?;
    let shift = match c.word()? {
        "bytes" => 0,
        "kbytes" => 10,
        "mbytes" => 20,
        "gbytes" => 30,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// `P bytes B` after a consumed `packets` word (commas after B are the
/// caller's business: they end set elements).
fn packets_bytes(c: &mut Cursor<'_>) -> Option<(u64, u64)> {
    let p = crate::text::parse_u64(c.word()?).ok()?;
    if c.word() != Some("bytes") {
        return None;
    }
    let b = crate::text::parse_u64(c.word()?).ok()?;
    Some((p, b))
}

/// What a rule line says about counting.
#[derive(Default)]
struct RuleView<'a> {
    counter_ref: Option<&'a str>,
    counter: Option<(u64, u64)>,
    comment: Option<&'a str>,
    handle: Option<u64>,
}

/// A rule line inside a chain. Only statements at brace nesting 0 count:
/// an inline anonymous set `{ 1.1.1.1 counter ... }` is part of a match.
fn rule(chain: &str, t: &str, no: u32, f: &mut impl FnMut(Item<'_>)) -> Result<(), ParseError> {
    // Chain properties, not rules (a rule cannot start with these words).
    const CHAIN_PROPS: [&str; 5] = ["type ", "policy ", "comment ", "devices ", "flags "];
    if t.starts_with("type ") {
        f(Item::ChainType { chain, text: t });
        return Ok(());
    }
    if CHAIN_PROPS.iter().any(|p| t.starts_with(p)) {
        return Ok(());
    }
    let v = rule_view(t).ok_or_else(|| ParseError::syntax(no, "bad rule counter or handle", t))?;
    f(Item::Rule {
        chain,
        counter_ref: v.counter_ref,
        counter: v.counter,
        comment: v.comment,
        handle: v.handle,
    });
    Ok(())
}

fn rule_view(t: &str) -> Option<RuleView<'_>> {
    let mut v = RuleView::default();
    let mut c = Cursor::new(t);
    let mut nest: i32 = 0;
    while let Some(tok) = c.token() {
        if nest == 0 {
            match tok {
                "counter" if v.counter.is_none() && v.counter_ref.is_none() => {
                    counter_stmt(&mut c, &mut v)?
                }
                "comment" => v.comment = c.token().map(unquote),
                "#" => {
                    v.handle = rule_handle(&mut c)?;
                    break;
                }
                _ => {}
            }
        }
        if !tok.starts_with('"') {
            nest = nest.saturating_add(brace_delta(tok));
        }
    }
    Some(v)
}

/// The devices a netdev chain's `type` line names, in the order printed:
/// `devices = { lan1, lan2 }` (several) or `device "lan1"` (one; nft
/// prints a one-device list this way too). Empty for other chains.
pub fn hook_devices(text: &str) -> impl Iterator<Item = &str> {
    let list = match (text.split_once("devices = {"), text.split_once("device ")) {
        (Some((_, rest)), _) => rest.split_once('}').map_or("", |(l, _)| l),
        (None, Some((_, rest))) => rest.split_once(' ').map_or(rest, |(w, _)| w),
        (None, None) => "",
    };
    list.split(',')
        .map(|d| unquote(d.trim_ascii()))
        .filter(|d| !d.is_empty())
}

/// After `counter`: `name "X"`, `name X`, `packets P bytes B`, or nothing
/// (`nft --stateless`). `None` means a counter that does not parse.
fn counter_stmt<'a>(c: &mut Cursor<'a>, v: &mut RuleView<'a>) -> Option<()> {
    let save = *c;
    match c.token() {
        Some("packets") => v.counter = Some(packets_bytes(c)?),
        Some("name") => v.counter_ref = counter_name(c),
        _ => *c = save,
    }
    Some(())
}

/// The object name after `counter name`. nft prints it quoted; an unquoted
/// word is taken only when the statement ends after it, because
/// `counter name ip saddr map @m` names its counter by a map lookup.
fn counter_name<'a>(c: &mut Cursor<'a>) -> Option<&'a str> {
    const ENDS: [&str; 9] = [
        "comment", "#", "accept", "drop", "return", "continue", "jump", "goto", "queue",
    ];
    let tok = c.token()?;
    if tok.starts_with('"') {
        return Some(unquote(tok));
    }
    let mut peek = *c;
    match peek.token() {
        None => Some(tok),
        Some(n) if ENDS.contains(&n) => Some(tok),
        _ => None,
    }
}

/// After `#`: `handle N`. Another comment gives no handle; a malformed
/// number after `handle` is an error (`None`).
fn rule_handle(c: &mut Cursor<'_>) -> Option<Option<u64>> {
    if c.word() != Some("handle") {
        return Some(None);
    }
    crate::text::parse_u64(c.word()?).ok().map(Some)
}

/// Elements of a set on one line: the text after `elements = {` or a
/// continuation line; ends at the closing `}`.
fn elements(set: &str, t: &str, no: u32, f: &mut impl FnMut(Item<'_>)) -> Result<(), ParseError> {
    let mut rest = t;
    while !rest.is_empty() {
        let (seg, next, last) = split_element(rest);
        element(set, seg.trim_ascii(), no, f)?;
        if last {
            break;
        }
        rest = next;
    }
    Ok(())
}

/// Splits at the first `,` or `}` at nesting 0 outside quotes: returns the
/// element text, what follows the separator, and whether it was the `}`.
fn split_element(s: &str) -> (&str, &str, bool) {
    let (mut quoted, mut nest) = (false, 0u32);
    for (i, b) in s.bytes().enumerate() {
        match (b, quoted) {
            (b'"', _) => quoted = !quoted,
            (b'{', false) => nest += 1,
            (b'}', false) if nest > 0 => nest -= 1,
            (b'}', false) | (b',', false) if nest == 0 => {
                let seg = s.get(..i).unwrap_or("");
                return (seg, s.get(i + 1..).unwrap_or(""), b == b'}');
            }
            _ => {}
        }
    }
    (s, "", false)
}

/// One element: `KEY [timeout ..] [expires ..] [counter packets P bytes B]
/// [quota ..] [comment ".."]` or `KEY : VALUE`. Only `counter` counts.
fn element(set: &str, e: &str, no: u32, f: &mut impl FnMut(Item<'_>)) -> Result<(), ParseError> {
    const STMTS: [&str; 10] = [
        "counter", "quota", "limit", "ct", "last", "timeout", "expires", "comment", ":", "#",
    ];
    let mut c = Cursor::new(e);
    let mut key_end = e.len();
    let mut counted = None;
    while let Some(tok) = c.token() {
        if key_end == e.len() && STMTS.contains(&tok) {
            key_end = c.pos() - tok.len();
        }
        if tok == "counter" && counted.is_none() && c.accept_word("packets") {
            counted = Some(
                packets_bytes(&mut c)
                    .ok_or_else(|| ParseError::syntax(no, "bad element counter", e))?,
            );
        }
    }
    let key = e.get(..key_end).unwrap_or("").trim_ascii_end();
    if let Some((packets, bytes)) = counted {
        f(Item::SetElem {
            set,
            key,
            packets,
            bytes,
        });
    } else if !key.is_empty() {
        let value = e
            .get(key_end..)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| unquote(v.trim_ascii()));
        f(Item::Elem { set, key, value });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    /// Items rendered as owned strings so tests can compare whole streams.
    fn items_cap(input: &[u8], cap: usize) -> Result<Vec<String>, ParseError> {
        let mut v = Vec::new();
        parse(BufReader::with_capacity(cap, input), |i| {
            v.push(format!("{i:?}"))
        })?;
        Ok(v)
    }

    fn items(input: &str) -> Vec<String> {
        items_cap(input.as_bytes(), 8192).unwrap()
    }

    fn err_line(input: &str) -> u32 {
        match items_cap(input.as_bytes(), 8192) {
            Err(ParseError::Syntax(s)) => s.line,
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    const NETMON: &str = "table inet netmon { # handle 1
\tcounter m_proxy { # handle 4
\t\tpackets 6020 bytes 4813680
\t}

\tcounter m_offnet { # handle 5
\t\tcomment \"a } brace\"
\t\tpackets 18446744073709551615 bytes 4294967296
\t}

\tchain input { # handle 1
\t\ttype filter hook input priority filter - 1; policy accept;
\t\tip saddr 127.0.0.1 counter name \"m_proxy\" comment \"netmon:proxy:0123abcd\" # handle 6
\t\tip saddr != 192.168.1.0/24 counter name m_offnet # handle 7
\t\tip saddr { 1.1.1.1, 2.2.2.2 } counter packets 3 bytes 4 comment \"x, { y\" accept
\t}
}
";

    #[test]
    fn netmon_table_items_in_order() {
        let want = [
            r#"Table { family: "inet", name: "netmon", handle: Some(1) }"#,
            r#"Counter { name: "m_proxy", packets: 6020, bytes: 4813680 }"#,
            r#"Counter { name: "m_offnet", packets: 18446744073709551615, bytes: 4294967296 }"#,
            r#"Chain { name: "input", handle: Some(1) }"#,
            r#"ChainType { chain: "input", text: "type filter hook input priority filter - 1; policy accept;" }"#,
            r#"Rule { chain: "input", counter_ref: Some("m_proxy"), counter: None, comment: Some("netmon:proxy:0123abcd"), handle: Some(6) }"#,
            r#"Rule { chain: "input", counter_ref: Some("m_offnet"), counter: None, comment: None, handle: Some(7) }"#,
            r#"Rule { chain: "input", counter_ref: None, counter: Some((3, 4)), comment: Some("x, { y"), handle: None }"#,
        ];
        assert_eq!(items(NETMON), want);
    }

    #[test]
    fn chunking_does_not_matter() {
        let whole = items(NETMON);
        for cap in [1, 2, 3, 5, 13] {
            assert_eq!(
                items_cap(NETMON.as_bytes(), cap).unwrap(),
                whole,
                "capacity {cap}"
            );
        }
    }

    #[test]
    fn crlf_gives_the_same_items() {
        let crlf = NETMON.replace('\n', "\r\n");
        assert_eq!(items(&crlf), items(NETMON));
    }

    #[test]
    fn counter_above_u64_max_is_an_error_not_a_wrap() {
        let t = "table ip t {\n\tcounter c {\n\t\tpackets 18446744073709551616 bytes 0\n\t}\n}\n";
        assert_eq!(err_line(t), 3);
        let t =
            "table ip t {\n\tchain c {\n\t\tcounter packets 1 bytes 18446744073709551616\n\t}\n}\n";
        assert_eq!(err_line(t), 3);
        let t = "table ip t {\n\tchain c {\n\t\tcounter packets -1 bytes 0\n\t}\n}\n";
        assert_eq!(err_line(t), 3);
        let t = "table ip t {\n\tchain c {\n\t\tcounter packets 1 bytes 2 # handle x\n\t}\n}\n";
        assert_eq!(err_line(t), 3);
    }

    #[test]
    fn map_lookup_counter_name_is_not_a_reference() {
        let t = "table ip t {\n\tchain c {\n\t\tip daddr 1.2.3.4 counter name ip saddr map @cmap # handle 12\n\t}\n}\n";
        assert!(items(t)[2].contains("counter_ref: None"), "{:?}", items(t));
    }

    #[test]
    fn set_elements_across_lines_only_counter_counts() {
        let t = "table ip x {
\tset y {
\t\ttype ipv4_addr
\t\tsize 65535\t# count 3
\t\tcounter quota 500 bytes
\t\telements = { 1.1.1.1 counter packets 0 bytes 0 quota 500 bytes,
\t\t\t     1.2.3.4 counter packets 9 bytes 756 quota 500 bytes used 500 bytes,
\t\t\t     2.2.2.2 quota 1000 bytes, 3.3.3.3 . \"eth0\" timeout 1h counter packets 18446744073709551615 bytes 1 }
\t}
\tchain y {
\t\tupdate @y { ip daddr }
\t}
}
";
        let want = [
            r#"Table { family: "ip", name: "x", handle: None }"#,
            r#"SetElem { set: "y", key: "1.1.1.1", packets: 0, bytes: 0 }"#,
            r#"SetElem { set: "y", key: "1.2.3.4", packets: 9, bytes: 756 }"#,
            r#"Elem { set: "y", key: "2.2.2.2", value: None }"#,
            r#"SetElem { set: "y", key: "3.3.3.3 . \"eth0\"", packets: 18446744073709551615, bytes: 1 }"#,
            r#"Chain { name: "y", handle: None }"#,
            r#"Rule { chain: "y", counter_ref: None, counter: None, comment: None, handle: None }"#,
        ];
        assert_eq!(items(t), want);
    }

    #[test]
    fn map_elements_and_quota_objects() {
        let t = "table netdev netmon {
\tquota q0_20425_02000000000a {
\t\tover 20 gbytes used 1536 bytes
\t}
\tquota q1 {
\t\t3 kbytes
\t}
\tmap q0_up {
\t\ttype ether_addr : quota
\t\telements = { 02:00:00:00:00:0a : \"q0_20425_02000000000a\",
\t\t\t     02:00:00:00:00:0b : \"x\" }
\t}
\tset blocked {
\t\ttype ether_addr
\t\telements = { 02:00:00:00:00:0c }
\t}
}
";
        let want = [
            r#"Table { family: "netdev", name: "netmon", handle: None }"#,
            r#"Quota { name: "q0_20425_02000000000a", over: true, limit: 21474836480, used: 1536 }"#,
            r#"Quota { name: "q1", over: false, limit: 3072, used: 0 }"#,
            r#"Elem { set: "q0_up", key: "02:00:00:00:00:0a", value: Some("q0_20425_02000000000a") }"#,
            r#"Elem { set: "q0_up", key: "02:00:00:00:00:0b", value: Some("x") }"#,
            r#"Elem { set: "blocked", key: "02:00:00:00:00:0c", value: None }"#,
        ];
        assert_eq!(items(t), want);
    }

    #[test]
    fn bad_element_counter_is_an_error() {
        let t = "table ip x {\n\tset y {\n\t\telements = { 1.1.1.1,\n\t\t2.2.2.2 counter packets 1 bytes 99999999999999999999999 }\n\t}\n}\n";
        assert_eq!(err_line(t), 4);
    }

    #[test]
    fn same_names_in_several_tables_keep_their_table() {
        let t = "table inet t {\n\tcounter c {\n\t\tpackets 1 bytes 2\n\t}\n}\ntable ip t {\n\tcounter c {\n\t\tpackets 3 bytes 4\n\t}\n}\n";
        let got = items(t);
        assert_eq!(got.len(), 4);
        assert!(got[0].contains("\"inet\"") && got[1].contains("packets: 1"));
        assert!(got[2].contains("\"ip\"") && got[3].contains("packets: 3"));
    }

    #[test]
    fn foreign_blocks_and_json_are_skipped() {
        let t = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "inet", "name": "netmon", "handle": 1}}]}
{
  "nftables": [
    { "counter": { "name": "x", "packets": 1 } }
  ]
}
table ip f { # handle 3
	flowtable ft { # handle 2
		hook ingress priority filter
		devices = { lo }
	}
	quota q1 { # handle 4
		over 100 mbytes used 0 bytes
	}
	ct helper ftp { # handle 6
		type "ftp" protocol tcp
	}
	chain c { # handle 1
		comment "chain comment, not a rule"
		counter packets 1 bytes 2 # handle 7
	}
}
"#;
        let want = [
            r#"Table { family: "ip", name: "f", handle: Some(3) }"#,
            r#"Quota { name: "q1", over: true, limit: 104857600, used: 0 }"#,
            r#"Chain { name: "c", handle: Some(1) }"#,
            r#"Rule { chain: "c", counter_ref: None, counter: Some((1, 2)), comment: None, handle: Some(7) }"#,
        ];
        assert_eq!(items(t), want);
    }

    #[test]
    fn truncated_rule_line_is_skipped_and_structure_survives() {
        let mut t = String::from("table ip t {\n\tchain c {\n\t\tip saddr { ");
        while t.len() < super::super::MAX_LINE + 100 {
            t.push_str("10.0.0.1, ");
        }
        t.push_str("10.0.0.2 } counter packets 1 bytes 2\n\t\tcounter packets 5 bytes 6\n\t}\n\tcounter k {\n\t\tpackets 7 bytes 8\n\t}\n}\n");
        let got = items(&t);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got[2].contains("Some((5, 6))"));
        assert!(got[3].contains("Counter { name: \"k\", packets: 7"));
    }

    #[test]
    fn table_too_long_to_name_is_foreign_after_resync() {
        // A table line at column 0 resyncs the depth (an unclosed block
        // before it); a table whose name does not fit must not inherit the
        // previous table's context.
        let long = "n".repeat(super::super::MAX_NAME + 1);
        let t = format!("table ip a {{\n\tchain c {{\ntable ip {long} {{\n\tcounter k {{\n\t\tpackets 1 bytes 2\n\t}}\n}}\n");
        let got = items(&t);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[1].starts_with("Chain"));
    }

    #[test]
    fn garbage_does_not_panic() {
        for t in [
            "}}}}\n{{{\n",
            "table\n",
            "table ip\n",
            "table ip t {\n\tchain {\n",
            "\"\n{\"}\n",
            "table ip t {\n\tset s {\n\t\telements = {",
            "table ip t {\n\tcounter c {\n\t\tpackets\n",
        ] {
            let _ = items_cap(t.as_bytes(), 3);
        }
    }
}
