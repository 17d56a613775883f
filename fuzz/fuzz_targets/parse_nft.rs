//! `nft list` text parser on arbitrary bytes: must never panic, and the
//! items must not depend on how the input is split into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon::parse::nft;
use std::io::BufReader;

fn items(data: &[u8], cap: usize) -> (Vec<String>, bool) {
    let mut v = Vec::new();
    let ok = nft::parse(BufReader::with_capacity(cap, data), |i| v.push(format!("{i:?}"))).is_ok();
    (v, ok)
}

fuzz_target!(|data: &[u8]| {
    let whole = items(data, 1 << 16);
    assert_eq!(items(data, 3), whole);
});
