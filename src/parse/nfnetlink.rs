//! nftables' netlink messages (`linux/netlink.h`, `linux/netfilter/
//! nfnetlink.h`, `linux/netfilter/nf_tables.h`): the dump requests that
//! list tables, named counters and set elements, and the replies, read
//! into small borrowed records. What `nft list` prints, without `nft`:
//! `firewall::nft_netlink` uses it where a reading is taken every second.
//!
//! Layout: a datagram holds messages. Each is a `nlmsghdr` (length, type,
//! flags, sequence number, port id: 16 bytes), a `nfgenmsg` (family,
//! version, resource id: 4 bytes), then attributes, each a `nlattr` (u16
//! length counting its 4-byte header, u16 type) and its payload, padded to
//! 4 bytes; attributes nest. The headers are in host byte order;
//! nftables' numbers (handles, counters) are big-endian.
//!
//! Every length is checked against the bytes there: a message or an
//! attribute that does not fit is `Malformed`, nothing panics, nothing is
//! allocated per element.

// linux/netlink.h
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
/// `nlmsghdr`.
const HEADER: usize = 16;
/// `nfgenmsg`.
const GENMSG: usize = 4;
/// Attribute type bits that are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
const TYPE_MASK: u16 = 0x3fff;
/// The nf_tables subsystem (NFNL_SUBSYS_NFTABLES), in a type's high byte.
const SUBSYS_NFTABLES: u16 = 10 << 8;

// linux/netfilter/nf_tables.h: attributes of each kind of message.
const TABLE_NAME: u16 = 1;
const TABLE_HANDLE: u16 = 4;
const OBJ_TABLE: u16 = 1;
const OBJ_NAME: u16 = 2;
const OBJ_TYPE: u16 = 3;
const OBJ_DATA: u16 = 4;
const OBJECT_COUNTER: u32 = 1;
const COUNTER_BYTES: u16 = 1;
const COUNTER_PACKETS: u16 = 2;
const ELEM_LIST_TABLE: u16 = 1;
const ELEM_LIST_SET: u16 = 2;
const ELEM_LIST_ELEMENTS: u16 = 3;
const LIST_ELEM: u16 = 1;
const ELEM_KEY: u16 = 1;
/// One expression of an element (a set with one, as `counter`).
const ELEM_EXPR: u16 = 7;
/// A list of expressions (a set with several).
const ELEM_EXPRESSIONS: u16 = 11;
const DATA_VALUE: u16 = 1;
const EXPR_NAME: u16 = 1;
const EXPR_DATA: u16 = 2;

/// nftables' number for the `inet` family (NFPROTO_INET).
pub const FAMILY_INET: u8 = 1;
/// nftables' number for the `netdev` family (NFPROTO_NETDEV).
pub const FAMILY_NETDEV: u8 = 5;

/// The family's name as `nft` prints it (empty for one netmon never uses).
pub fn family_name(family: u8) -> &'static str {
    match family {
        FAMILY_INET => "inet",
        FAMILY_NETDEV => "netdev",
        _ => "",
    }
}

/// What a dump lists.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dump {
    /// Every table of the family.
    Tables,
    /// The named counters of one table.
    Counters,
    /// The elements of one set.
    SetElems,
}

impl Dump {
    /// NFT_MSG_GETTABLE, NFT_MSG_GETOBJ, NFT_MSG_GETSETELEM.
    fn get(self) -> u16 {
        match self {
            Dump::Tables => 1,
            Dump::Counters => 19,
            Dump::SetElems => 13,
        }
    }

    /// The reply: the matching NFT_MSG_NEW* is one below each GET.
    fn reply(self) -> u16 {
        SUBSYS_NFTABLES | (self.get() - 1)
    }
}

