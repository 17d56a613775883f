//! Devices: per-device accounting on the LAN side, keyed by MAC address
//! (a device's IPv4 and IPv6 addresses, privacy addresses included, are
//! one device). Pure: values in, values out.
//!
//! The firewall counts each device's download and upload in two kernel
//! sets (one element per MAC, one lookup per packet); what does not fit in
//! a set goes to an `other` counter, so the devices and `other` always add
//! up to everything counted. The state keeps at most the configured
//! `max_devices`; when a new device finds no room, the least recently
//! active one is folded into `other` (its totals and buckets move there,
//! nothing is dropped) and its kernel elements are deleted, so a later
//! return counts from zero as a new device.

use crate::meter::IfName;
use core::net::{Ipv4Addr, Ipv6Addr};

/// Hard cap on `max_devices` (kernel set size and devices kept in the state).
pub const MAX_DEVICES: u32 = 8192;
/// Default `max_devices`.
pub const DEFAULT_MAX_DEVICES: u32 = 1024;
/// Longest device name kept (bytes; a DNS label is at most 63).
pub const MAX_DEVICE_NAME: usize = 63;

/// A device name as the LAN chose it: arbitrary bytes (not necessarily
/// UTF-8, possibly hostile), at most `MAX_DEVICE_NAME`. Escape it for
/// every output.
pub type DeviceName = heapless::Vec<u8, MAX_DEVICE_NAME>;

/// An Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The all-zero address, never a device's source address: the key of
    /// `other` in the state.
    pub const OTHER: Mac = Mac([0; 6]);

    /// Parses `aa:bb:cc:dd:ee:ff` (also `-` separators, either case; each
    /// part one or two hex digits, as `/etc/ethers` allows).
    pub fn parse(s: &str) -> Option<Mac> {
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut parts = s.split(sep);
        for o in out.iter_mut() {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 2 {
                return None;
            }
            *o = u8::from_str_radix(p, 16).ok()?;
            if !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
        }
        parts.next().is_none().then_some(Mac(out))
    }

    /// A unicast address a device can have (not multicast or broadcast,
    /// not all zeros).
    pub fn is_device(&self) -> bool {
        self.0[0] & 1 == 0 && *self != Mac::OTHER
    }

    /// `aa:bb:cc:dd:ee:ff`, lower case, as nft prints it.
    pub fn write<W: ufmt::uWrite + ?Sized>(&self, w: &mut W) -> Result<(), W::Error> {
        let hex = b"0123456789abcdef";
        for (i, b) in self.0.iter().enumerate() {
            let pair = [hex[usize::from(b >> 4)], hex[usize::from(b & 15)]];
            if i > 0 {
                w.write_str(":")?;
            }
            // Both bytes are ASCII hex digits.
            w.write_str(core::str::from_utf8(&pair).unwrap_or("00"))?;
        }
        Ok(())
    }
}

/// Most lower devices (bridge ports, wifi interfaces) of the LAN bridge
/// that the device chains hook.
pub const MAX_PORTS: usize = 32;

/// The LAN side as found on the router at this run: what the device
/// chains hook and match.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Lan {
    /// The bridge (or plain device) the LAN lives on, e.g. `br-lan`.
    pub bridge: IfName,
    /// Its lower devices, sorted: where fw4's flowtable hooks, so where
    /// netmon's ingress and egress chains must hook too. A device that is
    /// not a bridge is its own (only) port.
    pub ports: heapless::Vec<IfName, MAX_PORTS>,
    /// The bridge's MAC: frames to it are routed (or for the router
    /// itself); frames between two LAN devices carry theirs.
    pub mac: Mac,
    /// Kernel set size: most devices counted one by one.
    pub max: u32,
}

/// Flow offloading as the firewall config sets it (fw4 and fw3 alike:
/// `config defaults`, `option flow_offloading` and `flow_offloading_hw`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Offload {
    #[default]
    Off,
    /// The flowtable in software: offloaded flows skip the firewall's
    /// input/output/forward hooks, not netdev ingress/egress.
    Software,
    /// Flows leave the CPU (MT7621 PPE, NSS): no software counter sees them.
    Hardware,
}

impl Offload {
    pub fn as_str(self) -> &'static str {
        match self {
            Offload::Off => "off",
            Offload::Software => "software",
            Offload::Hardware => "hardware",
        }
    }

    /// The sentence a report or `status` says about it; empty when off.
    pub fn sentence(self) -> &'static str {
        match self {
            Offload::Off => "",
            Offload::Software => {
                "software flow offloading is on: meters on the input, output and forward hooks \
                 miss offloaded connections; devices and meters on hook ingress/egress (the \
                 default WAN meters on an Ethernet WAN) count them"
            }
            Offload::Hardware => {
                "hardware flow offloading is on: offloaded connections leave the CPU, and no \
                 software counter sees them, netmon's devices and link meters included (turn \
                 flow_offloading_hw off for complete numbers)"
            }
        }
    }
}

/// What the name sources say about one device (see `parse::hosts`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Host {
    pub mac: Mac,
    pub name: Option<DeviceName>,
    pub ip4: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Buf;

    #[test]
    fn macs_parse_and_print_back() {
        let m = Mac::parse("0A:1b:2c:3D:4e:5f").unwrap();
        let mut b = Buf::new();
        m.write(&mut b).unwrap();
        assert_eq!(b.as_str(), "0a:1b:2c:3d:4e:5f");
        assert_eq!(
            Mac::parse("0:1b:2c:3d:4e:5"),
            Some(Mac([0, 0x1b, 0x2c, 0x3d, 0x4e, 5]))
        );
        assert_eq!(Mac::parse("0a-1b-2c-3d-4e-5f"), Some(m));
        for bad in [
            "",
            "0a:1b:2c:3d:4e",
            "0a:1b:2c:3d:4e:5f:00",
            "0a:1b:2c:3d:4e:5g",
            "0a:1b:2c:3d:4e:+f",
            "0a:1b:2c:3d:4e:100",
            "0a::2c:3d:4e:5f",
        ] {
            assert_eq!(Mac::parse(bad), None, "{bad}");
        }
        assert!(m.is_device());
        assert!(!Mac::OTHER.is_device());
        assert!(!Mac::parse("33:33:00:00:00:16").unwrap().is_device());
        assert!(!Mac::parse("ff:ff:ff:ff:ff:ff").unwrap().is_device());
    }
}
