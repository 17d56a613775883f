//! Reads what the router knows about its LAN devices (DHCP leases, static
//! hosts, /etc/ethers, the neighbour tables) and merges it into one
//! `Host` per MAC (`parse::hosts`); the neighbour tables are read by
//! `firewall::neigh`. Every source is optional: a missing
//! or unreadable file is simply not a source.

use crate::device::{Host, Lan};
use crate::firewall::run::Runner;
use crate::parse::hosts::{self as h, Lease, Sources};
use crate::sys;

/// The files, where OpenWrt keeps them.
pub const LEASES: &str = "/tmp/dhcp.leases";
pub const ODHCPD_DIR: &str = "/tmp/hosts";
pub const DHCP_CONFIG: &str = "/etc/config/dhcp";
pub const ETHERS: &str = "/etc/ethers";

/// Most bytes read of one source (a lease file of 8192 devices is ~1 MB).
const MAX_SOURCE: usize = 2 << 20;

fn read(path: &str) -> Vec<u8> {
    let mut b = sys::read_file(path).unwrap_or_default();
    b.truncate(MAX_SOURCE);
    b
}

/// Everything known about the devices on `lan` now. Neighbours of other
/// interfaces (the ISP's gateway on the WAN) are left out.
pub fn load(lan: &Lan, r: &mut Runner) -> Vec<Host> {
    let mut statics = Vec::new();
    let dhcp = read(DHCP_CONFIG);
    if let Ok(text) = core::str::from_utf8(&dhcp) {
        let _ = h::static_hosts(text, |host| statics.push(host));
    }
    let mut ethers = Vec::new();
    h::ethers(&read(ETHERS), |host| ethers.push(host));
    let mut leases: Vec<Lease> = Vec::new();
    h::dnsmasq_leases(&read(LEASES), |l| leases.push(l));
    let mut odhcpd = sys::read_dir(ODHCPD_DIR, true).unwrap_or_default();
    odhcpd.sort_unstable();
    for name in odhcpd.iter().filter(|n| n.starts_with("odhcpd")) {
        h::odhcpd_leases(&read(&crate::store::join(ODHCPD_DIR, name)), |l| {
            leases.push(l)
        });
    }
    let neighbours = crate::firewall::neigh::read(r, Some(lan));
    h::merge_hosts(&Sources {
        statics: &statics,
        ethers: &ethers,
        leases: &leases,
        neighbours: &neighbours,
    })
}
