//! Shared harness for netmon's integration tests: network namespaces, real
//! traffic, independent kernel counts, and a tiny JSON reader.
//!
//! Invariants the tests rely on:
//! - Nothing here touches the host's firewall: every firewall command (and
//!   every netmon run that could reach the firewall) runs through
//!   `ip netns exec` in a namespace created by this harness, and the
//!   namespaces are deleted on drop (RAII), even when a test panics.
//! - The lab links are quiet: IPv6 is off except where a test enables it
//!   (no link-local address, no DAD, no router solicitations, MLD reports
//!   squeezed into the first milliseconds), neighbours are static
//!   (`nud permanent`, so no ARP/ND), and the harness waits for the link
//!   counters to stand still before it hands the lab to a test. Every
//!   packet the router sees therefore belongs to a flow the test sent.
//! - TCP is made arithmetically predictable: `tcp_timestamps=0`,
//!   `tcp_sack=0`, `tcp_window_scaling=0` in every namespace, so a segment
//!   carries a bare 20-byte TCP header, except SYN and SYN-ACK which carry
//!   the 4-byte MSS option (RFC 9293 3.1, 3.7.1); `gso_max_segs 1` on every
//!   link so the stack emits wire-sized segments (a GSO super-packet would be
//!   counted by netfilter as one packet with one header).
//! - Byte counts compared with netmon are IP bytes (what nft/iptables count:
//!   `skb->len` at the IP layer). veth statistics include the 14-byte
//!   Ethernet header per frame (no VLAN, no FCS), which the harness removes.
#![allow(dead_code)]

pub mod smtpd;
pub mod stream;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Ethernet II header on a veth frame: dst MAC + src MAC + ethertype.
pub const ETH_HDR: u64 = 14;
/// IPv4 header without options (RFC 791).
pub const IPV4_HDR: u64 = 20;
/// IPv6 fixed header (RFC 8200).
pub const IPV6_HDR: u64 = 40;
/// UDP header (RFC 768).
pub const UDP_HDR: u64 = 8;
/// TCP header without options (RFC 9293).
pub const TCP_HDR: u64 = 20;
/// MSS option (kind 2, length 4) on SYN and SYN-ACK; the only option left
/// once timestamps, SACK and window scaling are off.
pub const TCP_MSS_OPT: u64 = 4;

/// Where netmon looks for its config without `--config`.
pub const DEFAULT_CONFIG: &str = "/etc/config/netmon";

/// Devices on the lab's `br-lan`, the WAN meters written out on the
/// firewall hooks.
pub const DEVICES_CONFIG: &str = "config devices 'devices'
\toption bridge 'br-lan'

config meter 'wan_down'
\toption hook 'input forward'
\toption iif 'wan'

config meter 'wan_up'
\toption hook 'output forward'
\toption oif 'wan'
";

/// Path of the binary under test.
pub const NETMON: &str = env!("CARGO_BIN_EXE_netmon");
/// The traffic generator the tests run inside namespaces.
pub const TRAFFIC_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helpers/traffic.py");

/// Longest any single external command may run before the test fails.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A name unique within this machine for this test process: `nmt-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}

// ---------------------------------------------------------------------------
// Skipping: root-only tests must say so loudly, and must not skip under CI.

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0")
}

/// Absolute path of `tool` found in PATH (or in /usr/sbin, /sbin, /usr/bin).
pub fn which(tool: &str) -> Option<PathBuf> {
    if tool.contains('/') {
        let p = PathBuf::from(tool);
        return p.is_file().then_some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file());
    found
}

/// One `#[test]` per backend (nft, iptables-nft, iptables-legacy), each
/// calling `body(test_name, backend)`.
#[macro_export]
macro_rules! per_backend {
    ($body:ident: $nft:ident, $ipt_nft:ident, $ipt_legacy:ident) => {
        #[test]
        fn $nft() {
            $body(stringify!($nft), Backend::Nft);
        }
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

/// Returns true when the calling test can run (root, tools present, network
/// namespaces usable). Otherwise prints `SKIPPED <test>: <why>` to stderr and
/// returns false, unless `CI` is set: then it panics, because CI must run
/// every namespace test and a silent skip would read as a pass.
pub fn require_root_tools(test: &str, tools: &[&str]) -> bool {
    let why = skip_reason(tools);
    match why {
        None => true,
        Some(why) => {
            if std::env::var_os("CI").is_some() {
                panic!("{test} cannot run under CI: {why}");
            }
            // Straight to fd 2: libtest captures eprintln!, and a skip must
            // be visible in a passing run.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            false
        }
    }
}

fn skip_reason(tools: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("needs root (network namespaces, nft/iptables)".into());
    }
    for t in ["ip", "python3"].iter().chain(tools) {
        if which(t).is_none() {
            return Some(format!("`{t}` not found"));
        }
    }
    let probe = unique("nmt-probe");
    let ok = Command::new(ip())
        .args(["netns", "add", &probe])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        return Some("`ip netns add` failed (no CAP_SYS_ADMIN?)".into());
    }
    let _ = Command::new(ip()).args(["netns", "del", &probe]).status();
    None
}

pub fn ip() -> PathBuf {
    which("ip").unwrap_or_else(|| PathBuf::from("/usr/sbin/ip"))
}

/// The python interpreter; the distribution's first (pyenv shims are slow).
pub fn python() -> PathBuf {
    let sys = PathBuf::from("/usr/bin/python3");
    if sys.is_file() {
        sys
    } else {
        which("python3").expect("python3")
    }
}

// ---------------------------------------------------------------------------
// Running commands with a deadline.

/// Runs `cmd` to completion, killing it after `CMD_TIMEOUT`.
pub fn run_timeout(mut cmd: Command) -> Output {
    let desc = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let out_pipe = child.stdout.take().expect("stdout");
    let err_pipe = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || read_all(out_pipe));
    let err_t = std::thread::spawn(move || read_all(err_pipe));
    let deadline = Instant::now() + CMD_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {CMD_TIMEOUT:?}: {desc}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out_t.join().expect("stdout thread"),
        stderr: err_t.join().expect("stderr thread"),
    }
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

