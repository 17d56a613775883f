//! Where device names and addresses come from: the files OpenWrt's DHCP
//! servers and the kernel write, read into `Host` records keyed by MAC.
//! Pure: the caller reads the files (and runs `ip -6 neigh show`) and
//! passes their bytes.
//!
//! Stage one, one parser per source, each a borrowed view of one line
//! turned into a small record handed to a callback:
//! - [`dnsmasq_leases`]: `/tmp/dhcp.leases` (dnsmasq `lease.c`,
//!   `lease_update_file`);
//! - [`odhcpd_leases`]: odhcpd's lease file `/tmp/hosts/odhcpd` and its
//!   hosts files `/tmp/hosts/odhcpd.hosts.<iface>` (odhcpd
//!   `src/statefiles.c`; before 2025 `src/dhcpv6-ia.c`,
//!   `dhcpv6_ia_write_statefile`, wrote both kinds of line into one file);
//! - [`static_hosts`]: `config host` sections of `/etc/config/dhcp`;
//! - [`ethers`]: the file `/etc/ethers`;
//! - [`proc_net_arp`] and [`ip_neigh`]: the kernel's neighbour tables.
//!
//! Stage two, [`merge_hosts`], combines them into one `Host` per MAC.
//!
//! Invariants: no parser panics or allocates per line on any input; a
//! line longer than `MAX_LINE` or not understood is skipped silently (the
//! files hold foreign lines: dnsmasq's `duid` line, its DHCPv6 leases);
//! names are raw bytes, never trusted (a DHCP client picks its own),
//! cut to `MAX_DEVICE_NAME` bytes, and an empty name is `None`; only
//! MACs a device can have (`Mac::is_device`) are kept.

use super::uci::{Lexer, Statement, SyntaxError};
use super::MAX_LINE;
use crate::device::{DeviceName, Host, Mac, MAX_DEVICES, MAX_DEVICE_NAME};
use crate::meter::{valid_ifname, IfName};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most hosts [`merge_hosts`] returns, and most records it takes from
/// each source: as many as the state keeps devices.
pub const MAX_HOSTS: usize = MAX_DEVICES as usize;

/// Most MACs one `config host` section names (`list mac` or several in
/// one `option mac`); the rest are ignored.
pub const MAX_MACS_PER_HOST: usize = 16;

/// An address a DHCP server handed out with a name but no MAC (DHCPv6
/// leases, hosts-file lines): the MAC comes from the neighbour table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AddrLease {
    pub ip: IpAddr,
    pub name: Option<DeviceName>,
    /// The link-layer address inside the client's DUID (DUID-LLT/-LL,
    /// RFC 8415 section 11.2/11.4, Ethernet only): a hint, since it may
    /// belong to another interface of the same machine.
    pub duid_mac: Option<Mac>,
}

/// One record of a lease file.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Lease {
    /// A DHCPv4 lease: MAC, address, name.
    Mac(Host),
    /// A name for an address, without a MAC.
    Addr(AddrLease),
}

/// One entry of a neighbour table: a complete IP-to-MAC mapping.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Neighbour {
    pub ip: IpAddr,
    pub mac: Mac,
    /// The interface (the caller keeps the LAN's entries only).
    pub dev: IfName,
}

/// The lines of `text`, without `\n`/`\r\n`; lines longer than `MAX_LINE`
/// are left out (no source writes one).
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| l.len() <= MAX_LINE)
}

/// The blank-separated fields of a line.
fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|f| !f.is_empty())
}

/// A field as text, if it is UTF-8 (addresses and MACs are ASCII).
fn text(f: &[u8]) -> Option<&str> {
    core::str::from_utf8(f).ok()
}

/// A MAC a device can have, from a field.
fn mac(f: &[u8]) -> Option<Mac> {
    text(f).and_then(Mac::parse).filter(Mac::is_device)
}

fn ip4(f: &[u8]) -> Option<Ipv4Addr> {
    text(f)?.parse().ok()
}

fn ip6(f: &[u8]) -> Option<Ipv6Addr> {
    text(f)?.parse().ok()
}

fn ip(f: &[u8]) -> Option<IpAddr> {
    text(f)?.parse().ok()
}

/// A name as kept: at most `MAX_DEVICE_NAME` bytes (cut at a character
/// boundary when the name is UTF-8), `None` when empty.
pub fn device_name(raw: &[u8]) -> Option<DeviceName> {
    let mut end = raw.len().min(MAX_DEVICE_NAME);
    if let Ok(s) = core::str::from_utf8(raw) {
        while !s.is_char_boundary(end) {
            end -= 1;
        }
    }
    let kept = raw.get(..end).filter(|k| !k.is_empty())?;
    DeviceName::from_slice(kept).ok()
}

