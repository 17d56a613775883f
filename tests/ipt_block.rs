//! Blocking a LAN device on the iptables backend (`firewall::ipset_block`)
//! against the real kernel, with iptables-nft and iptables-legacy, in the
//! lab of `common` (router, LAN bridge with two devices, WAN host behind
//! masquerade, `br_netfilter` on):
//!
//! - a TCP download that is running from the WAN to the blocked device,
//!   IPv4 and IPv6, stops: after `apply`, one second for what is in
//!   flight, then not one more byte for two seconds; a download from the
//!   router itself to the device, and one to the other device, go on;
//! - while blocked, the device still pings and connects to the router's
//!   LAN addresses (v4, v6) and still reaches the other LAN device over
//!   the bridge; it sends nothing out, from a blocked address or from an
//!   address of its that the sets do not hold (the MAC rule), and nothing
//!   comes in to a blocked address;
//! - `forget_flows` deletes the conntrack entries of the device's forwarded
//!   flows, opened by it or towards it, and no other device's; its
//!   connection with the router loses its entry and goes on;
//! - (offloaded flows are not tested here: this kernel has no flowtables,
//!   `CONFIG_NF_FLOW_TABLE`; the jump's place before fw3's `FLOWOFFLOAD`
//!   is what `read` checks, and `forget_flows` is checked on tracked flows)
//! - after unblocking, new transfers get through;
//! - `read` tells installed from flushed (`iptables -F`), displaced (a
//!   counting jump inserted above the block's) and removed, and nothing
//!   untagged is touched.
//!
//! The module runs in this process and finds its tools in PATH: each test
//! puts first in PATH a directory of wrappers that run its flavour's tools
//! inside its router namespace. PATH is the process's, so the tests'
//! library calls take turns (`PATH_LOCK`); every other command here names
//! its tool by absolute path (`real`) or is one no wrapper shadows.
//!
//! Run: `cargo test --test ipt_block` (as root).

mod common;

use common::stream::*;
use common::*;
use netmon::device::{Lan, Mac};
use netmon::firewall::ipset_block::{self as block, Found};
use netmon::firewall::ipset_devices;
use netmon::firewall::run::Runner;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// One `#[test]` per iptables flavour.
macro_rules! per_iptables {
    ($body:ident: $ipt_nft:ident, $ipt_legacy:ident) => {
        #[test]
        fn $ipt_nft() {
            $body(stringify!($ipt_nft), Backend::IptNft);
        }
        #[test]
        fn $ipt_legacy() {
            $body(stringify!($ipt_legacy), Backend::IptLegacy);
        }
    };
}

/// Held while a test's wrappers are first in PATH.
static PATH_LOCK: Mutex<()> = Mutex::new(());

/// Restores PATH when the library call ends, even by a panic.
struct PathGuard(Option<std::ffi::OsString>);

impl Drop for PathGuard {
    fn drop(&mut self) {
        match self.0.take() {
            Some(p) => std::env::set_var("PATH", p),
            None => std::env::remove_var("PATH"),
        }
    }
}

/// The router's firewall as the library sees it: wrappers named like the
/// tools, each running the real one in the router namespace.
struct Fw {
    bin: TempDir,
}

impl Fw {
    fn new(ns: &Netns, flavour: Backend) -> Fw {
        let bin = TempDir::new("nmt-blk-bin");
        let multi = multi(flavour);
        let mut tools = vec![
            ("iptables", format!("{} iptables", multi.display())),
            ("ip6tables", format!("{} ip6tables", multi.display())),
        ];
        for t in ["ipset", "conntrack"] {
            if let Some(p) = real(t) {
                tools.push((t, p.display().to_string()));
            }
        }
        for (name, real) in tools {
            let script = format!(
                "#!/bin/sh\nexec {} netns exec {} {real} \"$@\"\n",
                ip().display(),
                ns.name
            );
            let path = bin.path().join(name);
            std::fs::write(&path, script).expect("write wrapper");
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
            std::fs::set_permissions(&path, mode).expect("chmod wrapper");
        }
        Fw { bin }
    }

    /// Runs `f` with a real (not dry-run) Runner, the wrappers first in PATH.
    fn run<T>(&self, f: impl FnOnce(&mut Runner) -> T) -> T {
        let _lock = PATH_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let old = std::env::var_os("PATH");
        let mut path = self.bin.path().as_os_str().to_owned();
        if let Some(o) = &old {
            path.push(":");
            path.push(o);
        }
        let _restore = PathGuard(old);
        std::env::set_var("PATH", path);
        f(&mut Runner::new(false))
    }
}

