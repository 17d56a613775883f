//! iptables `-L` and `-save` parsers on arbitrary bytes: must never panic,
//! and the rules must not depend on how the input is split into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon::parse::iptables;
use std::io::BufReader;

fn rules(data: &[u8], cap: usize, save: bool) -> (Vec<String>, bool) {
    let mut v = Vec::new();
    let r = BufReader::with_capacity(cap, data);
    let ok = if save {
        iptables::parse_save(r, |x| v.push(format!("{x:?}"))).is_ok()
    } else {
        iptables::parse_list(r, |x| v.push(format!("{x:?}"))).is_ok()
    };
    (v, ok)
}

fuzz_target!(|data: &[u8]| {
    for save in [false, true] {
        let whole = rules(data, 1 << 16, save);
        assert_eq!(rules(data, 3, save), whole);
    }
});
