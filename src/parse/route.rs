//! `/proc/net/route` and `/proc/net/ipv6_route`: which interface carries
//! the default route (the WAN of the default meters). Pure: the caller
//! reads the files and passes their text.

use crate::meter::{valid_ifname, IfName};
use crate::text::parse_int;

/// `RTF_UP` and `RTF_REJECT` from linux/route.h (ipv6_route uses the same bits).
const RTF_UP: u32 = 0x0001;
const RTF_REJECT: u32 = 0x0200;

/// The WAN interface: that of the usable default route with the lowest
/// metric, IPv4 first, else IPv6, from the text of /proc/net/route and
/// /proc/net/ipv6_route.
pub fn default_wan(route: &str, ipv6_route: &str) -> Option<IfName> {
    let wan = lowest_metric(route, v4_default).or_else(|| lowest_metric(ipv6_route, v6_default))?;
    IfName::try_from(wan).ok()
}

/// The interface of the usable default route with the lowest metric
/// (the first one on a tie, as the kernel's own order is its preference).
fn lowest_metric(text: &str, route: fn(&str) -> Option<(u32, &str)>) -> Option<&str> {
    let mut best: Option<(u32, &str)> = None;
    for (metric, iface) in text.lines().filter_map(route) {
        if best.is_none_or(|(m, _)| metric < m) {
            best = Some((metric, iface));
        }
    }
    best.map(|(_, iface)| iface)
}

/// One line of /proc/net/route (`Iface Destination Gateway Flags RefCnt
/// Use Metric Mask MTU Window IRTT`, addresses and flags in hex, the
/// metric in decimal); `(metric, iface)` if it is a usable default route.
fn v4_default(line: &str) -> Option<(u32, &str)> {
    let mut f = line.split_ascii_whitespace();
    let iface = f.next()?;
    let dest = hex32(f.next()?)?;
    let flags = hex32(f.nth(1)?)?;
    let metric = metric(f.nth(2)?)?;
    let mask = hex32(f.next()?)?;
    let default = dest == 0 && mask == 0;
    usable(default, flags, iface).then_some((metric, iface))
}

/// One line of /proc/net/ipv6_route (`dest plen src splen nexthop metric
/// refcnt use flags iface`, all hex). Source-specific defaults (`::/0 from
/// PREFIX`, which OpenWrt's netifd installs for delegated prefixes) count.
fn v6_default(line: &str) -> Option<(u32, &str)> {
    let f: heapless::Vec<&str, 10> = line.split_ascii_whitespace().take(10).collect();
    let [dest, plen, _, _, _, metric, _, _, flags, iface] = f.as_slice() else {
        return None;
    };
    let default = dest.len() == 32 && dest.bytes().all(|b| b == b'0') && hex32(plen)? == 0;
    let flags = hex32(flags)?;
    usable(default, flags, iface).then_some((hex32(metric)?, *iface))
}

/// A default route that is up, not an unreachable/prohibit (reject)
/// route, and not on loopback (the kernel's `lo` reject route for ::/0).
fn usable(default: bool, flags: u32, iface: &str) -> bool {
    default
        && flags & RTF_UP != 0
        && flags & RTF_REJECT == 0
        && iface != "lo"
        && valid_ifname(iface)
}

/// The kernel prints the u32 priority with %d: a decimal i64 (sign
/// allowed, as `str::parse::<i64>` took it), wrapped back to u32.
fn metric(s: &str) -> Option<u32> {
    // Truncation to the low 32 bits is the wrap back to u32.
    parse_int(s, true).map(|v| v as u32)
}

/// 1-8 hex digits (no sign, unlike `from_str_radix`).
fn hex32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    // At most 8 digits: the shifts cannot overflow.
    s.bytes()
        .try_fold(0u32, |a, b| Some(a << 4 | char::from(b).to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_parsers_keep_what_str_parse_took() {
        // The kernel's %d metric: signs, wrap to u32, the i64 range.
        assert_eq!(metric("-1"), Some(u32::MAX));
        assert_eq!(metric("+5"), Some(5));
        assert_eq!(metric("4294967296"), Some(0));
        assert_eq!(metric("9223372036854775807"), Some(u32::MAX));
        assert_eq!(metric("9223372036854775808"), None);
        assert_eq!(metric("-9223372036854775808"), Some(0));
        for bad in ["", "-", "+", "--1", "+-1", "1x", " 1"] {
            assert_eq!(metric(bad), None, "{bad}");
        }
        assert_eq!(hex32("00FFffFF"), Some(0x00ff_ffff));
        for bad in ["", "+1", "123456789", "g", "-1"] {
            assert_eq!(hex32(bad), None, "{bad}");
        }
    }
}