/// `ip netns exec NS argv...` (environment inherited), checked.
pub fn ns_ok(ns: &str, argv: &[&str]) -> String {
    let out = ns_run(ns, argv, None);
    assert!(
        out.status.success(),
        "`ip netns exec {ns} {}` failed: {}{}",
        argv.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// `ip netns exec NS argv...`, optionally with stdin data.
pub fn ns_run(ns: &str, argv: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(ip());
    cmd.args(["netns", "exec", ns]).args(argv);
    match stdin {
        None => run_timeout(cmd),
        Some(data) => {
            // Small inputs (nft scripts): write them to a file and use it as stdin.
            let tmp = TempDir::new("nmt-stdin");
            let f = tmp.path().join("in");
            std::fs::write(&f, data).expect("write stdin file");
            cmd.stdin(std::fs::File::open(&f).expect("open stdin file"));
            let desc = format!("{cmd:?}");
            let out = cmd.output().unwrap_or_else(|e| panic!("{desc}: {e}"));
            drop(tmp);
            out
        }
    }
}

// ---------------------------------------------------------------------------
// Temporary directories (no tempfile crate: dev-dependencies stay empty).

pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        TempDir::new_in(&std::env::temp_dir(), prefix)
    }
    /// A temporary directory under `parent` (a test that hides /tmp puts
    /// what must stay visible elsewhere, e.g. /dev/shm).
    pub fn new_in(parent: &Path, prefix: &str) -> TempDir {
        let p = parent.join(unique(prefix));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// Network namespaces.

/// A network namespace deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: &str) -> Netns {
        let st = Command::new(ip())
            .args(["netns", "add", name])
            .status()
            .expect("ip netns add");
        assert!(st.success(), "ip netns add {name} failed");
        let ns = Netns {
            name: name.to_string(),
        };
        // Quiet by default: no IPv6 on new links unless a test enables it;
        // when enabled, no link-local address (addr_gen_mode 1), no DAD, no RS,
        // and MLD's unsolicited reports (RFC 3810 6.1) compressed to 1 ms so
        // they are over before any measurement.
        ns.sysctl(&[
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
            "net.ipv6.conf.default.addr_gen_mode=1",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv6.conf.default.dad_transmits=0",
            "net.ipv6.conf.default.accept_ra=0",
            "net.ipv6.conf.default.router_solicitations=0",
            "net.ipv6.conf.default.mldv1_unsolicited_report_interval=1",
            "net.ipv6.conf.default.mldv2_unsolicited_report_interval=1",
            "net.ipv4.conf.default.igmpv2_unsolicited_report_interval=1",
            "net.ipv4.conf.default.igmpv3_unsolicited_report_interval=1",
            "net.ipv4.tcp_timestamps=0",
            "net.ipv4.tcp_sack=0",
            "net.ipv4.tcp_window_scaling=0",
        ]);
        ns.ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn sysctl(&self, kv: &[&str]) {
        let mut argv = vec!["sysctl", "-q", "-w"];
        argv.extend_from_slice(kv);
        self.ok(&argv);
    }

    pub fn ok(&self, argv: &[&str]) -> String {
        ns_ok(&self.name, argv)
    }

    pub fn run(&self, argv: &[&str]) -> Output {
        ns_run(&self.name, argv, None)
    }

    /// Reads one statistics counter of a link inside this namespace.
    pub fn link_stat(&self, dev: &str, stat: &str) -> u64 {
        let p = format!("/sys/class/net/{dev}/statistics/{stat}");
        self.ok(&["cat", &p]).trim().parse().expect("stat number")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(ip())
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

// ---------------------------------------------------------------------------
// The lab: a router with a LAN bridge and a WAN uplink.
//
//   proxy (-p) 192.168.1.10 fd00::10  ── lan1 ┐
//                                             ├ br-lan 192.168.1.1/24 fd00::1/64   router (-r)
//   peer  (-q) 192.168.1.20 fd00::20  ── lan2 ┘
//   outside (-o) 10.99.0.2 fd00:99::2 ─────── wan 10.99.0.1/24 fd00:99::1/64 (default route)
//   outside2 (-o2) 10.98.0.2 ──────────────── wan2 10.98.0.1/24   (`Lab::with_second_wan` only)

/// Which namespace a flow endpoint lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    Router,
    Proxy,
    Peer,
    Outside,
    /// The second WAN's far end (`Lab::with_second_wan`).
    Outside2,
}

pub struct Lab {
    /// Link counters after the last flow (or `mark`): the next flow must
    /// start from exactly these, or something else used the wire.
    last: std::cell::RefCell<Option<LinkStats>>,
    pub r: Netns,
    pub p: Netns,
    pub q: Netns,
    pub o: Netns,
    /// The second uplink's far end, when the lab has one.
    pub o2: Option<Netns>,
    pub v6: bool,
}

/// Router-side link that leads to each host (None for the router itself).
fn router_link(h: Host) -> Option<&'static str> {
    match h {
        Host::Router => None,
        Host::Proxy => Some("lan1"),
        Host::Peer => Some("lan2"),
        Host::Outside => Some("wan"),
        Host::Outside2 => Some("wan2"),
    }
}

impl Lab {
    /// Builds the topology. `v6` also configures the IPv6 addresses/routes.
    pub fn new(v6: bool) -> Lab {
        Lab::build(v6, false)
    }

    /// The IPv4 lab plus a second uplink `wan2` to `Outside2` (10.98.0.2),
    /// as a router with a backup WAN has; the default route stays on `wan`.
    pub fn with_second_wan() -> Lab {
        Lab::build(false, true)
    }

    fn build(v6: bool, wan2: bool) -> Lab {
        let base = unique("nmt");
        let lab = Lab {
            last: std::cell::RefCell::new(None),
            r: Netns::new(&format!("{base}-r")),
            p: Netns::new(&format!("{base}-p")),
            q: Netns::new(&format!("{base}-q")),
            o: Netns::new(&format!("{base}-o")),
            o2: wan2.then(|| Netns::new(&format!("{base}-o2"))),
            v6,
        };
        lab.wire();
        lab.address();
        lab.neighbours();
        lab.wire_wan2();
        lab.wait_quiet();
        lab
    }

    /// The second uplink, quiet like the first: static neighbours both ways,
    /// wire-sized segments, and a route back to the LAN on the far end.
    fn wire_wan2(&self) {
        let (r, Some(o2)) = (&self.r, &self.o2) else {
            return;
        };
        r.ok(&[
            "ip",
            "link",
            "add",
            "wan2",
            "address",
            "02:00:00:00:98:01",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "address",
            "02:00:00:00:98:02",
            "netns",
            &o2.name,
        ]);
        r.ok(&["ip", "link", "set", "wan2", "gso_max_segs", "1"]);
        o2.ok(&["ip", "link", "set", "eth0", "gso_max_segs", "1"]);
        r.ok(&["ip", "addr", "add", "10.98.0.1/24", "dev", "wan2"]);
        o2.ok(&["ip", "addr", "add", "10.98.0.2/24", "dev", "eth0"]);
        r.ok(&["ip", "link", "set", "wan2", "up"]);
        o2.ok(&["ip", "link", "set", "eth0", "up"]);
        o2.ok(&["ip", "route", "add", "192.168.1.0/24", "via", "10.98.0.1"]);
        for (ns, addr, mac, dev) in [
            (r, "10.98.0.2", "02:00:00:00:98:02", "wan2"),
            (o2, "10.98.0.1", "02:00:00:00:98:01", "eth0"),
        ] {
            static_neigh(ns, addr, mac, dev);
        }
    }

    fn wire(&self) {
        let r = &self.r;
        r.ok(&[
            "ip",
            "link",
            "add",
            "br-lan",
            "address",
            "02:00:00:00:01:01",
            "type",
            "bridge",
        ]);
        for (dev, peer, mac) in [
            ("lan1", &self.p, "02:00:00:00:10:10"),
            ("lan2", &self.q, "02:00:00:00:20:20"),
            ("wan", &self.o, "02:00:00:00:99:02"),
        ] {
            r.ok(&[
                "ip", "link", "add", dev, "type", "veth", "peer", "name", "eth0", "address", mac,
                "netns", &peer.name,
            ]);
            r.ok(&["ip", "link", "set", dev, "gso_max_segs", "1"]);
            peer.ok(&["ip", "link", "set", "eth0", "gso_max_segs", "1"]);
        }
        r.ok(&["ip", "link", "set", "wan", "address", "02:00:00:00:99:01"]);
        r.ok(&["ip", "link", "set", "br-lan", "gso_max_segs", "1"]);
        for dev in ["lan1", "lan2"] {
            r.ok(&["ip", "link", "set", dev, "master", "br-lan"]);
        }
        if self.v6 {
            for (ns, dev) in [
                (r, "br-lan"),
                (r, "wan"),
                (&self.p, "eth0"),
                (&self.q, "eth0"),
                (&self.o, "eth0"),
            ] {
                ns.sysctl(&[&format!("net.ipv6.conf.{dev}.disable_ipv6=0")]);
            }
        }
        for dev in ["br-lan", "lan1", "lan2", "wan"] {
            r.ok(&["ip", "link", "set", dev, "up"]);
        }
        for ns in [&self.p, &self.q, &self.o] {
            ns.ok(&["ip", "link", "set", "eth0", "up"]);
        }
        r.sysctl(&["net.ipv4.ip_forward=1"]);
        if self.v6 {
            r.sysctl(&["net.ipv6.conf.all.forwarding=1"]);
        }
    }

    fn address(&self) {
        let (r, p, q, o) = (&self.r, &self.p, &self.q, &self.o);
        r.ok(&["ip", "addr", "add", "192.168.1.1/24", "dev", "br-lan"]);
        r.ok(&["ip", "addr", "add", "10.99.0.1/24", "dev", "wan"]);
        p.ok(&["ip", "addr", "add", "192.168.1.10/24", "dev", "eth0"]);
        q.ok(&["ip", "addr", "add", "192.168.1.20/24", "dev", "eth0"]);
        o.ok(&["ip", "addr", "add", "10.99.0.2/24", "dev", "eth0"]);
        r.ok(&[
            "ip",
            "route",
            "add",
            "default",
            "via",
            "10.99.0.2",
            "dev",
            "wan",
        ]);
        p.ok(&["ip", "route", "add", "default", "via", "192.168.1.1"]);
        q.ok(&["ip", "route", "add", "default", "via", "192.168.1.1"]);
        o.ok(&["ip", "route", "add", "192.168.1.0/24", "via", "10.99.0.1"]);
        if !self.v6 {
            return;
        }
        let a6 = |ns: &Netns, a: &str, dev: &str| {
            ns.ok(&["ip", "-6", "addr", "add", a, "dev", dev, "nodad"])
        };
        a6(r, "fd00::1/64", "br-lan");
        a6(r, "fd00:99::1/64", "wan");
        a6(p, "fd00::10/64", "eth0");
        a6(q, "fd00::20/64", "eth0");
        a6(o, "fd00:99::2/64", "eth0");
        r.ok(&[
            "ip",
            "-6",
            "route",
            "add",
            "default",
            "via",
            "fd00:99::2",
            "dev",
            "wan",
        ]);
        p.ok(&["ip", "-6", "route", "add", "default", "via", "fd00::1"]);
        q.ok(&["ip", "-6", "route", "add", "default", "via", "fd00::1"]);
        o.ok(&["ip", "-6", "route", "add", "fd00::/64", "via", "fd00:99::1"]);
    }

    /// Static neighbours both ways: no ARP (RFC 826) or ND (RFC 4861) on the wire.
    fn neighbours(&self) {
        let r = &self.r;
        let mut entries: Vec<(&Netns, &str, &str, &str)> = vec![
            (r, "192.168.1.10", "02:00:00:00:10:10", "br-lan"),
            (r, "192.168.1.20", "02:00:00:00:20:20", "br-lan"),
            (r, "10.99.0.2", "02:00:00:00:99:02", "wan"),
            (&self.p, "192.168.1.1", "02:00:00:00:01:01", "eth0"),
            (&self.q, "192.168.1.1", "02:00:00:00:01:01", "eth0"),
            (&self.o, "10.99.0.1", "02:00:00:00:99:01", "eth0"),
        ];
        if self.v6 {
            entries.extend([
                (r, "fd00::10", "02:00:00:00:10:10", "br-lan"),
                (r, "fd00::20", "02:00:00:00:20:20", "br-lan"),
                (r, "fd00:99::2", "02:00:00:00:99:02", "wan"),
                (&self.p, "fd00::1", "02:00:00:00:01:01", "eth0"),
                (&self.q, "fd00::1", "02:00:00:00:01:01", "eth0"),
                (&self.o, "fd00:99::1", "02:00:00:00:99:01", "eth0"),
            ]);
        }
        for (ns, addr, mac, dev) in entries {
            static_neigh(ns, addr, mac, dev);
        }
        // The bridge must not need to learn where the peers are.
        for (mac, dev) in [("02:00:00:00:10:10", "lan1"), ("02:00:00:00:20:20", "lan2")] {
            r.ok(&[
                "bridge", "fdb", "replace", mac, "dev", dev, "master", "static",
            ]);
        }
    }

    /// Waits until the router's links have carried nothing for 300 ms
    /// (IGMP/MLD reports right after setup are the only expected noise).
    pub fn wait_quiet(&self) {
        let deadline = Instant::now() + Duration::from_secs(6);
        let mut last = self.stats();
        let mut still_since = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.stats();
            if now != last {
                last = now;
                still_since = Instant::now();
            } else if still_since.elapsed() >= Duration::from_millis(300) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "lab links never went quiet: {last:?}"
            );
        }
    }

    /// From now on, every packet on the router's links must belong to a
    /// flow sent through `udp`/`tcp` (checked at each flow and by `assert_silent`).
    pub fn mark(&self) {
        *self.last.borrow_mut() = Some(self.settle());
    }

    /// Asserts nothing crossed the router's links since the last flow/mark.
    pub fn assert_silent(&self) {
        let now = self.settle();
        if let Some(last) = self.last.borrow().as_ref() {
            assert_eq!(last, &now, "unexpected packets on the lab links (noise)");
        }
    }

    /// rx/tx packets and bytes of the router's links (three, or four with `wan2`).
    pub fn stats(&self) -> LinkStats {
        let mut m = HashMap::new();
        let links = match self.o2 {
            Some(_) => "lan1 lan2 wan wan2",
            None => "lan1 lan2 wan",
        };
        let script = format!(
            "cd /sys/class/net && for d in {links}; do for s in rx_packets rx_bytes tx_packets tx_bytes; do echo $d $s $(cat $d/statistics/$s); done; done"
        );
        let out = self.r.ok(&["sh", "-c", &script]);
        for line in out.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            m.insert(format!("{}.{}", f[0], f[1]), f[2].parse().expect("stat"));
        }
        LinkStats(m)
    }

    /// Waits until the router's link counters stop moving (in-flight ACKs).
    fn settle(&self) -> LinkStats {
        let mut last = self.stats();
        let mut same = 0;
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.stats();
            if now == last {
                same += 1;
                if same >= 3 {
                    return now;
                }
            } else {
                same = 0;
                last = now;
            }
        }
        panic!("router links never settled");
    }

    pub fn ns(&self, h: Host) -> &Netns {
        match h {
            Host::Router => &self.r,
            Host::Proxy => &self.p,
            Host::Peer => &self.q,
            Host::Outside => &self.o,
            Host::Outside2 => self.o2.as_ref().expect("lab without a second WAN"),
        }
    }

    /// Sends `count` UDP datagrams of `size` payload bytes from `from` to
    /// `to` and returns what the router's links saw in each direction, after
    /// checking it against the header arithmetic.
    pub fn udp(&self, from: (Host, &str), to: (Host, &str), size: u64, count: u64) -> Flow {
        let before = self.settle();
        let port = "5301";
        let mut rx = Receiver::spawn(
            self.ns(to.0),
            &["udp-recv", to.1, port, &count.to_string(), "5"],
        );
        let out = self.ns(from.0).run(&[
            python().to_str().unwrap(),
            TRAFFIC_PY,
            "udp-send",
            from.1,
            to.1,
            port,
            &size.to_string(),
            &count.to_string(),
        ]);
        assert!(
            out.status.success(),
            "udp-send failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = rx.finish();
        assert_eq!(
            line,
            format!("udp {count} {}", count * size),
            "receiver did not get every datagram"
        );
        let flow = self.observe(before, from.0, to.0);
        let hdr = ip_hdr(to.1) + UDP_HDR;
        assert_eq!(
            flow.fwd,
            Dir {
                pkts: count,
                bytes: count * (hdr + size)
            },
            "UDP on the wire"
        );
        assert_eq!(flow.rev, Dir::default(), "UDP sent nothing back");
        flow
    }

    /// One TCP connection from `from` to `to` carrying `size` bytes, half
    /// closed by the client; returns the router-seen tallies after checking
    /// them against the header arithmetic (packet counts come from the veth).
    pub fn tcp(&self, from: (Host, &str), to: (Host, &str), size: u64) -> Flow {
        let before = self.settle();
        let port = "5302";
        let mut rx = Receiver::spawn(self.ns(to.0), &["tcp-recv", to.1, port, "5"]);
        let out = self.ns(from.0).run(&[
            python().to_str().unwrap(),
            TRAFFIC_PY,
            "tcp-send",
            from.1,
            to.1,
            port,
            &size.to_string(),
            "5",
        ]);
        assert!(
            out.status.success(),
            "tcp-send failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            rx.finish(),
            format!("tcp {size}"),
            "receiver did not get every byte"
        );
        let flow = self.observe(before, from.0, to.0);
        let hdr = ip_hdr(to.1) + TCP_HDR;
        // Client: SYN (+MSS option), ACK, data segments, FIN, last ACK.
        assert!(flow.fwd.pkts >= 5, "too few client segments: {flow:?}");
        assert_eq!(
            flow.fwd.bytes,
            flow.fwd.pkts * hdr + TCP_MSS_OPT + size,
            "client segments: {flow:?}"
        );
        // Server: SYN-ACK (+MSS option), ACKs, FIN.
        assert!(flow.rev.pkts >= 2, "too few server segments: {flow:?}");
        assert_eq!(
            flow.rev.bytes,
            flow.rev.pkts * hdr + TCP_MSS_OPT,
            "server segments: {flow:?}"
        );
        flow
    }

    /// Turns link-counter deltas into per-direction IP tallies. For a flow
    /// crossing the router, both links must agree (nothing else on the wire).
    fn observe(&self, before: LinkStats, from: Host, to: Host) -> Flow {
        let after = self.settle();
        if let Some(last) = self.last.borrow().as_ref() {
            assert_eq!(
                last, &before,
                "unexpected packets on the lab links before this flow (noise)"
            );
        }
        *self.last.borrow_mut() = Some(after.clone());
        let d = |dev: &str, dir: &str| after.ip_delta(&before, dev, dir);
        let (cl, sl) = (router_link(from), router_link(to));
        let fwd = match (cl, sl) {
            (Some(c), _) => d(c, "rx"),
            (None, Some(s)) => d(s, "tx"),
            (None, None) => panic!("flow must leave the router"),
        };
        let rev = match (sl, cl) {
            (Some(s), _) => d(s, "rx"),
            (None, Some(c)) => d(c, "tx"),
            (None, None) => unreachable!(),
        };
        if let (Some(c), Some(s)) = (cl, sl) {
            assert_eq!(
                d(s, "tx"),
                fwd,
                "forwarded client->server differs between links"
            );
            assert_eq!(
                d(c, "tx"),
                rev,
                "forwarded server->client differs between links"
            );
        }
        Flow { fwd, rev }
    }
}

