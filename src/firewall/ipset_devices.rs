//! iptables per-device accounting (firewall3 routers): ipset sets with a
//! counter per element, filled and counted by rules in netmon's own chains
//! `netmon_dev_in`/`netmon_dev_out`/`netmon_dev_fwd` (both families), each
//! entered by a jump at the top of INPUT/OUTPUT/FORWARD tagged `netmon`.
//!
//! iptables has no netdev hooks, and the destination MAC of a packet is not
//! known yet where iptables sees it, so both directions are keyed by the
//! device's IP address (`hash:ip`, one set per family and direction:
//! `netmon_up4`, `netmon_up6`, `netmon_dn4`, `netmon_dn6`, `maxelem` the
//! configured `max_devices`). The reading hands each address's counters
//! to the state with the MAC the LAN's neighbour tables (`/proc/net/arp`,
//! `ip -6 neigh show`) give it now; the state remembers every address's
//! owner and last counters (`State::addrs`), so an address whose neighbour
//! entry expires stays with its device, and only an address's growth is
//! ever counted, to one device. (`hash:mac` would key the
//! upload side by MAC directly, but kernels built without
//! `ip_set_hash_mac` refuse it; one key for both sides works everywhere.)
//!
//! Per direction, four rules with the same match: `-m set --match-set
//! ... -j RETURN` (the match adds the packet to the element's counters),
//! `-j SET --add-set` (a new element starts with the packet that created
//! it counted; no `--exist`: re-adding an existing element with it
//! re-initialises its counters), `-m set --match-set ... !
//! --update-counters -j RETURN` (the add worked: done, not counted again)
//! and a target-less rule that counts what did not fit (a full set refuses
//! the add silently, so the second match fails and the packet falls
//! through): devices + other = everything counted.
//!
//! What counts is what the nft backend counts: IPv4 and IPv6 between a LAN
//! device and the router, routed (FORWARD, in on the bridge and not out on
//! it, or the reverse) or for the router itself (INPUT in on the bridge,
//! OUTPUT out on it). With `br_netfilter` (kmod-br-netfilter) bridged
//! LAN-to-LAN frames traverse FORWARD with `-i br-lan -o br-lan`: the
//! `! -o`/`! -i` leave them out. Broadcast and multicast are left out by
//! the frame's type on the way in (`-m pkttype --pkt-type unicast`) and by
//! the destination address on the way out (IPv4 `-m addrtype --dst-type
//! UNICAST`, IPv6 `! -d ff00::/8`): a locally sent packet has no frame
//! type yet. iptables counts IP bytes, as the meters do.
//!
//! The sets are netmon's marker: install creates them before the chains
//! and remove destroys them after, and a set cannot be destroyed while a
//! rule uses it, so without the sets there is nothing of netmon's here. So
//! a router without devices never has its ip6tables filter table touched
//! (legacy ip6tables loads it at the first listing).

use super::iptables::{no_such_chain, tool, JUMP_TAG, MAX_JUMPS};
use super::nft_netdev::Found;
use super::run::{Outcome, Runner};
use super::{tag, Digest};
use crate::device::{Lan, Mac};
use crate::error::{Error, Result};
use crate::meter::Family;
use crate::parse::ipset::{self as ps, Item, Key};
use crate::parse::{iptables as pi, LineReader};
use crate::state::{AddrCount, Count, DownUp};
use crate::sys;
use crate::text::Buf;
use core::net::{IpAddr, Ipv6Addr};
use std::collections::BTreeMap;

/// The sets: name, family, counts upload (else download).
const SETS: [(&str, Family, bool); 4] = [
    ("netmon_up4", Family::V4, true),
    ("netmon_up6", Family::V6, true),
    ("netmon_dn4", Family::V4, false),
    ("netmon_dn6", Family::V6, false),
];
const FAMILIES: [Family; 2] = [Family::V4, Family::V6];
/// netmon's chains and the built-in chain that jumps to each.
const CHAINS: [(&str, &str); 3] = [
    ("netmon_dev_in", "INPUT"),
    ("netmon_dev_out", "OUTPUT"),
    ("netmon_dev_fwd", "FORWARD"),
];
/// What an install says when ipset is missing.
const NO_IPSET: &str = "per-device accounting on the iptables backend needs ipset: install it \
                        (opkg install ipset kmod-ipt-ipset)";

