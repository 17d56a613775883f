//! `ipset save [NAME]` (also `ipset list -o save`): the sets netmon counts
//! devices in on the iptables backend.
//!
//! ```text
//! create netmon_dn4 hash:ip family inet hashsize 1024 maxelem 2 counters bucketsize 12 initval 0x6f47574d
//! add netmon_dn4 192.168.1.30 packets 2 bytes 256
//! ```
//!
//! Every line stands alone, so nothing is carried between lines. A member
//! is an IP address or a MAC (hash:ip, hash:mac); its `packets`/`bytes`
//! are 0 when the set has no counters. Other extensions (`timeout`,
//! `comment "..."`, `skbinfo`) are skipped, and so is any line that is
//! neither `create` nor `add`, and truncated lines (see `parse`'s module
//! doc). A member whose key is neither an address nor a MAC, or a counter
//! that is not a `u64`, is a syntax error: those are netmon's counts.

use super::{Cursor, LineReader, ParseError};
use crate::device::Mac;
use core::net::IpAddr;
use std::io::BufRead;

/// A set member's key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Key {
    Ip(IpAddr),
    Mac(Mac),
}

/// One line that matters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Item<'a> {
    /// `create NAME TYPE [family F] [... maxelem N] [counters] ...`.
    Create {
        set: &'a str,
        kind: &'a str,
        /// `inet`/`inet6`; `None` for types without a family (hash:mac).
        family: Option<&'a str>,
        maxelem: Option<u64>,
        counters: bool,
    },
    /// `add NAME KEY [packets P] [bytes B] ...`.
    Member {
        set: &'a str,
        key: Key,
        packets: u64,
        bytes: u64,
    },
}

