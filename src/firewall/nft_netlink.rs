//! Reads one of netmon's nftables tables over netlink: the table and its
//! handle, its named counters and the elements of its sets, as the
//! `nft::Item`s the text parser gives for `nft -a list table`, so the
//! readers of `nft` and `nft_netdev` take either source.
//!
//! Why: `top` takes a reading every second, and `nft` is costly for that.
//! It builds a cache of the ruleset and prints every set element in about
//! ten separately flushed pieces: 20,000 writes for 1,000 devices, 27 ms of
//! CPU per listing of the device table on a 2-vCPU x86 machine (more
//! through the pipe netmon reads it from, far more on a router's CPU).
//! The same numbers come in a few netlink datagrams. What a dump of
//! counters does not give is the chains and rules, so a reading over
//! netlink cannot tell "installed as configured": `update`, `start` and
//! the other commands keep reading with `nft`.

use super::run::Outcome;
use crate::device::Mac;
use crate::error::{Error, Result};
use crate::parse::nfnetlink::{family_name, replies, request, Batch, Dump, Reply};
use crate::parse::nft::Item;
use crate::sys::netlink::Netlink;
use std::io;

/// netmon's tables are `inet netmon` and `netdev netmon`.
const TABLE: &str = "netmon";
/// The largest datagram the kernel sends for a dump is 32 KiB (it sizes
/// them to what the reader asked for, up to that).
const DATAGRAM: usize = 64 * 1024;
/// `ENOENT`: the set asked for does not exist.
const ENOENT: i32 = 2;

/// Streams table `netmon` of `family` (`parse::nfnetlink::FAMILY_*`) into
/// `f`: its `Item::Table`, then an `Item::Counter` per named counter, then
/// an `Item::SetElem` per counted element of each of `sets` (a set that
/// does not exist has none). `Outcome::Absent` when there is no such table.
pub fn list(family: u8, sets: &[&str], f: &mut dyn FnMut(Item<'_>)) -> Result<Outcome> {
    let mut d = Dumper::open()?;
    let mut table = None;
    d.dump(Dump::Tables, family, "", &mut |r| {
        if let Reply::Table {
            name: TABLE,
            handle,
            ..
        } = r
        {
            table = Some(handle);
        }
    })?;
    let Some(handle) = table else {
        return Ok(Outcome::Absent);
    };
    let family_name = family_name(family);
    f(Item::Table {
        family: family_name,
        name: TABLE,
        handle,
    });
    d.dump(Dump::Counters, family, "", &mut |r| {
        if let Reply::Counter {
            table: TABLE,
            name,
            packets,
            bytes,
        } = r
        {
            f(Item::Counter {
                name,
                packets,
                bytes,
            });
        }
    })?;
    for set in sets {
        d.dump(Dump::SetElems, family, set, &mut |r| set_elem(r, f))?;
    }
    Ok(Outcome::Done)
}

/// An element of an `ether_addr` set (netmon's only kind) as `nft` prints
/// it: the MAC as text.
fn set_elem(r: Reply<'_>, f: &mut dyn FnMut(Item<'_>)) {
    let Reply::SetElem {
        table: TABLE,
        set,
        key,
        packets,
        bytes,
    } = r
    else {
        return;
    };
    let Ok(mac) = <[u8; 6]>::try_from(key) else {
        return;
    };
    let mut text = heapless::String::<17>::new();
    if Mac(mac).write(&mut text).is_ok() {
        let key = text.as_str();
        f(Item::SetElem {
            set,
            key,
            packets,
            bytes,
        });
    }
}

/// A socket, a receive buffer and the sequence number of the last request.
struct Dumper {
    nl: Netlink,
    buf: Vec<u8>,
    seq: u32,
}

impl Dumper {
    fn open() -> Result<Dumper> {
        Ok(Dumper {
            nl: Netlink::netfilter().map_err(failed)?,
            buf: vec![0; DATAGRAM],
            seq: 0,
        })
    }

    /// Runs one dump to its end, every record to `f`. A set that does not
    /// exist is an empty dump; the ruleset changing during the dump, an
    /// error (the caller reads again, or with `nft`).
    fn dump(
        &mut self,
        what: Dump,
        family: u8,
        set: &str,
        f: &mut dyn FnMut(Reply<'_>),
    ) -> Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let req = request(what, family, self.seq, TABLE, set);
        self.nl.send(&req).map_err(failed)?;
        loop {
            let n = self.nl.recv(&mut self.buf).map_err(failed)?;
            let datagram = self.buf.get(..n).unwrap_or_default();
            match replies(datagram, what, self.seq, f) {
                Ok(Batch::More) => {}
                Ok(Batch::Done) => return Ok(()),
                Ok(Batch::Failed(ENOENT)) if what == Dump::SetElems => return Ok(()),
                Ok(Batch::Failed(e)) => return Err(failed(io::Error::from_raw_os_error(e))),
                Ok(Batch::Interrupted) => {
                    return Err(Error::runtime(
                        "netmon's table changed while it was read over netlink",
                    ))
                }
                Err(_) => {
                    return Err(Error::runtime(
                        "cannot understand the kernel's netlink answer about netmon's table",
                    ))
                }
            }
        }
    }
}

fn failed(e: io::Error) -> Error {
    Error::io("read", "netmon's tables over netlink", &e)
}
