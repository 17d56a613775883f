//! nftables backend: netmon's own `table inet netmon`, one named counter
//! per meter, base chains hooked at priority -1 (before fw4's `filter`
//! chains at 0, so packets are counted before any drop).
//!
//! `fw4 reload` flushes only `table inet fw4`; `fw4 flush` deletes every
//! table, which `update` notices (table gone) and repairs. The table is
//! (re)built in one nft transaction, so the ruleset is never half-built.

use super::run::{Outcome, Runner};
use super::{tag, Digest, Observed};
use crate::error::Result;
use crate::meter::valid_name;
use crate::meter::{Family, Hook, Meter};
use crate::parse::nft::{self as p, Item};
use crate::state::{add_count, Count};
use crate::text::Buf;

pub const TABLE: &str = "netmon";
pub const PRIORITY: &str = "-1";
static READ_ARGV: [&str; 6] = ["nft", "-a", "list", "table", "inet", TABLE];

/// The match part of a meter's rule, e.g. `ip saddr != 192.168.1.0/24 iifname "wan"`.
pub fn matches(m: &Meter, hook: Hook, b: &mut Buf) {
    let has_addr = m.src.is_some() || m.dst.is_some();
    if let (Some(f), false) = (m.family(), has_addr) {
        b.push_bytes(if f == Family::V4 {
            b"meta nfproto ipv4 "
        } else {
            b"meta nfproto ipv6 "
        });
    }
    for (c, dir) in [(&m.src, "saddr "), (&m.dst, "daddr ")] {
        if let Some(c) = c {
            b.push_bytes(if c.family() == Family::V4 {
                b"ip "
            } else {
                b"ip6 "
            });
            b.push_bytes(dir.as_bytes());
            if c.negate {
                b.push_bytes(b"!= ");
            }
            let _ = c.write_net(b);
            b.push_bytes(b" ");
        }
    }
    let iif = m.iif.as_deref().filter(|_| hook.has_iif());
    let oif = m.oif.as_deref().filter(|_| hook.has_oif());
    let proto = m.proto.map(|p| p.as_str());
    for (pre, v, post) in [
        ("iifname \"", iif, "\" "),
        ("oifname \"", oif, "\" "),
        ("meta l4proto ", proto, " "),
    ] {
        if let Some(v) = v {
            b.push_bytes(pre.as_bytes());
            b.push_bytes(v.as_bytes());
            b.push_bytes(post.as_bytes());
        }
    }
}

/// Calls `f(hook, meter, tag)` for every rule netmon installs, in order.
fn each_rule(meters: &[Meter], mut f: impl FnMut(Hook, &Meter, &Buf, &Buf)) {
    let (mut mt, mut tg) = (Buf::new(), Buf::new());
    for &hook in &Hook::ALL {
        for m in meters.iter().filter(|m| m.hooks.contains(&hook)) {
            mt.clear();
            tg.clear();
            matches(m, hook, &mut mt);
            tag(&mut tg, &m.name, hook.as_str(), mt.as_bytes());
            f(hook, m, &mt, &tg);
        }
    }
}

/// The nft script that (re)creates the table in one transaction, one
/// command per line.
pub fn script(meters: &[Meter]) -> Buf {
    build(meters, "\n")
}

/// Appends `parts` then `sep`: one command of the script.
fn line(b: &mut Buf, sep: &str, parts: &[&str]) {
    for p in parts {
        b.push_bytes(p.as_bytes());
    }
    b.push_bytes(sep.as_bytes());
}

/// The script with each command followed by `sep`.
fn build(meters: &[Meter], sep: &str) -> Buf {
    let mut b = Buf::new();
    // `add` first so `delete` cannot fail when the table is absent.
    for l in &[
        "add table inet netmon",
        "delete table inet netmon",
        "add table inet netmon",
    ] {
        line(&mut b, sep, &[l]);
    }
    // Link meters count in `table netdev netmon` (see `nft_netdev`).
    for m in meters.iter().filter(|m| m.link.is_none()) {
        line(&mut b, sep, &["add counter inet netmon m_", &m.name]);
    }
    for &hook in &Hook::ALL {
        if meters.iter().any(|m| m.hooks.contains(&hook)) {
            let h = hook.as_str();
            let parts = [
                "add chain inet netmon ",
                h,
                " { type filter hook ",
                h,
                " priority -1; policy accept; }", // PRIORITY
            ];
            line(&mut b, sep, &parts);
        }
    }
    each_rule(meters, |hook, m, mt, tg| {
        let parts = [
            "add rule inet netmon ",
            hook.as_str(),
            " ",
            mt.as_str(),
            "counter name \"m_",
            &m.name,
            "\" comment \"",
            tg.as_str(),
            "\"",
        ];
        line(&mut b, sep, &parts);
    });
    b
}

pub fn install(meters: &[Meter], r: &mut Runner) -> Result<()> {
    // One argument, one transaction; `; ` keeps dry-run output to one line.
    let mut s = build(meters, "; ");
    s.0.truncate(s.0.len().saturating_sub(2));
    r.change(&["nft", s.as_str()])
}

