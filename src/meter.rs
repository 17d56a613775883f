//! Meters: named classes of traffic, the unit netmon counts in.
//!
//! A meter is a firewall match (hooks, addresses, interfaces, protocol).
//! Every value here is validated at construction, so the firewall backends
//! can turn a `Meter` into rules without further checks: names are
//! `[a-z0-9_]`, interface names are kernel-legal and contain no quoting
//! characters, and an address knows its family.

use crate::text::word_index;
use core::net::IpAddr;

/// Most meters one config may define. A config with more is refused at load.
pub const MAX_METERS: usize = 32;
/// Longest meter name (UCI section names are short; nft object names allow 256).
pub const MAX_NAME: usize = 24;
/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const MAX_IFNAME: usize = 15;

pub type Name = heapless::String<MAX_NAME>;
pub type IfName = heapless::String<MAX_IFNAME>;

/// Netfilter hook a meter counts on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Hook {
    Input,
    Output,
    Forward,
}

impl Hook {
    pub const ALL: [Hook; 3] = [Hook::Input, Hook::Output, Hook::Forward];

    pub fn parse(s: &str) -> Option<Hook> {
        let i = word_index(s, &["input", "output", "forward"])?;
        Hook::ALL.get(i).copied()
    }

    /// Position in `ALL`, for per-hook arrays.
    pub fn index(self) -> usize {
        match self {
            Hook::Input => 0,
            Hook::Output => 1,
            Hook::Forward => 2,
        }
    }

    /// Lower-case name, as in the config and in nft.
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::Input => "input",
            Hook::Output => "output",
            Hook::Forward => "forward",
        }
    }

    /// The iptables built-in chain this hook corresponds to.
    pub fn builtin_chain(self) -> &'static str {
        match self {
            Hook::Input => "INPUT",
            Hook::Output => "OUTPUT",
            Hook::Forward => "FORWARD",
        }
    }

    pub fn has_iif(self) -> bool {
        self != Hook::Output
    }

    pub fn has_oif(self) -> bool {
        self != Hook::Input
    }
}

/// IP family.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    V4,
    V6,
}

/// An address or network, possibly negated (`!192.168.1.0/24`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
    pub negate: bool,
}

/// Why an address did not parse.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CidrError {
    Address,
    Prefix,
    HostBits,
}

impl CidrError {
    pub fn as_str(self) -> &'static str {
        match self {
            CidrError::Address => "not an IPv4 or IPv6 address",
            CidrError::Prefix => "prefix length out of range (0-32 for IPv4, 0-128 for IPv6)",
            CidrError::HostBits => "host bits set after the prefix (write the network address)",
        }
    }
}

impl Cidr {
    /// Parses `[!]ADDR[/PREFIX]`. Host bits past the prefix are refused:
    /// `192.168.1.1/24` is almost always a typo for `/32` or `.0/24`.
    /// Blanks after `!` are spaces and tabs, the only ones a UCI value
    /// can hold (other Unicode spaces are refused as no address).
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let (negate, rest) = match s.strip_prefix('!') {
            Some(r) => {
                let blanks = r.bytes().take_while(|b| *b == b' ' || *b == b'\t').count();
                (true, r.get(blanks..).unwrap_or(""))
            }
            None => (false, s),
        };
        let (a, p) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (rest, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| CidrError::Address)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            // 1-3 digits, no sign.
            Some(p) => match crate::text::parse_u64(p) {
                Ok(n) if p.len() <= 3 && n <= u64::from(max) => n as u8,
                _ => return Err(CidrError::Prefix),
            },
        };
        let c = Cidr {
            addr,
            prefix,
            negate,
        };
        if c.has_host_bits() {
            return Err(CidrError::HostBits);
        }
        Ok(c)
    }

    pub fn family(&self) -> Family {
        if self.addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    /// Whether any bit past the prefix is set, byte by byte (u128
    /// shifts are long code on a 32-bit router).
    fn has_host_bits(&self) -> bool {
        let (v4, v6);
        let bytes: &[u8] = match self.addr {
            IpAddr::V4(a) => {
                v4 = a.octets();
                &v4
            }
            IpAddr::V6(a) => {
                v6 = a.octets();
                &v6
            }
        };
        let prefix = u32::from(self.prefix);
        bytes.iter().zip((0u32..).step_by(8)).any(|(&b, start)| {
            // The bits of this byte that lie past the prefix.
            let mask = match prefix.checked_sub(start) {
                Some(n) if n >= 8 => 0,
                Some(n) => 0xff >> n,
                None => 0xff,
            };
            b & mask != 0
        })
    }

    /// `ADDR/PREFIX` without negation, as nft and iptables take it.
    pub fn write_net<W: ufmt::uWrite + ?Sized>(&self, w: &mut W) -> Result<(), W::Error> {
        crate::text::write_ip(w, &self.addr)?;
        ufmt::uwrite!(w, "/{}", self.prefix)
    }
}