fn ip_hdr(addr: &str) -> u64 {
    if addr.contains(':') {
        IPV6_HDR
    } else {
        IPV4_HDR
    }
}

/// IP packets and IP bytes (Ethernet header removed) in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dir {
    pub pkts: u64,
    pub bytes: u64,
}

impl std::ops::Add for Dir {
    type Output = Dir;
    fn add(self, o: Dir) -> Dir {
        Dir {
            pkts: self.pkts + o.pkts,
            bytes: self.bytes + o.bytes,
        }
    }
}

/// A flow as the router's links saw it: client→server and server→client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    pub fwd: Dir,
    pub rev: Dir,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStats(HashMap<String, u64>);

impl LinkStats {
    fn get(&self, k: &str) -> u64 {
        *self.0.get(k).unwrap_or_else(|| panic!("no stat {k}"))
    }
    /// IP-level delta of `dev`'s rx or tx since `before`.
    pub fn ip_delta(&self, before: &LinkStats, dev: &str, dir: &str) -> Dir {
        let pk = format!("{dev}.{dir}_packets");
        let by = format!("{dev}.{dir}_bytes");
        let pkts = self.get(&pk) - before.get(&pk);
        let frame_bytes = self.get(&by) - before.get(&by);
        Dir {
            pkts,
            bytes: frame_bytes - ETH_HDR * pkts,
        }
    }
}