/// What a counting rule does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    /// Adds to or counts in a set.
    Set,
    /// Counts what the set had no room for; upload (else download).
    Other(bool),
}

pub(super) fn family_word(f: Family) -> &'static str {
    match f {
        Family::V4 => "inet",
        Family::V6 => "inet6",
    }
}

/// One rule: its chain (index into `CHAINS`), match words, target words
/// (each word followed by a space, none holding one: an interface name
/// has none), tag and role.
struct Rule<'a> {
    chain: usize,
    matches: &'a str,
    target: &'a str,
    tag: &'a str,
    role: Role,
}

/// Calls `f` for each rule of family `fam`, in order. The tag hashes the
/// family, the words and the set size (every tag differs), so a new bridge or size reads as stale and
/// reinstalls.
fn each_rule(lan: &Lan, fam: Family, mut f: impl FnMut(Rule<'_>)) {
    let br = lan.bridge.as_str();
    let unicast_in = "-m pkttype --pkt-type unicast ";
    let unicast_out = match fam {
        Family::V4 => "-m addrtype --dst-type UNICAST ",
        Family::V6 => "! -d ff00::/8 ",
    };
    let (up, dn) = match fam {
        Family::V4 => ("netmon_up4 ", "netmon_dn4 "),
        Family::V6 => ("netmon_up6 ", "netmon_dn6 "),
    };
    // (chain, words around the bridge name, the set and its key, upload)
    let parts: [(usize, [&str; 3], &str, &str, bool); 4] = [
        (0, ["-i ", " ", unicast_in], up, "src ", true),
        (1, ["-o ", " ", unicast_out], dn, "dst ", false),
        (2, ["-i ", " ! -o ", unicast_in], up, "src ", true),
        (2, ["! -i ", " -o ", unicast_out], dn, "dst ", false),
    ];
    let (mut sel, mut m, mut t, mut key, mut tg) =
        (Buf::new(), Buf::new(), Buf::new(), Buf::new(), Buf::new());
    for (chain, around, set, side, is_up) in parts {
        sel.clear();
        sel.push_bytes(around[0].as_bytes());
        sel.push_bytes(br.as_bytes());
        sel.push_bytes(around[1].as_bytes());
        if chain == 2 {
            sel.push_bytes(br.as_bytes());
            sel.push_bytes(b" ");
        }
        sel.push_bytes(around[2].as_bytes());
        let rules: [(&[&str], &[&str], Role); 4] = [
            (
                &["-m set --match-set ", set, side],
                &["-j RETURN "],
                Role::Set,
            ),
            (&[], &["-j SET --add-set ", set, side], Role::Set),
            (
                &["-m set --match-set ", set, side, "! --update-counters "],
                &["-j RETURN "],
                Role::Set,
            ),
            (&[], &[], Role::Other(is_up)),
        ];
        for (extra, target, role) in rules {
            m.clear();
            m.push_bytes(sel.as_bytes());
            t.clear();
            for w in extra {
                m.push_bytes(w.as_bytes());
            }
            for w in target {
                t.push_bytes(w.as_bytes());
            }
            key.clear();
            key.push_bytes(family_word(fam).as_bytes());
            key.push_bytes(b" ");
            key.push_bytes(m.as_bytes());
            key.push_bytes(t.as_bytes());
            key.fill("size {}", &[crate::text::num(u64::from(lan.max)).as_str()]);
            tg.clear();
            tag(&mut tg, "devices", CHAINS[chain].1, key.as_bytes());
            f(Rule {
                chain,
                matches: m.as_str(),
                target: t.as_str(),
                tag: tg.as_str(),
                role,
            });
        }
    }
}

/// Expected digests of the three chains of one family.
fn expected(lan: &Lan, fam: Family) -> [Digest; 3] {
    let mut d = [Digest::default(); 3];
    each_rule(lan, fam, |r| {
        if let Some(x) = d.get_mut(r.chain) {
            x.add(r.tag.as_bytes())
        }
    });
    d
}

/// The role of the rule tagged `tag` in `chain` of `fam`, if it is one
/// `lan` wants.
fn role_of(lan: &Lan, fam: Family, chain: usize, tag: &str) -> Option<Role> {
    let mut found = None;
    each_rule(lan, fam, |r| {
        if r.chain == chain && r.tag == tag {
            found = Some(r.role);
        }
    });
    found
}

pub(super) fn ipset_installed() -> bool {
    super::in_path(&sys::getenv(c"PATH").unwrap_or_default(), "ipset")
}

/// Runs `TOOL -w -t filter WORDS...` (split at spaces); its stderr when it
/// failed.
fn xt(r: &mut Runner, f: Family, words: &[&str]) -> Result<Option<String>> {
    let mut argv = vec![tool(f), "-w", "-t", "filter"];
    for w in words {
        argv.extend(w.split_terminator(' ').filter(|w| !w.is_empty()));
    }
    r.try_change(&argv)
}

pub(super) fn xt_ok(r: &mut Runner, f: Family, words: &[&str]) -> Result<()> {
    match xt(r, f, words)? {
        None => Ok(()),
        Some(err) => {
            let mut argv = vec![tool(f)];
            argv.extend(words.iter().flat_map(|w| w.split_terminator(' ')));
            Err(super::run::failed(&argv, &err))
        }
    }
}

/// Creates the sets, then the chains and their rules, then the jumps
/// (traffic enters a complete chain), after removing whatever of netmon's
/// device setup was there. `None`: only the removal.
pub fn install(lan: Option<&Lan>, r: &mut Runner) -> Result<()> {
    remove(r)?;
    let Some(lan) = lan else { return Ok(()) };
    if !r.dry_run && !ipset_installed() {
        return Err(Error::runtime(NO_IPSET));
    }
    let size = crate::text::num(u64::from(lan.max));
    for (set, fam, _) in SETS {
        create_set(r, set, fam, size.as_str(), true)?;
    }
    for fam in FAMILIES {
        for (chain, _) in CHAINS {
            xt_ok(r, fam, &["-N ", chain])?;
        }
        let mut failed = Ok(());
        each_rule(lan, fam, |rule| {
            if failed.is_ok() {
                let chain = CHAINS[rule.chain].0;
                let words = [
                    "-A ",
                    chain,
                    " ",
                    rule.matches,
                    "-m comment --comment ",
                    rule.tag,
                    " ",
                    rule.target,
                ];
                failed = xt_ok(r, fam, &words);
            }
        });
        failed?;
        for (chain, builtin) in CHAINS {
            let jump = [
                "-I ",
                builtin,
                " 1 -m comment --comment ",
                JUMP_TAG,
                " -j ",
                chain,
            ];
            xt_ok(r, fam, &jump)?;
        }
    }
    Ok(())
}

/// Creates `hash:ip` set `set` of family `fam` holding at most `maxelem`
/// addresses, with a counter per element when `counters`.
pub(super) fn create_set(
    r: &mut Runner,
    set: &str,
    fam: Family,
    maxelem: &str,
    counters: bool,
) -> Result<()> {
    let argv = [
        "ipset",
        "create",
        set,
        "hash:ip",
        "family",
        family_word(fam),
        "maxelem",
        maxelem,
        "counters",
    ];
    let n = if counters { argv.len() } else { argv.len() - 1 };
    r.change(&argv[..n])
}

/// Deletes netmon's jumps from `builtin` to `chain` (by their full
/// specification: only rules identical to netmon's), then flushes and
/// deletes `chain`; what is not there is not an error.
pub(super) fn remove_chain(r: &mut Runner, fam: Family, builtin: &str, chain: &str) -> Result<()> {
    let jump = [
        "-D ",
        builtin,
        " -m comment --comment ",
        JUMP_TAG,
        " -j ",
        chain,
    ];
    for _ in 0..MAX_JUMPS {
        if xt(r, fam, &jump)?.is_some() || r.dry_run {
            break;
        }
    }
    for op in ["-F ", "-X "] {
        if let Some(err) = xt(r, fam, &[op, chain])? {
            if !no_such_chain(&err) {
                return Err(super::run::failed(&[tool(fam), op.trim_end(), chain], &err));
            }
        }
    }
    Ok(())
}

/// Removes the jumps, chains and sets, when netmon's sets exist (see the
/// module doc); a no-op otherwise, and without ipset.
pub fn remove(r: &mut Runner) -> Result<()> {
    if !r.dry_run && (!ipset_installed() || existing_sets(r)?.iter().all(|e| !e)) {
        return Ok(());
    }
    for fam in FAMILIES {
        for (chain, builtin) in CHAINS {
            remove_chain(r, fam, builtin, chain)?;
        }
    }
    for (set, _, _) in SETS {
        if let Some(err) = r.try_change(&["ipset", "destroy", set])? {
            if !crate::text::contains(&err, "does not exist") {
                return Err(super::run::failed(&["ipset", "destroy", set], &err));
            }
        }
    }
    Ok(())
}

/// Which of `SETS` exist (`ipset list -n`).
fn existing_sets(r: &mut Runner) -> Result<[bool; 4]> {
    let mut found = [false; 4];
    r.read_checked(&["ipset", "list", "-n"], None, &mut |rd| {
        let mut lines = LineReader::new(rd);
        while let Some(l) = lines.next_line()? {
            if let Some(i) = SETS.iter().position(|s| s.0 == l.text.trim_ascii()) {
                found[i] = true;
            }
        }
        Ok(())
    })?;
    Ok(found)
}

/// One set as read: whether it is as `lan` wants it, and its members.
#[derive(Default)]
struct SetRead {
    present: bool,
    as_configured: bool,
    members: Vec<(Key, Count)>,
}

/// `ipset save SET`; `None` in dry-run.
fn read_set(r: &mut Runner, set: &str, fam: Family, lan: &Lan) -> Result<Option<SetRead>> {
    let mut s = SetRead::default();
    let argv = ["ipset", "save", set];
    let out = r.read_checked(&argv, Some("does not exist"), &mut |rd| {
        ps::parse_save(rd, |item| match item {
            Item::Create {
                set: name,
                kind,
                family,
                maxelem,
                counters,
            } if name == set => {
                s.present = true;
                s.as_configured = kind == "hash:ip"
                    && family == Some(family_word(fam))
                    && maxelem == Some(u64::from(lan.max))
                    && counters;
            }
            Item::Member {
                set: name,
                key,
                packets,
                bytes,
            } if name == set => s.members.push((key, Count::new(packets, bytes))),
            _ => {}
        })
    })?;
    Ok(match out {
        Outcome::DryRun => None,
        Outcome::Absent => Some(SetRead::default()),
        Outcome::Done => Some(s),
    })
}

/// What one family's listing showed.
#[derive(Default)]
struct ChainsRead {
    digests: [Digest; 3],
    jumps: [u32; 3],
    present: bool,
    other_up: Count,
    other_down: Count,
}

fn read_chains(r: &mut Runner, fam: Family, lan: &Lan) -> Result<Option<ChainsRead>> {
    let mut c = ChainsRead::default();
    let argv = [tool(fam), "-w", "-t", "filter", "-L", "-n", "-v", "-x"];
    let out = r.read_checked(&argv, None, &mut |rd| {
        pi::parse_list(rd, |rule| {
            let Some(comment) = rule.comment else { return };
            for (i, (chain, builtin)) in CHAINS.iter().enumerate() {
                if rule.chain == *builtin && comment == JUMP_TAG && rule.target == *chain {
                    c.jumps[i] += 1;
                    c.present = true;
                }
                if rule.chain != *chain {
                    continue;
                }
                c.digests[i].add(comment.as_bytes());
                c.present = true;
                let n = Count::new(rule.packets, rule.bytes);
                match role_of(lan, fam, i, comment) {
                    Some(Role::Other(true)) => c.other_up = c.other_up.saturating_add(n),
                    Some(Role::Other(false)) => c.other_down = c.other_down.saturating_add(n),
                    _ => {}
                }
            }
        })
    })?;
    Ok((out == Outcome::Done).then_some(c))
}

/// The LAN's neighbours (`lan` `None`: every interface's), IP to MAC,
/// sorted by IP.
fn neighbours(r: &mut Runner, lan: Option<&Lan>) -> Vec<(IpAddr, Mac)> {
    let mut out: Vec<(IpAddr, Mac)> = super::neigh::read(r, lan)
        .into_iter()
        .map(|n| (n.ip, n.mac))
        .collect();
    out.sort_unstable();
    out.dedup_by_key(|e| e.0);
    out
}

fn mac_of(key: Key, neigh: &[(IpAddr, Mac)]) -> Option<Mac> {
    match key {
        Key::Mac(m) => Some(m),
        Key::Ip(ip) => neigh
            .binary_search_by_key(&ip, |e| e.0)
            .ok()
            .and_then(|i| neigh.get(i))
            .map(|e| e.1),
    }
}

/// Reads the per-device counters. With `lan` `None` (devices off),
/// `installed` means nothing of netmon's device setup is there.
pub fn read(lan: Option<&Lan>, r: &mut Runner) -> Result<Found> {
    let mut found = Found::default();
    let Some(lan) = lan else {
        if !r.dry_run && ipset_installed() {
            found.present = existing_sets(r)?.iter().any(|e| *e);
        }
        found.installed = !found.present;
        return Ok(found);
    };
    if !r.dry_run && !ipset_installed() {
        return Ok(found);
    }
    let mut sets = Vec::new();
    for (set, fam, _) in SETS {
        let Some(s) = read_set(r, set, fam, lan)? else {
            return Ok(found); // dry run
        };
        sets.push(s);
    }
    found.present = sets.iter().any(|s| s.present);
    if !found.present {
        return Ok(found);
    }
    let mut ok = sets.iter().all(|s| s.as_configured);
    let mut other = DownUp::default();
    for fam in FAMILIES {
        let Some(c) = read_chains(r, fam, lan)? else {
            return Ok(found);
        };
        ok &= c.digests == expected(lan, fam) && c.jumps == [1; 3];
        other = DownUp::new(
            other.down.saturating_add(c.other_down),
            other.up.saturating_add(c.other_up),
        );
    }
    found.installed = ok;
    found.devices.on = true;
    // The firewall's own "other" counters, under an address no set holds.
    found.devices.addrs.push(AddrCount {
        ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        mac: Some(Mac::OTHER),
        down: other.down,
        up: other.up,
    });
    let neigh = neighbours(r, Some(lan));
    // Per address: its (down, up) counters; the state maps them to MACs.
    let mut per: BTreeMap<IpAddr, (Count, Count)> = BTreeMap::new();
    for ((_, _, is_up), s) in SETS.iter().zip(sets) {
        for (key, n) in s.members {
            let Key::Ip(ip) = key else { continue };
            let e = per.entry(ip).or_default();
            let slot = if *is_up { &mut e.1 } else { &mut e.0 };
            *slot = slot.saturating_add(n);
        }
    }
    for (ip, (down, up)) in per {
        let mac = mac_of(Key::Ip(ip), &neigh).filter(Mac::is_device);
        found.devices.addrs.push(AddrCount { ip, mac, down, up });
    }
    Ok(found)
}

/// Deletes the set elements of the addresses that map to `macs` now (the
/// neighbour tables of every interface), whatever set holds them.
pub fn prune(macs: &[(Mac, bool, bool)], r: &mut Runner) -> Result<()> {
    if macs.is_empty() || (!r.dry_run && !ipset_installed()) {
        return Ok(());
    }
    let mut gone: Vec<Mac> = macs.iter().map(|m| m.0).collect();
    gone.sort_unstable();
    let neigh = neighbours(r, None);
    for (set, _, _) in SETS {
        let mut keys = Vec::new();
        r.read_checked(&["ipset", "save", set], Some("does not exist"), &mut |rd| {
            ps::parse_save(rd, |item| {
                if let Item::Member { set: name, key, .. } = item {
                    let doomed =
                        mac_of(key, &neigh).is_some_and(|m| gone.binary_search(&m).is_ok());
                    if name == set && doomed {
                        keys.push(key);
                    }
                }
            })
        })?;
        for key in keys {
            let mut k = Buf::new();
            match key {
                Key::Ip(ip) => k.push_bytes(ip.to_string().as_bytes()),
                Key::Mac(m) => {
                    let _ = m.write(&mut k);
                }
            }
            r.change(&["ipset", "-exist", "del", set, k.as_str()])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan() -> Lan {
        Lan {
            bridge: "br-lan".try_into().unwrap(),
            ports: ["lan1"].iter().map(|p| (*p).try_into().unwrap()).collect(),
            mac: Mac::parse("02:00:00:00:00:01").unwrap(),
            max: 1024,
        }
    }

    fn rules(l: &Lan, fam: Family) -> Vec<String> {
        let mut v = Vec::new();
        each_rule(l, fam, |r| {
            v.push(format!(
                "{} {}{}{:?}",
                CHAINS[r.chain].0, r.matches, r.target, r.role
            ))
        });
        v
    }

    #[test]
    fn rules_leave_bridged_and_broadcast_traffic_out() {
        let v4 = rules(&lan(), Family::V4);
        assert_eq!(v4.len(), 16);
        assert_eq!(
            v4[..4],
            [
                "netmon_dev_in -i br-lan -m pkttype --pkt-type unicast -m set --match-set netmon_up4 src -j RETURN Set",
                "netmon_dev_in -i br-lan -m pkttype --pkt-type unicast -j SET --add-set netmon_up4 src Set",
                "netmon_dev_in -i br-lan -m pkttype --pkt-type unicast -m set --match-set netmon_up4 src ! --update-counters -j RETURN Set",
                "netmon_dev_in -i br-lan -m pkttype --pkt-type unicast Other(true)",
            ]
        );
        assert_eq!(
            v4[5],
            "netmon_dev_out -o br-lan -m addrtype --dst-type UNICAST -j SET --add-set netmon_dn4 dst Set"
        );
        assert_eq!(
            v4[9],
            "netmon_dev_fwd -i br-lan ! -o br-lan -m pkttype --pkt-type unicast -j SET --add-set netmon_up4 src Set"
        );
        assert_eq!(
            v4[15],
            "netmon_dev_fwd ! -i br-lan -o br-lan -m addrtype --dst-type UNICAST Other(false)"
        );
        let v6 = rules(&lan(), Family::V6);
        assert_eq!(v6[7], "netmon_dev_out -o br-lan ! -d ff00::/8 Other(false)");
    }

    #[test]
    fn tags_are_distinct_and_a_new_size_or_bridge_is_stale() {
        let mut tags = Vec::new();
        for fam in FAMILIES {
            each_rule(&lan(), fam, |r| tags.push(r.tag.to_string()));
        }
        let n = tags.len();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), n);
        let mut bigger = lan();
        bigger.max = 2;
        assert_ne!(expected(&lan(), Family::V4), expected(&bigger, Family::V4));
        let mut other = lan();
        other.bridge = "br-guest".try_into().unwrap();
        assert_ne!(expected(&lan(), Family::V6), expected(&other, Family::V6));
        let l = lan();
        let mut first = None;
        each_rule(&l, Family::V4, |r| {
            if r.chain == 2 && matches!(r.role, Role::Other(false)) {
                first = Some(r.tag.to_string());
            }
        });
        let t = first.unwrap();
        assert_eq!(role_of(&l, Family::V4, 2, &t), Some(Role::Other(false)));
        assert_eq!(role_of(&l, Family::V4, 1, &t), None);
        assert_eq!(role_of(&l, Family::V6, 2, &t), None);
    }

    #[test]
    fn members_map_to_macs_through_the_neighbours() {
        let m = Mac::parse("02:00:00:00:10:10").unwrap();
        let mut neigh = vec![
            ("fd00::10".parse().unwrap(), m),
            ("192.168.1.10".parse().unwrap(), m),
        ];
        neigh.sort_unstable();
        assert_eq!(
            mac_of(Key::Ip("fd00::10".parse().unwrap()), &neigh),
            Some(m)
        );
        assert_eq!(
            mac_of(Key::Ip("192.168.1.10".parse().unwrap()), &neigh),
            Some(m)
        );
        assert_eq!(
            mac_of(Key::Ip("192.168.1.11".parse().unwrap()), &neigh),
            None
        );
        assert_eq!(mac_of(Key::Mac(m), &[]), Some(m));
    }
}