/// Layer-4 protocol match.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Sctp,
    Gre,
    Esp,
}

impl Proto {
    pub fn parse(s: &str) -> Option<Proto> {
        use Proto::*;
        const P: [Proto; 8] = [Tcp, Udp, Icmp, Icmpv6, Icmpv6, Sctp, Gre, Esp];
        // A const, not a local array: a local one is built on the stack
        // at every call.
        const WORDS: [&str; 8] = [
            "tcp",
            "udp",
            "icmp",
            "icmpv6",
            "ipv6-icmp",
            "sctp",
            "gre",
            "esp",
        ];
        P.get(word_index(s, &WORDS)?).copied()
    }

    /// Name as both nft (`meta l4proto NAME`) and iptables (`-p NAME`) accept it.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "ipv6-icmp",
            Proto::Sctp => "sctp",
            Proto::Gre => "gre",
            Proto::Esp => "esp",
        }
    }

    /// The family a protocol confines a meter to, if any.
    pub fn family(self) -> Option<Family> {
        match self {
            Proto::Icmp => Some(Family::V4),
            Proto::Icmpv6 => Some(Family::V6),
            _ => None,
        }
    }
}

/// A hook on a device itself (the nftables netdev family): every IP frame
/// that arrives on it (`ingress`, with `iif`) or leaves it (`egress`, with
/// `oif`), dropped ones included, as the ISP counts. fw4's flowtable
/// hooks ingress at priority 0 on the zones' devices; netmon's link chains
/// come first, so offloaded flows count too.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Link {
    Ingress,
    Egress,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Ingress => "ingress",
            Link::Egress => "egress",
        }
    }
}

/// A validated meter.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Meter {
    pub name: Name,
    /// One or more hooks; a meter on several hooks sums them
    /// (WAN download = input + forward with `iif wan`). Empty for a meter
    /// on a link hook.
    pub hooks: heapless::Vec<Hook, 3>,
    /// The link hook, instead of `hooks` (on the device of `iif` for
    /// ingress, `oif` for egress).
    pub link: Option<Link>,
    pub src: Option<Cidr>,
    pub dst: Option<Cidr>,
    pub iif: Option<IfName>,
    pub oif: Option<IfName>,
    pub proto: Option<Proto>,
}

impl Meter {
    /// The single family this meter is confined to by its addresses or
    /// protocol, or `None` when it matches both IPv4 and IPv6.
    pub fn family(&self) -> Option<Family> {
        self.src
            .map(|c| c.family())
            .or(self.dst.map(|c| c.family()))
            .or(self.proto.and_then(Proto::family))
    }

    pub fn matches_family(&self, f: Family) -> bool {
        self.family().is_none_or(|m| m == f)
    }

    /// The device a link meter hooks.
    pub fn link_device(&self) -> Option<&IfName> {
        match self.link? {
            Link::Ingress => self.iif.as_ref(),
            Link::Egress => self.oif.as_ref(),
        }
    }

    /// The same meter on the firewall hooks, where there are no link hooks
    /// (iptables, a kernel without netdev egress): what arrives on a device
    /// is input + forward with `iif`, what leaves it output + forward with
    /// `oif` (the same traffic, minus what the firewall drops first, and
    /// offloaded flows are missed).
    pub fn on_firewall_hooks(&self) -> Meter {
        let mut m = self.clone();
        let hooks: &[Hook] = match m.link.take() {
            None => return m,
            Some(Link::Ingress) => &[Hook::Input, Hook::Forward],
            Some(Link::Egress) => &[Hook::Output, Hook::Forward],
        };
        m.hooks = hooks.iter().copied().collect();
        m
    }
}