/// dnsmasq's lease file: `EXPIRY MAC IP NAME CLIENTID` per DHCPv4 lease
/// (`*` for no name; a non-Ethernet hardware address is written
/// `TT-xx:xx..` and refused by `Mac::parse`), then a `duid SERVERDUID`
/// line and `EXPIRY IAID IPV6 NAME CLIENTID` per DHCPv6 lease (IAID in
/// decimal, `T` before it for a temporary address), whose name is kept
/// for the neighbour table to place. The client id of a DHCPv6 lease is
/// the client's DUID.
pub fn dnsmasq_leases(text: &[u8], mut f: impl FnMut(Lease)) {
    for line in lines(text) {
        if let Some(l) = dnsmasq_line(line) {
            f(l);
        }
    }
}

fn dnsmasq_line(line: &[u8]) -> Option<Lease> {
    let mut w = fields(line);
    let (_expiry, id, addr, name) = (w.next()?, w.next()?, w.next()?, w.next()?);
    let name = if name == b"*" {
        None
    } else {
        device_name(name)
    };
    if let Some(mac) = mac(id) {
        let ip4 = Some(ip4(addr)?);
        return Some(Lease::Mac(Host {
            mac,
            name,
            ip4,
            ip6: None,
        }));
    }
    let ip = IpAddr::V6(ip6(addr)?);
    let duid_mac = w.next().and_then(|d| duid_mac(d, b':'));
    Some(Lease::Addr(AddrLease { ip, name, duid_mac }))
}

/// The Ethernet address inside a hex DUID (`00:01:00:01:..` with `sep`
/// between bytes, or no separator at all): DUID-LLT is type 1, hardware
/// type, 4 bytes of time, address; DUID-LL type 3, hardware type,
/// address (RFC 8415 sections 11.2, 11.4; hardware type 1 = Ethernet).
fn duid_mac(hex: &[u8], sep: u8) -> Option<Mac> {
    let mut buf = [0u8; 14];
    let n = unhex(hex, sep, &mut buf)?;
    let addr = match (buf.get(..4)?, n) {
        ([0, 1, 0, 1], 14) => buf.get(8..14)?,
        ([0, 3, 0, 1], 10) => buf.get(4..10)?,
        _ => return None,
    };
    let mac = Mac(addr.try_into().ok()?);
    mac.is_device().then_some(mac)
}

/// Hex bytes (pairs, optionally separated by `sep`) into `out`; their
/// count, or `None` if malformed or longer than `out`.
fn unhex(hex: &[u8], sep: u8, out: &mut [u8]) -> Option<usize> {
    let digits = hex.iter().filter(|&&c| c != sep);
    let mut n = 0;
    let mut hi: Option<u8> = None;
    for &c in digits {
        let v = (c as char).to_digit(16)? as u8;
        match hi.take() {
            None => hi = Some(v),
            Some(h) => {
                *out.get_mut(n)? = h << 4 | v;
                n += 1;
            }
        }
    }
    hi.is_none().then_some(n)
}

/// odhcpd's lease file and hosts files, every kind of line they hold:
///
/// - `# IFACE DUID IAID NAME VALID ID LEN ADDR/LEN ...` per DHCPv6 lease
///   (DUID and IAID in hex; NAME `-` for none, `broken\x20NAME` for one
///   odhcpd refused; since 2026 bytes outside `[A-Za-z0-9._-]` escaped as
///   `\xNN`): each `/128` address with the name (delegated prefixes are
///   not a device's address);
/// - `# IFACE HWADDR ipv4 NAME VALID HEXADDR 32 ADDR/32` per DHCPv4 lease
///   (HWADDR as 12 hex digits before 2025, `ether_ntoa` since);
/// - `ADDR NAME.DOMAIN NAME` or `ADDR NAME` (tab-separated): the hosts
///   lines, with the last field as the name.
pub fn odhcpd_leases(text: &[u8], mut f: impl FnMut(Lease)) {
    for line in lines(text) {
        match line.strip_prefix(b"#") {
            Some(rest) => odhcpd_lease_line(rest, &mut f),
            None => {
                if let Some(l) = odhcpd_hosts_line(line) {
                    f(l);
                }
            }
        }
    }
}

/// `ADDR NAME...`: the address and the last name.
fn odhcpd_hosts_line(line: &[u8]) -> Option<Lease> {
    let mut w = fields(line);
    let ip = ip(w.next()?)?;
    let name = device_name(w.last()?);
    Some(Lease::Addr(AddrLease {
        ip,
        name,
        duid_mac: None,
    }))
}

fn odhcpd_lease_line(rest: &[u8], f: &mut impl FnMut(Lease)) {
    let mut w = fields(rest);
    let (Some(_iface), Some(id), Some(iaid), Some(name)) = (w.next(), w.next(), w.next(), w.next())
    else {
        return;
    };
    let name = odhcpd_name(name);
    let mut addrs = w.skip(3).filter_map(|a| {
        let (ip, len) = split_prefix(a)?;
        (len == b"128" || len == b"32").then_some(ip)
    });
    if iaid == b"ipv4" {
        let mac = mac(id).or_else(|| hex_mac(id));
        if let (Some(mac), Some(IpAddr::V4(a))) = (mac, addrs.next().and_then(ip)) {
            f(Lease::Mac(Host {
                mac,
                name,
                ip4: Some(a),
                ip6: None,
            }));
        }
        return;
    }
    let duid_mac = duid_mac(id, b':');
    for a in addrs.filter_map(ip6) {
        let ip = IpAddr::V6(a);
        f(Lease::Addr(AddrLease {
            ip,
            name: name.clone(),
            duid_mac,
        }));
    }
}

