//! Blocks and quotas in `table netdev netmon` (nft): dropped in the same
//! chains that count the devices, before they count, so blocked traffic is
//! neither forwarded nor counted.
//!
//! The device chains hook ingress below fw4's flowtable (priority -500)
//! and egress, so a block stops established and software-offloaded
//! connections too: their packets pass these hooks whatever the flowtable
//! does. (Hardware offloading moves packets without the CPU; see README.)
//!
//! - `blocked`: the MACs the state says are cut (the admin's blocks and
//!   used-up quotas), a plain set filled by `enforce`.
//! - `q<i>_up` / `q<i>_down`: per quota with the block action, a map from
//!   MAC to a named quota object `q<i>_<period>_<mac>` (`over LIMIT bytes
//!   used USED`), created at the first update that sees the device in the
//!   period with the device's use so far. The kernel counts on from there
//!   and cuts the device the moment the quota is used up: no update needs
//!   to run for that. A new period or device is a new object name.
//! - What is cut: frames to (ingress) or from (egress) the router's MAC,
//!   that is routed traffic, but not traffic to or from the router's own
//!   addresses (`fib daddr type local`), nor IPv6 link-local (neighbour
//!   discovery), so a blocked device keeps DHCP, DNS, LuCI and SSH on the
//!   router. Frames between two LAN devices never carry the router's MAC.
//!
//! The quota objects count what the device counters count, but egress
//! sees each frame with its 14-byte Ethernet header: a download quota is
//! used up that much early (under 1 % for full-size packets), never late.

use super::tag;
use crate::device::Mac;
use crate::error::Result;
use crate::quota::Quota;
use crate::state::{KernelQuota, MAX_BLOCKS};
use crate::text::{num, Buf};

use super::run::Runner;

/// The chains a cut frame goes to, per device chain's hook: they let the
/// router's own traffic through and drop the rest.
pub const CUT_CHAINS: [(&str, [&str; 3]); 2] = [
    (
        "cut_in",
        [
            "ip6 daddr fe80::/10 return",
            "fib daddr type local return",
            "drop",
        ],
    ),
    (
        "cut_out",
        [
            "ip6 saddr fe80::/10 return",
            "fib saddr type local return",
            "drop",
        ],
    ),
];

/// What a read found of the control objects.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Found {
    /// The members of `blocked`.
    pub blocked: Vec<Mac>,
    /// The quota objects: name, limit, used.
    pub quotas: Vec<(String, u64, u64)>,
    /// The quota maps' elements: map, MAC, object name.
    pub elems: Vec<(String, Mac, String)>,
}

