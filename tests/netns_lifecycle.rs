//! Rule lifecycle against a real firewall: idempotent start/stop next to
//! foreign rules, self-healing after flushes, resets by zeroed counters, and
//! counters beyond 2^32 and near 2^64. Every byte count is exact (see
//! tests/common for the header arithmetic and the independent link counts).
//!
//! Run: `cargo test --test netns_lifecycle -- --test-threads=2` (as root).

mod common;

use common::*;
use Host::*;

const R4: (Host, &str) = (Router, "192.168.1.1");
const R4_WAN: (Host, &str) = (Router, "10.99.0.1");
const P4: (Host, &str) = (Proxy, "192.168.1.10");
const O4: (Host, &str) = (Outside, "10.99.0.2");
const R6: (Host, &str) = (Router, "fd00::1");
const P6: (Host, &str) = (Proxy, "fd00::10");

/// Meters on all three hooks and both families, so every netmon chain and
/// jump exists (input/output/forward; iptables and ip6tables).
const FULL_CONFIG: &str = "config meter 'proxy'
\toption hook 'input'
\toption src '192.168.1.10'

config meter 'offnet'
\toption hook 'input'
\toption src '!192.168.1.0/24'

config meter 'lan6'
\toption hook 'input'
\toption src 'fd00::/64'

config meter 'wan_all'
\tlist hook 'forward'
\tlist hook 'output'
\toption oif 'wan'
";

/// A fw4-like table (with a drop rule for traffic the tests never send), a
/// native `table ip filter`, and a user chain.
const FOREIGN_NFT: &str = "table inet fw4 {
    chain input { type filter hook input priority filter; policy accept; tcp dport 9999 counter drop comment \"fw4: foreign\"; jump user_in; }
    chain forward { type filter hook forward priority filter; policy accept; udp dport 9998 drop; }
    chain user_in { ip saddr 203.0.113.0/24 counter; }
}
table ip filter {
    chain INPUT { type filter hook input priority filter; policy accept; ip saddr 198.51.100.1 counter drop; }
}
";

