//! nftables per-device accounting: `table netdev netmon` (the netdev
//! family needs a table of its own), hooked where fw4's flowtable cannot
//! bypass it.
//!
//! fw4's flowtable hooks ingress at priority 0 on the lower devices of the
//! zones (bridge ports, wifi interfaces); an offloaded flow's packets then
//! skip every forward/input/bridge hook. netmon's `ingress` chain hooks the
//! same devices at priority -500, before the flowtable, and its `egress`
//! chain sees every frame leaving them, offloaded or not. Per direction one
//! dynamic `ether_addr` set with a counter per element counts every device
//! in one hash lookup per packet; a frame whose device finds no room in the
//! full set falls through to the `other` counter, so devices + other =
//! everything counted.
//!
//! What counts: IPv4 and IPv6 frames between a LAN device and the router's
//! own MAC (the bridge's): routed traffic (internet, other subnets) and
//! traffic to the router itself (DNS, LuCI). Frames between two LAN
//! devices carry the other device's MAC and are not counted, nor are
//! broadcast and multicast frames. Bytes are IP bytes, as the meters
//! count: ingress sees the frame without its Ethernet header, egress with
//! it, so the reader takes 14 bytes per packet off the egress counts.

use super::run::{Outcome, Runner};
use super::{tag, Digest};
use crate::device::{Lan, Mac};
use crate::error::Result;
use crate::parse::nft::{self as p, Item};
use crate::state::{Count, DeviceReading};
use crate::text::Buf;

pub const TABLE: &str = "netmon";
/// Below fw4's flowtable (ingress, priority filter = 0) by a wide margin.
pub const PRIORITY: &str = "-500";
/// The Ethernet header egress counts and ingress does not.
pub const ETHER_HEADER: u64 = 14;
static READ_ARGV: [&str; 6] = ["nft", "-a", "list", "table", "netdev", TABLE];

/// The two chains: hook name, the set it updates, the address that
/// identifies the device, and the match that selects what counts.
const CHAINS: [(&str, &str, &str, &str); 2] = [
    ("ingress", "up", "ether saddr", "ether daddr "),
    (
        "egress",
        "down",
        "ether daddr",
        "ether daddr & 01:00:00:00:00:00 == 00:00:00:00:00:00 ether saddr ",
    ),
];

/// Calls `f(chain, rule, tag)` for each of the four rules, in order. The
/// tag's hash covers the rule, the ports and the set size, so a change of
/// any of them reads as "stale" and reinstalls.
fn each_rule(lan: &Lan, mut f: impl FnMut(&str, &Buf, &Buf)) {
    let (mut rule, mut tg, mut key) = (Buf::new(), Buf::new(), Buf::new());
    for (hook, set, addr, select) in CHAINS {
        for last in [false, true] {
            rule.clear();
            rule.push_bytes(select.as_bytes());
            let _ = lan.mac.write(&mut rule);
            rule.push_bytes(b" meta protocol { ip, ip6 } ");
            let parts = match last {
                true => ["counter name \"", set, "_other\"", "", ""],
                false => ["update @", set, " { ", addr, " } accept"],
            };
            for part in parts {
                rule.push_bytes(part.as_bytes());
            }
            key.clear();
            key.push_bytes(rule.as_bytes());
            ports_and_size(&mut key, lan);
            tg.clear();
            tag(&mut tg, "devices", hook, key.as_bytes());
            f(hook, &rule, &tg);
        }
    }
}

fn ports_and_size(b: &mut Buf, lan: &Lan) {
    b.push_bytes(b" devices");
    for port in &lan.ports {
        b.push_bytes(b" ");
        b.push_bytes(port.as_bytes());
    }
    b.fill(" size {}", &[crate::text::num(u64::from(lan.max)).as_str()]);
}