/// Where `tool` really is: looked up while no test's wrappers are in PATH.
fn real(tool: &str) -> Option<PathBuf> {
    let _lock = PATH_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    which(tool)
}

fn multi(flavour: Backend) -> PathBuf {
    let name = flavour.tools()[1];
    real(name).unwrap_or_else(|| panic!("{name} not found"))
}

struct BlockLab {
    lab: Lab,
    fw: Fw,
    lan: Lan,
    flavour: Backend,
    tmp: TempDir,
}

fn setup(test: &str, flavour: Backend, extra: &[&str]) -> Option<BlockLab> {
    let mut tools = flavour.tools().to_vec();
    tools.extend(["ipset", "ping"]);
    tools.extend(extra);
    if !require_root_tools(test, &tools) {
        return None;
    }
    let lab = Lab::new(true);
    let r = &lab.r;
    // A second address of the device's that the block's sets never hold,
    // as an IPv6 privacy address taken after the last update.
    masquerade_and_second_v6(&lab);
    // Connection tracking in both families (fw3's `--ctstate
    // RELATED,ESTABLISHED -j ACCEPT` turns it on for IPv6 too).
    r.ok(&[
        "nft",
        "add table inet track; \
         add chain inet track forward { type filter hook forward priority 10; }; \
         add rule inet track forward ct state established,related accept",
    ]);
    br_netfilter_on(r);
    lab.wait_quiet();
    let fw = Fw::new(r, flavour);
    let lan = Lan {
        bridge: "br-lan".try_into().unwrap(),
        ports: ["lan1", "lan2"]
            .iter()
            .map(|p| (*p).try_into().unwrap())
            .collect(),
        mac: Mac::parse("02:00:00:00:01:01").unwrap(),
        max: 1024,
    };
    let tmp = TempDir::new("nmt-blk");
    Some(BlockLab {
        lab,
        fw,
        lan,
        flavour,
        tmp,
    })
}

fn ips(v: &[&str]) -> Vec<IpAddr> {
    v.iter().map(|a| a.parse().unwrap()).collect()
}

/// What the block of the device `p` puts into the sets.
fn p_blocked() -> Vec<(Mac, Vec<IpAddr>)> {
    vec![(
        Mac::parse(P_MAC).unwrap(),
        ips(&["192.168.1.10", "fd00::10"]),
    )]
}

impl BlockLab {
    fn install(&self) {
        self.fw
            .run(|r| block::install(&self.lan, r))
            .unwrap_or_else(|e| panic!("install: {}", e.message()));
    }

    fn read(&self) -> Found {
        self.fw
            .run(|r| block::read(&self.lan, r))
            .unwrap_or_else(|e| panic!("read: {}", e.message()))
    }

    /// Reads, then applies `want` against what was read.
    fn apply(&self, want: &[(Mac, Vec<IpAddr>)]) -> Found {
        let found = self.read();
        assert!(found.installed, "{found:?}");
        self.fw
            .run(|r| block::apply(&self.lan, want, &found, r))
            .unwrap_or_else(|e| panic!("apply: {}", e.message()));
        self.read()
    }

    /// `TOOL ARGS` of this flavour in the router namespace, checked.
    fn ipt(&self, tool: &str, args: &[&str]) -> String {
        let m = multi(self.flavour);
        let mut argv = vec![m.to_str().unwrap(), tool];
        argv.extend(args);
        self.lab.r.ok(&argv)
    }

    fn stream(
        &self,
        server: (&Netns, &str),
        client: (&Netns, &str),
        port: u16,
        bytes: u64,
        secs: u32,
    ) -> Stream {
        Stream::start(server, client, port, bytes, secs, self.tmp.path())
    }

