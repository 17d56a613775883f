//! Firewall backends: install, read and remove netmon's own counting rules.
//!
//! Each rule carries a tag `netmon:<meter>:<hash>` (nft rule comment,
//! iptables `-m comment`), the hash covering the rule's match and hook, so
//! a read can tell "installed as configured" from "missing" or "stale"
//! without relying on positions. Nothing untagged is ever changed.

pub mod ipset_block;
pub mod ipset_devices;
pub mod iptables;
pub mod neigh;
pub mod nft;
pub mod nft_control;
pub mod nft_netdev;
pub mod nft_netlink;
pub mod run;

use crate::config::BackendChoice;
use crate::device::{Lan, Mac};
use crate::error::{Error, Result};
use crate::meter::Meter;
use crate::quota::Quota;
use crate::state::KernelQuota;
use crate::state::{add_count, Counts, DeviceReading};
use crate::text::Buf;
use core::net::IpAddr;
use run::Runner;

/// A resolved backend.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Nft,
    Iptables,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            Backend::Iptables => "iptables",
        }
    }

    /// `auto`: nft when firewall4 (nftables) is in use or only nft exists,
    /// iptables for firewall3 or when only iptables exists.
    pub fn resolve(choice: BackendChoice, path: &str) -> Result<Backend> {
        match choice {
            BackendChoice::Nft => Ok(Backend::Nft),
            BackendChoice::Iptables => Ok(Backend::Iptables),
            BackendChoice::Auto => auto(path),
        }
    }

    /// Reads netmon's counters and checks its rules against `meters` and
    /// the LAN side (`None`: devices off).
    pub fn read(
        self,
        meters: &[Meter],
        lan: Option<&Lan>,
        quotas: &[Quota],
        r: &mut Runner,
    ) -> Result<Observed> {
        let mut obs = Observed::default();
        match self {
            Backend::Nft => {
                nft::read(meters, r, &mut obs)?;
                obs.add_netdev(nft_netdev::read(lan, meters, quotas, r)?);
            }
            Backend::Iptables => {
                iptables::read(&on_firewall_hooks(meters), r, &mut obs)?;
                let d = ipset_devices::read(lan, r)?;
                obs.devices = d.devices;
                obs.device_sets = d.sets;
                obs.devices_installed = d.installed;
                obs.devices_present = d.present;
                if let Some(lan) = lan {
                    let b = ipset_block::read(lan, r)?;
                    obs.devices_installed &= b.installed;
                    obs.devices_present |= b.present;
                    obs.control.ipt = b;
                }
            }
        }
        Ok(obs)
    }

    /// Reads netmon's counters only, as cheaply as the backend allows: on
    /// nft over netlink (no `nft` child: `nft_netlink` says why), where the
    /// rules are not checked, so `installed` and `devices_installed` are
    /// false; on iptables, in a dry run, and when netlink fails, `read`.
    /// For a reading every second (`top`); what changes rules uses `read`.
    pub fn read_counters(
        self,
        meters: &[Meter],
        lan: Option<&Lan>,
        r: &mut Runner,
    ) -> Result<Observed> {
        if self == Backend::Nft && !r.dry_run {
            let mut obs = Observed::default();
            let netlink = nft::read_counters(meters, &mut obs)
                .and_then(|_| nft_netdev::read_counters(lan, meters, &[]));
            if let Ok(d) = netlink {
                obs.add_netdev(d);
                return Ok(obs);
            }
        }
        self.read(meters, lan, &[], r)
    }

    /// Installs netmon's meter rules, replacing whatever of netmon's was there.
    pub fn install(self, meters: &[Meter], r: &mut Runner) -> Result<()> {
        match self {
            Backend::Nft => nft::install(meters, r),
            Backend::Iptables => iptables::install(&on_firewall_hooks(meters), r),
        }
    }

    /// Installs the per-device rules for `lan` (`None`: none) and the link
    /// meters of `meters`, in a transaction of their own: a kernel without
    /// the netdev family or the egress hook fails this, not the meters on
    /// the firewall hooks.
    pub fn install_netdev(
        self,
        lan: Option<&Lan>,
        meters: &[Meter],
        quotas: &[Quota],
        r: &mut Runner,
    ) -> Result<()> {
        match self {
            Backend::Nft => nft_netdev::install(lan, meters, quotas, r),
            // The block's jump goes in last: it must stay the first
            // rule of FORWARD, above the counting jumps.
            Backend::Iptables => {
                ipset_devices::install(lan, r)?;
                match lan {
                    Some(lan) => ipset_block::install(lan, r),
                    None => ipset_block::remove(r),
                }
            }
        }
    }

    /// Deletes the kernel elements of devices netmon stopped tracking
    /// (`(mac, in the upload set, in the download set)`).
    pub fn prune(self, macs: &[(crate::device::Mac, bool, bool)], r: &mut Runner) -> Result<()> {
        match self {
            Backend::Nft => nft_netdev::prune(macs, r),
            Backend::Iptables => ipset_devices::prune(macs, r),
        }
    }

    /// Makes the kernel cut exactly the devices of `blocked` and enforce
    /// the kernel quotas `want` (nft), by difference with what the last
    /// read found (`obs`).
    pub fn enforce(
        self,
        want: &Wanted<'_>,
        found: &Control,
        lan: &Lan,
        r: &mut Runner,
        warn: &mut Buf,
    ) -> Result<Control> {
        match self {
            Backend::Nft => {
                let macs: Vec<Mac> = want.blocked.iter().map(|b| b.0).collect();
                let nft = nft_control::enforce(&macs, want.quotas, want.kernel, &found.nft, r)?;
                Ok(Control {
                    nft,
                    ..found.clone()
                })
            }
            Backend::Iptables => {
                let (blocked, was) = (want.blocked, &found.ipt);
                if blocked.is_empty() && was.addrs.is_empty() && was.macs.is_empty() {
                    return Ok(found.clone());
                }
                ipset_block::apply(lan, blocked, was, r)?;
                // Offloaded flows of the newly blocked skip FORWARD until
                // their conntrack entries go.
                let new: Vec<IpAddr> = blocked
                    .iter()
                    .filter(|b| !was.macs.contains(&b.0))
                    .flat_map(|b| b.1.iter().copied())
                    .collect();
                if let Some(w) = ipset_block::forget_flows(&new, r) {
                    warn.fill("{}\n", &[&w]);
                }
                let ipt = ipset_block::read(lan, r)?;
                Ok(Control {
                    ipt,
                    ..found.clone()
                })
            }
        }
    }

    /// Removes exactly what `install` and `install_devices` add; a no-op
    /// when nothing is there.
    pub fn remove(self, meters: &[Meter], r: &mut Runner) -> Result<()> {
        match self {
            Backend::Nft => nft::remove(r),
            Backend::Iptables => {
                iptables::remove(&on_firewall_hooks(meters), r)?;
                ipset_devices::remove(r)?;
                ipset_block::remove(r)
            }
        }
    }
}