/// `ADDR/LEN` into its two parts.
fn split_prefix(f: &[u8]) -> Option<(&[u8], &[u8])> {
    let slash = f.iter().position(|&b| b == b'/')?;
    Some((f.get(..slash)?, f.get(slash + 1..)?))
}

/// A MAC written as 12 hex digits (odhcpd's `odhcpd_hexlify`).
fn hex_mac(f: &[u8]) -> Option<Mac> {
    let mut out = [0u8; 6];
    (f.len() == 12 && unhex(f, b':', &mut out)? == 6).then_some(())?;
    Some(Mac(out)).filter(Mac::is_device)
}

/// An odhcpd lease-file name: `-` is none, `broken\x20...` is a name
/// odhcpd itself refused to publish (none), `\xNN` is the byte NN.
fn odhcpd_name(raw: &[u8]) -> Option<DeviceName> {
    if raw == b"-" || raw.starts_with(b"broken\\x20") {
        return None;
    }
    let mut out = [0u8; MAX_DEVICE_NAME];
    let mut n = 0;
    let mut i = 0;
    while let (Some(&c), Some(slot)) = (raw.get(i), out.get_mut(n)) {
        let esc = match (c, raw.get(i + 1)) {
            (b'\\', Some(b'x')) => raw.get(i + 2..i + 4).and_then(hex_byte),
            _ => None,
        };
        match esc {
            Some(b) => {
                *slot = b;
                i += 4;
            }
            None => {
                *slot = c;
                i += 1;
            }
        }
        n += 1;
    }
    device_name(out.get(..n)?)
}

/// Two hex digits as a byte.
fn hex_byte(two: &[u8]) -> Option<u8> {
    let [hi, lo] = two else { return None };
    let digit = |c: &u8| (*c as char).to_digit(16);
    Some((digit(hi)? << 4 | digit(lo)?) as u8)
}

/// The `config host` sections of `/etc/config/dhcp` (OpenWrt's static
/// leases): one `Host` per MAC the section names (`option mac` with one
/// or several blank-separated MACs, or `list mac`), with its `option name`
/// and `option ip`. Other sections, options and MACs that do not parse
/// (dnsmasq's wildcards) are skipped. A syntax error ends the reading:
/// the hosts before it have been given, the error says where.
pub fn static_hosts(text: &str, mut f: impl FnMut(Host)) -> Result<(), SyntaxError> {
    let mut sec = HostSection::default();
    for st in Lexer::new(text) {
        match st? {
            (_, Statement::Config { ty, .. }) => {
                sec.give(&mut f);
                sec = HostSection {
                    is_host: ty == "host",
                    ..HostSection::default()
                };
            }
            (_, Statement::Option { key, value } | Statement::List { key, value }) => {
                sec.set(&key, &value)
            }
            (_, Statement::Package { .. }) => {}
        }
    }
    sec.give(&mut f);
    Ok(())
}

/// What one section says so far (its options come in any order).
#[derive(Default)]
struct HostSection {
    is_host: bool,
    macs: heapless::Vec<Mac, MAX_MACS_PER_HOST>,
    name: Option<DeviceName>,
    ip4: Option<Ipv4Addr>,
}

impl HostSection {
    fn set(&mut self, key: &str, value: &str) {
        match key {
            "mac" => {
                for m in value.split_ascii_whitespace().filter_map(Mac::parse) {
                    // Full: further MACs of the section are ignored.
                    let _ = m.is_device().then(|| self.macs.push(m));
                }
            }
            "name" => self.name = device_name(value.as_bytes()),
            "ip" => self.ip4 = value.parse().ok(),
            _ => {}
        }
    }

    fn give(&self, f: &mut impl FnMut(Host)) {
        if !self.is_host {
            return;
        }
        for &mac in &self.macs {
            let name = self.name.clone();
            f(Host {
                mac,
                name,
                ip4: self.ip4,
                ip6: None,
            });
        }
    }
}

/// `/etc/ethers` (ethers(5)): `MAC NAME` or `MAC IPV4`, blank-separated;
/// `#` starts a comment anywhere on a line.
pub fn ethers(text: &[u8], mut f: impl FnMut(Host)) {
    for line in lines(text) {
        let line = line.split(|&b| b == b'#').next().unwrap_or(&[]);
        let mut w = fields(line);
        let (Some(mac), Some(what)) = (w.next().and_then(mac), w.next()) else {
            continue;
        };
        let (name, ip4) = match ip4(what) {
            Some(a) => (None, Some(a)),
            None => (device_name(what), None),
        };
        f(Host {
            mac,
            name,
            ip4,
            ip6: None,
        });
    }
}

/// `ATF_COM` (linux/if_arp.h): the entry has a hardware address.
const ATF_COM: u32 = 0x02;

