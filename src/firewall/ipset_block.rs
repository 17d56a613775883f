//! Blocking LAN devices on the iptables backend (firewall3 routers). A
//! blocked device's forwarded traffic is dropped in both directions, IPv4
//! and IPv6: to the internet and to other subnets, connections made before
//! the block included. Its traffic with the router itself (INPUT/OUTPUT:
//! LuCI, SSH, DNS, DHCP) is not touched, so an admin cannot lock
//! themselves out, and neither is bridged LAN-to-LAN traffic, which is
//! not the router's to block.
//!
//! Per family, netmon's chain `netmon_block` in the filter table, entered
//! by a jump tagged `netmon` at position 1 of FORWARD, so a blocked packet
//! is dropped before netmon's counting jumps (`netmon_dev_fwd`,
//! `netmon_fwd`: it is not counted) and before fw3's rules (its
//! `FLOWOFFLOAD` rule included: it is not offloaded). The chain holds:
//!
//! - `-i BR ! -o BR -m set --match-set netmon_block4 src -j DROP` (upload)
//!   and `! -i BR -o BR -m set --match-set netmon_block4 dst -j DROP`
//!   (download; `netmon_block6` in ip6tables): `hash:ip` sets of the
//!   blocked devices' addresses. Kernels built without `ip_set_hash_mac`
//!   refuse `hash:mac`, and the
//!   destination MAC of a download is not known yet where iptables sees it,
//!   so both directions match addresses, as `ipset_devices` does.
//! - `-i BR ! -o BR -m mac --mac-source MAC -j DROP` per blocked device:
//!   the upload of an address the device took after the sets were last
//!   filled (a new IPv6 privacy address) is dropped too, so no connection
//!   from it gets going; the download of such an address is dropped from
//!   the next `apply` on (the caller fills the sets from the neighbour
//!   tables at every update).
//!
//! `-i BR ! -o BR` / `! -i BR -o BR` leave out the frames `br_netfilter`
//! passes through FORWARD between two ports of the bridge (`-i BR -o BR`);
//! traffic routed between two subnets of the same bridge is left out with
//! them.
//!
//! Every rule carries a tag (`netmon:block:<hash>`, a MAC rule
//! `netmon:block:<mac>:<hash>`, the hash covering the family, the rule's
//! words and the set size), so `read` tells installed from missing or
//! stale; the jump must be the first rule of FORWARD (a counting jump
//! installed after it reads as not installed: install the block last).
//! The sets are netmon's marker, as in `ipset_devices`: without them `read`
//! and `remove` look no further, so they never touch ip6tables on a router
//! where the block was never installed (legacy ip6tables loads its table at
//! a listing).
//!
//! Established flows: without flow offloading, every packet of a
//! connection goes through FORWARD, so `apply` alone stops it. With fw3's
//! `FLOWOFFLOAD` (or any software flowtable), an offloaded flow's packets
//! skip FORWARD until its conntrack entry goes away: `forget_flows` deletes
//! the blocked addresses' entries, the flowtable lets go of them at its
//! next garbage collection (about a second), and their next packets meet
//! the DROP. (The test machine's kernel has no flowtables: that last step
//! is OpenWrt's documented behaviour, not measured here; the deletion of
//! the entries is.) Hardware offload is beyond any software rule.
//!
//! Bounds: at most `MAX_BLOCKS` devices, the first `MAX_ADDRS` usable
//! addresses of each (the MAC rule still catches the upload of the others),
//! so a set (`maxelem` `SET_SIZE`) never fills.

use super::ipset_devices::{create_set, family_word, ipset_installed, remove_chain, xt_ok};
use super::iptables::{tool, JUMP_TAG};
use super::run::{Outcome, Runner};
use super::tag;
use crate::device::{Lan, Mac};
use crate::error::{Error, Result};
use crate::meter::Family;
use crate::parse::ipset::{self as ps, Item, Key};
use crate::parse::{iptables as pi, LineReader, ParseError};
use crate::text::Buf;
use core::net::IpAddr;
use std::io::BufRead;

/// Most devices blocked at once (`crate::state::MAX_BLOCKS` once the state
/// keeps blocks: the two must stay equal).
pub const MAX_BLOCKS: usize = 256;
/// Most addresses of one blocked device put into the sets.
pub const MAX_ADDRS: usize = 16;
/// `maxelem` of each set: every blocked device's addresses of one family.
pub const SET_SIZE: usize = MAX_BLOCKS * MAX_ADDRS;

