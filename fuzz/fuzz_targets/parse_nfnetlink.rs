//! The netlink reader of nftables dumps (`parse::nfnetlink::replies`) on
//! arbitrary datagrams, for each kind of dump: must never panic nor loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon::parse::nfnetlink::{replies, Dump};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the sequence number the reader waits for.
    let Some((&seq, datagram)) = data.split_first() else {
        return;
    };
    for what in [Dump::Tables, Dump::Counters, Dump::SetElems] {
        let mut n = 0usize;
        let _ = replies(datagram, what, u32::from(seq), &mut |_| n += 1);
        assert!(n <= datagram.len(), "more records than bytes");
    }
});