/// `/proc/net/arp`: `IP HWTYPE FLAGS HWADDR MASK DEVICE` under a header
/// line; entries without `ATF_COM` (incomplete: all-zero address) skipped.
pub fn proc_net_arp(text: &[u8], mut f: impl FnMut(Neighbour)) {
    for line in lines(text) {
        if let Some(n) = arp_line(line) {
            f(n);
        }
    }
}

fn arp_line(line: &[u8]) -> Option<Neighbour> {
    let mut w = fields(line);
    let ip = IpAddr::V4(ip4(w.next()?)?);
    let flags = text(w.nth(1)?)?.strip_prefix("0x")?;
    let complete = u32::from_str_radix(flags, 16).ok()? & ATF_COM != 0;
    let mac = mac(w.next()?)?;
    let dev = ifname(w.nth(1)?)?;
    complete.then_some(Neighbour { ip, mac, dev })
}

fn ifname(f: &[u8]) -> Option<IfName> {
    let s = text(f).filter(|s| valid_ifname(s))?;
    IfName::try_from(s).ok()
}

/// `ip neigh show` (`ip -6 neigh show`, `ip -4 ...`), iproute2 and
/// busybox alike: `ADDR dev IFACE lladdr MAC [router] [ref N used A/B/C
/// probes N] STATE`. Entries without `lladdr` (INCOMPLETE, FAILED,
/// proxy entries) and FAILED/INCOMPLETE ones are skipped.
pub fn ip_neigh(text: &[u8], mut f: impl FnMut(Neighbour)) {
    for line in lines(text) {
        if let Some(n) = neigh_line(line) {
            f(n);
        }
    }
}

fn neigh_line(line: &[u8]) -> Option<Neighbour> {
    let mut w = fields(line);
    let ip = ip(w.next()?)?;
    let (mut mac_at, mut dev, mut usable) = (None, None, true);
    while let Some(word) = w.next() {
        match word {
            b"dev" => dev = w.next().and_then(ifname),
            b"lladdr" => mac_at = w.next(),
            b"FAILED" | b"INCOMPLETE" => usable = false,
            _ => {}
        }
    }
    let mac = mac(mac_at?)?;
    usable.then_some(Neighbour { ip, mac, dev: dev? })
}

/// How good an IPv6 address is to show for a device, higher is better:
/// 3 global unicast (2000::/3), 2 unique local (fc00::/7, RFC 4193),
/// 1 link-local (fe80::/10), 0 never (loopback, multicast, unspecified
/// and the rest).
pub fn ip6_rank(a: &Ipv6Addr) -> u8 {
    let first = a.segments()[0];
    match first {
        0x2000..=0x3fff => 3,
        0xfc00..=0xfdff => 2,
        0xfe80..=0xfebf => 1,
        _ => 0,
    }
}

/// Most records [`merge_hosts`] reads from each source (the first ones):
/// a device may hold a DHCPv4 lease and several DHCPv6 addresses.
pub const MAX_RECORDS: usize = 4 * MAX_HOSTS;

/// Everything known, as the parsers gave it (file order).
#[derive(Clone, Copy, Default)]
pub struct Sources<'a> {
    /// [`static_hosts`] of `/etc/config/dhcp`.
    pub statics: &'a [Host],
    /// [`ethers`].
    pub ethers: &'a [Host],
    /// [`dnsmasq_leases`] and [`odhcpd_leases`], oldest knowledge first.
    pub leases: &'a [Lease],
    /// [`proc_net_arp`] and [`ip_neigh`], of the LAN interfaces only.
    pub neighbours: &'a [Neighbour],
}

/// Where a fact came from; for names the first is best (an admin's
/// static host over `/etc/ethers` over what a client asked for).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Origin {
    Static,
    Ethers,
    Lease,
    /// A DHCPv6 or hosts-file name placed through the neighbour table.
    Addr,
    /// Placed through the MAC in a DUID: names a device only if another
    /// source knows that MAC.
    Duid,
    Neighbour,
}

/// One device per MAC: the name from the best origin that has one
/// (static `config host` > `/etc/ethers` > DHCPv4 lease > DHCPv6/hosts
/// name placed by the neighbour table or, failing that, by the DUID's
/// MAC); the IPv4 address last seen in the leases and neighbour tables
/// (the static or ethers one only when none was seen); the best IPv6
/// address by [`ip6_rank`], the last seen on a tie. Sorted by MAC.
///
/// Bounded: at most `MAX_RECORDS` records of each source are read, and at
/// most `MAX_HOSTS` hosts returned; over that, those with the best
/// origin are kept (then the lowest MACs).
pub fn merge_hosts(s: &Sources<'_>) -> Vec<Host> {
    let mut claims = claims(s);
    claims.sort_by_key(|(_, h)| h.mac);
    let mut hosts: Vec<(Origin, Host)> = claims
        .chunk_by(|a, b| a.1.mac == b.1.mac)
        .filter_map(fold)
        .collect();
    if hosts.len() > MAX_HOSTS {
        hosts.sort_by_key(|(o, h)| (*o, h.mac));
        hosts.truncate(MAX_HOSTS);
        hosts.sort_by_key(|(_, h)| h.mac);
    }
    hosts.into_iter().map(|(_, h)| h).collect()
}

