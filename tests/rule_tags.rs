//! The rule tags are a contract with every router that runs netmon.
//!
//! Each rule netmon installs carries `netmon:<meter>:<hash>`, the hash
//! (`firewall::tag`, FNV-1a) covering the rule's hook and match text.
//! A read recomputes the tags from the config and compares them with the
//! firewall's: a different hash means "stale", so the rules are removed
//! and installed again, and that counts as a counter reset.
//!
//! The literal values below are today's contract, taken from the code
//! and checked once against an independent FNV-1a computation. Changing
//! any of them (the hash, the seed, the match text a backend hashes, the
//! tag format) forces a reinstall and a reset on every router at the
//! upgrade: if that is really wanted, say so in the CHANGELOG.
//!
//! The backends are driven through their public dry-run path, so what is
//! pinned is exactly what would be run on the router.

mod common;

use netmon::config;
use netmon::firewall::{fnv1a, run::Runner, tag, Backend};
use netmon::meter::Meter;
use netmon::text::Buf;

/// The default meters (`wan_down`: hooks input and forward, iif;
/// `wan_up`: hooks output and forward, oif) on a swconfig WAN.
fn default_wan_meters() -> Vec<Meter> {
    let cfg = config::default_config(Some("eth0.2"), config::DEFAULT_PATH).unwrap();
    cfg.meters.to_vec()
}

/// The blog recipe's two meters, as a user writes them.
fn blog_meters() -> Vec<Meter> {
    let text = common::BLOG_CONFIG;
    let cfg = config::parse(text, "/etc/config/netmon").unwrap_or_else(|e| panic!("{}", e.msg));
    cfg.meters.to_vec()
}

/// The commands `install` would run, as printed in dry-run.
fn dry_install(backend: Backend, meters: &[Meter]) -> String {
    let mut r = Runner::new(true);
    backend.install(meters, &mut r).unwrap();
    r.printed.as_str().to_string()
}

/// The `add rule` commands of the nft script (one argv word, `; `-separated).
fn nft_rules(meters: &[Meter]) -> Vec<String> {
    let printed = dry_install(Backend::Nft, meters);
    let script = printed
        .strip_prefix("nft '")
        .and_then(|s| s.strip_suffix("'\n"))
        .unwrap_or_else(|| panic!("not one nft script: {printed}"));
    script
        .split("; ")
        .filter(|c| c.starts_with("add rule "))
        .map(String::from)
        .collect()
}

/// The `-A` (append a counting rule) commands, both families.
fn iptables_rules(meters: &[Meter]) -> Vec<String> {
    dry_install(Backend::Iptables, meters)
        .lines()
        .filter(|l| l.contains(" -A "))
        .map(String::from)
        .collect()
}

fn tag_of(meter: &str, hook: &str, matches: &str) -> String {
    let mut b = Buf::new();
    tag(&mut b, meter, hook, matches.as_bytes());
    b.as_str().to_string()
}

#[test]
fn fnv1a_is_the_32_bit_fnv_1a() {
    // The offset basis, and two of the published FNV-1a test vectors.
    assert_eq!(fnv1a(b""), 0x811c_9dc5);
    assert_eq!(fnv1a(b"a"), 0xe40c_292c);
    assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
}

#[test]
fn tag_of_fixed_meter_hook_and_match() {
    assert_eq!(
        tag_of("proxy", "input", "ip saddr 192.168.1.10/32 "),
        "netmon:proxy:0f134cac"
    );
    assert_eq!(
        tag_of("wan_down", "forward", "-i eth0.2 "),
        "netmon:wan_down:025479f0"
    );
    assert_eq!(tag_of("m", "forward", ""), "netmon:m:b45fa8e5");
    assert_eq!(tag_of("", "", ""), "netmon::811c9d3a");
}

#[test]
fn nft_tags_of_the_default_wan_meters() {
    assert_eq!(
        nft_rules(&default_wan_meters()),
        [
            r#"add rule inet netmon input iifname "eth0.2" counter name "m_wan_down" comment "netmon:wan_down:0a18d4fe""#,
            r#"add rule inet netmon output oifname "eth0.2" counter name "m_wan_up" comment "netmon:wan_up:95b8bc71""#,
            r#"add rule inet netmon forward iifname "eth0.2" counter name "m_wan_down" comment "netmon:wan_down:e41fd729""#,
            r#"add rule inet netmon forward oifname "eth0.2" counter name "m_wan_up" comment "netmon:wan_up:5765209b""#,
        ]
    );
}

#[test]
fn iptables_tags_of_the_default_wan_meters() {
    // No address: the same rules, with the same tags, in both families.
    assert_eq!(
        iptables_rules(&default_wan_meters()),
        [
            "iptables -w -t filter -A netmon_in -i eth0.2 -m comment --comment netmon:wan_down:bc6b002d",
            "iptables -w -t filter -A netmon_out -o eth0.2 -m comment --comment netmon:wan_up:17d96cbc",
            "iptables -w -t filter -A netmon_fwd -i eth0.2 -m comment --comment netmon:wan_down:025479f0",
            "iptables -w -t filter -A netmon_fwd -o eth0.2 -m comment --comment netmon:wan_up:47da8c0a",
            "ip6tables -w -t filter -A netmon_in -i eth0.2 -m comment --comment netmon:wan_down:bc6b002d",
            "ip6tables -w -t filter -A netmon_out -o eth0.2 -m comment --comment netmon:wan_up:17d96cbc",
            "ip6tables -w -t filter -A netmon_fwd -i eth0.2 -m comment --comment netmon:wan_down:025479f0",
            "ip6tables -w -t filter -A netmon_fwd -o eth0.2 -m comment --comment netmon:wan_up:47da8c0a",
        ]
    );
}

#[test]
fn nft_tags_of_the_blog_meters() {
    assert_eq!(
        nft_rules(&blog_meters()),
        [
            r#"add rule inet netmon input ip saddr 192.168.1.10/32 counter name "m_proxy" comment "netmon:proxy:0f134cac""#,
            r#"add rule inet netmon input ip saddr != 192.168.1.0/24 counter name "m_offnet" comment "netmon:offnet:bacb2ad6""#,
        ]
    );
}

#[test]
fn iptables_tags_of_the_blog_meters() {
    // IPv4 addresses: iptables only (the `!` is quoted for printing).
    assert_eq!(
        iptables_rules(&blog_meters()),
        [
            "iptables -w -t filter -A netmon_in -s 192.168.1.10/32 -m comment --comment netmon:proxy:19a82ee5",
            "iptables -w -t filter -A netmon_in '!' -s 192.168.1.0/24 -m comment --comment netmon:offnet:390ad470",
        ]
    );
}