    /// How many of `count` UDP datagrams from `src` in `from` reach `dst`
    /// in `to` (the receiver waits a second).
    fn udp_arrive(&self, from: &Netns, src: &str, to: &Netns, dst: &str, count: u64) -> u64 {
        let n = count.to_string();
        let rx = Bg::spawn(to, TRAFFIC_PY, &["udp-recv", dst, "5305", &n, "1"], true);
        let py = python();
        let send = [
            py.to_str().unwrap(),
            TRAFFIC_PY,
            "udp-send",
            src,
            dst,
            "5305",
            "100",
            &n,
        ];
        from.ok(&send);
        let line = rx.finish();
        let got = line.split_whitespace().nth(1).and_then(|n| n.parse().ok());
        got.unwrap_or_else(|| panic!("udp-recv said {line:?}"))
    }

    /// The device reaches the router's own address `addr`: ping, and a TCP
    /// connection carrying 10000 bytes.
    fn reaches_router(&self, src: &str, addr: &str) {
        let (r, p) = (&self.lab.r, &self.lab.p);
        p.ok(&["ping", "-c", "1", "-W", "2", addr]);
        let rx = Bg::spawn(r, TRAFFIC_PY, &["tcp-recv", addr, "5306", "5"], true);
        let py = python();
        p.ok(&[
            py.to_str().unwrap(),
            TRAFFIC_PY,
            "tcp-send",
            src,
            addr,
            "5306",
            "10000",
            "5",
        ]);
        assert_eq!(
            rx.finish(),
            "tcp 10000",
            "TCP from {src} to the router's {addr}"
        );
    }
}

fn a_block_stops_forwarded_traffic_and_spares_the_router(test: &str, flavour: Backend) {
    let Some(bl) = setup(test, flavour, &[]) else {
        return;
    };
    let (r, p, q, o) = (&bl.lab.r, &bl.lab.p, &bl.lab.q, &bl.lab.o);
    bl.install();
    assert_eq!(bl.read(), Found::just_installed());
    // Downloads running: WAN to the device (v4, v6), the router to the
    // device, WAN to the other device. 1 MB/s for 8 s at most.
    let (mb, secs) = (8_000_000, 8);
    let wan4 = bl.stream((o, "10.99.0.2"), (p, "192.168.1.10"), 6001, mb, secs);
    let wan6 = bl.stream((o, "fd00:99::2"), (p, "fd00::10"), 6002, mb, secs);
    let router = bl.stream((r, "192.168.1.1"), (p, "192.168.1.10"), 6003, mb, secs);
    let other = bl.stream((o, "10.99.0.2"), (q, "192.168.1.20"), 6004, mb, secs);
    let all = [&wan4, &wan6, &router, &other];
    wait_flowing(&all);
    std::thread::sleep(Duration::from_millis(300));
    let found = bl.apply(&p_blocked());
    assert!(found.installed, "{found:?}");
    assert_eq!(found.addrs, ips(&["192.168.1.10", "fd00::10"]));
    assert_eq!(found.macs, [Mac::parse(P_MAC).unwrap()]);
    // What was in flight may land in the first second; then nothing.
    std::thread::sleep(Duration::from_secs(1));
    let before = bytes_of(&all);
    std::thread::sleep(Duration::from_secs(2));
    let after = bytes_of(&all);
    assert_eq!(
        after[..2],
        before[..2],
        "the blocked device's downloads went on"
    );
    assert!(
        after[2] > before[2],
        "the router's download to the device stopped: {before:?} {after:?}"
    );
    assert!(
        after[3] > before[3],
        "the other device's download stopped: {before:?} {after:?}"
    );
    // The router stays reachable, v4 and v6.
    bl.reaches_router("192.168.1.10", "192.168.1.1");
    bl.reaches_router("fd00::10", "fd00::1");
    // Nothing goes out: from a blocked address, nor from one the sets do
    // not hold (the MAC rule).
    assert_eq!(bl.udp_arrive(p, "192.168.1.10", o, "10.99.0.2", 3), 0);
    assert_eq!(bl.udp_arrive(p, "fd00::10", o, "fd00:99::2", 3), 0);
    assert_eq!(
        bl.udp_arrive(p, "fd00::11", o, "fd00:99::2", 3),
        0,
        "MAC rule"
    );
    // Nothing comes in to a blocked address either (a TCP download also
    // stalls on its dropped ACKs: this is the download rule alone).
    assert_eq!(bl.udp_arrive(o, "10.99.0.2", p, "192.168.1.10", 3), 0);
    assert_eq!(bl.udp_arrive(o, "fd00:99::2", p, "fd00::10", 3), 0);
    // Bridged LAN-to-LAN traffic and the other device are not blocked.
    udp_between(p, "192.168.1.10", q, "192.168.1.20", 100, 3);
    udp_between(q, "fd00::20", p, "fd00::10", 100, 3);
    udp_between(q, "192.168.1.20", o, "10.99.0.2", 100, 3);
    // Unblocked: new transfers get through, from every address.
    let found = bl.apply(&[]);
    assert_eq!(found, Found::just_installed());
    let new4 = bl.stream((o, "10.99.0.2"), (p, "192.168.1.10"), 6011, 300_000, 0);
    let new6 = bl.stream((o, "fd00:99::2"), (p, "fd00::10"), 6012, 300_000, 0);
    assert_eq!(new4.finish(), ("sent 300000".into(), "got 300000".into()));
    assert_eq!(new6.finish(), ("sent 300000".into(), "got 300000".into()));
    assert_eq!(bl.udp_arrive(p, "fd00::11", o, "fd00:99::2", 3), 3);
    for s in [router, other] {
        let (_, got) = s.finish();
        assert_eq!(got, format!("got {mb}"), "an unblocked download lost bytes");
    }
    drop((wan4, wan6));
}