/// The request for `what` of `family`: tables (all of the family; `table`
/// and `set` unused), the named counters of `table` (the kernel filters by
/// table and type), or the elements of set `set` of `table`.
pub fn request(what: Dump, family: u8, seq: u32, table: &str, set: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    let kind = SUBSYS_NFTABLES | what.get();
    b.extend_from_slice(&0u32.to_ne_bytes()); // length, set below
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel's is 0
    b.extend_from_slice(&[family, 0, 0, 0]); // NFNETLINK_V0, resource 0
    match what {
        Dump::Tables => {}
        Dump::Counters => {
            put_str(&mut b, OBJ_TABLE, table);
            put(&mut b, OBJ_TYPE, &OBJECT_COUNTER.to_be_bytes());
        }
        Dump::SetElems => {
            put_str(&mut b, ELEM_LIST_TABLE, table);
            put_str(&mut b, ELEM_LIST_SET, set);
        }
    }
    let len = u32::try_from(b.len()).unwrap_or(0).to_ne_bytes();
    if let Some(l) = b.get_mut(..4) {
        l.copy_from_slice(&len);
    }
    b
}

/// Appends a NUL-terminated string attribute, as nftables sends names.
fn put_str(b: &mut Vec<u8>, kind: u16, s: &str) {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    put(b, kind, &v);
}

fn put(b: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
    b.extend_from_slice(&len.to_ne_bytes());
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(payload);
    b.resize(align(b.len()), 0);
}

fn align(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// One thing a dump reply holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reply<'a> {
    Table {
        family: u8,
        name: &'a str,
        handle: Option<u64>,
    },
    /// A named counter object.
    Counter {
        table: &'a str,
        name: &'a str,
        packets: u64,
        bytes: u64,
    },
    /// A set element with a counter (elements without one are skipped);
    /// `key` is the key's bytes (an `ether_addr`: 6).
    SetElem {
        table: &'a str,
        set: &'a str,
        key: &'a [u8],
        packets: u64,
        bytes: u64,
    },
}

/// How far a dump got after a datagram.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Batch {
    /// More datagrams follow.
    More,
    Done,
    /// The kernel refused the request (a positive errno: ENOENT for a
    /// table or set that does not exist).
    Failed(i32),
    /// The ruleset changed during the dump: what was read may be a mix.
    Interrupted,
}

/// A counter's packets and bytes.
type Counted = (u64, u64);

/// A message or attribute whose length does not fit the bytes there.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Malformed;

/// Reads the messages of one received `datagram` that answer request
/// `seq` of a `what` dump: each record goes to `f`; returns how far the
/// dump got. Messages of another sequence number are skipped.
pub fn replies(
    datagram: &[u8],
    what: Dump,
    seq: u32,
    f: &mut dyn FnMut(Reply<'_>),
) -> Result<Batch, Malformed> {
    let mut rest = datagram;
    while !rest.is_empty() {
        let (m, next) = message(rest)?;
        rest = next;
        if m.seq != seq {
            continue;
        }
        if m.flags & NLM_F_DUMP_INTR != 0 {
            return Ok(Batch::Interrupted);
        }
        match m.kind {
            NLMSG_DONE => return Ok(Batch::Done),
            NLMSG_ERROR => return error(m.body),
            k if k == what.reply() => decode(what, m.body, f)?,
            _ => {}
        }
    }
    Ok(Batch::More)
}

/// One message's header fields and body (after the `nlmsghdr`).
struct Message<'a> {
    kind: u16,
    flags: u16,
    seq: u32,
    body: &'a [u8],
}

/// The first message of `b` and what follows it.
fn message(b: &[u8]) -> Result<(Message<'_>, &[u8]), Malformed> {
    let len = ne_u32(b.get(0..4)).ok_or(Malformed)? as usize;
    let body = b.get(HEADER..len).ok_or(Malformed)?;
    let m = Message {
        kind: ne_u16(b.get(4..6)).ok_or(Malformed)?,
        flags: ne_u16(b.get(6..8)).ok_or(Malformed)?,
        seq: ne_u32(b.get(8..12)).ok_or(Malformed)?,
        body,
    };
    Ok((m, b.get(align(len)..).unwrap_or_default()))
}