impl Found {
    /// The quota indexes whose kernel quota for `mac` is used up now.
    pub fn cut_by(&self, mac: Mac) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .elems
            .iter()
            .filter(|e| e.1 == mac)
            .filter(|e| self.quotas.iter().any(|q| q.0 == e.2 && q.2 >= q.1))
            .filter_map(|e| quota_index(&e.0))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// `i` of a map named `q<i>_up` or `q<i>_down`.
fn quota_index(map: &str) -> Option<usize> {
    let rest = map.strip_prefix('q')?;
    let (i, _) = rest.split_once('_')?;
    crate::text::parse_u64(i).ok().map(|i| i as usize)
}

/// The maps of quota `i`: (name, counts upload).
fn maps(i: usize, q: &Quota) -> impl Iterator<Item = (String, bool)> {
    let n = num(i as u64);
    let up = q
        .direction
        .counts_up()
        .then(|| (["q", n.as_str(), "_up"].concat(), true));
    let down = q
        .direction
        .counts_down()
        .then(|| (["q", n.as_str(), "_down"].concat(), false));
    up.into_iter().chain(down)
}

/// The quotas that cut: those with the block action, by config index.
fn cutting(quotas: &[Quota]) -> impl Iterator<Item = (usize, &Quota)> {
    quotas.iter().enumerate().filter(|(_, q)| q.block)
}

/// The `add set`/`add map` commands (each without its separator) for a
/// LAN of `max` devices.
pub fn declarations(quotas: &[Quota], max: u32) -> Vec<String> {
    let size = num(u64::from(max) + MAX_BLOCKS as u64);
    let mut out = vec![[
        "add set netdev netmon blocked { type ether_addr; size ",
        size.as_str(),
        "; }",
    ]
    .concat()];
    let size = num(u64::from(max));
    for (i, q) in cutting(quotas) {
        for (map, _) in maps(i, q) {
            out.push(
                [
                    "add map netdev netmon ",
                    &map,
                    " { type ether_addr : quota; size ",
                    size.as_str(),
                    "; }",
                ]
                .concat(),
            );
        }
    }
    out
}

/// The rules that go first in the device chain of `hook` (`ingress`:
/// upload, `egress`: download), each with its tag; `router` is the
/// router's MAC match that selects what counts.
pub fn chain_rules(hook: &str, router: &str, quotas: &[Quota]) -> Vec<(Buf, Buf)> {
    let up = hook == "ingress";
    let (addr, cut) = match up {
        true => ("ether saddr", "cut_in"),
        false => ("ether daddr", "cut_out"),
    };
    let mut rules = Vec::new();
    let mut push = |text: String, key: &str| {
        let mut rule = Buf::new();
        rule.push_bytes(text.as_bytes());
        let mut k = Buf::new();
        k.push_bytes(text.as_bytes());
        k.push_bytes(key.as_bytes());
        let mut tg = Buf::new();
        tag(&mut tg, "control", hook, k.as_bytes());
        rules.push((rule, tg));
    };
    let ip = " meta protocol { ip, ip6 } ";
    push(
        [router, " ", addr, " @blocked", ip, "jump ", cut].concat(),
        "",
    );
    for (i, q) in cutting(quotas) {
        for (map, map_up) in maps(i, q) {
            if map_up != up {
                continue;
            }
            // The tag covers the quota's definition: a changed limit or
            // period reads as stale and makes the objects again.
            let mut key = Buf::new();
            key.fill(
                " {} {} {}",
                &[
                    q.period.as_str(),
                    q.direction.as_str(),
                    num(q.limit).as_str(),
                ],
            );
            let text = [
                router,
                ip,
                "quota name ",
                addr,
                " map @",
                &map,
                " jump ",
                cut,
            ]
            .concat();
            push(text, key.as_str());
        }
    }
    rules
}

/// The regular chains a cut frame jumps to, with their tagged rules.
pub fn cut_chains() -> Vec<(&'static str, Vec<(Buf, Buf)>)> {
    CUT_CHAINS
        .iter()
        .map(|(name, rules)| {
            let tagged = rules
                .iter()
                .map(|r| {
                    let mut rule = Buf::new();
                    rule.push_bytes(r.as_bytes());
                    let mut tg = Buf::new();
                    tag(&mut tg, "control", name, r.as_bytes());
                    (rule, tg)
                })
                .collect();
            (*name, tagged)
        })
        .collect()
}

/// The name of a kernel quota's object.
pub fn object_name(k: &KernelQuota) -> String {
    let mut b = Buf::new();
    b.fill(
        "q{}_{}_",
        &[
            num(k.quota as u64).as_str(),
            num(k.period.max(0) as u64).as_str(),
        ],
    );
    for byte in k.mac.0 {
        let hex = b"0123456789abcdef";
        b.push_bytes(&[hex[usize::from(byte >> 4)], hex[usize::from(byte & 15)]]);
    }
    b.into_string()
}

/// Makes the table's control objects what the state wants: `blocked`
/// holds exactly `blocked`, and every quota of `want` has its object and
/// map elements (objects of past periods and devices gone are deleted).
/// One transaction; nothing when nothing differs. Returns what the table
/// holds afterwards.
pub fn enforce(
    blocked: &[Mac],
    quotas: &[Quota],
    want: &[KernelQuota],
    found: &Found,
    r: &mut Runner,
) -> Result<Found> {
    let mut after = Found {
        blocked: blocked.to_vec(),
        ..Found::default()
    };
    let mut del_elems: Vec<String> = Vec::new();
    let mut del_objs: Vec<String> = Vec::new();
    let mut add_objs: Vec<String> = Vec::new();
    let mut add_elems: Vec<String> = Vec::new();
    let elem = |verb: &str, set: &str, mac: Mac, value: Option<&str>| {
        let mut b = Buf::new();
        b.push_bytes(
            [verb, " element netdev netmon ", set, " { "]
                .concat()
                .as_bytes(),
        );
        let _ = mac.write(&mut b);
        if let Some(v) = value {
            b.push_bytes([" : \"", v, "\""].concat().as_bytes());
        }
        b.push_bytes(b" }");
        b.into_string()
    };
    for m in blocked.iter().filter(|m| !found.blocked.contains(m)) {
        add_elems.push(elem("add", "blocked", *m, None));
    }
    for m in found.blocked.iter().filter(|m| !blocked.contains(m)) {
        del_elems.push(elem("delete", "blocked", *m, None));
    }
    // Every (map, MAC, object) the state wants.
    let mut wanted: Vec<(String, Mac, String)> = Vec::new();
    for k in want {
        let Some(q) = quotas.get(k.quota).filter(|q| q.block) else {
            continue;
        };
        let name = object_name(k);
        match found.quotas.iter().find(|o| o.0 == name) {
            Some(o) => after.quotas.push(o.clone()),
            None => after.quotas.push((name.clone(), k.limit, k.used)),
        }
        if !found.quotas.iter().any(|o| o.0 == name) {
            let (limit, used) = (num(k.limit), num(k.used));
            add_objs.push(
                [
                    "add quota netdev netmon ",
                    &name,
                    " { over ",
                    limit.as_str(),
                    " bytes used ",
                    used.as_str(),
                    " bytes }",
                ]
                .concat(),
            );
        }
        for (map, _) in maps(k.quota, q) {
            wanted.push((map, k.mac, name.clone()));
        }
    }
    // An element that points to another object (a past period) goes,
    // and comes back pointing to the new one.
    for e in found.elems.iter().filter(|e| !wanted.contains(e)) {
        del_elems.push(elem("delete", &e.0, e.1, None));
    }
    for w in &wanted {
        if !found.elems.contains(w) {
            add_elems.push(elem("add", &w.0, w.1, Some(&w.2)));
        }
    }
    for (name, _, _) in &found.quotas {
        if !wanted.iter().any(|w| w.2 == *name) && name.starts_with('q') {
            del_objs.push(["delete quota netdev netmon ", name].concat());
        }
    }
    let all: Vec<String> = del_elems
        .into_iter()
        .chain(del_objs)
        .chain(add_objs)
        .chain(add_elems)
        .collect();
    after.elems = wanted;
    if !all.is_empty() {
        r.change(&["nft", &all.join("; ")])?;
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{Direction, Period};

    fn quota(direction: Direction) -> Quota {
        Quota {
            name: "kids".into(),
            devices: Vec::new(),
            period: Period::Day,
            limit: 1000,
            direction,
            block: true,
            mail: false,
        }
    }

    #[test]
    fn a_total_quota_counts_both_ways_into_one_object() {
        let q = [quota(Direction::Total)];
        let decl = declarations(&q, 16);
        assert_eq!(decl.len(), 3, "{decl:?}");
        let r = "ether daddr 02:00:00:00:00:01";
        let ingress = chain_rules("ingress", r, &q);
        assert_eq!(ingress.len(), 2);
        assert_eq!(
            ingress[1].0.as_str(),
            "ether daddr 02:00:00:00:00:01 meta protocol { ip, ip6 } quota name ether saddr map @q0_up jump cut_in"
        );
        let down = chain_rules(
            "egress",
            "ether saddr 02:00:00:00:00:01",
            &[quota(Direction::Down)],
        );
        assert!(down[1]
            .0
            .as_str()
            .ends_with("quota name ether daddr map @q0_down jump cut_out"));
        assert_eq!(
            chain_rules("ingress", r, &[quota(Direction::Down)]).len(),
            1
        );
    }

    #[test]
    fn a_changed_limit_changes_the_tag() {
        let mut q = quota(Direction::Up);
        let a = chain_rules("ingress", "x", core::slice::from_ref(&q));
        q.limit = 2000;
        let b = chain_rules("ingress", "x", core::slice::from_ref(&q));
        assert_eq!(a[1].0.as_str(), b[1].0.as_str());
        assert_ne!(a[1].1.as_str(), b[1].1.as_str());
    }

    #[test]
    fn enforce_adds_and_deletes_only_the_difference() {
        let mac = |n| Mac([2, 0, 0, 0, 0, n]);
        let q = [quota(Direction::Up)];
        let k = KernelQuota {
            quota: 0,
            period: 20_425,
            mac: mac(5),
            limit: 1000,
            used: 10,
        };
        assert_eq!(object_name(&k), "q0_20425_020000000005");
        let found = Found {
            blocked: vec![mac(1), mac(2)],
            quotas: vec![("q0_20424_020000000005".into(), 1000, 1000)],
            elems: vec![("q0_up".into(), mac(5), "q0_20424_020000000005".into())],
        };
        assert_eq!(found.cut_by(mac(5)), vec![0]);
        let mut r = Runner::new(true);
        let after = enforce(&[mac(2), mac(3)], &q, &[k], &found, &mut r).unwrap();
        let printed = r.printed.as_str();
        for want in [
            "delete element netdev netmon blocked { 02:00:00:00:00:01 }",
            "delete element netdev netmon q0_up { 02:00:00:00:00:05 }",
            "delete quota netdev netmon q0_20424_020000000005",
            "add quota netdev netmon q0_20425_020000000005 { over 1000 bytes used 10 bytes }",
            "add element netdev netmon blocked { 02:00:00:00:00:03 }",
            "add element netdev netmon q0_up { 02:00:00:00:00:05 : \"q0_20425_020000000005\" }",
        ] {
            assert!(printed.contains(want), "{want} in {printed}");
        }
        assert!(!printed.contains("02:00:00:00:00:02"), "{printed}");
        let same = Found {
            blocked: vec![mac(2), mac(3)],
            quotas: vec![("q0_20425_020000000005".into(), 1000, 10)],
            elems: vec![("q0_up".into(), mac(5), "q0_20425_020000000005".into())],
        };
        assert_eq!(after, same, "what enforce says the table holds");
        let mut r = Runner::new(true);
        enforce(&[mac(2), mac(3)], &q, &[k], &same, &mut r).unwrap();
        assert_eq!(r.printed.as_str(), "");
    }
}