/// iptables has no link hooks: link meters count on the firewall hooks.
pub fn on_firewall_hooks(meters: &[Meter]) -> Vec<Meter> {
    meters.iter().map(Meter::on_firewall_hooks).collect()
}

fn auto(path: &str) -> Result<Backend> {
    let exists = |p: &str| std::fs::metadata(p).is_ok();
    if exists("/sbin/fw4") {
        return Ok(Backend::Nft);
    }
    if exists("/sbin/fw3") {
        return Ok(Backend::Iptables);
    }
    if in_path(path, "nft") {
        return Ok(Backend::Nft);
    }
    if in_path(path, "iptables") {
        return Ok(Backend::Iptables);
    }
    Err(Error::runtime(
        "neither nft nor iptables was found in PATH: install nftables (or iptables), or pass --backend",
    ))
}

fn in_path(path: &str, tool: &str) -> bool {
    path.split(':').filter(|d| !d.is_empty()).any(|d| {
        let mut p = String::from(d);
        p.push('/');
        p.push_str(tool);
        std::fs::metadata(&p).is_ok_and(|m| m.is_file())
    })
}

/// What a read found.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Observed {
    /// Every counter of netmon's, by meter name: the configured meters'
    /// and those of meters no longer configured whose rules are still
    /// there (their last minutes are not lost).
    pub counts: Counts,
    /// Every rule, chain and counter is present exactly as configured.
    pub installed: bool,
    /// Something of netmon's exists (maybe stale or partial).
    pub present: bool,
    /// nft table handle (0 for iptables or when absent).
    pub handle: u64,
    /// Per-device counters (`on` when devices are counted and installed).
    pub devices: DeviceReading,
    /// The device rules are as configured (absent when devices are off).
    pub devices_installed: bool,
    /// Some of netmon's device rules exist.
    pub devices_present: bool,
    /// Per MAC of `devices.elems`: in the download set, in the upload set.
    pub device_sets: Vec<(crate::device::Mac, bool, bool)>,
    /// What the firewall cuts now: the blocked devices and the quotas.
    pub control: Control,
}

