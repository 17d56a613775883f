//! iptables backend (firewall3, or iptables-nft): per family (`iptables`,
//! `ip6tables`) three chains `netmon_in`/`netmon_out`/`netmon_fwd` in the
//! filter table, entered by one tagged jump at the top of INPUT/OUTPUT/
//! FORWARD, holding one target-less counting rule per meter.
//!
//! Rules are found by their `-m comment` tag, never by position; `-w`
//! waits for the xtables lock instead of failing while fw3 reloads.
//! fw3 reloads keep user chains; a restart drops them: `update` repairs.

use super::run::{Outcome, Runner};
use super::{tag, Digest, Observed};
use crate::error::Result;
use crate::meter::valid_name;
use crate::meter::{Family, Hook, Meter};
use crate::parse::iptables as p;
use crate::state::{add_count, Count, Counts};
use crate::text::Buf;

/// `JUMP_TAG` as a literal, for `concat!`.
macro_rules! jump_tag {
    () => {
        "netmon"
    };
}
/// Comment on the jump rules in the built-in chains.
pub const JUMP_TAG: &str = jump_tag!();
const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

pub fn chain(h: Hook) -> &'static str {
    match h {
        Hook::Input => "netmon_in",
        Hook::Output => "netmon_out",
        Hook::Forward => "netmon_fwd",
    }
}

pub(super) fn tool(f: Family) -> &'static str {
    match f {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

/// The match arguments of a meter's rule, each word followed by one
/// space: the tag hashes exactly this text, and argv is it split at the
/// spaces (no word holds one: `valid_ifname` refuses spaces, addresses and
/// protocol names have none).
pub fn match_args(m: &Meter, hook: Hook, b: &mut Buf) {
    for (c, flag) in [(&m.src, "-s "), (&m.dst, "-d ")] {
        if let Some(c) = c {
            if c.negate {
                b.push_bytes(b"! ");
            }
            b.push_bytes(flag.as_bytes());
            let _ = c.write_net(b);
            b.push_bytes(b" ");
        }
    }
    let iif = m.iif.as_deref().filter(|_| hook.has_iif());
    let oif = m.oif.as_deref().filter(|_| hook.has_oif());
    for (flag, v) in [
        ("-i ", iif),
        ("-o ", oif),
        ("-p ", m.proto.map(|p| p.as_str())),
    ] {
        if let Some(v) = v {
            b.push_bytes(flag.as_bytes());
            b.push_bytes(v.as_bytes());
            b.push_bytes(b" ");
        }
    }
}

/// Fills `mt` with a rule's match words (see `match_args`) and `tg` with
/// its tag.
fn rule_text(m: &Meter, hook: Hook, mt: &mut Buf, tg: &mut Buf) {
    mt.clear();
    tg.clear();
    match_args(m, hook, mt);
    tag(tg, &m.name, hook.as_str(), mt.as_bytes());
}

fn meters_for(meters: &[Meter], f: Family, h: Hook) -> impl Iterator<Item = &Meter> {
    meters
        .iter()
        .filter(move |m| m.hooks.contains(&h) && m.matches_family(f))
}

fn family_used(meters: &[Meter], f: Family) -> bool {
    meters.iter().any(|m| m.matches_family(f))
}

/// The iptables commands netmon runs on its chain for one hook.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `-N CHAIN`
    New,
    /// `-A CHAIN <match words> -m comment --comment TAG`
    Append,
    /// `-I BUILTIN 1 <jump>`
    Insert,
    /// `-D BUILTIN <jump>`
    Delete,
    /// `-F CHAIN`
    Flush,
    /// `-X CHAIN`
    Kill,
}

/// The argv of each op, split at spaces: `T` is the tool, `C` netmon's
/// chain, `B` the built-in chain, `W` the match words, `G` the rule's tag
/// (one string each: smaller than an argv array per call site).
fn spec(op: Op) -> &'static str {
    match op {
        Op::New => "T -w -t filter -N C",
        Op::Append => "T -w -t filter -A C W -m comment --comment G",
        Op::Insert => concat!(
            "T -w -t filter -I B 1 -m comment --comment ",
            jump_tag!(),
            " -j C"
        ),
        Op::Delete => concat!(
            "T -w -t filter -D B -m comment --comment ",
            jump_tag!(),
            " -j C"
        ),
        Op::Flush => "T -w -t filter -F C",
        Op::Kill => "T -w -t filter -X C",
    }
}

/// Runs `TOOL -w -t filter <op>` on netmon's chain for `h`: one builder
/// for every command. A failure is an error carrying stderr, except where
/// the op expects it: `Delete` (no jump left) and `Flush`/`Kill` of a
/// missing chain return `true`.
fn xt(r: &mut Runner, f: Family, h: Hook, op: Op, words: &str, tag: &str) -> Result<bool> {
    let c = chain(h);
    let mut a = Vec::new();
    for w in spec(op).split(' ') {
        let v = match *w.as_bytes() {
            [b'T'] => tool(f),
            [b'C'] => c,
            [b'B'] => h.builtin_chain(),
            [b'G'] => tag,
            [b'W'] => {
                a.extend(words.split_terminator(' '));
                continue;
            }
            _ => w,
        };
        a.push(v);
    }
    let Some(err) = r.try_change(&a)? else {
        return Ok(false);
    };
    match op {
        Op::Delete => Ok(true),
        Op::Flush | Op::Kill if no_such_chain(&err) => Ok(true),
        Op::Flush | Op::Kill => {
            let w = if op == Op::Flush { "-F" } else { "-X" };
            Err(super::run::failed(&[tool(f), w, c], &err))
        }
        _ => Err(super::run::failed(&a, &err)),
    }
}