/// Sends `count` UDP datagrams of `size` payload bytes from `src` in
/// `from` to `dst` in `to`, and checks that every one arrived (so none was
/// answered with an ICMP error). Unlike `Lab::udp`, any two namespaces.
pub fn udp_between(from: &Netns, src: &str, to: &Netns, dst: &str, size: u64, count: u64) {
    let port = "5303";
    let mut rx = Receiver::spawn(to, &["udp-recv", dst, port, &count.to_string(), "5"]);
    let py = python();
    let argv = [
        py.to_str().unwrap(),
        TRAFFIC_PY,
        "udp-send",
        src,
        dst,
        port,
        &size.to_string(),
        &count.to_string(),
    ];
    let out = from.run(&argv);
    assert!(out.status.success(), "udp-send {src} -> {dst} failed");
    assert_eq!(
        rx.finish(),
        format!("udp {count} {}", count * size),
        "{src} -> {dst}"
    );
}

/// UDP at a steady rate in the background (`udp_paced`); `finish` waits
/// for the end and checks that every datagram arrived.
pub struct Paced {
    rx: Receiver,
    tx: Child,
    want: String,
}

/// Starts `rate` datagrams a second of `size` payload bytes from `src` in
/// `from` to `dst` in `to`, for `secs` seconds, and returns at once: for a
/// test that watches a rate while the traffic flows. Each datagram leaves
/// at its own deadline from the start (`traffic.py udp-pace`), so every
/// second carries `rate` of them, `rate * (size + headers)` bytes.
pub fn udp_paced(
    from: &Netns,
    src: &str,
    to: &Netns,
    dst: &str,
    size: u64,
    rate: u64,
    secs: u64,
) -> Paced {
    let port = "5305";
    let count = rate * secs;
    let rx = Receiver::spawn(to, &["udp-recv", dst, port, &count.to_string(), "5"]);
    let mut cmd = Command::new(ip());
    cmd.args(["netns", "exec", &from.name])
        .arg(python())
        .arg(TRAFFIC_PY)
        .args([
            "udp-pace",
            src,
            dst,
            port,
            &size.to_string(),
            &rate.to_string(),
            &secs.to_string(),
        ])
        .stdin(Stdio::null());
    let tx = cmd.spawn().expect("spawn udp-pace");
    Paced {
        rx,
        tx,
        want: format!("udp {count} {}", count * size),
    }
}