pub fn remove(r: &mut Runner) -> Result<()> {
    // `add` then `delete` in one transaction: no error when it is absent,
    // and nothing but netmon's tables are named.
    r.change(&[
        "nft",
        "add table inet netmon; delete table inet netmon; \
         add table netdev netmon; delete table netdev netmon",
    ])
}

/// Expected per-chain digests, indexed like `Hook::ALL`.
fn expected(meters: &[Meter]) -> [Digest; 3] {
    let mut d = [Digest::default(); 3];
    each_rule(meters, |hook, _, _, tg| d[hook.index()].add(tg.as_bytes()));
    d
}

/// Fills `obs` (as `Observed::default` makes it) from `nft -a list table`.
pub fn read(meters: &[Meter], r: &mut Runner, obs: &mut Observed) -> Result<()> {
    read_from(meters, obs, |f| {
        let absent = Some("No such file or directory");
        r.read_checked(&READ_ARGV, absent, &mut |rd| p::parse(rd, &mut *f))
    })
}

/// Fills `obs` from a netlink dump (`nft_netlink`): the counters and the
/// table's handle. A dump has no rules: `installed` stays false.
pub fn read_counters(meters: &[Meter], obs: &mut Observed) -> Result<()> {
    read_from(meters, obs, |f| {
        super::nft_netlink::list(crate::parse::nfnetlink::FAMILY_INET, &[], f)
    })?;
    obs.installed = false;
    Ok(())
}

/// Fills `obs` from the items `source` streams into the callback it gets.
fn read_from(
    meters: &[Meter],
    obs: &mut Observed,
    source: impl FnOnce(&mut dyn FnMut(Item<'_>)) -> Result<Outcome>,
) -> Result<()> {
    let mut seen = [Digest::default(); 3];
    let mut counters = 0usize;
    let mut ours = false;
    let out = source(&mut |item| match item {
        Item::Table {
            family,
            name,
            handle,
        } => {
            ours = family == "inet" && name == TABLE;
            if ours {
                obs.present = true;
                obs.handle = handle.unwrap_or(0);
            }
        }
        Item::Counter {
            name,
            packets,
            bytes,
        } if ours => {
            if let Some(n) = name.strip_prefix("m_").filter(|n| valid_name(n)) {
                add_count(&mut obs.counts, n, Count::new(packets, bytes));
                counters += usize::from(meters.iter().any(|m| m.name == n && m.link.is_none()));
            }
        }
        Item::Rule {
            chain,
            comment: Some(c),
            ..
        } if ours => {
            if let Some(h) = Hook::parse(chain) {
                seen[h.index()].add(c.as_bytes());
            }
        }
        _ => {}
    })?;
    match out {
        Outcome::DryRun => {}
        Outcome::Absent => {
            // No table: whatever was parsed does not count.
            obs.present = false;
            obs.handle = 0;
            obs.counts.clear();
        }
        Outcome::Done => {
            let classic = meters.iter().filter(|m| m.link.is_none()).count();
            obs.installed = obs.present && counters == classic && seen == expected(meters);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::{Cidr, Proto};

    fn meter(name: &str, hooks: &[Hook]) -> Meter {
        Meter {
            name: name.try_into().unwrap(),
            hooks: hooks.iter().copied().collect(),
            link: None,
            src: None,
            dst: None,
            iif: None,
            oif: None,
            proto: None,
        }
    }

    #[test]
    fn blog_meters_script() {
        let mut proxy = meter("proxy", &[Hook::Input]);
        proxy.src = Some(Cidr::parse("192.168.1.10").unwrap());
        let mut offnet = meter("offnet", &[Hook::Input]);
        offnet.src = Some(Cidr::parse("!192.168.1.0/24").unwrap());
        let s = script(&[proxy, offnet]);
        let lines: Vec<&str> = s.as_str().lines().collect();
        assert_eq!(lines[3], "add counter inet netmon m_proxy");
        assert_eq!(
            lines[5],
            "add chain inet netmon input { type filter hook input priority -1; policy accept; }"
        );
        assert!(lines[6].starts_with(
            "add rule inet netmon input ip saddr 192.168.1.10/32 counter name \"m_proxy\" comment \"netmon:proxy:"
        ));
        assert!(
            lines[7].starts_with("add rule inet netmon input ip saddr != 192.168.1.0/24 counter")
        );
        assert_eq!(lines.len(), 8);
    }

    #[test]
    fn interfaces_only_where_the_hook_has_them() {
        let mut down = meter("wan_down", &[Hook::Input, Hook::Forward]);
        down.iif = Some("eth0".try_into().unwrap());
        down.proto = Some(Proto::Icmp);
        let s = script(&[down]);
        let t = s.as_str();
        assert!(t.contains("add rule inet netmon input meta nfproto ipv4 iifname \"eth0\" meta l4proto icmp counter"));
        assert!(t.contains("add rule inet netmon forward meta nfproto ipv4 iifname \"eth0\""));
        assert!(!t.contains("chain inet netmon output"));
    }
}