/// The sets, one per family.
const SETS: [(&str, Family); 2] = [("netmon_block4", Family::V4), ("netmon_block6", Family::V6)];
const FAMILIES: [Family; 2] = [Family::V4, Family::V6];
/// netmon's chain and the built-in chain that jumps to it.
const CHAIN: &str = "netmon_block";
const BUILTIN: &str = "FORWARD";
/// What an install says when ipset is missing.
const NO_IPSET: &str = "blocking devices on the iptables backend needs ipset: install it \
                        (opkg install ipset kmod-ipt-ipset)";

/// What a read of the block rules found.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Found {
    /// Something of netmon's block setup exists (maybe stale or partial).
    pub present: bool,
    /// Sets, chains, fixed rules and jumps are as `install` makes them,
    /// each jump the first rule of FORWARD, and both families hold the same
    /// MAC rules, each well-formed.
    pub installed: bool,
    /// The sets' members, sorted.
    pub addrs: Vec<IpAddr>,
    /// The MACs with a drop rule, sorted.
    pub macs: Vec<Mac>,
}

impl Found {
    /// What a read right after `install` finds: nothing blocked yet.
    pub fn just_installed() -> Found {
        Found {
            present: true,
            installed: true,
            ..Found::default()
        }
    }
}

/// A rule of `CHAIN`; every one ends in `-j DROP`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BlockRule {
    /// By source address: the upload of a blocked address.
    Up,
    /// By destination address: the download.
    Down,
    /// By source MAC: the upload of a blocked device's every address.
    Mac(Mac),
}

/// The fixed rules, in the order `install` appends them.
const FIXED: [BlockRule; 2] = [BlockRule::Up, BlockRule::Down];

fn set_of(fam: Family) -> &'static str {
    match fam {
        Family::V4 => SETS[0].0,
        Family::V6 => SETS[1].0,
    }
}

