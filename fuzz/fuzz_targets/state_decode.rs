//! State loader on arbitrary bytes: must never panic, and whatever it
//! accepts must be canonical: encoding the decoded state gives back the
//! very same bytes (so a file that passes the checks means one thing).
//! An older version's file is upgraded, so only its decoding must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon::state::{State, VERSION};

fuzz_target!(|data: &[u8]| {
    if let Ok(st) = State::decode(data) {
        let again = st.encode();
        if data.get(4..6) == Some(&VERSION.to_le_bytes()[..]) {
            assert_eq!(again, data, "accepted bytes do not re-encode to themselves");
        }
        assert_eq!(State::decode(&again), Ok(st));
    }
});