/// NLMSG_ERROR: a negative errno (0 is an acknowledgement: done).
fn error(body: &[u8]) -> Result<Batch, Malformed> {
    let code = ne_u32(body.get(0..4)).ok_or(Malformed)? as i32;
    Ok(match code {
        0 => Batch::Done,
        e => Batch::Failed(e.saturating_neg()),
    })
}

fn decode(what: Dump, body: &[u8], f: &mut dyn FnMut(Reply<'_>)) -> Result<(), Malformed> {
    let family = *body.first().ok_or(Malformed)?;
    let attrs = body.get(GENMSG..).ok_or(Malformed)?;
    match what {
        Dump::Tables => table(family, attrs, f),
        Dump::Counters => counter_object(attrs, f),
        Dump::SetElems => set_elements(attrs, f),
    }
}

fn table(family: u8, attrs: &[u8], f: &mut dyn FnMut(Reply<'_>)) -> Result<(), Malformed> {
    let (mut name, mut handle) = (None, None);
    each_attr(attrs, |kind, p| {
        match kind {
            TABLE_NAME => name = text(p),
            TABLE_HANDLE => handle = be_u64(p),
            _ => {}
        }
        Ok(())
    })?;
    if let Some(name) = name {
        f(Reply::Table {
            family,
            name,
            handle,
        });
    }
    Ok(())
}

fn counter_object(attrs: &[u8], f: &mut dyn FnMut(Reply<'_>)) -> Result<(), Malformed> {
    let (mut table, mut name, mut kind, mut count) = (None, None, None, None);
    each_attr(attrs, |k, p| {
        match k {
            OBJ_TABLE => table = text(p),
            OBJ_NAME => name = text(p),
            OBJ_TYPE => kind = p.try_into().ok().map(u32::from_be_bytes),
            OBJ_DATA => count = counter(p)?,
            _ => {}
        }
        Ok(())
    })?;
    if let (Some(table), Some(name), Some(OBJECT_COUNTER), Some((packets, bytes))) =
        (table, name, kind, count)
    {
        f(Reply::Counter {
            table,
            name,
            packets,
            bytes,
        });
    }
    Ok(())
}

/// A counter's packets and bytes (`NFTA_COUNTER_*`); both must be there.
fn counter(attrs: &[u8]) -> Result<Option<Counted>, Malformed> {
    let (mut packets, mut bytes) = (None, None);
    each_attr(attrs, |k, p| {
        match k {
            COUNTER_PACKETS => packets = be_u64(p),
            COUNTER_BYTES => bytes = be_u64(p),
            _ => {}
        }
        Ok(())
    })?;
    Ok(packets.zip(bytes))
}

fn set_elements(attrs: &[u8], f: &mut dyn FnMut(Reply<'_>)) -> Result<(), Malformed> {
    // The names come before the elements, but do not rely on it.
    let (mut table, mut set) = (None, None);
    each_attr(attrs, |k, p| {
        match k {
            ELEM_LIST_TABLE => table = text(p),
            ELEM_LIST_SET => set = text(p),
            _ => {}
        }
        Ok(())
    })?;
    let (Some(table), Some(set)) = (table, set) else {
        return Ok(());
    };
    each_attr(attrs, |k, list| match k {
        ELEM_LIST_ELEMENTS => each_attr(list, |k, elem| {
            if k == LIST_ELEM {
                if let Some((key, (packets, bytes))) = element(elem)? {
                    f(Reply::SetElem {
                        table,
                        set,
                        key,
                        packets,
                        bytes,
                    });
                }
            }
            Ok(())
        }),
        _ => Ok(()),
    })
}

/// An element's key and its counter, when it has both.
fn element(attrs: &[u8]) -> Result<Option<(&[u8], Counted)>, Malformed> {
    let (mut key, mut count) = (None, None);
    each_attr(attrs, |k, p| {
        match k {
            ELEM_KEY => key = data_value(p)?,
            ELEM_EXPR => count = count.or(counter_expr(p)?),
            ELEM_EXPRESSIONS => each_attr(p, |k, e| {
                if k == LIST_ELEM {
                    count = count.or(counter_expr(e)?);
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(key.zip(count))
}

/// The value of a `NFTA_DATA_*` nest.
fn data_value(attrs: &[u8]) -> Result<Option<&[u8]>, Malformed> {
    let mut value = None;
    each_attr(attrs, |k, p| {
        if k == DATA_VALUE {
            value = Some(p);
        }
        Ok(())
    })?;
    Ok(value)
}

/// The packets and bytes of an expression nest, when it is a `counter`.
fn counter_expr(attrs: &[u8]) -> Result<Option<Counted>, Malformed> {
    let (mut name, mut data) = (None, None);
    each_attr(attrs, |k, p| {
        match k {
            EXPR_NAME => name = text(p),
            EXPR_DATA => data = Some(p),
            _ => {}
        }
        Ok(())
    })?;
    match (name, data) {
        (Some("counter"), Some(d)) => counter(d),
        _ => Ok(None),
    }
}

/// Calls `f(type, payload)` for each attribute of `b`, flags masked off.
fn each_attr<'a>(
    mut b: &'a [u8],
    mut f: impl FnMut(u16, &'a [u8]) -> Result<(), Malformed>,
) -> Result<(), Malformed> {
    while !b.is_empty() {
        let len = usize::from(ne_u16(b.get(0..2)).ok_or(Malformed)?);
        let kind = ne_u16(b.get(2..4)).ok_or(Malformed)?;
        let payload = b.get(4..len).ok_or(Malformed)?;
        f(kind & TYPE_MASK, payload)?;
        b = b.get(align(len)..).unwrap_or_default();
    }
    Ok(())
}

/// A name: the bytes before the NUL, when they are UTF-8.
fn text(p: &[u8]) -> Option<&str> {
    let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
    core::str::from_utf8(p.get(..end)?).ok()
}

fn be_u64(p: &[u8]) -> Option<u64> {
    p.try_into().ok().map(u64::from_be_bytes)
}

fn ne_u16(p: Option<&[u8]>) -> Option<u16> {
    p?.try_into().ok().map(u16::from_ne_bytes)
}

fn ne_u32(p: Option<&[u8]>) -> Option<u32> {
    p?.try_into().ok().map(u32::from_ne_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attribute as the kernel writes it (host-order header, padded).
    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        put(&mut b, kind, payload);
        b
    }

    fn nest(kind: u16, parts: &[Vec<u8>]) -> Vec<u8> {
        // The kernel often leaves NLA_F_NESTED off; set it here to check
        // that the flag is masked.
        attr(kind | 0x8000, &parts.concat())
    }

    fn msg(kind: u16, flags: u16, seq: u32, family: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        let body = attrs.concat();
        let len = (HEADER + GENMSG + body.len()) as u32;
        let mut b = Vec::new();
        for part in [
            &len.to_ne_bytes()[..],
            &kind.to_ne_bytes(),
            &flags.to_ne_bytes(),
        ] {
            b.extend_from_slice(part);
        }
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&7u32.to_ne_bytes());
        b.extend_from_slice(&[family, 0, 0x12, 0x34]);
        b.extend_from_slice(&body);
        b
    }

    fn done(seq: u32) -> Vec<u8> {
        let mut m = msg(NLMSG_DONE, 2, seq, 0, &[]);
        m.truncate(HEADER + 4);
        m[0..4].copy_from_slice(&((HEADER + 4) as u32).to_ne_bytes());
        m
    }

    fn counter_nest(kind: u16, packets: u64, bytes: u64) -> Vec<u8> {
        nest(
            kind,
            &[
                attr(COUNTER_BYTES, &bytes.to_be_bytes()),
                attr(COUNTER_PACKETS, &packets.to_be_bytes()),
                attr(3, &[0; 4]), // NFTA_COUNTER_PAD
            ],
        )
    }

    fn all(datagram: &[u8], what: Dump, seq: u32) -> (Vec<String>, Result<Batch, Malformed>) {
        let mut got = Vec::new();
        let r = replies(datagram, what, seq, &mut |r| got.push(format!("{r:?}")));
        (got, r)
    }

    #[test]
    fn requests_are_dumps_with_the_filters() {
        let r = request(Dump::SetElems, FAMILY_NETDEV, 9, "netmon", "up");
        assert_eq!(r.len(), 16 + 4 + 12 + 8);
        assert_eq!(
            u32::from_ne_bytes(r[0..4].try_into().unwrap()) as usize,
            r.len()
        );
        assert_eq!(
            u16::from_ne_bytes(r[4..6].try_into().unwrap()),
            (10 << 8) | 13
        );
        assert_eq!(u16::from_ne_bytes(r[6..8].try_into().unwrap()), 0x301);
        assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 9);
        assert_eq!(r[16], FAMILY_NETDEV);
        assert_eq!(&r[20..32], &attr(1, b"netmon\0")[..]);
        assert_eq!(&r[32..40], &attr(2, b"up\0")[..]);
        let c = request(Dump::Counters, FAMILY_INET, 1, "netmon", "");
        assert!(
            c.ends_with(&attr(3, &[0, 0, 0, 1])),
            "type counter, big-endian"
        );
        assert_eq!(request(Dump::Tables, FAMILY_INET, 1, "", "").len(), 20);
    }

    #[test]
    fn tables_and_counters() {
        let tables = [
            msg(
                0xa00,
                2,
                5,
                FAMILY_INET,
                &[attr(1, b"fw4\0"), attr(4, &3u64.to_be_bytes())],
            ),
            msg(
                0xa00,
                2,
                5,
                FAMILY_INET,
                &[attr(1, b"netmon\0"), attr(4, &[0, 0, 0, 0, 0, 0, 1, 2])],
            ),
            done(5),
        ]
        .concat();
        let (got, r) = all(&tables, Dump::Tables, 5);
        assert_eq!(r, Ok(Batch::Done));
        assert_eq!(
            got,
            [
                "Table { family: 1, name: \"fw4\", handle: Some(3) }",
                "Table { family: 1, name: \"netmon\", handle: Some(258) }"
            ]
        );
        let objects = msg(
            0xa12,
            2,
            6,
            FAMILY_INET,
            &[
                attr(OBJ_TABLE, b"netmon\0"),
                attr(OBJ_NAME, b"m_wan_down\0"),
                attr(OBJ_TYPE, &1u32.to_be_bytes()),
                counter_nest(OBJ_DATA, 5, 1 << 40),
                attr(6, &9u64.to_be_bytes()), // NFTA_OBJ_HANDLE
            ],
        );
        let quota = msg(
            0xa12,
            2,
            6,
            FAMILY_INET,
            &[
                attr(OBJ_TABLE, b"netmon\0"),
                attr(OBJ_NAME, b"q\0"),
                attr(OBJ_TYPE, &2u32.to_be_bytes()),
            ],
        );
        let (got, r) = all(&[objects, quota].concat(), Dump::Counters, 6);
        assert_eq!(r, Ok(Batch::More));
        assert_eq!(
            got,
            ["Counter { table: \"netmon\", name: \"m_wan_down\", packets: 5, bytes: 1099511627776 }"]
        );
    }

    #[test]
    fn set_elements_with_one_or_several_expressions() {
        let key = |n: u8| nest(ELEM_KEY, &[attr(DATA_VALUE, &[2, 0, 0, 0, 0, n])]);
        let one = nest(
            LIST_ELEM,
            &[
                key(1),
                nest(
                    ELEM_EXPR,
                    &[
                        attr(EXPR_NAME, b"counter\0"),
                        counter_nest(EXPR_DATA, 3, 300),
                    ],
                ),
            ],
        );
        let several = nest(
            LIST_ELEM,
            &[
                key(2),
                nest(
                    ELEM_EXPRESSIONS,
                    &[
                        nest(
                            LIST_ELEM,
                            &[attr(EXPR_NAME, b"limit\0"), nest(EXPR_DATA, &[])],
                        ),
                        nest(
                            LIST_ELEM,
                            &[
                                attr(EXPR_NAME, b"counter\0"),
                                counter_nest(EXPR_DATA, 4, 400),
                            ],
                        ),
                    ],
                ),
            ],
        );
        let bare = nest(LIST_ELEM, &[key(3)]);
        let m = msg(
            0xa0c,
            2,
            8,
            FAMILY_NETDEV,
            &[
                nest(ELEM_LIST_ELEMENTS, &[one, several, bare]),
                attr(ELEM_LIST_TABLE, b"netmon\0"),
                attr(ELEM_LIST_SET, b"up\0"),
            ],
        );
        let (got, r) = all(&[m, done(8)].concat(), Dump::SetElems, 8);
        assert_eq!(r, Ok(Batch::Done));
        assert_eq!(
            got,
            [
                "SetElem { table: \"netmon\", set: \"up\", key: [2, 0, 0, 0, 0, 1], packets: 3, bytes: 300 }",
                "SetElem { table: \"netmon\", set: \"up\", key: [2, 0, 0, 0, 0, 2], packets: 4, bytes: 400 }"
            ]
        );
    }

    #[test]
    fn errors_interruptions_and_other_requests() {
        // NLMSG_ERROR: -ENOENT, then the request it answers.
        let mut err = msg(NLMSG_ERROR, 0, 4, 0, &[]);
        err.truncate(HEADER);
        err.extend_from_slice(&(-2i32).to_ne_bytes());
        err.extend_from_slice(&request(Dump::SetElems, 5, 4, "netmon", "up")[..16]);
        let len = err.len() as u32;
        err[0..4].copy_from_slice(&len.to_ne_bytes());
        assert_eq!(all(&err, Dump::SetElems, 4).1, Ok(Batch::Failed(2)));
        // Another request's answer is skipped; ours ends the dump.
        assert_eq!(
            all(&[err.clone(), done(5)].concat(), Dump::SetElems, 5).1,
            Ok(Batch::Done)
        );
        let intr = msg(0xa00, 2 | NLM_F_DUMP_INTR, 5, 1, &[attr(1, b"netmon\0")]);
        assert_eq!(all(&intr, Dump::Tables, 5).1, Ok(Batch::Interrupted));
    }

    #[test]
    fn bad_lengths_are_malformed_never_a_panic() {
        let good = msg(
            0xa00,
            2,
            5,
            FAMILY_INET,
            &[attr(1, b"netmon\0"), attr(4, &1u64.to_be_bytes())],
        );
        for cut in 0..good.len() {
            let mut m = good[..cut].to_vec();
            let _ = all(&m, Dump::Tables, 5);
            if cut >= 4 {
                // The header claims more than there is.
                m[0..4].copy_from_slice(&(good.len() as u32).to_ne_bytes());
                assert_eq!(all(&m, Dump::Tables, 5).1, Err(Malformed), "{cut}");
            }
        }
        let mut bad_attr = good.clone();
        bad_attr[20..22].copy_from_slice(&200u16.to_ne_bytes());
        assert_eq!(all(&bad_attr, Dump::Tables, 5).1, Err(Malformed));
        let mut short_attr = good;
        short_attr[20..22].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(all(&short_attr, Dump::Tables, 5).1, Err(Malformed));
    }
}