/// Appends the commands that (re)create the table to `b`, each followed by
/// `sep`; with `lan` `None` (devices off), only that the table is gone.
pub fn build(b: &mut Buf, lan: Option<&Lan>, sep: &str) {
    // `add` first so `delete` cannot fail when the table is absent.
    let mut line = |parts: &[&str]| {
        for p in parts {
            b.push_bytes(p.as_bytes());
        }
        b.push_bytes(sep.as_bytes());
    };
    line(&["add table netdev netmon"]);
    line(&["delete table netdev netmon"]);
    let Some(lan) = lan.filter(|l| !l.ports.is_empty()) else {
        return;
    };
    line(&["add table netdev netmon"]);
    let size = crate::text::num(u64::from(lan.max));
    for (_, set, _, _) in CHAINS {
        let decl = " { type ether_addr; size ";
        let flags = "; flags dynamic; counter; }";
        line(&["add set netdev netmon ", set, decl, size.as_str(), flags]);
        line(&["add counter netdev netmon ", set, "_other"]);
    }
    let mut ports = Buf::new();
    for (i, port) in lan.ports.iter().enumerate() {
        ports.push_bytes(if i == 0 { b"" } else { b", " });
        ports.push_bytes(port.as_bytes());
    }
    for (hook, _, _, _) in CHAINS {
        let (t, d) = (" { type filter hook ", " devices = { ");
        let tail = " } priority -500; policy accept; }"; // PRIORITY
        line(&[
            "add chain netdev netmon ",
            hook,
            t,
            hook,
            d,
            ports.as_str(),
            tail,
        ]);
    }
    each_rule(lan, |hook, rule, tg| {
        let r = rule.as_str();
        line(&[
            "add rule netdev netmon ",
            hook,
            " ",
            r,
            " comment \"",
            tg.as_str(),
            "\"",
        ]);
    });
}

/// Expected digests of the two chains.
fn expected(lan: &Lan) -> [Digest; 2] {
    let mut d = [Digest::default(); 2];
    each_rule(lan, |hook, _, tg| {
        d[chain_index(hook).unwrap_or(0)].add(tg.as_bytes())
    });
    d
}

fn chain_index(name: &str) -> Option<usize> {
    CHAINS.iter().position(|c| c.0 == name)
}

/// What a read of the table found.
#[derive(Default)]
pub struct Found {
    /// The table exists.
    pub present: bool,
    /// ... exactly as `lan` wants it, hooked on every port.
    pub installed: bool,
    pub devices: DeviceReading,
    /// Per MAC in `devices.elems` (same order): whether it has an element
    /// in the download and in the upload set.
    pub sets: Vec<(Mac, bool, bool)>,
}

/// Reads the per-device counters. With `lan` `None` (devices off),
/// `installed` means the table is absent, as it should be.
pub fn read(lan: Option<&Lan>, r: &mut Runner) -> Result<Found> {
    let mut found = Found::default();
    let mut seen = [Digest::default(); 2];
    let mut hooked = [true; 2];
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let mut ours = false;
    let out = r.read_checked(&READ_ARGV, Some("No such file or directory"), &mut |rd| {
        p::parse(rd, |item| match item {
            Item::Table { family, name, .. } => {
                ours = family == "netdev" && name == TABLE;
                found.present |= ours;
            }
            Item::SetElem {
                set,
                key,
                packets,
                bytes,
            } if ours => {
                let Some(mac) = Mac::parse(key) else { return };
                let c = Count::new(packets, bytes);
                match set {
                    "up" => up.push((mac, c)),
                    "down" => down.push((mac, ip_bytes(c))),
                    _ => {}
                }
            }
            Item::Counter {
                name,
                packets,
                bytes,
            } if ours => {
                let c = Count::new(packets, bytes);
                match name {
                    "up_other" => found.devices.other_up = c,
                    "down_other" => found.devices.other_down = ip_bytes(c),
                    _ => {}
                }
            }
            Item::ChainType { chain, text } if ours => {
                if let (Some(i), Some(lan)) = (chain_index(chain), lan) {
                    hooked[i] = p::hook_devices(text).eq(lan.ports.iter().map(|p| p.as_str()));
                }
            }
            Item::Rule {
                chain,
                comment: Some(c),
                ..
            } if ours => {
                if let Some(i) = chain_index(chain) {
                    seen[i].add(c.as_bytes());
                }
            }
            _ => {}
        })
    })?;
    match (out, lan.filter(|l| !l.ports.is_empty())) {
        (Outcome::DryRun, _) => {}
        (Outcome::Absent, lan) => {
            found = Found {
                installed: lan.is_none(),
                ..Found::default()
            };
        }
        (Outcome::Done, None) => found.installed = !found.present,
        (Outcome::Done, Some(lan)) => {
            found.installed = seen == expected(lan) && hooked == [true; 2];
            found.devices.on = true;
            let merged = merge(up, down);
            found.sets = merged
                .iter()
                .map(|e| (e.0, e.1.is_some(), e.2.is_some()))
                .collect();
            let counts = merged
                .into_iter()
                .map(|(m, d, u)| (m, d.unwrap_or_default(), u.unwrap_or_default()));
            found.devices.elems = counts.collect();
        }
    }
    Ok(found)
}

/// Egress counts include the Ethernet header; IP bytes do not.
fn ip_bytes(c: Count) -> Count {
    let header = c.packets.saturating_mul(ETHER_HEADER);
    Count::new(c.packets, c.bytes.saturating_sub(header))
}