/// What the state wants the firewall to cut.
pub struct Wanted<'a> {
    /// Each device to cut, with its addresses (iptables cuts by address).
    pub blocked: &'a [(Mac, Vec<IpAddr>)],
    pub quotas: &'a [Quota],
    /// The kernel quotas (nft).
    pub kernel: &'a [KernelQuota],
}

/// What the firewall cuts, as read or enforced, per backend.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Control {
    pub nft: nft_control::Found,
    pub ipt: ipset_block::Found,
}

impl Control {
    /// The quotas (config indexes) the kernel says `mac` used up (nft).
    pub fn cut_by(&self, mac: Mac) -> Vec<usize> {
        self.nft.cut_by(mac)
    }
}

impl Observed {
    /// Takes in what a read of `table netdev netmon` found: the link
    /// meters' counters, the devices and whether the table is there.
    fn add_netdev(&mut self, d: nft_netdev::Found) {
        for (name, c) in &d.counts {
            add_count(&mut self.counts, name, *c);
        }
        self.devices = d.devices;
        self.device_sets = d.sets;
        self.devices_installed = d.installed;
        self.devices_present = d.present;
        self.control.nft = d.control;
    }
}

/// FNV-1a, 32 bits: a short, stable fingerprint of a rule's text.
pub fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// `netmon:<meter>:<8 hex of fnv1a(hook + match)>`.
pub fn tag(b: &mut Buf, meter: &str, hook: &str, matches: &[u8]) {
    let mut h = fnv1a(hook.as_bytes());
    h = matches.iter().fold(h ^ 0xff, |h, &c| {
        (h ^ u32::from(c)).wrapping_mul(0x0100_0193)
    });
    b.push_bytes(b"netmon:");
    b.push_bytes(meter.as_bytes());
    b.push_bytes(b":");
    let digits = b"0123456789abcdef";
    for shift in (0..8).rev() {
        b.push_bytes(&[digits[((h >> (shift * 4)) & 0xf) as usize]]);
    }
}

/// The meter name in a tag, if it is one of netmon's counting tags.
pub fn tag_meter(tag: &str) -> Option<&str> {
    let rest = tag.strip_prefix("netmon:")?;
    let (name, hash) = rest.split_once(':')?;
    (hash.len() == 8 && hash.bytes().all(|c| c.is_ascii_hexdigit())).then_some(name)
}

/// An order-sensitive digest of the tags seen in one chain, so "the rules
/// are exactly the configured ones" is checked in O(1) memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Digest {
    pub n: u32,
    pub h: u32,
}

impl Digest {
    pub fn add(&mut self, tag: &[u8]) {
        self.n = self.n.wrapping_add(1);
        self.h = tag
            .iter()
            .fold(self.h.rotate_left(5) ^ 0x5bd1_e995, |h, &c| {
                (h ^ u32::from(c)).wrapping_mul(0x0100_0193)
            });
    }
}

pub(crate) fn parse_failed(tool: &str, e: crate::parse::ParseError) -> Error {
    use crate::parse::ParseError;
    let mut b = Buf::new();
    match e {
        ParseError::Io(e) => return Error::io("read the output of", tool, &e),
        ParseError::Syntax(s) => {
            let _ = ufmt::uwrite!(
                b,
                "cannot understand the output of {} at line {}: {} ('{}')",
                tool,
                s.line,
                s.what,
                s.text.as_str()
            );
        }
    }
    Error::runtime(b.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stable_and_parse_back() {
        let mut a = Buf::new();
        tag(&mut a, "proxy", "input", b"ip saddr 192.168.1.10/32");
        let mut b = Buf::new();
        tag(&mut b, "proxy", "forward", b"ip saddr 192.168.1.10/32");
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(tag_meter(a.as_str()), Some("proxy"));
        assert_eq!(a.as_str().len(), "netmon:proxy:".len() + 8);
        assert_eq!(tag_meter("netmon"), None);
        assert_eq!(tag_meter("netmon:x:123"), None);
        assert_eq!(tag_meter("other:x:12345678"), None);
    }

    #[test]
    fn digest_is_order_sensitive() {
        let (mut x, mut y) = (Digest::default(), Digest::default());
        x.add(b"a");
        x.add(b"b");
        y.add(b"b");
        y.add(b"a");
        assert_ne!(x, y);
    }

    #[test]
    fn path_lookup() {
        assert!(in_path("/nonexistent:/bin:/usr/bin", "ls"));
        assert!(!in_path("/nonexistent", "ls"));
        assert!(!in_path("", "ls"));
    }
}