impl Paced {
    pub fn finish(mut self) {
        let st = self.tx.wait().expect("udp-pace wait");
        assert!(st.success(), "udp-pace failed");
        assert_eq!(self.rx.finish(), self.want, "paced datagrams lost");
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        if let Ok(None) = self.tx.try_wait() {
            let _ = self.tx.kill();
            let _ = self.tx.wait();
        }
    }
}

/// A traffic receiver running in a namespace; killed on drop if still alive.
struct Receiver {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Receiver {
    fn spawn(ns: &Netns, args: &[&str]) -> Receiver {
        let mut cmd = Command::new(ip());
        cmd.args(["netns", "exec", &ns.name])
            .arg(python())
            .arg(TRAFFIC_PY)
            .args(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn receiver");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("receiver output");
        assert_eq!(line.trim(), "READY", "receiver did not start");
        Receiver { child, out }
    }

    /// Waits for the receiver's result line and its exit (bounded by its own timeout).
    fn finish(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).expect("receiver output");
        let st = self.child.wait().expect("receiver wait");
        assert!(st.success(), "receiver failed: {line}");
        line.trim().to_string()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// Backends and running netmon.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Nft,
    /// `--backend iptables` with iptables-nft (xtables-nft-multi).
    IptNft,
    /// `--backend iptables` with iptables-legacy (xtables-legacy-multi).
    IptLegacy,
}

pub const IPT_TOOLS: [&str; 6] = [
    "iptables",
    "ip6tables",
    "iptables-save",
    "ip6tables-save",
    "iptables-restore",
    "ip6tables-restore",
];

impl Backend {
    pub fn arg(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            _ => "iptables",
        }
    }

    /// Tools `require_root_tools` must find for this backend.
    pub fn tools(self) -> &'static [&'static str] {
        match self {
            Backend::Nft => &["nft"],
            Backend::IptNft => &["nft", "xtables-nft-multi"],
            Backend::IptLegacy => &["nft", "xtables-legacy-multi"],
        }
    }

    fn multi(self) -> Option<&'static str> {
        match self {
            Backend::Nft => None,
            Backend::IptNft => Some("xtables-nft-multi"),
            Backend::IptLegacy => Some("xtables-legacy-multi"),
        }
    }
}