pub fn install(meters: &[Meter], r: &mut Runner) -> Result<()> {
    remove(meters, r)?;
    let (mut mt, mut tg) = (Buf::new(), Buf::new());
    for &f in &FAMILIES {
        if !family_used(meters, f) {
            continue;
        }
        for &h in &Hook::ALL {
            if meters_for(meters, f, h).next().is_none() {
                continue;
            }
            xt(r, f, h, Op::New, "", "")?;
            for m in meters_for(meters, f, h) {
                rule_text(m, h, &mut mt, &mut tg);
                xt(r, f, h, Op::Append, mt.as_str(), tg.as_str())?;
            }
            // The jump goes in last: the chain is complete before traffic enters it.
            xt(r, f, h, Op::Insert, "", "")?;
        }
    }
    Ok(())
}

/// Most copies of the jump netmon removes from one built-in chain (a
/// crash between `-I` and saving could at worst leave a few).
pub(super) const MAX_JUMPS: usize = 8;

/// Removes netmon's jumps and chains in both families. Deleting by rule
/// specification (`-D CHAIN <the jump, with its tag>`) removes only rules
/// identical to netmon's own; chains that do not exist are not errors.
/// Only the families the meters use are touched: even a listing makes
/// legacy ip6tables load its filter table, which would change a ruleset
/// that is none of netmon's business.
pub fn remove(meters: &[Meter], r: &mut Runner) -> Result<()> {
    for &f in &FAMILIES {
        if !family_used(meters, f) {
            continue;
        }
        for &h in &Hook::ALL {
            for _ in 0..MAX_JUMPS {
                if xt(r, f, h, Op::Delete, "", "")? || r.dry_run {
                    break;
                }
            }
            xt(r, f, h, Op::Flush, "", "")?;
            xt(r, f, h, Op::Kill, "", "")?;
        }
    }
    Ok(())
}

pub(super) fn no_such_chain(stderr: &str) -> bool {
    use crate::text::contains;
    contains(stderr, "No chain/target/match by that name") || contains(stderr, "does not exist")
}

/// What one family's listing showed besides the counters.
struct FamilySeen {
    digests: [Digest; 3],
    jumps: [u32; 3],
    present: bool,
}

/// Reads one family's listing, adding its counters into `obs`; whether its
/// rules are exactly the configured ones (false in dry-run).
fn read_family(meters: &[Meter], f: Family, r: &mut Runner, obs: &mut Observed) -> Result<bool> {
    let argv: &[&str] = match f {
        Family::V4 => &["iptables", "-w", "-t", "filter", "-L", "-n", "-v", "-x"],
        Family::V6 => &["ip6tables", "-w", "-t", "filter", "-L", "-n", "-v", "-x"],
    };
    let mut s = FamilySeen {
        digests: [Digest::default(); 3],
        jumps: [0; 3],
        present: false,
    };
    let counts = &mut obs.counts;
    let out = r.read_checked(argv, None, &mut |rd| {
        p::parse_list(rd, |rule| observe(&mut s, counts, rule))
    })?;
    if out != Outcome::Done {
        return Ok(false); // dry run
    }
    obs.present |= s.present;
    let want = expected(meters, f);
    let jumps_ok = (0..3).all(|i| s.jumps[i] == u32::from(want[i].n > 0));
    Ok(jumps_ok && s.digests == want)
}

/// Counters add up across rules and families (saturating: the order of
/// the additions does not matter).
fn observe(s: &mut FamilySeen, counts: &mut Counts, rule: p::Rule<'_>) {
    let Some(comment) = rule.comment else { return };
    for &h in &Hook::ALL {
        if rule.chain == h.builtin_chain() && comment == JUMP_TAG && rule.target == chain(h) {
            s.jumps[h.index()] += 1;
            s.present = true;
        }
        if rule.chain == chain(h) {
            s.digests[h.index()].add(comment.as_bytes());
            s.present = true;
            if let Some(n) = super::tag_meter(comment).filter(|n| valid_name(n)) {
                add_count(counts, n, Count::new(rule.packets, rule.bytes));
            }
        }
    }
}

fn expected(meters: &[Meter], f: Family) -> [Digest; 3] {
    let mut d = [Digest::default(); 3];
    let (mut mt, mut tg) = (Buf::new(), Buf::new());
    for &h in &Hook::ALL {
        for m in meters_for(meters, f, h) {
            rule_text(m, h, &mut mt, &mut tg);
            d[h.index()].add(tg.as_bytes());
        }
    }
    d
}

/// Fills `obs` (as `Observed::default` makes it).
pub fn read(meters: &[Meter], r: &mut Runner, obs: &mut Observed) -> Result<()> {
    obs.installed = true;
    for &f in &FAMILIES {
        if family_used(meters, f) && !read_family(meters, f, r, obs)? {
            obs.installed = false;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::Cidr;

    #[test]
    fn blog_offnet_rule_args() {
        let m = Meter {
            name: "offnet".try_into().unwrap(),
            hooks: [Hook::Input].into_iter().collect(),
            link: None,
            src: Some(Cidr::parse("!192.168.1.0/24").unwrap()),
            dst: None,
            iif: None,
            oif: Some("eth1".try_into().unwrap()),
            proto: None,
        };
        // oif is dropped on input: the config refuses that combination, and
        // the backend never emits an -o the kernel would reject on INPUT.
        let mut b = Buf::new();
        match_args(&m, Hook::Input, &mut b);
        assert_eq!(b.as_str(), "! -s 192.168.1.0/24 ");
        assert!(m.matches_family(Family::V4));
        assert!(!m.matches_family(Family::V6));
    }
}