/// Streams `r`, calling `f` for each `create` and `add` line.
pub fn parse_save<R: BufRead>(r: R, mut f: impl FnMut(Item<'_>)) -> Result<(), ParseError> {
    let mut lines = LineReader::new(r);
    while let Some(l) = lines.next_line()? {
        if l.truncated {
            continue;
        }
        let mut c = Cursor::new(l.text);
        let item = match c.word() {
            Some("create") => create(c),
            Some("add") => {
                let bad = || ParseError::syntax(l.no, "bad set member", l.text);
                Some(member(c).ok_or_else(bad)?)
            }
            _ => None,
        };
        if let Some(item) = item {
            f(item);
        }
    }
    Ok(())
}

fn create(mut c: Cursor<'_>) -> Option<Item<'_>> {
    let (set, kind) = (c.word()?, c.word()?);
    let (mut family, mut maxelem, mut counters) = (None, None, false);
    while let Some(w) = c.word() {
        match w {
            "family" => family = c.word(),
            "maxelem" => maxelem = c.word().and_then(|n| crate::text::parse_u64(n).ok()),
            "counters" => counters = true,
            _ => {}
        }
    }
    Some(Item::Create {
        set,
        kind,
        family,
        maxelem,
        counters,
    })
}

fn member(mut c: Cursor<'_>) -> Option<Item<'_>> {
    let set = c.word()?;
    let k = c.word()?;
    let key = match k.parse::<IpAddr>() {
        Ok(ip) => Key::Ip(ip),
        Err(_) => Key::Mac(Mac::parse(k)?),
    };
    let (mut packets, mut bytes) = (0, 0);
    while let Some(w) = c.token() {
        match w {
            "packets" => packets = crate::text::parse_u64(c.word()?).ok()?,
            "bytes" => bytes = crate::text::parse_u64(c.word()?).ok()?,
            _ => {}
        }
    }
    Some(Item::Member {
        set,
        key,
        packets,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    type Got = (Vec<String>, Vec<(String, Key, u64, u64)>);

    fn items(input: &[u8], cap: usize) -> Result<Got, ParseError> {
        let (mut creates, mut members) = (Vec::new(), Vec::new());
        parse_save(BufReader::with_capacity(cap, input), |i| match i {
            Item::Create {
                set,
                kind,
                family,
                maxelem,
                counters,
            } => creates.push(format!("{set} {kind} {family:?} {maxelem:?} {counters}")),
            Item::Member {
                set,
                key,
                packets,
                bytes,
            } => members.push((set.to_string(), key, packets, bytes)),
        })?;
        Ok((creates, members))
    }

    const SAVE: &[u8] = b"create netmon_dn4 hash:ip family inet hashsize 1024 maxelem 2 counters bucketsize 12 initval 0x6f47574d
add netmon_dn4 127.0.0.2 packets 3 bytes 384
add netmon_dn4 192.168.1.30 packets 18446744073709551615 bytes 0
create netmon_dn6 hash:ip family inet6 hashsize 1024 maxelem 65536 counters bucketsize 12 initval 0xf5393fa9
add netmon_dn6 fd00::10 packets 1 bytes 948
create macs hash:mac hashsize 1024 maxelem 65536 timeout 60 counters comment
add macs 02:00:00:00:10:10 timeout 59 packets 4 bytes 400 comment \"a \\\"packets\\\" b\"
create bare hash:ip family inet hashsize 1024 maxelem 8
add bare 10.0.0.1
";

    #[test]
    fn creates_and_members_with_counters() {
        let (c, m) = items(SAVE, 8192).unwrap();
        assert_eq!(
            c,
            [
                "netmon_dn4 hash:ip Some(\"inet\") Some(2) true",
                "netmon_dn6 hash:ip Some(\"inet6\") Some(65536) true",
                "macs hash:mac None Some(65536) true",
                "bare hash:ip Some(\"inet\") Some(8) false",
            ]
        );
        let ip = |s: &str| Key::Ip(s.parse().unwrap());
        let s = |s: &str| s.to_string();
        assert_eq!(
            m,
            [
                (s("netmon_dn4"), ip("127.0.0.2"), 3, 384),
                (s("netmon_dn4"), ip("192.168.1.30"), u64::MAX, 0),
                (s("netmon_dn6"), ip("fd00::10"), 1, 948),
                (
                    s("macs"),
                    Key::Mac(Mac::parse("02:00:00:00:10:10").unwrap()),
                    4,
                    400
                ),
                (s("bare"), ip("10.0.0.1"), 0, 0),
            ]
        );
        for cap in 1..9 {
            assert_eq!(items(SAVE, cap).unwrap(), items(SAVE, 8192).unwrap());
        }
    }

    #[test]
    fn captured_save_and_list() {
        let save = include_bytes!("../../tests/fixtures/ipset-save_netmon.txt");
        let (c, m) = items(save, 8192).unwrap();
        assert_eq!(c.len(), 4);
        assert!(c[2].starts_with("netmon_dn4 hash:ip Some(\"inet\") Some(4) true"));
        let dn4: Vec<_> = m.iter().filter(|e| e.0 == "netmon_dn4").collect();
        assert_eq!(dn4.len(), 2);
        assert!(dn4
            .iter()
            .any(|e| e.2 == u64::MAX - 1 && e.3 == (1 << 32) + 1));
        // `ipset list` is another format: nothing in it reads as save lines.
        let list = include_bytes!("../../tests/fixtures/ipset-list_netmon.txt");
        let (c, m) = items(list, 7).unwrap();
        assert!(c.is_empty() && m.is_empty());
    }

    #[test]
    fn bad_members_are_errors_with_the_line_and_foreign_lines_are_skipped() {
        for bad in [
            &b"add s 10.0.0.1 packets 18446744073709551616 bytes 1\n"[..],
            b"add s 10.0.0.1 packets 1 bytes\n",
            b"add s 10.0.0.1,tcp:80 packets 1 bytes 1\n",
            b"add s\n",
        ] {
            let mut input = b"# a comment\n".to_vec();
            input.extend_from_slice(bad);
            match items(&input, 64) {
                Err(ParseError::Syntax(s)) => assert_eq!((s.line, s.what), (2, "bad set member")),
                other => panic!("{other:?}"),
            }
        }
        let (c, m) = items(b"Name: x\nMembers:\nCOMMIT\ncreate\n\n", 64).unwrap();
        assert!(c.is_empty() && m.is_empty());
        let mut long = b"add s 10.0.0.1 packets 1 bytes 1 comment \"".to_vec();
        long.resize(super::super::MAX_LINE + 10, b'x');
        long.extend_from_slice(b"\"\nadd s 10.0.0.2\n");
        assert_eq!(items(&long, 64).unwrap().1.len(), 1);
    }
}
