//! iptables backend (firewall3, or iptables-nft): per family (`iptables`,
//! `ip6tables`) three chains `netmon_in`/`netmon_out`/`netmon_fwd` in the
//! filter table, entered by one tagged jump at the top of INPUT/OUTPUT/
//! FORWARD, holding one target-less counting rule per meter.
//!
//! Rules are found by their `-m comment` tag, never by position; `-w`
//! waits for the xtables lock instead of failing while fw3 reloads.
//! fw3 reloads keep user chains; a restart drops them: `update` repairs.

use super::run::Runner;
use super::{meter_index, parse_failed, tag, Digest, Observed};
use crate::error::Result;
use crate::meter::{Family, Hook, Meter};
use crate::out::Buf;
use crate::parse::iptables as p;
use crate::state::Count;

/// Comment on the jump rules in the built-in chains.
pub const JUMP_TAG: &str = "netmon";
const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

pub fn chain(h: Hook) -> &'static str {
    match h {
        Hook::Input => "netmon_in",
        Hook::Output => "netmon_out",
        Hook::Forward => "netmon_fwd",
    }
}

fn tool(f: Family) -> &'static str {
    match f {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

/// The match arguments of a meter's rule, as argv words.
pub fn match_args(m: &Meter, hook: Hook) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut net = |neg: bool, flag: &str, c: &crate::meter::Cidr| {
        let mut b = Buf::new();
        let _ = c.write_net(&mut b);
        if neg {
            a.push("!".into());
        }
        a.push(flag.into());
        a.push(b.as_str().into());
    };
    if let Some(c) = &m.src {
        net(c.negate, "-s", c);
    }
    if let Some(c) = &m.dst {
        net(c.negate, "-d", c);
    }
    if let (Some(i), true) = (&m.iif, hook.has_iif()) {
        a.push("-i".into());
        a.push(i.as_str().into());
    }
    if let (Some(o), true) = (&m.oif, hook.has_oif()) {
        a.push("-o".into());
        a.push(o.as_str().into());
    }
    if let Some(p) = m.proto {
        a.push("-p".into());
        a.push(p.as_str().into());
    }
    a
}

fn rule_tag(m: &Meter, hook: Hook, args: &[String]) -> Buf {
    let mut joined = Buf::new();
    for w in args {
        joined.push_bytes(w.as_bytes());
        joined.push_bytes(b" ");
    }
    let mut t = Buf::new();
    tag(&mut t, &m.name, hook.as_str(), joined.as_bytes());
    t
}

fn meters_for(meters: &[Meter], f: Family, h: Hook) -> impl Iterator<Item = &Meter> {
    meters
        .iter()
        .filter(move |m| m.hooks.contains(&h) && m.matches_family(f))
}

fn family_used(meters: &[Meter], f: Family) -> bool {
    meters.iter().any(|m| m.matches_family(f))
}

pub fn install(meters: &[Meter], r: &mut Runner) -> Result<()> {
    remove(meters, r)?;
    for f in FAMILIES {
        if !family_used(meters, f) {
            continue;
        }
        for h in Hook::ALL {
            install_chain(meters, f, h, r)?;
        }
    }
    Ok(())
}

fn install_chain(meters: &[Meter], f: Family, h: Hook, r: &mut Runner) -> Result<()> {
    let (t, c) = (tool(f), chain(h));
    if meters_for(meters, f, h).next().is_none() {
        return Ok(());
    }
    r.change(&[t, "-w", "-t", "filter", "-N", c])?;
    for m in meters_for(meters, f, h) {
        let args = match_args(m, h);
        let tg = rule_tag(m, h, &args);
        let mut argv: Vec<&str> = vec![t, "-w", "-t", "filter", "-A", c];
        argv.extend(args.iter().map(String::as_str));
        argv.extend(["-m", "comment", "--comment", tg.as_str()]);
        r.change(&argv)?;
    }
    // The jump goes in last: the chain is complete before traffic enters it.
    let b = h.builtin_chain();
    r.change(&[
        t,
        "-w",
        "-t",
        "filter",
        "-I",
        b,
        "1",
        "-m",
        "comment",
        "--comment",
        JUMP_TAG,
        "-j",
        c,
    ])
}

/// Most copies of the jump netmon removes from one built-in chain (a
/// crash between `-I` and saving could at worst leave a few).
const MAX_JUMPS: usize = 8;