per_iptables!(a_block_stops_forwarded_traffic_and_spares_the_router: a_block_stops_forwarded_traffic_and_spares_the_router_iptables_nft, a_block_stops_forwarded_traffic_and_spares_the_router_iptables_legacy);

/// Asserts `conntrack -L` in `r` shows a flow from `src` to `dst` (both
/// addresses as the original direction has them); returns its line.
fn tracked(r: &Netns, src: &str, dst: &str) -> String {
    let mut ct = conntrack(r, &["-f", "ipv4", "-L"]);
    ct.push_str(&conntrack(r, &["-f", "ipv6", "-L"]));
    let flow = ct
        .lines()
        .find(|l| l.contains(&format!("src={src} dst={dst} ")));
    flow.unwrap_or_else(|| panic!("no conntrack entry {src} -> {dst}: {ct}"))
        .to_string()
}

fn untracked(r: &Netns, src: &str, dst: &str) {
    let fam = if src.contains(':') { "ipv6" } else { "ipv4" };
    let left = conntrack(r, &["-f", fam, "-L", "-s", src, "-d", dst]);
    assert_eq!(left.trim(), "", "{src} -> {dst} is still tracked");
}

fn forget_flows_forgets_the_devices_flows_only(test: &str, flavour: Backend) {
    let Some(bl) = setup(test, flavour, &["conntrack"]) else {
        return;
    };
    let (r, p, q, o) = (&bl.lab.r, &bl.lab.p, &bl.lab.q, &bl.lab.o);
    bl.install();
    let (mb, secs) = (8_000_000, 8);
    // Opened by the device (`-s`), by the WAN towards the device (`-r`),
    // with the router, and the other device's.
    let out4 = bl.stream((o, "10.99.0.2"), (p, "192.168.1.10"), 6001, mb, secs);
    let in6 = bl.stream((p, "fd00::10"), (o, "fd00:99::2"), 6002, mb, secs);
    let router = bl.stream((r, "192.168.1.1"), (p, "192.168.1.10"), 6003, mb, secs);
    let other = bl.stream((o, "10.99.0.2"), (q, "192.168.1.20"), 6004, mb, secs);
    let all = [&out4, &in6, &router, &other];
    wait_flowing(&all);
    tracked(r, "192.168.1.10", "10.99.0.2");
    tracked(r, "fd00:99::2", "fd00::10");
    tracked(r, "192.168.1.20", "10.99.0.2");
    bl.apply(&p_blocked());
    let addrs = ips(&["192.168.1.10", "fd00::10"]);
    assert_eq!(bl.fw.run(|r| block::forget_flows(&addrs, r)), None);
    std::thread::sleep(Duration::from_secs(1));
    let before = bytes_of(&all);
    std::thread::sleep(Duration::from_secs(2));
    let after = bytes_of(&all);
    assert_eq!(
        after[..2],
        before[..2],
        "the blocked device's flows went on"
    );
    assert!(
        after[2] > before[2] && after[3] > before[3],
        "{before:?} {after:?}"
    );
    // The device's forwarded flows are forgotten (and blocked, so they are
    // not tracked again); the other device's stays.
    untracked(r, "192.168.1.10", "10.99.0.2");
    untracked(r, "fd00:99::2", "fd00::10");
    tracked(r, "192.168.1.20", "10.99.0.2");
    // Its connection with the router lost its entry and goes on.
    bl.reaches_router("fd00::10", "fd00::1");
    for s in [router, other] {
        assert_eq!(
            s.finish().1,
            format!("got {mb}"),
            "an unblocked download lost bytes"
        );
    }
    drop((out4, in6));
}