/// netmon in a router namespace: config, state dir, backend and the PATH
/// that selects the iptables flavour.
pub struct Netmon {
    pub ns: String,
    pub backend: Backend,
    pub config: PathBuf,
    pub state: TempDir,
    /// `--persist-dir`: never the default /etc/netmon of the host, and never
    /// shared between tests (netmon falls back to it when `state` is missing).
    pub persist: TempDir,
    /// Holds config and the iptables flavour symlinks.
    pub dir: TempDir,
    pub path_env: String,
}

impl Netmon {
    /// `config`: file contents, or None for "no config file" (embedded
    /// default: netmon runs without `--config`, as only the default path
    /// may be missing, so the machine must not have /etc/config/netmon).
    pub fn new(ns: &Netns, backend: Backend, config: Option<&str>) -> Netmon {
        let dir = TempDir::new("nmt-cfg");
        let cfg = dir.path().join("netmon.conf");
        match config {
            Some(text) => std::fs::write(&cfg, text).expect("write config"),
            None => assert!(
                !Path::new(DEFAULT_CONFIG).exists(),
                "a test without a config file needs a machine without {DEFAULT_CONFIG}"
            ),
        }
        let mut path_env = std::env::var("PATH").unwrap_or_default();
        if let Some(multi) = backend.multi() {
            let bin = dir.path().join("bin");
            std::fs::create_dir(&bin).expect("mkdir bin");
            let target = which(multi).expect("xtables multi binary");
            for t in IPT_TOOLS {
                std::os::unix::fs::symlink(&target, bin.join(t)).expect("symlink");
            }
            path_env = format!("{}:{path_env}", bin.display());
        }
        Netmon {
            ns: ns.name.clone(),
            backend,
            config: cfg,
            state: TempDir::new("nmt-state"),
            persist: TempDir::new("nmt-persist"),
            dir,
            path_env,
        }
    }

    /// Runs `netmon --config C --state-dir S --persist-dir P --backend B ARGS`
    /// in the router namespace (`--config` only while the file exists).
    pub fn run(&self, args: &[&str]) -> Output {
        run_timeout(self.command(args))
    }

    /// The command `run` runs, for a test that starts it itself (in the
    /// background, or with a tweak before exec).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(ip());
        cmd.args(["netns", "exec", &self.ns, NETMON]);
        if self.config.exists() {
            cmd.arg("--config").arg(&self.config);
        }
        cmd.arg("--state-dir")
            .arg(self.state.path())
            .arg("--persist-dir")
            .arg(self.persist.path())
            .args(["--backend", self.backend.arg()])
            .args(args)
            .env("PATH", &self.path_env);
        cmd
    }

    /// Like `run`, but the command must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "netmon {} ({:?}) exited {:?}\nstdout: {}\nstderr: {}",
            args.join(" "),
            self.backend,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8 stdout")
    }

    /// `report --format json`, parsed.
    pub fn report(&self) -> Report {
        let text = self.ok(&["report", "--format", "json"]);
        Report::parse(&text)
    }

    /// Any command in the router namespace, checked; returns stdout.
    pub fn ok_ns(&self, argv: &[&str]) -> String {
        ns_ok(&self.ns, argv)
    }

    /// Everything gone (as `fw4 flush` / a full fw3 restart does).
    pub fn flush_firewall(&self) {
        match self.backend {
            Backend::Nft => {
                self.ok_ns(&["nft", "flush", "ruleset"]);
            }
            _ => {
                for tool in ["iptables", "ip6tables"] {
                    self.ipt(tool, &["-w", "-F"]);
                    self.ipt(tool, &["-w", "-X"]);
                }
            }
        }
    }

    /// Whether netmon's rules are in the firewall.
    pub fn rules_present(&self) -> bool {
        match self.backend {
            Backend::Nft => ns_run(&self.ns, &["nft", "list", "table", "inet", "netmon"], None)
                .status
                .success(),
            _ => self
                .ipt("iptables", &["-w", "-S", "INPUT"])
                .contains("-j netmon_in"),
        }
    }

    /// Runs an iptables-family tool of this backend's flavour in the router namespace.
    pub fn ipt(&self, tool: &str, args: &[&str]) -> String {
        let multi = self.backend.multi().expect("iptables backend");
        let mut argv = vec![
            which(multi).expect("multi").to_str().unwrap().to_string(),
            tool.to_string(),
        ];
        argv.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = argv.iter().map(|s| s.as_str()).collect();
        ns_ok(&self.ns, &refs)
    }

    /// Everything in the router's firewall, without counter values, in a
    /// form that can be compared across runs.
    pub fn ruleset(&self) -> Ruleset {
        let nft = ns_ok(&self.ns, &["nft", "-s", "list", "ruleset"]);
        let mut ipt = String::new();
        if self.backend == Backend::IptLegacy {
            for t in ["iptables-save", "ip6tables-save"] {
                ipt.push_str(&strip_save(&self.ipt(t, &[])));
            }
        }
        Ruleset { nft, ipt }
    }
}