/// Removes netmon's jumps and chains in both families. Deleting by rule
/// specification (`-D CHAIN <the jump, with its tag>`) removes only rules
/// identical to netmon's own; chains that do not exist are not errors.
/// Only the families the meters use are touched: even a listing makes
/// legacy ip6tables load its filter table, which would change a ruleset
/// that is none of netmon's business.
pub fn remove(meters: &[Meter], r: &mut Runner) -> Result<()> {
    for f in FAMILIES {
        let t = tool(f);
        if !family_used(meters, f) {
            continue;
        }
        for h in Hook::ALL {
            let b = h.builtin_chain();
            for _ in 0..MAX_JUMPS {
                let argv = [
                    t,
                    "-w",
                    "-t",
                    "filter",
                    "-D",
                    b,
                    "-m",
                    "comment",
                    "--comment",
                    JUMP_TAG,
                    "-j",
                    chain(h),
                ];
                if r.try_change(&argv)?.is_some() || r.dry_run {
                    break;
                }
            }
            for op in ["-F", "-X"] {
                if let Some(err) = r.try_change(&[t, "-w", "-t", "filter", op, chain(h)])? {
                    if !no_such_chain(&err) {
                        return Err(super::run::failed(&[t, op, chain(h)], &err));
                    }
                }
            }
        }
    }
    Ok(())
}

fn no_such_chain(stderr: &str) -> bool {
    stderr.contains("No chain/target/match by that name") || stderr.contains("does not exist")
}

/// What one family's listing showed.
struct FamilySeen {
    counts: heapless::Vec<Count, { crate::meter::MAX_METERS }>,
    digests: [Digest; 3],
    jumps: [u32; 3],
    present: bool,
}

fn read_family(meters: &[Meter], f: Family, r: &mut Runner) -> Result<Option<FamilySeen>> {
    let t = tool(f);
    let argv = [t, "-w", "-t", "filter", "-L", "-n", "-v", "-x"];
    let mut s = FamilySeen {
        counts: Observed::empty(meters.len()).counts,
        digests: [Digest::default(); 3],
        jumps: [0; 3],
        present: false,
    };
    let res = r.read(&argv, |rd| {
        p::parse_list(rd, |rule| observe(meters, &mut s, rule))
    })?;
    let Some((parsed, ended)) = res else {
        return Ok(None);
    };
    if !ended.ok {
        return Err(super::run::failed(&argv, &ended.stderr));
    }
    parsed.map_err(|e| parse_failed(t, e))?;
    Ok(Some(s))
}

fn observe(meters: &[Meter], s: &mut FamilySeen, rule: p::Rule<'_>) {
    let Some(comment) = rule.comment else { return };
    for h in Hook::ALL {
        if rule.chain == h.builtin_chain() && comment == JUMP_TAG && rule.target == chain(h) {
            s.jumps[h.index()] += 1;
            s.present = true;
        }
        if rule.chain == chain(h) {
            s.digests[h.index()].add(comment.as_bytes());
            s.present = true;
            let idx = super::tag_meter(comment).and_then(|n| meter_index(meters, n));
            if let Some(c) = idx.and_then(|i| s.counts.get_mut(i)) {
                *c = c.saturating_add(Count::new(rule.packets, rule.bytes));
            }
        }
    }
}

fn expected(meters: &[Meter], f: Family) -> [Digest; 3] {
    let mut d = [Digest::default(); 3];
    for h in Hook::ALL {
        for m in meters_for(meters, f, h) {
            let args = match_args(m, h);
            d[h.index()].add(rule_tag(m, h, &args).as_bytes());
        }
    }
    d
}

pub fn read(meters: &[Meter], r: &mut Runner) -> Result<Observed> {
    let mut obs = Observed::empty(meters.len());
    obs.installed = true;
    for f in FAMILIES {
        if !family_used(meters, f) {
            continue;
        }
        let Some(s) = read_family(meters, f, r)? else {
            obs.installed = false;
            continue;
        };
        let want = expected(meters, f);
        let jumps_ok = (0..3).all(|i| s.jumps[i] == u32::from(want[i].n > 0));
        obs.installed &= jumps_ok && s.digests == want;
        obs.present |= s.present;
        for (o, c) in obs.counts.iter_mut().zip(s.counts.iter()) {
            *o = o.saturating_add(*c);
        }
    }
    Ok(obs)
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
            src: Some(Cidr::parse("!192.168.1.0/24").unwrap()),
            dst: None,
            iif: None,
            oif: Some("eth1".try_into().unwrap()),
            proto: None,
        };
        // oif is dropped on input: the config refuses that combination, and
        // the backend never emits an -o the kernel would reject on INPUT.
        assert_eq!(match_args(&m, Hook::Input), ["!", "-s", "192.168.1.0/24"]);
        assert!(m.matches_family(Family::V4));
        assert!(!m.matches_family(Family::V6));
    }
}