per_iptables!(forget_flows_forgets_the_devices_flows_only: forget_flows_forgets_the_devices_flows_only_iptables_nft, forget_flows_forgets_the_devices_flows_only_iptables_legacy);

/// `conntrack ARGS` in `ns`, stdout.
fn conntrack(ns: &Netns, args: &[&str]) -> String {
    let tool = real("conntrack").expect("conntrack");
    let mut argv = vec![tool.to_str().unwrap()];
    argv.extend(args);
    ns.ok(&argv)
}

fn read_tells_flushed_displaced_and_removed(test: &str, flavour: Backend) {
    let Some(bl) = setup(test, flavour, &[]) else {
        return;
    };
    let tools = ["iptables", "ip6tables"];
    let nothing = bl.read();
    assert_eq!(nothing, Found::default(), "nothing there yet");
    bl.install();
    bl.install(); // idempotent
    assert_eq!(bl.read(), Found::just_installed());
    let blocked = bl.apply(&p_blocked());
    assert!(blocked.installed && blocked.macs.len() == 1, "{blocked:?}");
    // fw3 restart / `iptables -F`: the jumps and rules are gone, the sets stay.
    for t in tools {
        bl.ipt(t, &["-w", "-F"]);
    }
    let f = bl.read();
    assert!(f.present && !f.installed, "{f:?}");
    assert_eq!(f.addrs, blocked.addrs, "the sets survive a flush");
    assert!(f.macs.is_empty(), "{f:?}");
    // Reinstalled, and once more after the chains are deleted too.
    bl.install();
    assert_eq!(bl.read(), Found::just_installed());
    for t in tools {
        bl.ipt(t, &["-w", "-F"]);
        bl.ipt(t, &["-w", "-X"]);
    }
    assert!(!bl.read().installed);
    // Someone else's rule, untagged: never touched from here on.
    for t in tools {
        bl.ipt(t, &["-w", "-A", "FORWARD", "-i", "lan9", "-j", "ACCEPT"]);
    }
    bl.install();
    assert_eq!(bl.apply(&p_blocked()), blocked);
    // netmon's counting jump inserted above the block's: not installed
    // (blocked packets would be counted), until the block is reinstalled.
    bl.fw
        .run(|r| ipset_devices::install(Some(&bl.lan), r))
        .unwrap_or_else(|e| panic!("devices: {}", e.message()));
    let f = bl.read();
    assert!(f.present && !f.installed, "{f:?}");
    bl.install();
    assert_eq!(bl.apply(&p_blocked()), blocked);
    for t in tools {
        let rules = bl.ipt(t, &["-w", "-S", "FORWARD"]);
        let first = rules.lines().nth(1).unwrap_or("");
        assert_eq!(
            first, "-A FORWARD -m comment --comment netmon -j netmon_block",
            "{t}: {rules}"
        );
        assert!(rules.contains("-j netmon_dev_fwd"), "{t}: {rules}");
    }
    // Removed: nothing of it left, the rest untouched; twice is a no-op.
    bl.fw.run(block::remove).unwrap();
    assert_eq!(bl.read(), Found::default());
    bl.fw.run(block::remove).unwrap();
    let sets = bl
        .lab
        .r
        .ok(&[real("ipset").unwrap().to_str().unwrap(), "list", "-n"]);
    assert!(!sets.contains("netmon_block"), "{sets}");
    assert!(sets.contains("netmon_up4"), "{sets}");
    for t in tools {
        let all = bl.ipt(t, &["-w", "-S"]);
        assert!(!all.contains("netmon_block"), "{t}: {all}");
        assert!(all.contains("-A FORWARD -i lan9 -j ACCEPT"), "{t}: {all}");
        assert!(all.contains("-j netmon_dev_fwd"), "{t}: {all}");
    }
}

per_iptables!(read_tells_flushed_displaced_and_removed: read_tells_flushed_displaced_and_removed_iptables_nft, read_tells_flushed_displaced_and_removed_iptables_legacy);