/// Removes `#` comment lines (timestamps) and `[packets:bytes]` counters.
pub fn strip_save(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines().filter(|l| !l.starts_with('#')) {
        let line = match (line.rfind(" ["), line.ends_with(']')) {
            (Some(i), true) if line.starts_with(':') => &line[..i],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ruleset {
    /// `nft -s list ruleset` (includes iptables-nft's tables).
    pub nft: String,
    /// stripped `iptables-save`/`ip6tables-save` for iptables-legacy.
    pub ipt: String,
}

impl Ruleset {
    /// The ruleset with every netmon object removed: `table inet netmon`,
    /// netmon's chains, jumps and counting rules (nft text of iptables-nft
    /// tables and legacy save output alike).
    pub fn without_netmon(&self) -> Ruleset {
        Ruleset {
            nft: drop_nft_table(&self.nft, "table inet netmon {"),
            ipt: drop_lines(&self.ipt),
        }
    }
}

/// Removes netmon's objects from `nft -s list ruleset` text: the whole
/// `table inet netmon` block, any `chain netmon_*` block (iptables-nft puts
/// netmon's user chains into `table ip filter`), and remaining rule lines that
/// name netmon (jumps, counting rules). Blank lines are dropped so that
/// removing a block leaves no trace.
fn drop_nft_table(s: &str, header: &str) -> String {
    let mut out = String::new();
    let mut skip_until: Option<&str> = None;
    for line in s.lines() {
        if let Some(close) = skip_until {
            if line == close {
                skip_until = None;
            }
            continue;
        }
        if line == header {
            skip_until = Some("}");
            continue;
        }
        if line.starts_with("\tchain netmon") {
            skip_until = Some("\t}");
            continue;
        }
        if line.trim().is_empty() || line.contains("netmon") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Drops lines that mention netmon (save output: chains, jumps, rules).
fn drop_lines(s: &str) -> String {
    s.lines()
        .filter(|l| !l.contains("netmon"))
        .map(|l| format!("{l}\n"))
        .collect()
}

// ---------------------------------------------------------------------------
// netmon's JSON report.

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// Kept as text so u64 values are exact and negatives are visible.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(s: &str) -> Result<Json, String> {
        let b = s.as_bytes();
        let mut i = 0;
        let v = parse_value(b, &mut i)?;
        skip_ws(b, &mut i);
        if i != b.len() {
            return Err(format!("trailing data at {i}"));
        }
        Ok(v)
    }
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&Vec<Json>> {
        match self {
            Json::Arr(v) => Some(v),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }
}

fn skip_ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && b[*i].is_ascii_whitespace() {
        *i += 1;
    }
}

fn parse_value(b: &[u8], i: &mut usize) -> Result<Json, String> {
    skip_ws(b, i);
    let c = *b.get(*i).ok_or("unexpected end")?;
    match c {
        b'{' => {
            *i += 1;
            let mut kv = Vec::new();
            skip_ws(b, i);
            if b.get(*i) == Some(&b'}') {
                *i += 1;
                return Ok(Json::Obj(kv));
            }
            loop {
                skip_ws(b, i);
                let k = match parse_value(b, i)? {
                    Json::Str(s) => s,
                    _ => return Err(format!("object key not a string at {i}")),
                };
                skip_ws(b, i);
                if b.get(*i) != Some(&b':') {
                    return Err(format!("expected ':' at {i}"));
                }
                *i += 1;
                kv.push((k, parse_value(b, i)?));
                skip_ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b'}') => {
                        *i += 1;
                        return Ok(Json::Obj(kv));
                    }
                    _ => return Err(format!("expected ',' or '}}' at {i}")),
                }
            }
        }
        b'[' => {
            *i += 1;
            let mut v = Vec::new();
            skip_ws(b, i);
            if b.get(*i) == Some(&b']') {
                *i += 1;
                return Ok(Json::Arr(v));
            }
            loop {
                v.push(parse_value(b, i)?);
                skip_ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b']') => {
                        *i += 1;
                        return Ok(Json::Arr(v));
                    }
                    _ => return Err(format!("expected ',' or ']' at {i}")),
                }
            }
        }
        b'"' => {
            *i += 1;
            let mut s = String::new();
            loop {
                let c = *b.get(*i).ok_or("unterminated string")?;
                *i += 1;
                match c {
                    b'"' => return Ok(Json::Str(s)),
                    b'\\' => {
                        let e = *b.get(*i).ok_or("bad escape")?;
                        *i += 1;
                        match e {
                            b'"' | b'\\' | b'/' => s.push(e as char),
                            b'n' => s.push('\n'),
                            b't' => s.push('\t'),
                            b'r' => s.push('\r'),
                            b'b' => s.push('\u{8}'),
                            b'f' => s.push('\u{c}'),
                            b'u' => {
                                let h = std::str::from_utf8(b.get(*i..*i + 4).ok_or("bad \\u")?)
                                    .map_err(|e| e.to_string())?;
                                let cp = u32::from_str_radix(h, 16).map_err(|e| e.to_string())?;
                                s.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                                *i += 4;
                            }
                            _ => return Err(format!("bad escape at {i}")),
                        }
                    }
                    c if c < 0x20 => return Err(format!("control char in string at {i}")),
                    _ => {
                        // Copy the UTF-8 sequence as is.
                        let start = *i - 1;
                        let mut end = *i;
                        while end < b.len() && (b[end] & 0xC0) == 0x80 {
                            end += 1;
                        }
                        s.push_str(std::str::from_utf8(&b[start..end]).map_err(|e| e.to_string())?);
                        *i = end;
                    }
                }
            }
        }
        b't' if b[*i..].starts_with(b"true") => {
            *i += 4;
            Ok(Json::Bool(true))
        }
        b'f' if b[*i..].starts_with(b"false") => {
            *i += 5;
            Ok(Json::Bool(false))
        }
        b'n' if b[*i..].starts_with(b"null") => {
            *i += 4;
            Ok(Json::Null)
        }
        b'-' | b'0'..=b'9' => {
            let start = *i;
            while *i < b.len() && matches!(b[*i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                *i += 1;
            }
            Ok(Json::Num(
                String::from_utf8_lossy(&b[start..*i]).into_owned(),
            ))
        }
        _ => Err(format!("unexpected byte {:?} at {i}", c as char)),
    }
}

/// One meter of a JSON report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterReport {
    pub name: String,
    pub period_bytes: u64,
    pub period_packets: u64,
    pub total_bytes: u64,
    pub total_packets: u64,
    pub total_since: String,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub reset_detected: bool,
    pub meters: Vec<MeterReport>,
    pub raw: String,
}

fn u64_field(o: &Json, k: &str, raw: &str) -> u64 {
    match o.get(k) {
        Some(Json::Num(n)) => n.parse().unwrap_or_else(|_| {
            panic!("{k} = {n} is not a non-negative integer that fits u64 in {raw}")
        }),
        other => panic!("{k} missing or not a number ({other:?}) in {raw}"),
    }
}

fn str_field(o: &Json, k: &str, raw: &str) -> String {
    match o.get(k) {
        Some(Json::Str(s)) => s.clone(),
        other => panic!("{k} missing or not a string ({other:?}) in {raw}"),
    }
}

impl Report {
    pub fn parse(raw: &str) -> Report {
        let j =
            Json::parse(raw.trim()).unwrap_or_else(|e| panic!("report is not JSON ({e}): {raw}"));
        let reset_detected = match j.get("reset_detected") {
            Some(Json::Bool(b)) => *b,
            other => panic!("reset_detected missing/not bool ({other:?}) in {raw}"),
        };
        let meters = match j.get("meters") {
            Some(Json::Arr(a)) => a
                .iter()
                .map(|m| MeterReport {
                    name: str_field(m, "name", raw),
                    period_bytes: u64_field(m, "period_bytes", raw),
                    period_packets: u64_field(m, "period_packets", raw),
                    total_bytes: u64_field(m, "total_bytes", raw),
                    total_packets: u64_field(m, "total_packets", raw),
                    total_since: str_field(m, "total_since", raw),
                })
                .collect(),
            other => panic!("meters missing/not array ({other:?}) in {raw}"),
        };
        for ts in ["from", "to"] {
            let v = str_field(&j, ts, raw);
            assert!(
                is_rfc3339_utc(&v),
                "{ts} = {v:?} is not YYYY-MM-DDTHH:MM:SSZ in {raw}"
            );
        }
        Report {
            from: str_field(&j, "from", raw),
            to: str_field(&j, "to", raw),
            reset_detected,
            meters,
            raw: raw.to_string(),
        }
    }