/// One `(mac, down, up)` per MAC from the two sets' elements, sorted by
/// MAC (`None`: no element in that set).
type Merged = Vec<(Mac, Option<Count>, Option<Count>)>;

fn merge(mut up: Vec<(Mac, Count)>, mut down: Vec<(Mac, Count)>) -> Merged {
    up.sort_unstable_by_key(|e| e.0);
    down.sort_unstable_by_key(|e| e.0);
    let mut out = Vec::with_capacity(up.len().max(down.len()));
    let (mut i, mut j) = (0, 0);
    loop {
        let next = match (up.get(i), down.get(j)) {
            (Some(u), Some(d)) if u.0 == d.0 => (u.0, Some(d.1), Some(u.1)),
            (Some(u), Some(d)) if d.0 < u.0 => (d.0, Some(d.1), None),
            (Some(u), _) => (u.0, None, Some(u.1)),
            (None, Some(d)) => (d.0, Some(d.1), None),
            (None, None) => break,
        };
        i += usize::from(next.2.is_some());
        j += usize::from(next.1.is_some());
        out.push(next);
    }
    out
}

/// Deletes the elements of `macs` from the sets that hold them (`(mac,
/// in down, in up)`, as `Found::sets`), in one transaction.
pub fn prune(macs: &[(Mac, bool, bool)], r: &mut Runner) -> Result<()> {
    let mut b = Buf::new();
    for (set, is_up) in [("up", true), ("down", false)] {
        let mut first = true;
        for (mac, _, _) in macs.iter().filter(|m| if is_up { m.2 } else { m.1 }) {
            b.push_bytes(if first { b"" } else { b", " });
            if first {
                b.push_bytes(b"delete element netdev netmon ");
                b.push_bytes(set.as_bytes());
                b.push_bytes(b" { ");
                first = false;
            }
            let _ = mac.write(&mut b);
        }
        if !first {
            b.push_bytes(b" }; ");
        }
    }
    if b.as_bytes().is_empty() {
        return Ok(());
    }
    r.change(&["nft", b.as_str().trim_end_matches("; ")])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan() -> Lan {
        Lan {
            bridge: "br-lan".try_into().unwrap(),
            ports: ["lan1", "lan2"]
                .iter()
                .map(|p| (*p).try_into().unwrap())
                .collect(),
            mac: Mac::parse("02:00:00:00:00:01").unwrap(),
            max: 1024,
        }
    }

    #[test]
    fn the_table_hooks_every_port_before_the_flowtable() {
        let mut b = Buf::new();
        build(&mut b, Some(&lan()), "\n");
        let s = b.as_str();
        assert!(s.contains(
            "add set netdev netmon up { type ether_addr; size 1024; flags dynamic; counter; }"
        ));
        assert!(s.contains("add chain netdev netmon ingress { type filter hook ingress devices = { lan1, lan2 } priority -500; policy accept; }"));
        assert!(s.contains("add rule netdev netmon ingress ether daddr 02:00:00:00:00:01 meta protocol { ip, ip6 } update @up { ether saddr } accept comment \"netmon:devices:"));
        assert!(s.contains("add rule netdev netmon egress ether daddr & 01:00:00:00:00:00 == 00:00:00:00:00:00 ether saddr 02:00:00:00:00:01 meta protocol { ip, ip6 } counter name \"down_other\""));
        assert_eq!(s.lines().count(), 2 + 1 + 4 + 2 + 4);
        let mut off = Buf::new();
        build(&mut off, None, "\n");
        assert_eq!(
            off.as_str(),
            "add table netdev netmon\ndelete table netdev netmon\n"
        );
    }

    #[test]
    fn a_new_port_or_size_makes_the_rules_stale() {
        let mut more = lan();
        more.ports.push("phy0-ap0".try_into().unwrap()).unwrap();
        assert_ne!(expected(&lan()), expected(&more));
        let mut bigger = lan();
        bigger.max = 2048;
        assert_ne!(expected(&lan()), expected(&bigger));
    }

    #[test]
    fn both_sets_merge_by_mac() {
        let m = |n: u8| Mac([2, 0, 0, 0, 0, n]);
        let c = |n: u64| Count::new(n, n * 100);
        let up = vec![(m(3), c(3)), (m(1), c(1))];
        let down = vec![(m(2), c(20)), (m(3), c(30))];
        let got = merge(up, down);
        assert_eq!(
            got,
            vec![
                (m(1), None, Some(c(1))),
                (m(2), Some(c(20)), None),
                (m(3), Some(c(30)), Some(c(3)))
            ]
        );
    }
}
