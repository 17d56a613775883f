//! Streaming parsers of firewall tool output. (CONTRACT STUB: the parser
//! worker fills this in.)
//!
//! Each parser reads a child's stdout line by line through one fixed
//! buffer (`LineReader`), turns a borrowed view of each line into a small
//! record and hands it to a callback. Lines that are not understood and do
//! not matter are skipped; nothing panics and nothing allocates per line.

pub mod iptables;
pub mod nft;

use std::io;

/// Longest line kept; the rest of a longer line is discarded and the line is
/// flagged truncated (a truncated line is never one of netmon's own rules).
pub const MAX_LINE: usize = 4096;

/// A parse failure with the 1-based line number and (a prefix of) the line.
#[derive(Debug)]
pub enum ParseError {
    Io(io::Error),
    Syntax {
        line: u32,
        what: &'static str,
        text: heapless::String<80>,
    },
}