    pub fn meter(&self, name: &str) -> &MeterReport {
        self.meters
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("meter {name} not in report: {}", self.raw))
    }

    /// Asserts a meter's usage since the last report is exactly `d`.
    pub fn assert_period(&self, name: &str, d: Dir) {
        let m = self.meter(name);
        assert_eq!(
            (m.period_packets, m.period_bytes),
            (d.pkts, d.bytes),
            "period of {name}: {}",
            self.raw
        );
    }

    /// Asserts a meter's period AND total equal `d` exactly (first report after start).
    pub fn assert_first(&self, name: &str, d: Dir) {
        self.assert_period(name, d);
        let m = self.meter(name);
        assert_eq!(
            (m.total_packets, m.total_bytes),
            (d.pkts, d.bytes),
            "total of {name}: {}",
            self.raw
        );
    }
}

fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The blog's two meters (from the brief).
pub const BLOG_CONFIG: &str = "config netmon 'main'
\toption backend 'auto'

config meter 'proxy'
\toption hook 'input'
\toption src '192.168.1.10'

config meter 'offnet'
\toption hook 'input'
\toption src '!192.168.1.0/24'
";

/// Names of the embedded default meters (WAN via the default-route interface).
pub const WAN_DOWN: &str = "wan_down";
pub const WAN_UP: &str = "wan_up";

/// Bridged frames through iptables' FORWARD, as on a router with
/// kmod-br-netfilter: the iptables rules must leave them alone (neither
/// count nor block them).
pub fn br_netfilter_on(r: &Netns) {
    let keys = [
        "net.bridge.bridge-nf-call-iptables",
        "net.bridge.bridge-nf-call-ip6tables",
    ];
    if !std::path::Path::new("/proc/sys/net/bridge").exists() {
        let _ = std::process::Command::new("modprobe")
            .arg("br_netfilter")
            .status();
    }
    r.sysctl(
        &keys
            .map(|k| format!("{k}=1"))
            .each_ref()
            .map(|s| s.as_str()),
    );
    for k in keys {
        assert_eq!(r.ok(&["sysctl", "-n", k]).trim(), "1", "{k}");
    }
}

/// A permanent neighbour entry: no ARP/NDP traffic on the lab links, so
/// the byte counts are exactly the test's own packets.
pub fn static_neigh(ns: &Netns, addr: &str, mac: &str, dev: &str) {
    ns.ok(&[
        "ip",
        "neigh",
        "replace",
        addr,
        "lladdr",
        mac,
        "dev",
        dev,
        "nud",
        "permanent",
    ]);
}

// ---------------------------------------------------------------------------
// Calendar arithmetic independent of netmon's (H. Hinnant's civil-date
// algorithms), for checking its dates.

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC date (year, month, day) of Unix time `t`.
pub fn civil(t: i64) -> (i64, i64, i64) {
    let z = t.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD HH:MM:SS` of Unix time `t`.
pub fn civil_time(t: i64) -> String {
    let (y, m, d) = civil(t);
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The proxy's MAC in the lab (`Host::Proxy`, 192.168.1.10).
pub const P_MAC: &str = "02:00:00:00:10:10";
/// The peer's MAC (`q`, on `lan2`).
pub const Q_MAC: &str = "02:00:00:00:20:20";

/// Makes the lab a router as OpenWrt's: masquerading out of `wan`, and
/// `fd00::11`, a second IPv6 address of the proxy (as a privacy address)
/// in the router's neighbour table.
pub fn masquerade_and_second_v6(lab: &Lab) {
    let (r, p) = (&lab.r, &lab.p);
    p.ok(&[
        "ip",
        "-6",
        "addr",
        "add",
        "fd00::11/64",
        "dev",
        "eth0",
        "nodad",
    ]);
    static_neigh(r, "fd00::11", P_MAC, "br-lan");
    r.ok(&[
        "nft",
        "add table ip nat; add chain ip nat post { type nat hook postrouting priority 100; }; \
         add rule ip nat post oifname \"wan\" masquerade",
    ]);
}

/// Runs netmon `args` in the router namespace inside a private mount
/// namespace whose /etc and /tmp are overlays holding `files` (path,
/// contents): the name sources at the paths OpenWrt uses, without touching
/// the machine's own /etc or /tmp. Whatever netmon writes under /tmp stays
/// in the overlay: its state directories must be elsewhere (tests put
/// them in /dev/shm).
pub fn with_files(nm: &Netmon, files: &[(&str, &str)], args: &[&str]) -> String {
    let layers = TempDir::new_in(Path::new("/dev/shm"), "nmt-overlay");
    let mut script = String::from("set -e\n");
    for top in ["etc", "tmp"] {
        let (up, work) = (
            layers.path().join(top),
            layers.path().join(format!("{top}.work")),
        );
        std::fs::create_dir_all(&up).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        script.push_str(&format!(
            "mount -t overlay overlay -o lowerdir=/{top},upperdir={},workdir={} /{top}\n",
            up.display(),
            work.display()
        ));
    }
    for (path, text) in files {
        let staged = layers.path().join(format!("file{}", script.len()));
        std::fs::write(&staged, text).unwrap();
        script.push_str(&format!(
            "mkdir -p \"$(dirname {path})\"\ncp {} {path}\n",
            staged.display()
        ));
    }
    script.push_str("exec \"$@\"\n");
    let cmd = nm.command(args);
    let argv: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // argv is `ip netns exec NS NETMON ...`: put the overlay in front of NETMON.
    let (head, tail) = argv.split_at(4);
    let mut wrapped = Command::new(&head[0]);
    wrapped
        .args(&head[1..])
        .args([
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ])
        .args(tail);
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            wrapped.env(k, v);
        }
    }
    let out = run_timeout(wrapped);
    assert!(
        out.status.success(),
        "netmon {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