/// Every source's records as (origin, host), in the order of the
/// sources' priority and then of the files.
fn claims(s: &Sources<'_>) -> Vec<(Origin, Host)> {
    let mut by_ip: Vec<(IpAddr, Mac)> = s
        .neighbours
        .iter()
        .take(MAX_RECORDS)
        .map(|n| (n.ip, n.mac))
        .collect();
    by_ip.sort_by_key(|(ip, _)| *ip);
    let mut v = Vec::new();
    for (o, hosts) in [(Origin::Static, s.statics), (Origin::Ethers, s.ethers)] {
        v.extend(hosts.iter().take(MAX_RECORDS).map(|h| (o, h.clone())));
    }
    for l in s.leases.iter().take(MAX_RECORDS) {
        v.extend(lease_claim(l, &by_ip));
    }
    for n in s.neighbours.iter().take(MAX_RECORDS) {
        v.push((Origin::Neighbour, addr_host(n.mac, n.ip, None)));
    }
    v
}

fn lease_claim(l: &Lease, by_ip: &[(IpAddr, Mac)]) -> Option<(Origin, Host)> {
    let a = match l {
        Lease::Mac(h) => return Some((Origin::Lease, h.clone())),
        Lease::Addr(a) => a,
    };
    let seen = by_ip.binary_search_by_key(&a.ip, |(ip, _)| *ip).ok();
    let (origin, mac) = match seen.and_then(|i| by_ip.get(i)) {
        Some(&(_, mac)) => (Origin::Addr, mac),
        None => (Origin::Duid, a.duid_mac?),
    };
    Some((origin, addr_host(mac, a.ip, a.name.clone())))
}

fn addr_host(mac: Mac, ip: IpAddr, name: Option<DeviceName>) -> Host {
    let (ip4, ip6) = match ip {
        IpAddr::V4(a) => (Some(a), None),
        IpAddr::V6(a) => (None, Some(a)),
    };
    Host {
        mac,
        name,
        ip4,
        ip6,
    }
}

