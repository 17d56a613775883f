//! iptables output parsers. (CONTRACT STUB)

use super::ParseError;
use std::io::BufRead;

/// One rule with its counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rule<'a> {
    pub chain: &'a str,
    pub packets: u64,
    pub bytes: u64,
    /// Jump/goto target, `""` when none.
    pub target: &'a str,
    /// Text of `-m comment` (`/* x */` in -L output, `--comment x` in save).
    pub comment: Option<&'a str>,
}

/// `iptables -w -t filter -L -n -v -x [--line-numbers]`.
pub fn parse_list<R: BufRead>(r: R, mut f: impl FnMut(Rule<'_>)) -> Result<(), ParseError> {
    let _ = (r, &mut f);
    Ok(())
}

/// `iptables-save -c`.
pub fn parse_save<R: BufRead>(r: R, mut f: impl FnMut(Rule<'_>)) -> Result<(), ParseError> {
    let _ = (r, &mut f);
    Ok(())
}
