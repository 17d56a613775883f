//! The device-name sources (`parse::hosts`: dnsmasq and odhcpd leases,
//! `/etc/config/dhcp` hosts, `/etc/ethers`, `/proc/net/arp`, `ip neigh`),
//! their merge and the escaping writers on arbitrary bytes: must never
//! panic, every writer's output must be UTF-8 without a control character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netmon::parse::hosts::{self, Sources};
use netmon::text::{self, Buf};

fuzz_target!(|data: &[u8]| {
    let (mut statics, mut ethers, mut leases, mut neighbours) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    hosts::dnsmasq_leases(data, |l| leases.push(l));
    hosts::odhcpd_leases(data, |l| leases.push(l));
    hosts::ethers(data, |h| ethers.push(h));
    hosts::proc_net_arp(data, |n| neighbours.push(n));
    hosts::ip_neigh(data, |n| neighbours.push(n));
    if let Ok(s) = core::str::from_utf8(data) {
        let _ = hosts::static_hosts(s, |h| statics.push(h));
    }
    let s = Sources {
        statics: &statics,
        ethers: &ethers,
        leases: &leases,
        neighbours: &neighbours,
    };
    let merged = hosts::merge_hosts(&s);
    assert!(merged.len() <= hosts::MAX_HOSTS);
    assert!(merged.windows(2).all(|w| w[0].mac < w[1].mac));
    let mut b = Buf::new();
    text::write_terminal_safe(&mut b, data, 40);
    text::write_header_safe(&mut b, data, 40);
    text::write_html_escaped(&mut b, data, 64);
    let s = core::str::from_utf8(b.as_bytes()).expect("utf-8");
    assert!(!s.chars().any(char::is_control));
    text::write_json_string(&mut b, data);
    assert!(core::str::from_utf8(b.as_bytes()).is_ok());
});