/// One MAC's claims (in source order) into its host and best origin;
/// `None` when only a DUID names the MAC.
fn fold(claims: &[(Origin, Host)]) -> Option<(Origin, Host)> {
    let best = claims
        .iter()
        .map(|(o, _)| *o)
        .filter(|&o| o != Origin::Duid)
        .min()?;
    let (_, first) = claims.first()?;
    let mut host = Host {
        mac: first.mac,
        ..Host::default()
    };
    let mut name_from = None;
    let mut ip4_seen = false;
    for (o, h) in claims {
        if h.name.is_some() && name_from.is_none_or(|n| *o < n) {
            (host.name, name_from) = (h.name.clone(), Some(*o));
        }
        let seen = *o >= Origin::Lease;
        if h.ip4.is_some() && (seen || !ip4_seen) {
            (host.ip4, ip4_seen) = (h.ip4, seen);
        }
        let better = |a: &Ipv6Addr| host.ip6.is_none_or(|b| ip6_rank(a) >= ip6_rank(&b));
        if let Some(a) = h.ip6.filter(|a| ip6_rank(a) > 0 && better(a)) {
            host.ip6 = Some(a);
        }
    }
    Some((best, host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{
        write_header_safe, write_html_escaped, write_json_string, write_terminal_safe, Buf,
    };

    fn m(s: &str) -> Mac {
        Mac::parse(s).unwrap()
    }

    fn name(s: &[u8]) -> Option<DeviceName> {
        Some(DeviceName::from_slice(s).unwrap())
    }

    fn leases(parse: fn(&[u8], &mut dyn FnMut(Lease)), text: &[u8]) -> Vec<Lease> {
        let mut v = Vec::new();
        parse(text, &mut |l| v.push(l));
        v
    }

    fn dnsmasq(t: &[u8], f: &mut dyn FnMut(Lease)) {
        dnsmasq_leases(t, f)
    }

    fn odhcpd(t: &[u8], f: &mut dyn FnMut(Lease)) {
        odhcpd_leases(t, f)
    }

    fn v4(mac: &str, ip: &str, n: Option<&[u8]>) -> Lease {
        let ip4 = Some(ip.parse().unwrap());
        Lease::Mac(Host {
            mac: m(mac),
            name: n.and_then(name),
            ip4,
            ip6: None,
        })
    }

    fn addr(ip: &str, n: Option<&[u8]>, duid: Option<&str>) -> Lease {
        let ip = ip.parse().unwrap();
        Lease::Addr(AddrLease {
            ip,
            name: n.and_then(name),
            duid_mac: duid.map(m),
        })
    }

    #[test]
    fn dnsmasq_v4_and_v6_leases() {
        let got = leases(dnsmasq, include_bytes!("../../tests/fixtures/dhcp.leases"));
        let want = [
            v4("aa:bb:cc:dd:ee:01", "192.168.1.100", Some(b"laptop")),
            v4("aa:bb:cc:dd:ee:02", "192.168.1.101", None),
            v4("3c:22:fb:12:34:56", "192.168.1.102", Some(b"Pixel-7")),
            // The token-ring lease and the duid line are skipped.
            addr(
                "fd12:3456:789a::1c3",
                Some(b"laptop"),
                Some("aa:bb:cc:dd:ee:01"),
            ),
            addr("2001:db8:1::77", None, Some("3c:22:fb:12:34:56")),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn odhcpd_lease_file_before_2025_mixes_hosts_lines() {
        let got = leases(odhcpd, include_bytes!("../../tests/fixtures/odhcpd-hosts"));
        let laptop = Some("aa:bb:cc:dd:ee:01");
        let want = [
            addr("2001:db8:1::1c3", Some(b"laptop"), None),
            addr("fd12:3456:789a::1c3", Some(b"laptop"), None),
            addr("192.168.1.100", Some(b"laptop"), None),
            addr("2001:db8:1::1c3", Some(b"laptop"), laptop),
            addr("fd12:3456:789a::1c3", Some(b"laptop"), laptop),
            addr("2001:db8:1::5", None, Some("02:aa:bb:cc:dd:55")),
            // `broken\x20...` is a name odhcpd refused; the /60 is a prefix.
            addr("2001:db8:1::9", None, None),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn odhcpd_state_file_of_2026_escapes_names_and_has_ipv4() {
        let got = leases(
            odhcpd,
            include_bytes!("../../tests/fixtures/odhcpd-statefile-2026"),
        );
        let laptop = Some("aa:bb:cc:dd:ee:01");
        let want = [
            addr("2001:db8:1::1c3", Some(b"laptop"), laptop),
            addr("2001:db8:1::1c4", Some(b"evil\x1b[31mhost"), None),
            v4("aa:bb:cc:dd:ee:05", "192.168.1.102", Some(b"phone")),
            v4("aa:bb:cc:dd:ee:06", "192.168.1.103", None),
        ];
        assert_eq!(got, want);
        assert_eq!(odhcpd_name(b"a\\x4"), name(b"a\\x4"));
        assert_eq!(odhcpd_name(b"\\xzz\\x41"), name(b"\\xzzA"));
    }

    fn hosts(parse: fn(&[u8], &mut dyn FnMut(Host)), text: &[u8]) -> Vec<Host> {
        let mut v = Vec::new();
        parse(text, &mut |h| v.push(h));
        v
    }

    fn host(mac: &str, n: Option<&[u8]>, ip4: Option<&str>, ip6: Option<&str>) -> Host {
        let (ip4, ip6) = (
            ip4.map(|a| a.parse().unwrap()),
            ip6.map(|a| a.parse().unwrap()),
        );
        Host {
            mac: m(mac),
            name: n.and_then(name),
            ip4,
            ip6,
        }
    }

    #[test]
    fn static_hosts_of_etc_config_dhcp() {
        let text = include_str!("../../tests/fixtures/dhcp.uci");
        let mut v = Vec::new();
        static_hosts(text, |h| v.push(h)).unwrap();
        let want = [
            host(
                "aa:bb:cc:dd:ee:10",
                Some(b"nas"),
                Some("192.168.1.10"),
                None,
            ),
            host(
                "aa:bb:cc:dd:ee:11",
                Some(b"printer"),
                Some("192.168.1.11"),
                None,
            ),
            host(
                "aa:bb:cc:dd:ee:12",
                Some(b"printer"),
                Some("192.168.1.11"),
                None,
            ),
            host("aa:bb:cc:dd:ee:01", Some(b"work-laptop"), None, None),
        ];
        assert_eq!(v, want);
        // A syntax error ends the reading after the hosts before it.
        let mut v = Vec::new();
        let bad = "config host\n option mac 'aa:bb:cc:dd:ee:10'\nconfig host\n option x 'a' b\n";
        assert_eq!(static_hosts(bad, |h| v.push(h)).unwrap_err().line, 4);
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn ethers_names_and_addresses() {
        let got = hosts(
            |t, f| ethers(t, f),
            include_bytes!("../../tests/fixtures/ethers"),
        );
        let want = [
            host("aa:bb:cc:dd:ee:10", Some(b"nas-ethers"), None, None),
            host("aa:bb:cc:dd:ee:02", Some(b"tv"), None, None),
            host("00:1b:2c:0d:4e:5f", None, Some("192.168.1.50"), None),
        ];
        assert_eq!(got, want);
    }

    fn neigh(parse: fn(&[u8], &mut dyn FnMut(Neighbour)), text: &[u8]) -> Vec<(String, Mac)> {
        let mut v = Vec::new();
        parse(text, &mut |n| {
            assert_eq!(n.dev.as_str(), "nmh0");
            v.push((n.ip.to_string(), n.mac))
        });
        v
    }

    #[test]
    fn neighbour_tables_captured_here() {
        let arp = neigh(
            |t, f| proc_net_arp(t, f),
            include_bytes!("../../tests/fixtures/proc-net-arp"),
        );
        assert_eq!(arp, [("192.168.77.2".to_string(), m("02:11:22:33:44:02"))]);
        let peer = m("02:11:22:33:44:02");
        let want = [
            ("2001:db8:1::2".to_string(), peer),
            ("2001:db8:1:0:a1b2:c3d4:e5f6:1".to_string(), peer),
            ("fe80::11:22ff:fe33:4402".to_string(), peer),
            ("2001:db8:1::50".to_string(), m("02:aa:bb:cc:dd:ee")),
            (
                "fe80::aa:bbff:fecc:dd01".to_string(),
                m("0a:00:27:00:00:01"),
            ),
        ];
        for f in [
            &include_bytes!("../../tests/fixtures/ip6-neigh-iproute2.txt")[..],
            include_bytes!("../../tests/fixtures/ip6-neigh-busybox.txt"),
        ] {
            assert_eq!(neigh(|t, f| ip_neigh(t, f), f), want);
        }
        // A FAILED entry that still shows an address is skipped too.
        let failed = b"2001:db8::1 dev br-lan lladdr aa:bb:cc:dd:ee:ff FAILED\n";
        assert!(neigh(|t, f| ip_neigh(t, f), failed).is_empty());
    }

    #[test]
    fn global_beats_unique_local_beats_link_local() {
        let r = |s: &str| ip6_rank(&s.parse().unwrap());
        assert!(r("2001:db8::1") > r("fd00::1"));
        assert!(r("fd00::1") > r("fe80::1"));
        assert!(r("fe80::1") > r("::1"));
        assert_eq!(r("ff02::1"), 0);
        assert_eq!(r("::"), 0);
    }

    #[test]
    fn names_are_cut_at_63_bytes_on_a_character_boundary() {
        assert_eq!(device_name(b""), None);
        assert_eq!(device_name(&[b'x'; 300]).unwrap().len(), 63);
        let e = "é".repeat(40);
        let kept = device_name(e.as_bytes()).unwrap();
        assert_eq!(kept.len(), 62);
        assert!(core::str::from_utf8(&kept).is_ok());
        assert_eq!(device_name(&[0xff; 70]).unwrap().len(), 63);
    }

    fn all_sources() -> (Vec<Host>, Vec<Host>, Vec<Lease>, Vec<Neighbour>) {
        let mut statics = Vec::new();
        static_hosts(include_str!("../../tests/fixtures/dhcp.uci"), |h| {
            statics.push(h)
        })
        .unwrap();
        let mut eth = Vec::new();
        ethers(include_bytes!("../../tests/fixtures/ethers"), |h| {
            eth.push(h)
        });
        let mut ls = Vec::new();
        dnsmasq_leases(include_bytes!("../../tests/fixtures/dhcp.leases"), |l| {
            ls.push(l)
        });
        odhcpd_leases(include_bytes!("../../tests/fixtures/odhcpd-hosts"), |l| {
            ls.push(l)
        });
        let dev = IfName::try_from("br-lan").unwrap();
        let n = |ip: &str, mac: &str| Neighbour {
            ip: ip.parse().unwrap(),
            mac: m(mac),
            dev: dev.clone(),
        };
        let neighbours = vec![
            n("fe80::1", "aa:bb:cc:dd:ee:01"),
            n("2001:db8:1::1c3", "aa:bb:cc:dd:ee:01"),
            n("fe80::2", "aa:bb:cc:dd:ee:01"),
            n("192.168.1.199", "aa:bb:cc:dd:ee:02"),
            n("2001:db8:1::5", "aa:bb:cc:dd:ee:30"),
        ];
        (statics, eth, ls, neighbours)
    }

    #[test]
    fn merge_takes_names_by_priority_and_the_latest_addresses() {
        let (statics, ethers, leases, neighbours) = all_sources();
        let s = Sources {
            statics: &statics,
            ethers: &ethers,
            leases: &leases,
            neighbours: &neighbours,
        };
        let got = merge_hosts(&s);
        let want = [
            host("00:1b:2c:0d:4e:5f", None, Some("192.168.1.50"), None),
            // The DHCPv6 lease placed by its DUID's MAC, known from a lease.
            host(
                "3c:22:fb:12:34:56",
                Some(b"Pixel-7"),
                Some("192.168.1.102"),
                Some("2001:db8:1::77"),
            ),
            // static name over the lease's; the global address over fd12::/fe80::.
            host(
                "aa:bb:cc:dd:ee:01",
                Some(b"work-laptop"),
                Some("192.168.1.100"),
                Some("2001:db8:1::1c3"),
            ),
            // ethers name; the neighbour's address is newer than the lease's.
            host(
                "aa:bb:cc:dd:ee:02",
                Some(b"tv"),
                Some("192.168.1.199"),
                None,
            ),
            host(
                "aa:bb:cc:dd:ee:10",
                Some(b"nas"),
                Some("192.168.1.10"),
                None,
            ),
            host(
                "aa:bb:cc:dd:ee:11",
                Some(b"printer"),
                Some("192.168.1.11"),
                None,
            ),
            host(
                "aa:bb:cc:dd:ee:12",
                Some(b"printer"),
                Some("192.168.1.11"),
                None,
            ),
            // odhcpd's nameless lease placed by the neighbour table.
            host("aa:bb:cc:dd:ee:30", None, None, Some("2001:db8:1::5")),
        ];
        assert_eq!(got, want);
        // A DUID MAC nobody else knows makes no host.
        let lone = [addr(
            "2001:db8::9",
            Some(b"ghost"),
            Some("02:00:00:00:00:09"),
        )];
        assert!(merge_hosts(&Sources {
            leases: &lone,
            ..Sources::default()
        })
        .is_empty());
    }

    #[test]
    fn merge_keeps_max_hosts_preferring_static_ones() {
        let mk = |i: usize, n: Option<&[u8]>| {
            let b = (i as u32).to_be_bytes();
            let mac = Mac([2, 0, b[0], b[1], b[2], b[3]]);
            Host {
                mac,
                name: n.and_then(name),
                ip4: None,
                ip6: None,
            }
        };
        let ethers: Vec<Host> = (0..MAX_HOSTS).map(|i| mk(i, None)).collect();
        let statics = [mk(MAX_HOSTS, Some(b"kept"))];
        let got = merge_hosts(&Sources {
            statics: &statics,
            ethers: &ethers,
            ..Sources::default()
        });
        assert_eq!(got.len(), MAX_HOSTS);
        assert_eq!(got.last(), Some(&statics[0]));
        assert!(got.windows(2).all(|w| w[0].mac < w[1].mac));
    }

    /// Every writer, on every hostile name of the fixture.
    #[test]
    fn hostile_names_parse_and_come_out_escaped() {
        let got = leases(
            dnsmasq,
            include_bytes!("../../tests/fixtures/dhcp.leases-hostile"),
        );
        let names: Vec<DeviceName> = got
            .into_iter()
            .filter_map(|l| match l {
                Lease::Mac(h) => h.name,
                Lease::Addr(_) => None,
            })
            .collect();
        assert_eq!(names.len(), 6);
        assert_eq!(names[3].len(), 63);
        let run = |w: fn(&mut Buf, &[u8])| -> Vec<String> {
            names
                .iter()
                .map(|n| {
                    let mut b = Buf::new();
                    w(&mut b, n);
                    b.as_str().to_string()
                })
                .collect()
        };
        let term = run(|b, n| write_terminal_safe(b, n, 40));
        assert_eq!(term[0], "<script>alert(1)</script>");
        assert_eq!(term[1], "\\x1b[31mred\\x1b[0m");
        assert_eq!(term[2], "café\u{fffd}\u{fffd}\\x9b");
        assert_eq!(term[3], format!("{}…", "x".repeat(39)));
        assert_eq!(term[4], "cr\\x0dlf");
        assert_eq!(term[5], "a\"b'c&d\\e\\u{202e}evil");
        let html = run(|b, n| write_html_escaped(b, n, 64));
        assert_eq!(html[0], "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(html[1], "?[31mred?[0m");
        assert_eq!(html[2], "café\u{fffd}\u{fffd}?");
        assert_eq!(html[5], "a&quot;b&#39;c&amp;d\\e\u{202e}evil");
        let json = run(write_json_string);
        assert_eq!(json[1], "\"\\u001b[31mred\\u001b[0m\"");
        assert_eq!(json[2], "\"café\u{fffd}\u{fffd}\\u009b\"");
        assert_eq!(json[4], "\"cr\\u000dlf\"");
        assert_eq!(json[5], "\"a\\\"b'c&d\\\\e\u{202e}evil\"");
        let header = run(|b, n| write_header_safe(b, n, 64));
        assert_eq!(header[4], "cr?lf");
        assert_eq!(header[1], "?[31mred?[0m");
        for out in [term, html, json, header].iter().flatten() {
            assert!(!out.chars().any(char::is_control), "{out:?}");
        }
    }

    /// A small deterministic generator: no test depends on a crate.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut s = seed;
        let alphabet = b"0123456789abcdef:.-/# \t\n\r*\\x\xff\xc3ipv4Tduid";
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = (s >> 33) as usize;
                if r.is_multiple_of(5) {
                    (r >> 8) as u8
                } else {
                    alphabet[(r >> 8) % alphabet.len()]
                }
            })
            .collect()
    }

    #[test]
    fn random_bytes_never_panic() {
        for seed in 0..400 {
            let t = noise(seed, (seed as usize * 37) % 2000);
            let mut n = 0usize;
            dnsmasq_leases(&t, |_| n += 1);
            odhcpd_leases(&t, |_| n += 1);
            ethers(&t, |_| n += 1);
            proc_net_arp(&t, |_| n += 1);
            ip_neigh(&t, |_| n += 1);
            if let Ok(s) = core::str::from_utf8(&t) {
                let _ = static_hosts(s, |_| n += 1);
            }
            let mut b = Buf::new();
            write_terminal_safe(&mut b, &t, seed as usize % 50);
            write_header_safe(&mut b, &t, 10);
            write_html_escaped(&mut b, &t, 64);
            write_json_string(&mut b, &t);
            assert!(core::str::from_utf8(b.as_bytes()).is_ok());
        }
    }
}
