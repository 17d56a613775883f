//! State loader on arbitrary bytes: must never panic, and whatever it
//! accepts must be canonical: encoding the decoded state gives back the
//! very same bytes (so a file that passes the checks means one thing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon::state::State;

fuzz_target!(|data: &[u8]| {
    if let Ok(st) = State::decode(data) {
        assert_eq!(st.encode(), data, "accepted bytes do not re-encode to themselves");
        assert_eq!(State::decode(&st.encode()), Ok(st));
    }
});