/// A meter name is `[a-z0-9_]`, starts with a letter, at most `MAX_NAME` bytes.
pub fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Interface names as the kernel accepts them, minus anything that could
/// confuse a tool's parser (quotes, spaces, `/`, `:` aliases).
pub fn valid_ifname(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_IFNAME
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_bits_agree_with_a_u128_mask() {
        let v6: [u128; 5] = [0, 1, 1 << 64, u128::MAX, 0x2001_0db8 << 96 | 0x8000];
        let v4: [u32; 5] = [0, 1, 0xc0a8_0100, u32::MAX, 0x8000_0000];
        for p in 0..=128u8 {
            for bits in v6 {
                let c = Cidr {
                    addr: IpAddr::V6(bits.into()),
                    prefix: p,
                    negate: false,
                };
                let mask = if p == 128 { 0 } else { u128::MAX >> p };
                assert_eq!(c.has_host_bits(), bits & mask != 0, "{bits:x}/{p}");
            }
            for bits in v4.iter().filter(|_| p <= 32) {
                let c = Cidr {
                    addr: IpAddr::V4((*bits).into()),
                    prefix: p,
                    negate: false,
                };
                let mask = if p == 32 { 0 } else { u32::MAX >> p };
                assert_eq!(c.has_host_bits(), bits & mask != 0, "{bits:x}/{p}");
            }
        }
    }

    #[test]
    fn cidr_parses_plain_negated_and_v6() {
        let c = Cidr::parse("!192.168.1.0/24").unwrap();
        assert!(c.negate);
        assert_eq!(c.prefix, 24);
        assert_eq!(c.family(), Family::V4);
        let h = Cidr::parse("192.168.1.10").unwrap();
        assert_eq!((h.prefix, h.negate), (32, false));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert_eq!(v6.family(), Family::V6);
    }

    #[test]
    fn cidr_refuses_bad_input() {
        assert_eq!(Cidr::parse("192.168.1.0/33"), Err(CidrError::Prefix));
        assert_eq!(Cidr::parse("192.168.1.1/24"), Err(CidrError::HostBits));
        assert_eq!(Cidr::parse("192.168.1/24"), Err(CidrError::Address));
        assert_eq!(Cidr::parse("10.0.0.0/"), Err(CidrError::Prefix));
        assert_eq!(Cidr::parse("10.0.0.0/+8"), Err(CidrError::Prefix));
        assert_eq!(Cidr::parse(""), Err(CidrError::Address));
        assert_eq!(Cidr::parse("!"), Err(CidrError::Address));
        assert_eq!(Cidr::parse("10.0.0.0/0008"), Err(CidrError::Prefix));
        assert_eq!(Cidr::parse("10.0.0.0/256"), Err(CidrError::Prefix));
        assert_eq!(Cidr::parse("10.0.0.0/08").map(|c| c.prefix), Ok(8));
    }

    #[test]
    fn cidr_blanks_after_negation_are_ascii_only() {
        for s in ["! 10.0.0.1", "!\t10.0.0.1", "!10.0.0.1"] {
            assert!(Cidr::parse(s).unwrap().negate, "{s}");
        }
        // A no-break space is no UCI blank (stricter than `trim_start`).
        assert_eq!(Cidr::parse("!\u{a0}10.0.0.1"), Err(CidrError::Address));
    }

    #[test]
    fn keywords_parse_by_table() {
        assert_eq!(Proto::parse("ipv6-icmp"), Some(Proto::Icmpv6));
        assert_eq!(Proto::parse("icmpv6"), Some(Proto::Icmpv6));
        assert_eq!(Proto::parse("esp"), Some(Proto::Esp));
        assert_eq!(Proto::parse("ESP"), None);
        for h in Hook::ALL {
            assert_eq!(Hook::parse(h.as_str()), Some(h));
        }
        assert_eq!(Hook::parse("prerouting"), None);
    }

    #[test]
    fn names_and_ifnames() {
        assert!(valid_name("wan_down"));
        assert!(!valid_name("Wan"));
        assert!(!valid_name("1wan"));
        assert!(!valid_name("a\"b"));
        assert!(valid_ifname("pppoe-wan"));
        assert!(valid_ifname("eth0.2"));
        assert!(!valid_ifname("eth0 ; x"));
        assert!(!valid_ifname("a234567890123456"));
    }
}
