//! nftables `table netdev netmon` (the netdev family needs a table of its
//! own): per-device accounting and the meters on link hooks, hooked where
//! fw4's flowtable cannot bypass them.
//!
//! fw4's flowtable hooks ingress at priority 0 on the lower devices of the
//! zones (bridge ports, wifi interfaces); an offloaded flow's packets then
//! skip every forward/input/bridge hook. netmon's chains hook ingress at
//! priority -500, before the flowtable, and egress, which sees every frame
//! leaving a device, offloaded or not.
//!
//! Devices: on every lower device of the LAN bridge, per direction one
//! dynamic `ether_addr` set with a counter per element counts every device
//! in one hash lookup per packet; a frame whose device finds no room in the
//! full set falls through to the `other` counter, so devices + other =
//! everything counted. What counts: IPv4 and IPv6 frames between a LAN
//! device and the router's own MAC (the bridge's): routed traffic and
//! traffic to the router itself. Frames between two LAN devices carry the
//! other device's MAC and are not counted, nor are broadcast and multicast.
//!
//! Link meters (`hook ingress` / `hook egress`): one chain per hook and
//! device, one rule per meter into its named counter `m_NAME`.
//!
//! Bytes are IP bytes, as the firewall-hook meters count: ingress sees the
//! frame without its Ethernet header, egress with it, so the reader takes
//! 14 bytes per packet off the egress counts.

use super::nft_control as control;
use super::run::{Outcome, Runner};
use super::{tag, Digest};
use crate::device::{Lan, Mac};
use crate::error::Result;
use crate::meter::{valid_name, IfName, Link, Meter};
use crate::parse::nft::{self as p, Item};
use crate::quota::Quota;
use crate::state::{add_count, Count, Counts, DeviceReading};
use crate::text::{num, Buf};

pub const TABLE: &str = "netmon";
/// Below fw4's flowtable (ingress, priority filter = 0) by a wide margin.
pub const PRIORITY: &str = "-500";
/// The Ethernet header egress counts and ingress does not.
pub const ETHER_HEADER: u64 = 14;
static READ_ARGV: [&str; 6] = ["nft", "-a", "list", "table", "netdev", TABLE];

/// The device chains: hook name, the set it updates, the address that
/// identifies the device, and the match that selects what counts.
const DEVICE_CHAINS: [(&str, &str, &str, &str); 2] = [
    ("ingress", "up", "ether saddr", "ether daddr "),
    (
        "egress",
        "down",
        "ether daddr",
        "ether daddr & 01:00:00:00:00:00 == 00:00:00:00:00:00 ether saddr ",
    ),
];

/// One base chain of the table.
struct Chain {
    name: String,
    hook: &'static str,
    devices: Vec<IfName>,
    /// Each rule and its tag.
    rules: Vec<(Buf, Buf)>,
}

/// Everything the table holds, built once from the config: what `build`
/// writes and what `read` checks against.
struct Plan<'a> {
    lan: Option<&'a Lan>,
    quotas: &'a [Quota],
    links: Vec<&'a Meter>,
    chains: Vec<Chain>,
}

