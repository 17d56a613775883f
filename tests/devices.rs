//! Per-device accounting (issue 11) against the real kernel: a router with
//! a LAN bridge of three ports, NAT to a WAN host, three LAN devices (one
//! dual-stack with two IPv6 addresses). Download and upload per device are
//! byte-exact against the datagrams sent; LAN-to-LAN and broadcast frames
//! are not counted; traffic to the router itself is. Also: a set smaller
//! than the number of devices (devices + other = total), a LAN port that
//! is deleted and re-created, and where the chains hook.
//!
//! Run: `cargo test --test devices -- --test-threads=2` (as root).

mod common;

use common::stream::*;
use common::*;
use std::collections::HashMap;
use std::path::Path;

const D_MAC: &str = "02:00:00:00:30:30";
const UDP4: u64 = IPV4_HDR + UDP_HDR;
const UDP6: u64 = IPV6_HDR + UDP_HDR;

const CONFIG: &str = DEVICES_CONFIG;

/// The lab plus a third device `d` on a third bridge port `lan3`, a second
/// IPv6 address on the proxy, and masquerading out of `wan` as OpenWrt does.
struct DevLab {
    lab: Lab,
    d: Netns,
}

impl DevLab {
    fn new() -> DevLab {
        let lab = Lab::new(true);
        let d = Netns::new(&format!("{}d", lab.r.name));
        masquerade_and_second_v6(&lab);
        let dl = DevLab { lab, d };
        dl.plug_d();
        dl.lab.wait_quiet();
        dl
    }

    /// (Re)creates `lan3` with device `d` behind it.
    fn plug_d(&self) {
        let (r, d) = (&self.lab.r, &self.d);
        r.ok(&[
            "ip", "link", "add", "lan3", "type", "veth", "peer", "name", "eth0", "address", D_MAC,
            "netns", &d.name,
        ]);
        r.ok(&["ip", "link", "set", "lan3", "gso_max_segs", "1"]);
        d.ok(&["ip", "link", "set", "eth0", "gso_max_segs", "1"]);
        r.ok(&["ip", "link", "set", "lan3", "master", "br-lan"]);
        r.ok(&["ip", "link", "set", "lan3", "up"]);
        d.sysctl(&["net.ipv6.conf.eth0.disable_ipv6=1"]);
        d.ok(&["ip", "link", "set", "eth0", "up"]);
        d.ok(&["ip", "addr", "replace", "192.168.1.30/24", "dev", "eth0"]);
        d.ok(&["ip", "route", "replace", "default", "via", "192.168.1.1"]);
        static_neigh(r, "192.168.1.30", D_MAC, "br-lan");
        static_neigh(d, "192.168.1.1", "02:00:00:00:01:01", "eth0");
        r.ok(&[
            "bridge", "fdb", "replace", D_MAC, "dev", "lan3", "master", "static",
        ]);
    }
}

/// `netmon devices --format json` as MAC (or "other") -> (download, upload).
fn devices(nm: &Netmon) -> HashMap<String, (u64, u64)> {
    let text = nm.ok(&["devices", "--format", "json"]);
    let j = Json::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut out = HashMap::new();
    for d in j
        .get("devices")
        .and_then(Json::as_array)
        .expect("devices array")
    {
        let key = match d.get("mac") {
            Some(Json::Str(m)) => m.clone(),
            _ => "other".into(),
        };
        let n = |k: &str| d.get(k).and_then(Json::as_u64).expect(k);
        out.insert(key, (n("download_bytes"), n("upload_bytes")));
    }
    out
}

fn setup(test: &str, backend: Backend) -> Option<DevLab> {
    let mut tools = backend.tools().to_vec();
    if backend != Backend::Nft {
        tools.push("ipset");
    }
    let dl = require_root_tools(test, &tools).then(DevLab::new)?;
    if backend != Backend::Nft {
        br_netfilter_on(&dl.lab.r);
    }
    Some(dl)
}

