//! The kernel's neighbour tables (`/proc/net/arp`, `ip -6 neigh show`):
//! which MAC has which address now. Read by the iptables device backend
//! (its sets count by address) and by the name sources (`crate::hosts`).

use super::run::Runner;
use crate::device::Lan;
use crate::parse::hosts::{self as h, Neighbour};
use crate::sys;

/// The IPv4 neighbour table.
pub const ARP: &str = "/proc/net/arp";
/// Most bytes read of a neighbour table (8192 devices with a few
/// addresses each fit).
const MAX_NEIGH: usize = 2 << 20;

/// The neighbours on `lan`'s bridge and ports (`None`: on every
/// interface), IPv4 then IPv6. A table that cannot be read gives none.
pub fn read(r: &mut Runner, lan: Option<&Lan>) -> Vec<Neighbour> {
    let mut out = Vec::new();
    let on_lan = |n: &Neighbour| lan.is_none_or(|l| n.dev == l.bridge || l.ports.contains(&n.dev));
    let mut keep = |n: Neighbour| {
        if on_lan(&n) {
            out.push(n);
        }
    };
    let mut arp = sys::read_file(ARP).unwrap_or_default();
    arp.truncate(MAX_NEIGH);
    h::proc_net_arp(&arp, &mut keep);
    let listed = r.read(&["ip", "-6", "neigh", "show"], |rd| {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(rd, MAX_NEIGH as u64), &mut b)?;
        Ok(b)
    });
    if let Ok(Some((Ok(text), _))) = listed {
        h::ip_neigh(&text, &mut keep);
    }
    out
}