fn install_foreign(nm: &Netmon) {
    if nm.backend != Backend::IptNft {
        // iptables-nft owns `table ip filter`; elsewhere a native one is foreign.
        let out = ns_run(&nm.ns, &["nft", "-f", "-"], Some(FOREIGN_NFT));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        let fw4_only = FOREIGN_NFT.split("table ip filter").next().unwrap();
        let out = ns_run(&nm.ns, &["nft", "-f", "-"], Some(fw4_only));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if nm.backend == Backend::Nft {
        return;
    }
    for (tool, args) in [
        ("iptables", "-w -A INPUT -s 198.51.100.1 -j DROP"),
        (
            "iptables",
            "-w -A INPUT -p tcp --dport 22 -m comment --comment ssh -j ACCEPT",
        ),
        ("iptables", "-w -N userchain"),
        ("iptables", "-w -A userchain -s 203.0.113.0/24 -j RETURN"),
        ("iptables", "-w -A FORWARD -j userchain"),
        ("iptables", "-w -A OUTPUT -d 198.51.100.2 -j DROP"),
        ("ip6tables", "-w -A INPUT -s 2001:db8::1 -j DROP"),
        ("ip6tables", "-w -N user6"),
        ("ip6tables", "-w -A FORWARD -j user6"),
        // iptables-nft creates base chains on first use; give every one a
        // foreign rule so none appears only because netmon hooked it.
        ("ip6tables", "-w -A OUTPUT -d 2001:db8::2 -j DROP"),
    ] {
        let argv: Vec<&str> = args.split(' ').collect();
        nm.ipt(tool, &argv);
    }
}

/// For iptables backends: netmon's jump must be rule 1 of each built-in
/// chain it hooks (the brief's contract), once.
fn assert_jumps_first(nm: &Netmon) {
    if nm.backend == Backend::Nft {
        return;
    }
    for (tool, chains) in [
        (
            "iptables",
            &[
                ("INPUT", "netmon_in"),
                ("OUTPUT", "netmon_out"),
                ("FORWARD", "netmon_fwd"),
            ][..],
        ),
        (
            "ip6tables",
            &[
                ("INPUT", "netmon_in"),
                ("OUTPUT", "netmon_out"),
                ("FORWARD", "netmon_fwd"),
            ][..],
        ),
    ] {
        for (builtin, ours) in chains {
            let s = nm.ipt(tool, &["-w", "-S", builtin]);
            let rules: Vec<&str> = s.lines().filter(|l| l.starts_with("-A")).collect();
            let jump = format!("-A {builtin} -m comment --comment netmon -j {ours}");
            assert_eq!(
                rules.first().copied(),
                Some(jump.as_str()),
                "{tool} {builtin}:\n{s}"
            );
            assert_eq!(
                rules.iter().filter(|r| r.contains(ours)).count(),
                1,
                "one jump: {s}"
            );
        }
    }
}

fn idempotent_with_foreign_rules(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::new(true);
    let nm = Netmon::new(&lab.r, backend, Some(FULL_CONFIG));
    install_foreign(&nm);
    let before = nm.ruleset();

    nm.ok(&["start"]);
    let started = nm.ruleset();
    assert_ne!(started, before, "start installed nothing");
    assert_eq!(
        started.without_netmon(),
        before.without_netmon(),
        "start changed foreign rules"
    );
    assert_jumps_first(&nm);
    lab.mark();
    let a = lab.udp(P4, R4, 700, 3).fwd;

    nm.ok(&["start"]);
    assert_eq!(nm.ruleset(), started, "second start changed the ruleset");
    assert_jumps_first(&nm);
    let b = lab.udp(P4, R4, 300, 2).fwd;
    let c = lab.udp(P6, R6, 100, 4).fwd;
    lab.assert_silent();
    let r = nm.report();
    assert!(
        !r.reset_detected,
        "a second start is not a reset: {}",
        r.raw
    );
    r.assert_first("proxy", a + b);
    r.assert_first("lan6", c);
    r.assert_first("offnet", Dir::default());
    r.assert_first("wan_all", Dir::default());

    nm.ok(&["stop"]);
    assert_eq!(
        nm.ruleset(),
        before,
        "stop must leave exactly the foreign rules"
    );
    nm.ok(&["stop"]);
    assert_eq!(nm.ruleset(), before, "second stop changed the ruleset");

    // Counting resumes after a restart; totals are kept, and netmon's own
    // stop/start is not a counter reset.
    nm.ok(&["start"]);
    assert_eq!(nm.ruleset(), started, "restart installs the same rules");
    let d = lab.udp(P4, R4, 50, 3).fwd;
    lab.assert_silent();
    let r = nm.report();
    assert!(
        !r.reset_detected,
        "netmon's own stop/start is not a reset: {}",
        r.raw
    );
    let p = r.meter("proxy");
    assert_eq!(
        (p.period_packets, p.period_bytes),
        (d.pkts, d.bytes),
        "{}",
        r.raw
    );
    let t = a + b + d;
    assert_eq!(
        (p.total_packets, p.total_bytes),
        (t.pkts, t.bytes),
        "{}",
        r.raw
    );
    nm.ok(&["stop"]);
    assert_eq!(nm.ruleset(), before);
}

#[test]
fn idempotent_with_foreign_rules_nft() {
    idempotent_with_foreign_rules("idempotent_with_foreign_rules_nft", Backend::Nft);
}

#[test]
fn idempotent_with_foreign_rules_iptables_nft() {
    idempotent_with_foreign_rules(
        "idempotent_with_foreign_rules_iptables_nft",
        Backend::IptNft,
    );
}

#[test]
fn idempotent_with_foreign_rules_iptables_legacy() {
    idempotent_with_foreign_rules(
        "idempotent_with_foreign_rules_iptables_legacy",
        Backend::IptLegacy,
    );
}

/// With nothing else in the firewall, start+stop leaves an identical ruleset.
fn stop_restores_empty_ruleset(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let nm = Netmon::new(&lab.r, backend, Some(FULL_CONFIG));
    if backend == Backend::IptLegacy {
        // Legacy tables come into being (empty) on first use in a namespace;
        // that is the kernel's doing, not netmon's, so do it first.
        nm.ipt("iptables", &["-w", "-L", "-n"]);
        nm.ipt("ip6tables", &["-w", "-L", "-n"]);
    }
    let before = nm.ruleset();
    nm.ok(&["start"]);
    assert_ne!(nm.ruleset(), before);
    nm.ok(&["stop"]);
    assert_eq!(nm.ruleset(), before, "start+stop on an empty firewall");
}

#[test]
fn stop_restores_empty_ruleset_nft() {
    stop_restores_empty_ruleset("stop_restores_empty_ruleset_nft", Backend::Nft);
}

#[test]
fn stop_restores_empty_ruleset_iptables_legacy() {
    stop_restores_empty_ruleset(
        "stop_restores_empty_ruleset_iptables_legacy",
        Backend::IptLegacy,
    );
}

// iptables-nft is left out on purpose: creating any rule makes iptables-nft
// create `table ip filter`/`ip6 filter` with its base chains, and no
// iptables command deletes a table again. That residue is iptables-nft's,
// not netmon's; the foreign-rules test above covers iptables-nft with the
// tables pre-existing.

fn reset_by_flush(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let nm = Netmon::new(&lab.r, backend, Some(BLOG_CONFIG));
    nm.ok(&["start"]);
    lab.mark();
    let a = lab.udp(P4, R4, 1000, 5).fwd;
    let oa = lab.udp(O4, R4_WAN, 10, 1).fwd;
    nm.ok(&["update"]);
    nm.flush_firewall();
    assert!(!nm.rules_present());
    lab.udp(P4, R4, 1000, 5); // nobody counts this
    nm.ok(&["update"]);
    assert!(nm.rules_present(), "update reinstalls vanished rules");
    let c = lab.udp(P4, R4, 200, 3).fwd;
    lab.assert_silent();
    let r = nm.report();
    assert!(
        r.reset_detected,
        "rules vanished and were reinstalled: {}",
        r.raw
    );
    // Counted from the new counters: nothing negative, nothing phantom.
    r.assert_first("proxy", a + c);
    r.assert_first("offnet", oa);

    let d = lab.udp(P4, R4, 10, 1).fwd;
    lab.assert_silent();
    let r2 = nm.report();
    assert!(
        !r2.reset_detected,
        "the reset was reported once: {}",
        r2.raw
    );
    let p = r2.meter("proxy");
    assert_eq!(
        (p.period_packets, p.period_bytes),
        (d.pkts, d.bytes),
        "{}",
        r2.raw
    );
    nm.ok(&["stop"]);
}

per_backend!(reset_by_flush: reset_by_flush_nft, reset_by_flush_iptables_nft, reset_by_flush_iptables_legacy);

/// Counters zeroed under netmon (`iptables -Z`, `nft reset counters`).
/// Detection is by value decrease, so the traffic after the zeroing must be
/// smaller (in packets and bytes) than what the counter held before.
fn reset_by_zero(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let nm = Netmon::new(&lab.r, backend, Some(BLOG_CONFIG));
    nm.ok(&["start"]);
    lab.mark();
    let a = lab.udp(P4, R4, 1000, 20).fwd;
    nm.ok(&["update"]);
    match backend {
        Backend::Nft => {
            nm.ok_ns(&["nft", "reset", "counters", "table", "inet", "netmon"]);
        }
        _ => {
            nm.ipt("iptables", &["-w", "-Z"]);
            nm.ipt("ip6tables", &["-w", "-Z"]);
        }
    }
    let c = lab.udp(P4, R4, 100, 2).fwd;
    assert!(c.pkts < a.pkts && c.bytes < a.bytes);
    lab.assert_silent();
    let r = nm.report();
    assert!(r.reset_detected, "counters went down: {}", r.raw);
    r.assert_first("proxy", a + c);
    r.assert_first("offnet", Dir::default());
    nm.ok(&["stop"]);
}

per_backend!(reset_by_zero: reset_by_zero_nft, reset_by_zero_iptables_nft, reset_by_zero_iptables_legacy);

/// proxy's bytes start just below 2^32 (a 32-bit truncation would show),
/// its packets too; offnet's start 5000 below 2^64, packets above 2^32.
const BIG_PROXY: (u64, u64) = ((1 << 32) - 3, (1 << 32) - 100);
const BIG_OFFNET: (u64, u64) = (5_000_000_000, u64::MAX - 4999);

/// Gives netmon's live counters the values above, keeping the rules, their
/// order and comments (so netmon sees its rules intact, not a reinstall).
fn set_big_counters(nm: &Netmon) {
    let want = |meter: &str| match meter {
        "proxy" => BIG_PROXY,
        "offnet" => BIG_OFFNET,
        _ => panic!("unexpected meter {meter}"),
    };
    match nm.backend {
        Backend::Nft => {
            // One transaction: empty the chain, recreate the named counters
            // with initial values, re-add the same rules in the same order.
            let listing = nm.ok_ns(&["nft", "-s", "list", "table", "inet", "netmon"]);
            let mut script = String::from("flush chain inet netmon input\n");
            for m in ["proxy", "offnet"] {
                let (p, b) = want(m);
                script += &format!(
                    "delete counter inet netmon m_{m}\nadd counter inet netmon m_{m} {{ packets {p} bytes {b} }}\n"
                );
            }
            let mut chain = None;
            for line in listing.lines() {
                let t = line.trim();
                if let Some(c) = t.strip_prefix("chain ").and_then(|c| c.strip_suffix(" {")) {
                    chain = Some(c.to_string());
                } else if t.contains("counter name") {
                    assert_eq!(chain.as_deref(), Some("input"), "blog meters live in input");
                    script += &format!("add rule inet netmon input {t}\n");
                }
            }
            let out = ns_run(&nm.ns, &["nft", "-f", "-"], Some(&script));
            assert!(
                out.status.success(),
                "{script}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        _ => {
            let saved = nm.ipt("iptables-save", &["-c"]);
            let mut edited = String::new();
            for line in saved.lines() {
                let tag = line.find("netmon:").map(|i| &line[i + 7..]);
                match (line.starts_with('['), tag) {
                    (true, Some(tag)) => {
                        let meter = tag.split(':').next().unwrap();
                        let (p, b) = want(meter);
                        let rest = &line[line.find(']').unwrap() + 1..];
                        edited += &format!("[{p}:{b}]{rest}\n");
                    }
                    _ => edited += &format!("{line}\n"),
                }
            }
            let multi = which(match nm.backend {
                Backend::IptNft => "xtables-nft-multi",
                _ => "xtables-legacy-multi",
            })
            .unwrap();
            let out = ns_run(
                &nm.ns,
                &[multi.to_str().unwrap(), "iptables-restore", "-w", "-c"],
                Some(&edited),
            );
            assert!(
                out.status.success(),
                "{edited}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn large_counters(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let nm = Netmon::new(&lab.r, backend, Some(BLOG_CONFIG));
    nm.ok(&["start"]);
    lab.mark();
    set_big_counters(&nm);
    assert!(nm.rules_present());
    // The jump is what the firewall counted; netmon takes it as traffic.
    let r1 = nm.report();
    assert!(!r1.reset_detected, "counters only grew: {}", r1.raw);
    let big = |(p, b): (u64, u64)| Dir { pkts: p, bytes: b };
    r1.assert_first("proxy", big(BIG_PROXY));
    r1.assert_first("offnet", big(BIG_OFFNET));

    // Traffic takes proxy's bytes across 2^32 and offnet's to 2^64 - 916.
    let p = lab.udp(P4, R4, 1000, 3).fwd;
    let o = lab.udp(O4, R4_WAN, 1000, 4).fwd;
    assert!(BIG_PROXY.1 + p.bytes > 1 << 32);
    assert!(o.bytes < u64::MAX - BIG_OFFNET.1);
    lab.assert_silent();
    let r2 = nm.report();
    assert!(!r2.reset_detected, "no wrap, no reset: {}", r2.raw);
    for (name, start, d) in [("proxy", BIG_PROXY, p), ("offnet", BIG_OFFNET, o)] {
        let m = r2.meter(name);
        assert_eq!(
            (m.period_packets, m.period_bytes),
            (d.pkts, d.bytes),
            "{}",
            r2.raw
        );
        assert_eq!(
            (m.total_packets, m.total_bytes),
            (start.0 + d.pkts, start.1 + d.bytes),
            "{}",
            r2.raw
        );
    }
    nm.ok(&["stop"]);
}

per_backend!(large_counters: large_counters_nft, large_counters_iptables_nft, large_counters_iptables_legacy);

const Q4: (Host, &str) = (Peer, "192.168.1.20");
const O2: (Host, &str) = (Outside2, "10.98.0.2");
const R4_WAN2: (Host, &str) = (Router, "10.98.0.1");

/// Settings but no meter section: the default WAN meters, on the device of
/// the default route, found again at every run.
const NO_METERS: &str = "# settings only: the WAN meters are the default ones
config netmon 'main'
\toption billing_day '1'
";

/// The `config:` line of `netmon status`.
fn status_config(nm: &Netmon) -> String {
    let s = nm.ok(&["status"]);
    let line = s.lines().find(|l| l.starts_with("config:"));
    line.unwrap_or_else(|| panic!("no config line in status:\n{s}"))
        .to_string()
}

/// WAN failover under a config file without meters: the default route
/// moves from `wan` to `wan2`, the next run moves the default meters'
/// rules with it (a reinstall, recorded as a reset), and wan_down/wan_up
/// continue their totals byte-exactly: what the old rules counted is kept,
/// nothing is counted twice or invented, and the old link no longer counts.
fn wan_failover(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::with_second_wan();
    let nm = Netmon::new(&lab.r, backend, Some(NO_METERS));
    nm.ok(&["start"]);
    let cfg = nm.config.display().to_string();
    let on = |dev: &str| format!("config:   {cfg} (no meters: default WAN meters on {dev})");
    assert_eq!(status_config(&nm), on("wan"));
    lab.mark();

    // On `wan`: input, output and forwarded both ways.
    let mut down = lab.udp(O4, R4_WAN, 900, 4).fwd;
    let mut up = lab.udp(R4_WAN, O4, 300, 3).fwd;
    let t = lab.tcp(P4, O4, 5000);
    up = up + t.fwd;
    down = down + t.rev;
    lab.udp(O2, R4_WAN2, 100, 2); // the backup link is not the WAN yet

    // Failover, as netifd does it when `wan` goes down: the default route
    // now leaves through wan2. Until netmon runs again (cron, or the init
    // script's interface trigger) its rules still match `wan`, so this
    // datagram is counted by no one: the gap a failover costs.
    lab.r.ok(&[
        "ip",
        "route",
        "replace",
        "default",
        "via",
        "10.98.0.2",
        "dev",
        "wan2",
    ]);
    lab.udp(O2, R4_WAN2, 200, 2);
    nm.ok(&["update"]);
    assert_eq!(status_config(&nm), on("wan2"));

    // On `wan2`; the old link no longer counts.
    down = down + lab.udp(O2, R4_WAN2, 700, 5).fwd;
    up = up + lab.udp(R4_WAN2, O2, 222, 6).fwd;
    let t = lab.tcp(Q4, O2, 3000);
    up = up + t.fwd;
    down = down + t.rev;
    lab.udp(O4, R4_WAN, 400, 3);
    lab.udp(R4_WAN, O4, 400, 3);
    lab.assert_silent();

    let r = nm.report();
    // The old rules were read just before they moved: a planned
    // reinstall, nothing lost from the counters (issue 10, defect 6), so
    // no alarm. (The datagram sent between the failover and the update
    // is the documented gap.)
    assert!(
        !r.reset_detected,
        "the rules moved to wan2 after a last reading of the old ones: {}",
        r.raw
    );
    // Period and total: phase one (read from the old rules before they were
    // replaced) plus phase two, exactly.
    r.assert_first(WAN_DOWN, down);
    r.assert_first(WAN_UP, up);
    assert_eq!(r.meters.len(), 2, "{}", r.raw);

    // Back to `wan`: the totals still continue.
    lab.r.ok(&[
        "ip",
        "route",
        "replace",
        "default",
        "via",
        "10.99.0.2",
        "dev",
        "wan",
    ]);
    nm.ok(&["update"]);
    assert_eq!(status_config(&nm), on("wan"));
    let d = lab.udp(O4, R4_WAN, 50, 2).fwd;
    lab.udp(O2, R4_WAN2, 50, 2);
    lab.assert_silent();
    let r2 = nm.report();
    let m = r2.meter(WAN_DOWN);
    assert_eq!(
        (m.period_packets, m.period_bytes),
        (d.pkts, d.bytes),
        "{}",
        r2.raw
    );
    let t = down + d;
    assert_eq!(
        (m.total_packets, m.total_bytes),
        (t.pkts, t.bytes),
        "{}",
        r2.raw
    );
    let u = r2.meter(WAN_UP);
    assert_eq!(
        (u.period_packets, u.total_bytes),
        (0, up.bytes),
        "{}",
        r2.raw
    );
    nm.ok(&["stop"]);
}

per_backend!(wan_failover: wan_failover_nft, wan_failover_iptables_nft, wan_failover_iptables_legacy);

/// The WAN goes away before `stop` (PPPoE down, a shutdown that took the
/// link first): with no default route, the default meters stay on the
/// device the last update used, so `update` still counts, and `stop` still
/// folds the last reading, syncs it and removes exactly netmon's rules.
fn wan_gone_before_stop(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::with_second_wan();
    let nm = Netmon::new(&lab.r, backend, Some(NO_METERS));
    nm.ok(&["start"]);
    assert!(
        format!("{:?}", nm.ruleset()).contains("netmon"),
        "start installed nothing"
    );
    lab.mark();
    let mut down = lab.udp(O4, R4_WAN, 900, 4).fwd;
    lab.r.ok(&["ip", "route", "del", "default"]);
    assert_eq!(lab.r.ok(&["ip", "route", "show", "default"]), "");
    // Still arriving on `wan` (the link is up, only the route is gone).
    down = down + lab.udp(O4, R4_WAN, 300, 2).fwd;
    nm.ok(&["update"]);
    let cfg = nm.config.display().to_string();
    assert_eq!(
        status_config(&nm),
        format!("config:   {cfg} (no meters: default WAN meters on wan)")
    );
    down = down + lab.udp(O4, R4_WAN, 100, 3).fwd;
    lab.assert_silent();
    nm.ok(&["stop"]);
    let after = nm.ruleset();
    assert!(
        !after.nft.contains("netmon") && !after.ipt.contains("netmon"),
        "stop left netmon's rules without a default route: {after:?}"
    );
    // The flash copy has everything: a new boot (no RAM state, no
    // remembered device) with the WAN back reads it.
    std::fs::remove_dir_all(nm.state.path()).expect("clear the RAM state");
    lab.r.ok(&[
        "ip",
        "route",
        "add",
        "default",
        "via",
        "10.99.0.2",
        "dev",
        "wan",
    ]);
    let r = nm.report();
    let m = r.meter(WAN_DOWN);
    assert_eq!(
        (m.total_packets, m.total_bytes),
        (down.pkts, down.bytes),
        "{}",
        r.raw
    );
    nm.ok(&["stop"]);
}

per_backend!(wan_gone_before_stop: wan_gone_before_stop_nft, wan_gone_before_stop_iptables_nft, wan_gone_before_stop_iptables_legacy);