fn each_device_is_counted_byte_exact(test: &str, backend: Backend) {
    let Some(dl) = setup(test, backend) else {
        return;
    };
    let (r, p, q, o, d) = (&dl.lab.r, &dl.lab.p, &dl.lab.q, &dl.lab.o, &dl.d);
    let nm = Netmon::new(r, backend, Some(CONFIG));
    nm.ok(&["start"]);
    // Upload and download of each device, IPv4 and both IPv6 addresses.
    udp_between(p, "192.168.1.10", o, "10.99.0.2", 1000, 5);
    udp_between(p, "fd00::11", o, "fd00:99::2", 700, 4);
    udp_between(o, "fd00:99::2", p, "fd00::10", 900, 3);
    udp_between(q, "192.168.1.20", o, "10.99.0.2", 500, 2);
    udp_between(o, "10.99.0.2", q, "192.168.1.20", 1200, 6);
    udp_between(d, "192.168.1.30", o, "10.99.0.2", 300, 3);
    udp_between(o, "10.99.0.2", d, "192.168.1.30", 100, 2);
    // To the router itself: counted (as DNS and LuCI are).
    udp_between(p, "192.168.1.10", r, "192.168.1.1", 100, 2);
    // Bridged between two LAN devices, and broadcast: not counted.
    udp_between(p, "192.168.1.10", q, "192.168.1.20", 1000, 10);
    udp_between(p, "fd00::10", q, "fd00::20", 1000, 10);
    let py = python();
    let bcast = [
        py.to_str().unwrap(),
        TRAFFIC_PY,
        "udp-send",
        "192.168.1.10",
        "192.168.1.255",
        "5304",
        "100",
        "3",
    ];
    p.ok(&bcast);
    let got = devices(&nm);
    let p_up = 5 * (UDP4 + 1000) + 4 * (UDP6 + 700) + 2 * (UDP4 + 100);
    assert_eq!(got.get(P_MAC), Some(&(3 * (UDP6 + 900), p_up)), "{got:?}");
    assert_eq!(
        got.get(Q_MAC),
        Some(&(6 * (UDP4 + 1200), 2 * (UDP4 + 500))),
        "{got:?}"
    );
    assert_eq!(
        got.get(D_MAC),
        Some(&(2 * (UDP4 + 100), 3 * (UDP4 + 300))),
        "{got:?}"
    );
    assert_eq!(got.get("other"), None, "{got:?}");
    assert_eq!(got.len(), 3, "{got:?}");
}

per_backend!(each_device_is_counted_byte_exact: each_device_is_counted_byte_exact_nft, each_device_is_counted_byte_exact_iptables_nft, each_device_is_counted_byte_exact_iptables_legacy);

fn devices_and_other_add_up_when_the_set_is_full(test: &str, backend: Backend) {
    let Some(dl) = setup(test, backend) else {
        return;
    };
    let (r, p, q, o, d) = (&dl.lab.r, &dl.lab.p, &dl.lab.q, &dl.lab.o, &dl.d);
    let config = CONFIG.replace("'br-lan'\n", "'br-lan'\n\toption max_devices '2'\n");
    let nm = Netmon::new(r, backend, Some(&config));
    nm.ok(&["start"]);
    udp_between(p, "192.168.1.10", o, "10.99.0.2", 1000, 5);
    udp_between(q, "192.168.1.20", o, "10.99.0.2", 500, 2);
    udp_between(d, "192.168.1.30", o, "10.99.0.2", 300, 3);
    udp_between(o, "10.99.0.2", d, "192.168.1.30", 100, 2);
    let got = devices(&nm);
    let up: u64 = got.values().map(|v| v.1).sum();
    let down: u64 = got.values().map(|v| v.0).sum();
    let sent_up = 5 * (UDP4 + 1000) + 2 * (UDP4 + 500) + 3 * (UDP4 + 300);
    assert_eq!((down, up), (2 * (UDP4 + 100), sent_up), "{got:?}");
    assert!(
        got.contains_key("other"),
        "the third device went to other: {got:?}"
    );
    assert_eq!(got.len(), 3, "two devices and other: {got:?}");
}

per_backend!(devices_and_other_add_up_when_the_set_is_full: devices_and_other_add_up_when_the_set_is_full_nft, devices_and_other_add_up_when_the_set_is_full_iptables_nft, devices_and_other_add_up_when_the_set_is_full_iptables_legacy);