fn family_of(ip: &IpAddr) -> Family {
    match ip {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

/// Fills `m` with the match words of `d` in `fam` (each followed by a
/// space: an interface name holds none) and `tg` with its tag.
fn rule_text(lan: &Lan, fam: Family, d: BlockRule, m: &mut Buf, tg: &mut Buf) {
    let br = lan.bridge.as_str();
    m.clear();
    let (iif, oif) = match d {
        BlockRule::Down => ("! -i {} -o {} ", "dst "),
        BlockRule::Up | BlockRule::Mac(_) => ("-i {} ! -o {} ", "src "),
    };
    m.fill(iif, &[br, br]);
    let mut name = Buf::new();
    name.push_bytes(b"block");
    match d {
        BlockRule::Mac(mac) => {
            let mut a = Buf::new();
            let _ = mac.write(&mut a);
            m.fill("-m mac --mac-source {} ", &[a.as_str()]);
            name.fill(":{}", &[a.as_str()]);
        }
        BlockRule::Up | BlockRule::Down => m.fill("-m set --match-set {} {}", &[set_of(fam), oif]),
    }
    let mut key = Buf::new();
    let size = crate::text::num(SET_SIZE as u64);
    key.fill(
        "{} {}-j DROP size {}",
        &[tool(fam), m.as_str(), size.as_str()],
    );
    tg.clear();
    tag(tg, name.as_str(), "forward", key.as_bytes());
}

/// The MAC of a MAC rule's tag, when the tag is exactly the one
/// `rule_text` makes for it.
fn mac_of_tag(lan: &Lan, fam: Family, comment: &str) -> Option<Mac> {
    let rest = comment.strip_prefix("netmon:block:")?;
    let (mac, _) = rest.rsplit_once(':')?;
    let mac = Mac::parse(mac)?;
    let (mut m, mut tg) = (Buf::new(), Buf::new());
    rule_text(lan, fam, BlockRule::Mac(mac), &mut m, &mut tg);
    (tg.as_str() == comment).then_some(mac)
}

/// Appends (`-A`) or deletes (`-D`) the rule `d` of `fam`.
fn rule_op(r: &mut Runner, lan: &Lan, fam: Family, op: &str, d: BlockRule) -> Result<()> {
    let (mut m, mut tg) = (Buf::new(), Buf::new());
    rule_text(lan, fam, d, &mut m, &mut tg);
    let words = [
        op,
        CHAIN,
        " ",
        m.as_str(),
        "-m comment --comment ",
        tg.as_str(),
        " -j DROP",
    ];
    xt_ok(r, fam, &words)
}

/// Creates the sets, then per family the chain, its fixed rules and the
/// jump (traffic enters a complete chain), after removing whatever of it
/// was there: nothing is blocked until `apply`.
pub fn install(lan: &Lan, r: &mut Runner) -> Result<()> {
    if !r.dry_run && !ipset_installed() {
        return Err(Error::runtime(NO_IPSET));
    }
    teardown(r)?;
    let size = crate::text::num(SET_SIZE as u64);
    for (set, fam) in SETS {
        create_set(r, set, fam, size.as_str(), false)?;
    }
    for fam in FAMILIES {
        xt_ok(r, fam, &["-N ", CHAIN])?;
        for d in FIXED {
            rule_op(r, lan, fam, "-A ", d)?;
        }
        let jump = [
            "-I ",
            BUILTIN,
            " 1 -m comment --comment ",
            JUMP_TAG,
            " -j ",
            CHAIN,
        ];
        xt_ok(r, fam, &jump)?;
    }
    Ok(())
}

/// Removes everything `install` adds; a no-op when netmon's sets are
/// absent (see the module doc), and without ipset.
pub fn remove(r: &mut Runner) -> Result<()> {
    if !r.dry_run && (!ipset_installed() || !sets_exist(r)?) {
        return Ok(());
    }
    teardown(r)
}

/// Deletes the jumps (by their full specification: only rules identical
/// to netmon's), flushes and deletes the chains, destroys the sets; what is
/// not there is not an error.
fn teardown(r: &mut Runner) -> Result<()> {
    for fam in FAMILIES {
        remove_chain(r, fam, BUILTIN, CHAIN)?;
    }
    for (set, _) in SETS {
        if let Some(err) = r.try_change(&["ipset", "destroy", set])? {
            if !crate::text::contains(&err, "does not exist") {
                return Err(super::run::failed(&["ipset", "destroy", set], &err));
            }
        }
    }
    Ok(())
}

/// Whether one of `SETS` exists (`ipset list -n`).
fn sets_exist(r: &mut Runner) -> Result<bool> {
    let mut found = false;
    r.read_checked(&["ipset", "list", "-n"], None, &mut |rd| {
        let mut lines = LineReader::new(rd);
        while let Some(l) = lines.next_line()? {
            found |= SETS.iter().any(|s| s.0 == l.text.trim_ascii());
        }
        Ok(())
    })?;
    Ok(found)
}

/// One set as read.
#[derive(Default, Debug, PartialEq, Eq)]
struct SetRead {
    present: bool,
    /// Created as `install` creates it, and holding only addresses of its
    /// family, at most `SET_SIZE`.
    as_installed: bool,
    members: Vec<IpAddr>,
}

/// Reads `ipset save SET` output into `s`.
fn parse_set(
    rd: impl BufRead,
    set: &str,
    fam: Family,
    s: &mut SetRead,
) -> core::result::Result<(), ParseError> {
    ps::parse_save(rd, |item| match item {
        Item::Create {
            set: name,
            kind,
            family: f,
            maxelem,
            ..
        } if name == set => {
            s.present = true;
            s.as_installed = kind == "hash:ip"
                && f == Some(family_word(fam))
                && maxelem == Some(SET_SIZE as u64);
        }
        Item::Member { set: name, key, .. } if name == set => match key {
            Key::Ip(ip) if family_of(&ip) == fam && s.members.len() < SET_SIZE => {
                s.members.push(ip)
            }
            _ => s.as_installed = false,
        },
        _ => {}
    })
}

/// `ipset save SET`; `None` in dry-run.
fn read_set(r: &mut Runner, set: &str, fam: Family) -> Result<Option<SetRead>> {
    let mut s = SetRead::default();
    let argv = ["ipset", "save", set];
    let out = r.read_checked(&argv, Some("does not exist"), &mut |rd| {
        parse_set(rd, set, fam, &mut s)
    })?;
    Ok(match out {
        Outcome::DryRun => None,
        Outcome::Absent => Some(SetRead::default()),
        Outcome::Done => Some(s),
    })
}

/// What one family's listing showed of the block rules.
#[derive(Debug, PartialEq, Eq)]
struct ChainRead {
    /// Rules seen in FORWARD, and how many of them are netmon's jump.
    forward_rules: u32,
    jumps: u32,
    /// netmon's jump is the first rule of FORWARD.
    jump_first: bool,
    /// Rules seen in `CHAIN`.
    rules: u32,
    /// Every rule of `CHAIN` is one `install` or `apply` puts there, where
    /// they put it.
    rules_ok: bool,
    /// The MACs of the MAC rules, sorted, at most `MAX_BLOCKS`.
    macs: Vec<Mac>,
}

impl ChainRead {
    fn new() -> ChainRead {
        ChainRead {
            forward_rules: 0,
            jumps: 0,
            jump_first: false,
            rules: 0,
            rules_ok: true,
            macs: Vec::new(),
        }
    }

    fn as_installed(&self) -> bool {
        self.rules_ok && self.rules as usize >= FIXED.len() && self.jumps == 1 && self.jump_first
    }

    /// Takes one rule of the listing, in order.
    fn observe(&mut self, lan: &Lan, fam: Family, fixed: &[Buf], rule: pi::Rule<'_>) {
        if rule.chain == BUILTIN {
            if rule.comment == Some(JUMP_TAG) && rule.target == CHAIN {
                self.jumps += 1;
                self.jump_first |= self.forward_rules == 0;
            }
            self.forward_rules = self.forward_rules.saturating_add(1);
            return;
        }
        if rule.chain != CHAIN {
            return;
        }
        let i = self.rules as usize;
        self.rules = self.rules.saturating_add(1);
        let comment = rule.comment.unwrap_or("");
        let ok = rule.target == "DROP"
            && match fixed.get(i) {
                Some(want) => comment == want.as_str(),
                None => self.mac_rule(lan, fam, comment),
            };
        self.rules_ok &= ok;
    }

    /// Keeps the MAC of a well-formed MAC rule; false for anything else,
    /// a MAC seen before, or one more than `MAX_BLOCKS`.
    fn mac_rule(&mut self, lan: &Lan, fam: Family, comment: &str) -> bool {
        let Some(mac) = mac_of_tag(lan, fam, comment) else {
            return false;
        };
        match self.macs.binary_search(&mac) {
            Ok(_) => false,
            Err(_) if self.macs.len() >= MAX_BLOCKS => false,
            Err(at) => {
                self.macs.insert(at, mac);
                true
            }
        }
    }
}

/// Reads `TOOL -w -t filter -L -n -v -x` output of `fam`.
fn parse_chains(
    rd: impl BufRead,
    lan: &Lan,
    fam: Family,
) -> core::result::Result<ChainRead, ParseError> {
    let fixed = FIXED.map(|d| {
        let (mut m, mut tg) = (Buf::new(), Buf::new());
        rule_text(lan, fam, d, &mut m, &mut tg);
        tg
    });
    let mut c = ChainRead::new();
    pi::parse_list(rd, |rule| c.observe(lan, fam, &fixed, rule))?;
    Ok(c)
}

/// One family's listing; `None` in dry-run.
fn read_chains(r: &mut Runner, fam: Family, lan: &Lan) -> Result<Option<ChainRead>> {
    let mut c = None;
    let argv = [tool(fam), "-w", "-t", "filter", "-L", "-n", "-v", "-x"];
    r.read_checked(&argv, None, &mut |rd| {
        c = Some(parse_chains(rd, lan, fam)?);
        Ok(())
    })?;
    Ok(c)
}

/// Reads the sets' members and the MAC rules, and checks the rest is as
/// `install` makes it. Nothing is present without ipset (or in dry-run).
pub fn read(lan: &Lan, r: &mut Runner) -> Result<Found> {
    let mut found = Found::default();
    if !r.dry_run && !ipset_installed() {
        return Ok(found);
    }
    let mut ok = true;
    for (set, fam) in SETS {
        let Some(s) = read_set(r, set, fam)? else {
            return Ok(found); // dry run
        };
        found.present |= s.present;
        ok &= s.as_installed;
        found.addrs.extend(s.members);
    }
    found.addrs.sort_unstable();
    if !found.present {
        return Ok(found);
    }
    // Per family: its MAC rules' MACs (sorted).
    let mut macs = Vec::new();
    for fam in FAMILIES {
        let Some(c) = read_chains(r, fam, lan)? else {
            return Ok(found);
        };
        ok &= c.as_installed();
        macs.push(c.macs);
    }
    ok &= macs.first() == macs.last();
    found.macs = macs.concat();
    found.macs.sort_unstable();
    found.macs.dedup();
    found.installed = ok;
    Ok(found)
}

/// An address a blocked device's forwarded traffic can carry: not
/// unspecified, loopback, multicast or IPv6 link-local (never routed).
fn usable(ip: &IpAddr) -> bool {
    let v6_link_local = matches!(ip, IpAddr::V6(a) if a.is_unicast_link_local());
    !(ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || v6_link_local)
}

/// The MACs and addresses `want` blocks, each sorted and without
/// duplicates: the first `MAX_ADDRS` usable addresses of each device.
fn wanted(want: &[(Mac, Vec<IpAddr>)]) -> Result<(Vec<Mac>, Vec<IpAddr>)> {
    let mut macs: Vec<Mac> = want.iter().map(|w| w.0).collect();
    macs.sort_unstable();
    macs.dedup();
    if macs.len() > MAX_BLOCKS {
        let n = crate::text::num(MAX_BLOCKS as u64);
        let msg = crate::text::fill(
            "cannot block more than {} devices on the iptables backend: unblock some first",
            &[n.as_str()],
        );
        return Err(Error::runtime(msg));
    }
    let mut addrs: Vec<IpAddr> = Vec::new();
    for (_, a) in want {
        addrs.extend(a.iter().filter(|a| usable(a)).take(MAX_ADDRS));
    }
    addrs.sort_unstable();
    addrs.dedup();
    Ok((macs, addrs))
}

/// The items of sorted `a` that sorted `b` lacks.
fn missing<'a, T: Ord>(a: &'a [T], b: &'a [T]) -> impl Iterator<Item = &'a T> {
    a.iter().filter(|x| b.binary_search(x).is_err())
}

/// `ipset -exist OP SET ADDR`.
fn member_op(r: &mut Runner, op: &str, ip: &IpAddr) -> Result<()> {
    let mut a = Buf::new();
    let _ = crate::text::write_ip(&mut a, ip);
    r.change(&["ipset", "-exist", op, set_of(family_of(ip)), a.as_str()])
}

/// Makes the kernel drop exactly `want` (each blocked device's MAC and its
/// current addresses), changing only the difference with `found` (a read,
/// or `Found::just_installed()` after `install`): what gets blocked first,
/// what no longer is after. Refuses more than `MAX_BLOCKS` devices, and a
/// `found` that is not installed (nothing would be dropped).
pub fn apply(lan: &Lan, want: &[(Mac, Vec<IpAddr>)], found: &Found, r: &mut Runner) -> Result<()> {
    let (macs, addrs) = wanted(want)?;
    if !r.dry_run && !found.installed {
        return Err(Error::runtime(
            "netmon's block rules are not installed: install them before blocking",
        ));
    }
    let mut had_addrs = found.addrs.clone();
    had_addrs.sort_unstable();
    let mut had_macs = found.macs.clone();
    had_macs.sort_unstable();
    for ip in missing(&addrs, &had_addrs) {
        member_op(r, "add", ip)?;
    }
    for mac in missing(&macs, &had_macs) {
        for fam in FAMILIES {
            rule_op(r, lan, fam, "-A ", BlockRule::Mac(*mac))?;
        }
    }
    for ip in missing(&had_addrs, &addrs) {
        member_op(r, "del", ip)?;
    }
    for mac in missing(&had_macs, &macs) {
        for fam in FAMILIES {
            rule_op(r, lan, fam, "-D ", BlockRule::Mac(*mac))?;
        }
    }
    Ok(())
}

/// Whether the `conntrack` tool (conntrack-tools) is in PATH.
pub fn conntrack_installed() -> bool {
    let path = crate::sys::getenv(c"PATH").unwrap_or_default();
    super::in_path(&path, "conntrack")
}

/// Deletes the conntrack entries of the flows of `addrs` (`conntrack -D
/// -s ADDR`: the device opened them; `-r ADDR`: the device answers them,
/// port forwards included), so that offloaded flows leave the flowtable and
/// meet the DROP (see the module doc). Call it after `apply`. Entries of
/// the device's connections with the router itself go too: harmless, as
/// INPUT/OUTPUT are untouched and the next packet creates a new entry
/// (`nf_conntrack_tcp_loose`, on by default; with it off, a firewall that
/// drops invalid packets stops such a connection, a new one works).
///
/// Does nothing without the conntrack tool (the caller knows whether flow
/// offloading makes that worth a warning: `conntrack_installed`). A
/// failure is not an error (the block itself is in place): the first is
/// returned as a warning.
pub fn forget_flows(addrs: &[IpAddr], r: &mut Runner) -> Option<String> {
    if !r.dry_run && !conntrack_installed() {
        return None;
    }
    let mut warning = None;
    for ip in addrs.iter().filter(|a| usable(a)).take(SET_SIZE) {
        let mut a = Buf::new();
        let _ = crate::text::write_ip(&mut a, ip);
        let fam = match ip {
            IpAddr::V4(_) => "ipv4",
            IpAddr::V6(_) => "ipv6",
        };
        for side in ["-s", "-r"] {
            let argv = ["conntrack", "-D", "-f", fam, side, a.as_str()];
            let err = match r.try_change(&argv) {
                Ok(None) => continue,
                // "0 flow entries have been deleted." exits 1.
                Ok(Some(e)) if crate::text::contains(&e, "flow entries have been deleted") => {
                    continue
                }
                Ok(Some(e)) => super::run::first_line(&e),
                Err(e) => e.message().to_string(),
            };
            warning.get_or_insert_with(|| {
                crate::text::fill(
                    "could not forget the established connections of {} ({}): with flow \
                     offloading on, they go on until they end",
                    &[a.as_str(), err.as_str()],
                )
            });
        }
    }
    warning
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "02:00:00:00:10:10";
    const B: &str = "02:00:00:00:20:20";

    fn lan() -> Lan {
        Lan {
            bridge: "br-lan".try_into().unwrap(),
            ports: ["lan1"].iter().map(|p| (*p).try_into().unwrap()).collect(),
            mac: Mac::parse("02:00:00:00:00:01").unwrap(),
            max: 1024,
        }
    }

    fn mac(s: &str) -> Mac {
        Mac::parse(s).unwrap()
    }

    fn ips(v: &[&str]) -> Vec<IpAddr> {
        v.iter().map(|a| a.parse().unwrap()).collect()
    }

    fn dry(f: impl FnOnce(&mut Runner)) -> String {
        let mut r = Runner::new(true);
        f(&mut r);
        r.printed.into_string()
    }

    /// The tags are a contract (see tests/rule_tags.rs): a change makes
    /// every router reinstall.
    #[test]
    fn install_and_remove_argv() {
        let teardown = "\
iptables -w -t filter -D FORWARD -m comment --comment netmon -j netmon_block
iptables -w -t filter -F netmon_block
iptables -w -t filter -X netmon_block
ip6tables -w -t filter -D FORWARD -m comment --comment netmon -j netmon_block
ip6tables -w -t filter -F netmon_block
ip6tables -w -t filter -X netmon_block
ipset destroy netmon_block4
ipset destroy netmon_block6
";
        let create = "\
ipset create netmon_block4 hash:ip family inet maxelem 4096
ipset create netmon_block6 hash:ip family inet6 maxelem 4096
iptables -w -t filter -N netmon_block
iptables -w -t filter -A netmon_block -i br-lan '!' -o br-lan -m set --match-set netmon_block4 src -m comment --comment netmon:block:bb346fc5 -j DROP
iptables -w -t filter -A netmon_block '!' -i br-lan -o br-lan -m set --match-set netmon_block4 dst -m comment --comment netmon:block:78b9f678 -j DROP
iptables -w -t filter -I FORWARD 1 -m comment --comment netmon -j netmon_block
ip6tables -w -t filter -N netmon_block
ip6tables -w -t filter -A netmon_block -i br-lan '!' -o br-lan -m set --match-set netmon_block6 src -m comment --comment netmon:block:b987e5dd -j DROP
ip6tables -w -t filter -A netmon_block '!' -i br-lan -o br-lan -m set --match-set netmon_block6 dst -m comment --comment netmon:block:b9c4e160 -j DROP
ip6tables -w -t filter -I FORWARD 1 -m comment --comment netmon -j netmon_block
";
        assert_eq!(
            dry(|r| install(&lan(), r).unwrap()),
            format!("{teardown}{create}")
        );
        assert_eq!(dry(|r| remove(r).unwrap()), teardown);
    }

    #[test]
    fn apply_blocks_first_and_changes_only_the_difference() {
        let found = Found {
            present: true,
            installed: true,
            addrs: ips(&["192.168.1.11", "192.168.1.10"]),
            macs: vec![mac(B), mac(A)],
        };
        let want = [(mac(A), ips(&["192.168.1.10", "fd00::10"]))];
        let got = dry(|r| apply(&lan(), &want, &found, r).unwrap());
        let b_rule = "-A netmon_block -i br-lan '!' -o br-lan -m mac --mac-source 02:00:00:00:20:20 -m comment --comment netmon:block:02:00:00:00:20:20:";
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), 4, "{got}");
        assert_eq!(lines[0], "ipset -exist add netmon_block6 fd00::10");
        assert_eq!(lines[1], "ipset -exist del netmon_block4 192.168.1.11");
        let d = b_rule.replacen("-A", "-D", 1);
        assert!(
            lines[2].starts_with(&format!("iptables -w -t filter {d}")),
            "{got}"
        );
        assert!(
            lines[3].starts_with(&format!("ip6tables -w -t filter {d}")),
            "{got}"
        );
        // A new device: its addresses, then its MAC rule in both families.
        let want = [(mac(B), ips(&["192.168.1.20"])), (mac(A), vec![])];
        let got = dry(|r| apply(&lan(), &want, &Found::just_installed(), r).unwrap());
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines[0], "ipset -exist add netmon_block4 192.168.1.20");
        assert!(lines[1].contains("--mac-source 02:00:00:00:10:10 -m comment --comment netmon:block:02:00:00:00:10:10:a96ba104 -j DROP"));
        assert!(lines[2].starts_with("ip6tables") && lines[2].ends_with(":b36e0ac2 -j DROP"));
        assert!(lines[3].starts_with(&format!("iptables -w -t filter {b_rule}")));
        assert_eq!(lines.len(), 5, "{got}");
        // Nothing to change: nothing runs.
        let found = Found {
            addrs: ips(&["192.168.1.20"]),
            macs: vec![mac(A), mac(B)],
            ..Found::just_installed()
        };
        assert_eq!(dry(|r| apply(&lan(), &want, &found, r).unwrap()), "");
    }

    #[test]
    fn apply_refuses_rules_that_are_not_installed() {
        let mut r = Runner::new(false);
        let want = [(mac(A), ips(&["192.168.1.10"]))];
        let e = apply(&lan(), &want, &Found::default(), &mut r).unwrap_err();
        assert!(e.message().contains("not installed"), "{}", e.message());
    }

    #[test]
    fn wanted_is_bounded_sorted_and_usable() {
        let many: Vec<IpAddr> = (1..=20u16)
            .map(|i| IpAddr::V6(core::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i)))
            .collect();
        let mut addrs = ips(&[
            "0.0.0.0",
            "127.0.0.1",
            "224.0.0.1",
            "fe80::1",
            "ff02::1",
            "::",
        ]);
        addrs.extend(many.iter().copied());
        let want = [
            (mac(B), addrs),
            (mac(A), ips(&["192.168.1.10", "fd00::1"])),
            (mac(B), vec![]),
        ];
        let (macs, got) = wanted(&want).unwrap();
        assert_eq!(macs, [mac(A), mac(B)]);
        let mut expect = ips(&["192.168.1.10"]);
        expect.extend(many[..MAX_ADDRS].iter().copied());
        assert_eq!(got, expect, "first MAX_ADDRS usable, deduplicated, sorted");
        // MAX_BLOCKS devices fit; one more does not.
        let mut want: Vec<(Mac, Vec<IpAddr>)> = (0..MAX_BLOCKS)
            .map(|i| (Mac([2, 0, 0, 0, (i >> 8) as u8, i as u8]), vec![]))
            .collect();
        assert_eq!(wanted(&want).unwrap().0.len(), MAX_BLOCKS);
        want.push((mac("02:00:00:01:00:00"), vec![]));
        let e = wanted(&want).unwrap_err();
        assert!(e
            .message()
            .starts_with("cannot block more than 256 devices"));
        let mut r = Runner::new(true);
        assert!(apply(&lan(), &want, &Found::just_installed(), &mut r).is_err());
        assert_eq!(r.printed.as_str(), "", "nothing half-applied");
    }

    #[test]
    fn forget_flows_argv() {
        let addrs = ips(&["192.168.1.10", "fe80::1", "fd00::10"]);
        let mut r = Runner::new(true);
        assert_eq!(forget_flows(&addrs, &mut r), None);
        assert_eq!(
            r.printed.as_str(),
            "conntrack -D -f ipv4 -s 192.168.1.10\nconntrack -D -f ipv4 -r 192.168.1.10\n\
             conntrack -D -f ipv6 -s fd00::10\nconntrack -D -f ipv6 -r fd00::10\n"
        );
    }

    /// `iptables -w -t filter -L -n -v -x` after install and one block,
    /// captured from iptables-nft and iptables-legacy 1.8.9 (the same text),
    /// with fw3's rules after netmon's jump.
    const LIST4: &str = "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
    pkts      bytes target     prot opt in     out     source               destination         