impl<'a> Plan<'a> {
    fn new(lan: Option<&'a Lan>, meters: &'a [Meter], quotas: &'a [Quota]) -> Plan<'a> {
        let lan = lan.filter(|l| !l.ports.is_empty());
        let links: Vec<&Meter> = meters
            .iter()
            .filter(|m| m.link_device().is_some())
            .collect();
        let mut chains = Vec::new();
        if let Some(lan) = lan {
            for (hook, set, addr, select) in DEVICE_CHAINS {
                let mut chain = device_chain(lan, hook, set, addr, select);
                let mut router = Buf::new();
                router.push_bytes(select.as_bytes());
                let _ = lan.mac.write(&mut router);
                let mut rules = control::chain_rules(hook, router.as_str(), quotas);
                rules.append(&mut chain.rules);
                chain.rules = rules;
                chains.push(chain);
            }
            for (name, rules) in control::cut_chains() {
                chains.push(Chain {
                    name: name.into(),
                    hook: "",
                    devices: Vec::new(),
                    rules,
                });
            }
        }
        for m in &links {
            link_rule(&mut chains, m);
        }
        Plan {
            lan,
            quotas,
            links,
            chains,
        }
    }

    fn is_empty(&self) -> bool {
        self.chains.is_empty()
    }

    /// Digest of every rule's chain and tag, in table order.
    fn digest(&self) -> Digest {
        let mut d = Digest::default();
        for c in &self.chains {
            for (_, tg) in &c.rules {
                d.add(c.name.as_bytes());
                d.add(tg.as_bytes());
            }
        }
        d
    }
}

fn device_chain(lan: &Lan, hook: &'static str, set: &str, addr: &str, select: &str) -> Chain {
    let mut rules = Vec::new();
    for last in [false, true] {
        let mut rule = Buf::new();
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
        // The tag covers the ports and the set size too: a change of
        // either reads as stale and reinstalls.
        let mut key = Buf::new();
        key.push_bytes(rule.as_bytes());
        key.push_bytes(b" devices");
        for port in &lan.ports {
            key.push_bytes(b" ");
            key.push_bytes(port.as_bytes());
        }
        key.fill(" size {}", &[num(u64::from(lan.max)).as_str()]);
        let mut tg = Buf::new();
        tag(&mut tg, "devices", hook, key.as_bytes());
        rules.push((rule, tg));
    }
    Chain {
        name: hook.into(),
        hook,
        devices: lan.ports.iter().cloned().collect(),
        rules,
    }
}

/// Adds link meter `m`'s rule to the chain of its hook and device
/// (`link_in_N` / `link_out_N`), creating that chain when needed.
fn link_rule(chains: &mut Vec<Chain>, m: &Meter) {
    let (Some(link), Some(dev)) = (m.link, m.link_device()) else {
        return;
    };
    let hook = link.as_str();
    let i = match chains
        .iter()
        .position(|c| c.hook == hook && c.devices == [dev.clone()] && c.name.starts_with("link"))
    {
        Some(i) => i,
        None => {
            let n = chains.iter().filter(|c| c.name.starts_with("link")).count();
            let kind = if link == Link::Ingress {
                "link_in_"
            } else {
                "link_out_"
            };
            chains.push(Chain {
                name: [kind, num(n as u64).as_str()].concat(),
                hook,
                devices: vec![dev.clone()],
                rules: Vec::new(),
            });
            chains.len() - 1
        }
    };
    let mut rule = Buf::new();
    link_matches(m, &mut rule);
    rule.push_bytes(b"counter name \"m_");
    rule.push_bytes(m.name.as_bytes());
    rule.push_bytes(b"\"");
    let mut key = Buf::new();
    key.push_bytes(rule.as_bytes());
    key.push_bytes(b" device ");
    key.push_bytes(dev.as_bytes());
    let mut tg = Buf::new();
    tag(&mut tg, &m.name, hook, key.as_bytes());
    if let Some(c) = chains.get_mut(i) {
        c.rules.push((rule, tg));
    }
}

/// A link meter's match: IP frames only, then its addresses and protocol
/// as on the firewall hooks (the device is the chain's, not a match; the
/// netdev family has `meta protocol` where inet has `meta nfproto`).
fn link_matches(m: &Meter, b: &mut Buf) {
    let mut plain = m.clone();
    plain.iif = None;
    plain.oif = None;
    plain.link = None;
    let mut rest = Buf::new();
    super::nft::matches(&plain, crate::meter::Hook::Forward, &mut rest);
    let text = rest.as_str();
    let text = if let Some(t) = text.strip_prefix("meta nfproto ipv4 ") {
        b.push_bytes(b"meta protocol ip ");
        t
    } else if let Some(t) = text.strip_prefix("meta nfproto ipv6 ") {
        b.push_bytes(b"meta protocol ip6 ");
        t
    } else {
        b.push_bytes(b"meta protocol { ip, ip6 } ");
        text
    };
    b.push_bytes(text.as_bytes());
}

/// Appends the commands that (re)create the table to `b`, each followed by
/// `sep`: the device sets and chains for `lan` and the chains of the link
/// meters among `meters`; with neither, only that the table is gone.
pub fn build(b: &mut Buf, lan: Option<&Lan>, meters: &[Meter], quotas: &[Quota], sep: &str) {
    let plan = Plan::new(lan, meters, quotas);
    let mut line = |parts: &[&str]| {
        for p in parts {
            b.push_bytes(p.as_bytes());
        }
        b.push_bytes(sep.as_bytes());
    };
    // `add` first so `delete` cannot fail when the table is absent.
    line(&["add table netdev netmon"]);
    line(&["delete table netdev netmon"]);
    if plan.is_empty() {
        return;
    }
    line(&["add table netdev netmon"]);
    if let Some(lan) = plan.lan {
        let size = num(u64::from(lan.max));
        for (_, set, _, _) in DEVICE_CHAINS {
            let decl = " { type ether_addr; size ";
            let flags = "; flags dynamic; counter; }";
            line(&["add set netdev netmon ", set, decl, size.as_str(), flags]);
            line(&["add counter netdev netmon ", set, "_other"]);
        }
        for d in control::declarations(plan.quotas, lan.max) {
            line(&[&d]);
        }
    }
    for m in &plan.links {
        line(&["add counter netdev netmon m_", &m.name]);
    }
    for c in &plan.chains {
        if c.hook.is_empty() {
            line(&["add chain netdev netmon ", &c.name]);
            continue;
        }
        let devices: Vec<&str> = c.devices.iter().map(|d| d.as_str()).collect();
        let (t, d) = (" { type filter hook ", " devices = { ");
        let tail = " } priority -500; policy accept; }"; // PRIORITY
        let name = ["add chain netdev netmon ", &c.name].concat();
        line(&[&name, t, c.hook, d, &devices.join(", "), tail]);
    }
    for c in &plan.chains {
        for (rule, tg) in &c.rules {
            let head = ["add rule netdev netmon ", &c.name, " "].concat();
            line(&[&head, rule.as_str(), " comment \"", tg.as_str(), "\""]);
        }
    }
}

/// (Re)creates the table for `lan` and the link meters of `meters`, or
/// removes it when it would be empty, in one transaction.
pub fn install(
    lan: Option<&Lan>,
    meters: &[Meter],
    quotas: &[Quota],
    r: &mut Runner,
) -> Result<()> {
    let mut s = Buf::new();
    build(&mut s, lan, meters, quotas, "; ");
    s.0.truncate(s.0.len().saturating_sub(2));
    r.change(&["nft", s.as_str()])
}

/// What a read of the table found.
#[derive(Default)]
pub struct Found {
    /// The table exists.
    pub present: bool,
    /// ... exactly as planned, every chain hooked on its devices (or it is
    /// absent and nothing is planned).
    pub installed: bool,
    pub devices: DeviceReading,
    /// Per MAC in `devices.elems` (same order): whether it has an element
    /// in the download and in the upload set.
    pub sets: Vec<(Mac, bool, bool)>,
    /// The link meters' counters, by meter name (IP bytes).
    pub counts: Counts,
    /// The blocked set and the quotas.
    pub control: control::Found,
}

/// Reads the per-device counters and the link meters' counters, and
/// checks the table against what `lan` and `meters` plan.
pub fn read(
    lan: Option<&Lan>,
    meters: &[Meter],
    quotas: &[Quota],
    r: &mut Runner,
) -> Result<Found> {
    read_from(lan, meters, quotas, |f| {
        let absent = Some("No such file or directory");
        r.read_checked(&READ_ARGV, absent, &mut |rd| p::parse(rd, &mut *f))
    })
}

/// The counters as a netlink dump gives them (`nft_netlink`): the devices'
/// sets and the named counters. A dump has no chains or rules, so the
/// table is not checked: `installed` is false.
pub fn read_counters(lan: Option<&Lan>, meters: &[Meter], quotas: &[Quota]) -> Result<Found> {
    let sets = DEVICE_CHAINS.map(|c| c.1);
    let mut found = read_from(lan, meters, quotas, |f| {
        super::nft_netlink::list(crate::parse::nfnetlink::FAMILY_NETDEV, &sets, f)
    })?;
    found.installed = false;
    Ok(found)
}

/// What the items `source` streams into the callback it gets say.
fn read_from(
    lan: Option<&Lan>,
    meters: &[Meter],
    quotas: &[Quota],
    source: impl FnOnce(&mut dyn FnMut(Item<'_>)) -> Result<Outcome>,
) -> Result<Found> {
    let plan = Plan::new(lan, meters, quotas);
    let mut found = Found::default();
    let mut seen = Digest::default();
    let mut hooked = true;
    let mut counters = 0usize;
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let mut ours = false;
    let out = source(&mut |item| match item {
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
        Item::Elem { set, key, value } if ours => {
            let Some(mac) = Mac::parse(key) else { return };
            match value {
                None if set == "blocked" => found.control.blocked.push(mac),
                Some(obj) => found.control.elems.push((set.into(), mac, obj.into())),
                None => {}
            }
        }
        Item::Quota {
            name, limit, used, ..
        } if ours => found.control.quotas.push((name.into(), limit, used)),
        Item::Counter {
            name,
            packets,
            bytes,
        } if ours => {
            let c = Count::new(packets, bytes);
            match name {
                "up_other" => found.devices.other_up = c,
                "down_other" => found.devices.other_down = ip_bytes(c),
                _ => link_counter(&plan, name, c, &mut found.counts, &mut counters),
            }
        }
        Item::ChainType { chain, text } if ours => {
            let want = plan.chains.iter().find(|c| c.name == chain);
            let on = |c: &Chain| p::hook_devices(text).eq(c.devices.iter().map(|d| d.as_str()));
            hooked &= want.is_some_and(on);
        }
        Item::Rule {
            chain,
            comment: Some(c),
            ..
        } if ours => {
            seen.add(chain.as_bytes());
            seen.add(c.as_bytes());
        }
        _ => {}
    })?;
    match out {
        Outcome::DryRun => {}
        Outcome::Absent => {
            found = Found {
                installed: plan.is_empty(),
                ..Found::default()
            };
        }
        Outcome::Done if plan.is_empty() => found.installed = !found.present,
        Outcome::Done => {
            found.installed = seen == plan.digest() && hooked && counters == plan.links.len();
            if plan.lan.is_some() {
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
    }
    Ok(found)
}

/// A link meter's named counter `m_NAME`: IP bytes into `counts`.
fn link_counter(plan: &Plan<'_>, name: &str, c: Count, counts: &mut Counts, n: &mut usize) {
    let Some(meter) = name.strip_prefix("m_").filter(|n| valid_name(n)) else {
        return;
    };
    let planned = plan.links.iter().find(|m| m.name == meter);
    *n += usize::from(planned.is_some());
    // A meter no longer planned counted on its old hook: egress if unknown
    // is the smaller figure, but its direction is not known; keep it raw.
    let c = match planned.and_then(|m| m.link) {
        Some(Link::Egress) => ip_bytes(c),
        _ => c,
    };
    add_count(counts, meter, c);
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
        build(&mut b, Some(&lan()), &[], &[], "\n");
        let s = b.as_str();
        assert!(s.contains(
            "add set netdev netmon up { type ether_addr; size 1024; flags dynamic; counter; }"
        ));
        assert!(s.contains("add chain netdev netmon ingress { type filter hook ingress devices = { lan1, lan2 } priority -500; policy accept; }"));
        assert!(s.contains("add rule netdev netmon ingress ether daddr 02:00:00:00:00:01 meta protocol { ip, ip6 } update @up { ether saddr } accept comment \"netmon:devices:"));
        assert!(s.contains("add rule netdev netmon egress ether daddr & 01:00:00:00:00:00 == 00:00:00:00:00:00 ether saddr 02:00:00:00:00:01 meta protocol { ip, ip6 } counter name \"down_other\""));
        // Blocked frames go to the cut chains before anything counts.
        let rules: Vec<&str> = s
            .lines()
            .filter(|l| l.starts_with("add rule netdev netmon ingress"))
            .collect();
        assert!(
            rules[0].contains("ether saddr @blocked meta protocol { ip, ip6 } jump cut_in"),
            "{rules:?}"
        );
        assert!(s.contains("add rule netdev netmon cut_in fib daddr type local return"));
        assert!(s.contains("add rule netdev netmon cut_out ip6 saddr fe80::/10 return"));
        // Table, sets and counters, blocked, chains, rules (2 count and 1
        // cut rule per device chain, 3 per cut chain).
        assert_eq!(s.lines().count(), 2 + 1 + 4 + 1 + 4 + 6 + 6);
        let mut off = Buf::new();
        build(&mut off, None, &[], &[], "\n");
        assert_eq!(
            off.as_str(),
            "add table netdev netmon\ndelete table netdev netmon\n"
        );
    }

    #[test]
    fn a_new_port_or_size_makes_the_rules_stale() {
        let mut more = lan();
        more.ports.push("phy0-ap0".try_into().unwrap()).unwrap();
        let digest = |l: &Lan| Plan::new(Some(l), &[], &[]).digest();
        assert_ne!(digest(&lan()), digest(&more));
        let mut bigger = lan();
        bigger.max = 2048;
        assert_ne!(digest(&lan()), digest(&bigger));
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