fn a_lan_port_deleted_and_recreated_is_counted_again(test: &str, backend: Backend) {
    let Some(dl) = setup(test, backend) else {
        return;
    };
    let (r, o, d) = (&dl.lab.r, &dl.lab.o, &dl.d);
    let nm = Netmon::new(r, backend, Some(CONFIG));
    nm.ok(&["start"]);
    udp_between(d, "192.168.1.30", o, "10.99.0.2", 300, 3);
    nm.ok(&["update"]);
    // A wifi reload deletes and re-creates its interface.
    r.ok(&["ip", "link", "del", "lan3"]);
    nm.ok(&["update"]);
    dl.plug_d();
    dl.lab.wait_quiet();
    nm.ok(&["update"]);
    // iptables matches the bridge, not its ports: nothing to re-hook.
    let hooks = match backend {
        Backend::Nft => r.ok(&["nft", "list", "table", "netdev", "netmon"]),
        _ => String::new(),
    };
    for chain in ["ingress", "egress"]
        .iter()
        .filter(|_| backend == Backend::Nft)
    {
        let line = hooks
            .lines()
            .find(|l| l.contains(&format!("hook {chain} ")))
            .unwrap_or_else(|| panic!("no {chain} chain: {hooks}"));
        assert!(
            line.contains("lan3"),
            "{chain} is not on lan3 again: {line}"
        );
    }
    udp_between(d, "192.168.1.30", o, "10.99.0.2", 200, 4);
    udp_between(o, "10.99.0.2", d, "192.168.1.30", 100, 2);
    let got = devices(&nm);
    let up = 3 * (UDP4 + 300) + 4 * (UDP4 + 200);
    assert_eq!(got.get(D_MAC), Some(&(2 * (UDP4 + 100), up)), "{got:?}");
}

per_backend!(a_lan_port_deleted_and_recreated_is_counted_again: a_lan_port_deleted_and_recreated_is_counted_again_nft, a_lan_port_deleted_and_recreated_is_counted_again_iptables_nft, a_lan_port_deleted_and_recreated_is_counted_again_iptables_legacy);

/// Where the flowtable cannot bypass them: every device chain hooks
/// ingress or egress on every lower device of the bridge, and the default
/// WAN meters ingress and egress of the WAN device, at a priority below
/// fw4's flowtable (ingress, priority filter = 0).
#[test]
fn device_and_wan_chains_sit_before_the_flowtable_nft() {
    let Some(dl) = setup(
        "device_and_wan_chains_sit_before_the_flowtable_nft",
        Backend::Nft,
    ) else {
        return;
    };
    let r = &dl.lab.r;
    // As shipped: a devices section and no meters (the default WAN meters).
    let nm = Netmon::new(r, Backend::Nft, Some("config devices 'devices'\n"));
    nm.ok(&["start"]);
    let table = r.ok(&["nft", "list", "table", "netdev", "netmon"]);
    let mut hooks = Vec::new();
    for line in table
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("type filter hook"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        let hook = words[3];
        let prio: i64 = words[words.iter().position(|w| *w == "priority").unwrap() + 1]
            .trim_end_matches(';')
            .parse()
            .unwrap();
        assert!(
            prio < 0,
            "{line}: priority {prio} is not below the flowtable's 0"
        );
        // `devices = { a, b }`, or `device "a"` for one.
        let list = match line.split_once('{') {
            Some((_, l)) => l.split_once('}').expect(line).0,
            None => line.split('"').nth(1).expect(line),
        };
        let mut ports: Vec<&str> = list.split(',').map(str::trim).collect();
        ports.sort_unstable();
        hooks.push(format!("{hook} {}", ports.join(" ")));
    }
    hooks.sort();
    let want = [
        "egress lan1 lan2 lan3",
        "egress wan",
        "ingress lan1 lan2 lan3",
        "ingress wan",
    ];
    assert_eq!(hooks, want, "{table}");
    for (meter, chain_hook) in [("wan_down", "ingress"), ("wan_up", "egress")] {
        let rule = format!("counter name \"m_{meter}\"");
        let chain = table
            .split("chain ")
            .find(|c| c.contains(&rule))
            .unwrap_or_else(|| panic!("no rule for {meter}: {table}"));
        let on_wan = format!("hook {chain_hook} device \"wan\"");
        assert!(chain.contains(&on_wan), "{meter}: {chain}");
    }
    // Nothing of the WAN meters is left on the firewall hooks.
    let inet = r.ok(&["nft", "list", "table", "inet", "netmon"]);
    assert!(
        !inet.contains("wan_down") && !inet.contains("wan_up"),
        "{inet}"
    );
}