Chain FORWARD (policy ACCEPT 0 packets, 0 bytes)
    pkts      bytes target     prot opt in     out     source               destination         
       0        0 netmon_block  0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* netmon */
       0        0 ACCEPT     0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* !fw3: x */

Chain OUTPUT (policy ACCEPT 0 packets, 0 bytes)
    pkts      bytes target     prot opt in     out     source               destination         

Chain netmon_block (1 references)
    pkts      bytes target     prot opt in     out     source               destination         
       0        0 DROP       0    --  br-lan !br-lan  0.0.0.0/0            0.0.0.0/0            match-set netmon_block4 src /* netmon:block:bb346fc5 */
       0        0 DROP       0    --  !br-lan br-lan  0.0.0.0/0            0.0.0.0/0            match-set netmon_block4 dst /* netmon:block:78b9f678 */
       0        0 DROP       0    --  br-lan !br-lan  0.0.0.0/0            0.0.0.0/0            MAC 02:00:00:00:10:10 /* netmon:block:02:00:00:00:10:10:a96ba104 */
";

    fn chains(text: &str) -> ChainRead {
        parse_chains(text.as_bytes(), &lan(), Family::V4).unwrap()
    }

    #[test]
    fn listing_reads_the_mac_rules_and_checks_the_rest() {
        let c = chains(LIST4);
        assert!(c.as_installed(), "{c:?}");
        assert_eq!(c.macs, [mac(A)]);
        // The same rules are another family's: stale.
        let c6 = parse_chains(LIST4.as_bytes(), &lan(), Family::V6).unwrap();
        assert!(!c6.as_installed());
        let mut other = lan();
        other.bridge = "br-guest".try_into().unwrap();
        assert!(!parse_chains(LIST4.as_bytes(), &other, Family::V4)
            .unwrap()
            .as_installed());
    }

    #[test]
    fn listing_without_the_first_jump_is_not_installed() {
        let jump = "       0        0 netmon_block  0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* netmon */\n";
        let fw3 = "       0        0 ACCEPT     0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* !fw3: x */\n";
        // A counting jump inserted at position 1 after the block's.
        let second = LIST4.replace(&format!("{jump}{fw3}"), &format!("{fw3}{jump}"));
        assert_ne!(second, LIST4);
        let c = chains(&second);
        assert!(!c.jump_first && c.jumps == 1 && !c.as_installed());
        // `iptables -F`: no jump, empty chain.
        let flushed: String = LIST4
            .lines()
            .filter(|l| !l.starts_with("       0"))
            .map(|l| format!("{l}\n"))
            .collect();
        let c = chains(&flushed);
        assert_eq!((c.jumps, c.rules), (0, 0));
        assert!(!c.as_installed());
        let twice = LIST4.replace(jump, &format!("{jump}{jump}"));
        assert!(!chains(&twice).as_installed());
    }

    #[test]
    fn listing_with_a_foreign_or_forged_rule_is_stale() {
        let mac_rule = LIST4.lines().last().unwrap();
        for bad in [
            mac_rule.replace("a96ba104", "a96ba105"),
            mac_rule.replace("02:00:00:00:10:10:", "02:00:00:00:10:11:"),
            mac_rule.replace("DROP      ", "ACCEPT    "),
            mac_rule.replace(" /* netmon:block:02:00:00:00:10:10:a96ba104 */", ""),
            mac_rule.to_string(), // twice
        ] {
            let text = format!("{LIST4}{bad}\n");
            let c = chains(&text);
            assert!(!c.as_installed(), "{bad}");
            assert_eq!(c.macs, [mac(A)]);
        }
        // The fixed rules must come first, in order.
        let mut lines: Vec<&str> = LIST4.lines().collect();
        let n = lines.len();
        lines.swap(n - 3, n - 2);
        assert!(!chains(&lines.join("\n")).as_installed());
    }

    #[test]
    fn mac_rule_tags_parse_back_only_exactly() {
        let (mut m, mut tg) = (Buf::new(), Buf::new());
        rule_text(&lan(), Family::V6, BlockRule::Mac(mac(B)), &mut m, &mut tg);
        assert_eq!(
            m.as_str(),
            "-i br-lan ! -o br-lan -m mac --mac-source 02:00:00:00:20:20 "
        );
        assert_eq!(mac_of_tag(&lan(), Family::V6, tg.as_str()), Some(mac(B)));
        assert_eq!(mac_of_tag(&lan(), Family::V4, tg.as_str()), None);
        for t in [
            "",
            "netmon",
            "netmon:block:",
            "netmon:block:zz:12345678",
            "netmon:block:bb346fc5",
        ] {
            assert_eq!(mac_of_tag(&lan(), Family::V4, t), None, "{t}");
        }
        assert_eq!(
            super::super::tag_meter(tg.as_str()),
            None,
            "not a meter's tag"
        );
    }

    #[test]
    fn set_save_members_and_shape() {
        let read = |text: &str, fam| {
            let mut s = SetRead::default();
            let set = set_of(fam);
            parse_set(text.as_bytes(), set, fam, &mut s).unwrap();
            s
        };
        let save = "create netmon_block6 hash:ip family inet6 hashsize 1024 maxelem 4096 bucketsize 12 initval 0xc0470e3d
add netmon_block6 fd00::10
add netmon_block6 fd00::11
create other hash:ip family inet6 hashsize 1024 maxelem 4096
add other fd00::12
";
        let s = read(save, Family::V6);
        assert!(s.present && s.as_installed);
        assert_eq!(s.members, ips(&["fd00::10", "fd00::11"]));
        assert!(!read(&save.replace("4096", "1024"), Family::V6).as_installed);
        let wrong = format!("{save}add netmon_block6 192.168.1.1\n");
        assert!(!read(&wrong, Family::V6).as_installed);
        assert!(!read(save, Family::V4).present);
    }

    #[test]
    fn garbage_does_not_panic() {
        for t in [
            "Chain netmon_block\n1 2 DROP\n",
            "Chain FORWARD (x)\n0 0 netmon_block 0 -- * * ::/0 ::/0 /* netmon */\n",
            "Chain netmon_block (1)\n0 0 DROP 0 -- * * ::/0 ::/0 /* netmon:block:\u{e9}:1 */\n",
        ] {
            let _ = parse_chains(t.as_bytes(), &lan(), Family::V6);
            let _ = parse_set(
                t.as_bytes(),
                "netmon_block6",
                Family::V6,
                &mut SetRead::default(),
            );
        }
    }
}