/// The default WAN meters on the link (as shipped, an Ethernet WAN): what
/// arrives on and leaves the WAN device, byte-exact, routed or for the
/// router itself; LAN traffic not.
/// On iptables they count on the firewall hooks, with the same result.
fn wan_meters_on_the_link_are_byte_exact(test: &str, backend: Backend) {
    let Some(dl) = setup(test, backend) else {
        return;
    };
    let (r, p, q, o) = (&dl.lab.r, &dl.lab.p, &dl.lab.q, &dl.lab.o);
    let nm = Netmon::new(r, backend, Some("config devices 'devices'\n"));
    nm.ok(&["start"]);
    // Where they count, as status says it: iptables has no link hooks.
    let meters = match backend {
        Backend::Nft => "meters:   wan_down (ingress wan) wan_up (egress wan)\n",
        _ => "meters:   wan_down wan_up\n",
    };
    let status = nm.ok(&["status"]);
    assert!(status.contains(meters), "{status}");
    let before = nm.report();
    udp_between(p, "192.168.1.10", o, "10.99.0.2", 1000, 5);
    udp_between(o, "fd00:99::2", p, "fd00::10", 900, 3);
    udp_between(o, "10.99.0.2", r, "10.99.0.1", 200, 4);
    udp_between(r, "10.99.0.1", o, "10.99.0.2", 300, 2);
    udp_between(p, "192.168.1.10", q, "192.168.1.20", 1000, 10);
    let after = nm.report();
    let delta = |m: &str| after.meter(m).total_bytes - before.meter(m).total_bytes;
    let down = 3 * (UDP6 + 900) + 4 * (UDP4 + 200);
    let up = 5 * (UDP4 + 1000) + 2 * (UDP4 + 300);
    assert_eq!((delta("wan_down"), delta("wan_up")), (down, up));
}

/// On iptables: one tagged jump at the top of INPUT, OUTPUT and FORWARD
/// into netmon's device chains, in both families, and the sets sized as
/// configured; `stop` removes all of it.
fn device_chains_are_entered_from_the_builtin_chains(test: &str, backend: Backend) {
    let Some(dl) = setup(test, backend) else {
        return;
    };
    let r = &dl.lab.r;
    let nm = Netmon::new(r, backend, Some(CONFIG));
    nm.ok(&["start"]);
    for tool in ["iptables", "ip6tables"] {
        for (builtin, chain) in [
            ("INPUT", "netmon_dev_in"),
            ("OUTPUT", "netmon_dev_out"),
            ("FORWARD", "netmon_dev_fwd"),
        ] {
            let rules = nm.ipt(tool, &["-w", "-S", builtin]);
            let jump = format!("-A {builtin} -m comment --comment netmon -j {chain}");
            assert_eq!(
                rules.lines().filter(|l| *l == jump).count(),
                1,
                "{tool} {builtin}: {rules}"
            );
            let own = nm.ipt(tool, &["-w", "-S", chain]);
            let tagged = own
                .lines()
                .filter(|l| l.contains("netmon:devices:"))
                .count();
            let want = if chain == "netmon_dev_fwd" { 8 } else { 4 };
            assert_eq!(tagged, want, "{tool} {chain}: {own}");
        }
    }
    let sets = r.ok(&["ipset", "list", "-t"]);
    for set in ["netmon_up4", "netmon_up6", "netmon_dn4", "netmon_dn6"] {
        assert!(sets.contains(&format!("Name: {set}\n")), "{sets}");
    }
    assert!(sets.contains("maxelem 1024 counters"), "{sets}");
    nm.ok(&["stop"]);
    assert!(!r.ok(&["ipset", "list", "-n"]).contains("netmon_"));
    for tool in ["iptables", "ip6tables"] {
        let all = nm.ipt(tool, &["-w", "-S"]);
        assert!(!all.contains("netmon_dev"), "{tool}: {all}");
    }
}

#[test]
fn device_chains_are_entered_from_the_builtin_chains_iptables_nft() {
    device_chains_are_entered_from_the_builtin_chains(
        "device_chains_are_entered_from_the_builtin_chains_iptables_nft",
        Backend::IptNft,
    );
}

#[test]
fn device_chains_are_entered_from_the_builtin_chains_iptables_legacy() {
    device_chains_are_entered_from_the_builtin_chains(
        "device_chains_are_entered_from_the_builtin_chains_iptables_legacy",
        Backend::IptLegacy,
    );
}

per_backend!(wan_meters_on_the_link_are_byte_exact: wan_meters_on_the_link_are_byte_exact_nft, wan_meters_on_the_link_are_byte_exact_iptables_nft, wan_meters_on_the_link_are_byte_exact_iptables_legacy);

/// `netmon devices --format json` (from `with_files` or `nm.ok`) as MAC -> name.
fn names(json: &str) -> HashMap<String, String> {
    let j = Json::parse(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let mut out = HashMap::new();
    for d in j.get("devices").and_then(Json::as_array).expect("devices") {
        if let (Some(Json::Str(mac)), Some(Json::Str(name))) = (d.get("mac"), d.get("name")) {
            out.insert(mac.clone(), name.clone());
        }
    }
    out
}

/// Names come from each of the four sources at the paths OpenWrt uses:
/// dnsmasq's lease file, odhcpd's hosts file (an IPv6 address, matched to
/// its MAC through the neighbour table), /etc/ethers and a static
/// `config host` in /etc/config/dhcp, which wins over the others. A name
/// stays with its device when the source is gone.
#[test]
fn names_come_from_every_source_nft() {
    let Some(dl) = setup("names_come_from_every_source_nft", Backend::Nft) else {
        return;
    };
    let (r, p, q, o, d) = (&dl.lab.r, &dl.lab.p, &dl.lab.q, &dl.lab.o, &dl.d);
    let mut nm = Netmon::new(r, Backend::Nft, Some(CONFIG));
    // The state outside /tmp, which `with_files` overlays.
    nm.state = TempDir::new_in(Path::new("/dev/shm"), "nmt-state");
    nm.persist = TempDir::new_in(Path::new("/dev/shm"), "nmt-persist");
    nm.ok(&["start"]);
    udp_between(p, "192.168.1.10", o, "10.99.0.2", 100, 1);
    udp_between(q, "fd00::20", o, "fd00:99::2", 100, 1);
    udp_between(d, "192.168.1.30", o, "10.99.0.2", 100, 1);
    let lease = format!("1767225600 {P_MAC} 192.168.1.10 laptop 01:{P_MAC}\n");
    let ethers = format!("# names\n{D_MAC} d-ethers\n");
    let mut files = vec![
        ("/tmp/dhcp.leases", lease),
        (
            "/tmp/hosts/odhcpd.hosts.br-lan",
            "fd00::20\tpeer.lan\tpeer\n".to_string(),
        ),
        ("/etc/ethers", ethers),
    ];
    let run = |f: &[(&str, String)]| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(p, t)| (*p, t.as_str())).collect();
        names(&with_files(&nm, &pairs, &["devices", "--format", "json"]))
    };
    let got = run(&files);
    assert_eq!(
        got.get(P_MAC).map(String::as_str),
        Some("laptop"),
        "{got:?}"
    );
    assert_eq!(got.get(Q_MAC).map(String::as_str), Some("peer"), "{got:?}");
    assert_eq!(
        got.get(D_MAC).map(String::as_str),
        Some("d-ethers"),
        "{got:?}"
    );
    let host = format!("config host\n\toption name 'd-static'\n\toption mac '{D_MAC}'\n");
    files.push(("/etc/config/dhcp", host));
    let got = run(&files);
    assert_eq!(
        got.get(D_MAC).map(String::as_str),
        Some("d-static"),
        "{got:?}"
    );
    let kept = names(&nm.ok(&["devices", "--format", "json"]));
    assert_eq!(kept, got, "names are kept when the sources are gone");
}

/// Whether `from` gets one ping answered by `to` within a second.
fn pings(from: &Netns, to: &str) -> bool {
    from.run(&["ping", "-c", "1", "-W", "1", to])
        .status
        .success()
}

fn a_block_cuts_forwarding_keeps_the_router_and_outlives_flush_and_reboot(
    test: &str,
    backend: Backend,
) {
    let Some(dl) = setup(test, backend) else {
        return;
    };
    let (r, p, q, o) = (&dl.lab.r, &dl.lab.p, &dl.lab.q, &dl.lab.o);
    let nm = Netmon::new(r, backend, Some(CONFIG));
    nm.ok(&["start"]);
    assert!(
        pings(p, "10.99.0.2") && pings(p, "fd00:99::2"),
        "before the block"
    );
    // Downloads from the WAN host running when the block lands (40 MB
    // over 20 s each: they would still be going at the end).
    let tmp = TempDir::new("nmt-block");
    let (p4, p6) = ((p, "192.168.1.10"), (p, "fd00::10"));
    let v4 = Stream::start((o, "10.99.0.2"), p4, 5401, 40 << 20, 20, tmp.path());
    let v6 = Stream::start((o, "fd00:99::2"), p6, 5402, 40 << 20, 20, tmp.path());
    wait_flowing(&[&v4, &v6]);
    let said = nm.ok(&["block", P_MAC]);
    assert!(
        said.starts_with("blocked ") && said.contains(P_MAC),
        "{said}"
    );
    // What was in flight lands within a second; after that, not a byte.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let stopped = bytes_of(&[&v4, &v6]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let later = bytes_of(&[&v4, &v6]);
    assert_eq!(later, stopped, "the running downloads went on");
    assert!(stopped.iter().all(|&b| b < 40 << 20), "{stopped:?}");
    drop((v4, v6));
    // Forwarded traffic stops, both families; the router itself answers.
    assert!(!pings(p, "10.99.0.2") && !pings(p, "fd00:99::2"), "blocked");
    assert!(
        pings(p, "192.168.1.1") && pings(p, "fd00::1"),
        "the router stays reachable"
    );
    assert!(pings(q, "10.99.0.2"), "another device is not blocked");
    let status = nm.ok(&["status"]);
    assert!(
        status.contains(
            "control:  1 blocked by the admin, 0 quotas, 1 devices on the firewall's block list"
        ),
        "{status}"
    );
    let listed = nm.ok(&["blocked", "--format", "json"]);
    assert!(
        listed.contains(P_MAC) && listed.contains("\"reason\":\"block\""),
        "{listed}"
    );
    // A firewall flush, then cron's update: the block is back.
    nm.flush_firewall();
    nm.ok(&["update"]);
    assert!(
        !pings(p, "10.99.0.2"),
        "blocked after a flush and an update"
    );
    // A reboot: RAM gone, the firewall empty; the state comes from flash.
    nm.ok(&["sync"]);
    nm.flush_firewall();
    std::fs::remove_dir_all(nm.state.path()).unwrap();
    nm.ok(&["update"]);
    assert!(!pings(p, "10.99.0.2"), "blocked after a reboot");
    nm.ok(&["unblock", P_MAC]);
    assert!(pings(p, "10.99.0.2") && pings(p, "fd00:99::2"), "unblocked");
    // A new transfer gets through whole.
    let again = Stream::start((o, "10.99.0.2"), p4, 5403, 300_000, 0, tmp.path());
    assert_eq!(
        again.finish().1,
        "got 300000",
        "a new download after unblock"
    );
    // A timed block lifts at the first update after it ends.
    nm.ok(&["block", "192.168.1.10", "--for", "2s"]);
    assert!(!pings(p, "10.99.0.2"), "timed block by address");
    std::thread::sleep(std::time::Duration::from_millis(2200));
    nm.ok(&["update"]);
    assert!(pings(p, "10.99.0.2"), "lifted after its end");
    // What cannot be blocked.
    let own = r.ok(&["cat", "/sys/class/net/br-lan/address"]);
    for (word, why) in [
        (own.trim(), "the router's own MAC"),
        ("ff:ff:ff:ff:ff:ff", "multicast"),
        ("nosuchdevice", "no device is named"),
    ] {
        let out = nm.run(&["block", word]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{word}: {err}");
        assert!(err.contains(why), "{word}: {err}");
    }
}

per_backend!(a_block_cuts_forwarding_keeps_the_router_and_outlives_flush_and_reboot: a_block_cuts_forwarding_nft, a_block_cuts_forwarding_iptables_nft, a_block_cuts_forwarding_iptables_legacy);

/// What `"from"` a JSON report gives.
fn report_from(nm: &Netmon, args: &[&str]) -> String {
    let json = nm.ok(args);
    let at = json.find("\"from\":").expect("from") + 7;
    json[at..].chars().take_while(|c| *c != ',').collect()
}

#[test]
fn a_peek_does_not_start_a_new_report_period_nft() {
    let Some(dl) = setup(
        "a_peek_does_not_start_a_new_report_period_nft",
        Backend::Nft,
    ) else {
        return;
    };
    let nm = Netmon::new(&dl.lab.r, Backend::Nft, Some(CONFIG));
    nm.ok(&["start"]);
    let peek = ["report", "--peek", "--format", "json"];
    let first = report_from(&nm, &peek);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(report_from(&nm, &peek), first, "a peek moved the period");
    let marked = report_from(&nm, &["report", "--format", "json"]);
    assert_eq!(marked, first, "the report covers the same period");
    assert_ne!(
        report_from(&nm, &peek),
        first,
        "a plain report starts a new period"
    );
}
