//! Durable state (issue 4), black box: the real binary against a real nft
//! ruleset in a network namespace, with its RAM copy (`--state-dir`) and
//! persistent copy (`--persist-dir`) in temp dirs of the test — never
//! /tmp/netmon or /etc/netmon.
//!
//! Traffic is UDP from 127.0.0.1 to 127.0.0.1 inside the namespace
//! (tests/helpers/lo_udp.py): one IPv4 packet of 20 + 8 + payload bytes per
//! datagram (RFC 791, RFC 768), passing the output hook and then the input
//! hook. Both meters of `CONFIG` therefore count every datagram, and the
//! kernel's own count is the loopback device's rx statistics (loopback
//! counts `skb->len` after removing its Ethernet header: IP bytes), which
//! `Rig::send` checks against the header arithmetic. Nothing else uses `lo`
//! in a fresh namespace (IPv6 is off, nft talks netlink).
//!
//! Tests that need root, nft and namespaces print SKIPPED otherwise (and
//! fail under CI): see `common::require_root_tools`.
//!
//! Run: `cargo test --test durable -- --test-threads=2` (as root).

mod common;

use common::*;
use netmon::device::Mac;
use netmon::meter::Name;
use netmon::state::{Calendar, Count, DownUp, Generation, Reading, State};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Two meters that both see every loopback datagram: one per hook.
const CONFIG: &str = "config netmon 'main'
\toption backend 'nft'

config meter 'lo_in'
\toption hook 'input'
\toption src '127.0.0.1'

config meter 'lo_out'
\toption hook 'output'
\toption dst '127.0.0.1'
";
const METERS: [&str; 2] = ["lo_in", "lo_out"];
const LO_UDP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helpers/lo_udp.py");

// ---------------------------------------------------------------------------
// The rig: one namespace, netmon with its two state directories.

struct Rig {
    ns: Netns,
    /// Holds the config and, unless a test mounts something else, both state dirs.
    dir: TempDir,
    config: PathBuf,
    state: PathBuf,
    persist: PathBuf,
}

impl Rig {
    fn new(test: &str) -> Option<Rig> {
        if !require_root_tools(test, &["nft"]) {
            return None;
        }
        let ns = Netns::new(&unique("nmt-dur"));
        let dir = TempDir::new("nmt-dur");
        let config = dir.path().join("netmon.conf");
        fs::write(&config, CONFIG).expect("write config");
        let state = dir.path().join("ram");
        let persist = dir.path().join("flash");
        Some(Rig {
            ns,
            dir,
            config,
            state,
            persist,
        })
    }

    /// `ip netns exec NS netmon --config C --state-dir S --persist-dir P --backend nft ARGS`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(ip());
        c.args(["netns", "exec", &self.ns.name, NETMON])
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--persist-dir")
            .arg(&self.persist)
            .args(["--backend", "nft"])
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        run_timeout(self.cmd(args))
    }

    /// The command must succeed without a word on stderr; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "netmon {} exited {:?}\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8 stdout")
    }

    fn ram_file(&self) -> PathBuf {
        self.state.join("state")
    }

    fn flash_file(&self) -> PathBuf {
        self.persist.join("state")
    }

    /// Loopback rx packets and bytes: the kernel's count of everything sent.
    fn lo_rx(&self) -> Count {
        Count::new(
            self.ns.link_stat("lo", "rx_packets"),
            self.ns.link_stat("lo", "rx_bytes"),
        )
    }

    /// Sends `count` datagrams of `size` payload bytes over loopback and
    /// returns what each meter must count, checked against the kernel.
    fn send(&self, size: u64, count: u64) -> Count {
        let before = self.lo_rx();
        let out = self.ns.ok(&[
            python().to_str().expect("python path"),
            LO_UDP,
            &size.to_string(),
            &count.to_string(),
        ]);
        assert_eq!(out.trim(), format!("udp {count} {}", count * size));
        let want = Count::new(count, count * (IPV4_HDR + UDP_HDR + size));
        let after = self.lo_rx();
        let seen = Count::new(after.packets - before.packets, after.bytes - before.bytes);
        assert_eq!(seen, want, "loopback saw other traffic than ours");
        want
    }

    /// Current handle of `table inet netmon` (first line of `nft -a list`).
    fn table_handle(&self) -> u64 {
        let text = self
            .ns
            .ok(&["nft", "-a", "list", "table", "inet", "netmon"]);
        let first = text.lines().next().unwrap_or_default();
        let h = first.rsplit("# handle ").next().expect("handle comment");
        h.trim().parse().expect("handle number")
    }
}

fn add(a: Count, b: Count) -> Count {
    a.saturating_add(b)
}

/// Decodes a state file or fails the test, naming the file and why.
fn load(path: &Path) -> State {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    State::decode(&bytes).unwrap_or_else(|e| {
        panic!(
            "{} does not load ({}), {} bytes",
            path.display(),
            e.as_str(),
            bytes.len()
        )
    })
}

fn totals(st: &State) -> Vec<Count> {
    METERS
        .iter()
        .map(|n| st.meter(n).map_or(Count::default(), |m| m.total))
        .collect()
}

fn assert_totals(st: &State, want: Count, what: &str) {
    for n in METERS {
        let got = st.meter(n).map(|m| m.total);
        assert_eq!(got, Some(want), "{what}: total of {n}");
    }
}

fn assert_report_totals(r: &Report, want: Count) {
    for n in METERS {
        let m = r.meter(n);
        assert_eq!(
            (m.total_packets, m.total_bytes),
            (want.packets, want.bytes),
            "{n}: {}",
            r.raw
        );
    }
}

/// `state.bad-*` files kept in `dir`, sorted.
fn bad_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("state.bad-"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(String::from)
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A small deterministic generator (Knuth's MMIX LCG), so a failing run
/// can be replayed exactly.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

// ---------------------------------------------------------------------------
// 1. Crash safety.

const CRASH_ROUNDS: usize = 500;

/// Inode and mtime of a file, if it exists (to see a temp file re-created).
fn stamp(p: &Path) -> Option<(u64, i64, i64)> {
    fs::metadata(p)
        .ok()
        .map(|m| (m.ino(), m.mtime(), m.mtime_nsec()))
}

/// Sum of the day buckets `netmon daily --days 62 --format json` shows, per
/// meter: a read-only command through the binary's own loader.
fn daily_sums(rig: &Rig) -> Vec<u64> {
    let mut c = Command::new(NETMON);
    c.arg("--config")
        .arg(&rig.config)
        .arg("--state-dir")
        .arg(&rig.state)
        .arg("--persist-dir")
        .arg(&rig.persist)
        .args(["daily", "--days", "62", "--format", "json"])
        .env("TZ", "UTC");
    let out = run_timeout(c);
    assert!(out.status.success(), "daily: {out:?}");
    let text = String::from_utf8(out.stdout).expect("utf8");
    let j = Json::parse(text.trim()).unwrap_or_else(|e| panic!("daily json ({e}): {text}"));
    let Some(Json::Arr(days)) = j.get("days") else {
        panic!("no days in {text}")
    };
    assert_eq!(days.len(), 62, "{text}");
    METERS
        .iter()
        .map(|n| {
            days.iter()
                .map(|d| match d.get("bytes").and_then(|b| b.get(n)) {
                    Some(Json::Num(v)) => v.parse::<u64>().expect("number"),
                    other => panic!("{n} missing in {other:?}: {text}"),
                })
                .sum()
        })
        .collect()
}

/// Checks both copies after a round: each loads, its totals did not go
/// down and never exceed what the kernel counted, no copy was moved aside.
/// Returns the RAM copy's totals.
fn check_copies(
    rig: &Rig,
    round: usize,
    sent: Count,
    prev: &mut [Option<Vec<Count>>; 2],
) -> Vec<Count> {
    let mut ram = Vec::new();
    for (i, path) in [rig.ram_file(), rig.flash_file()].iter().enumerate() {
        if i == 1 && !path.exists() {
            continue;
        }
        let t = totals(&load(path));
        if let Some(p) = &prev[i] {
            for (a, b) in p.iter().zip(&t) {
                assert!(
                    b.bytes >= a.bytes && b.packets >= a.packets,
                    "round {round}: {} went down from {a:?} to {b:?}",
                    path.display()
                );
            }
        }
        for c in &t {
            assert!(
                c.bytes <= sent.bytes && c.packets <= sent.packets,
                "round {round}: {} counts {c:?} but only {sent:?} was sent",
                path.display()
            );
        }
        if i == 0 {
            ram = t.clone();
        }
        prev[i] = Some(t);
    }
    for d in [&rig.state, &rig.persist] {
        assert_eq!(bad_files(d), Vec::<PathBuf>::new(), "round {round}");
    }
    ram
}

/// Median wall time of a clean `update`, to spread the kills over a whole run.
fn calibrate(update: impl Fn()) -> Duration {
    let mut v: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            update();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[2]
}

/// Runs `netmon ACTION` and SIGKILLs it after `delay` unless it finished
/// (then it must have succeeded silently). Returns true if it was killed.
fn run_and_kill(rig: &Rig, action: &str, delay: Duration) -> bool {
    kill_after(rig.cmd(&[action]), action, delay)
}

/// Runs `cmd` (netmon ACTION under `ip netns exec`) and SIGKILLs it after
/// `delay` unless it finished (then it must have succeeded silently).
/// Returns true if it was killed.
fn kill_after(mut cmd: Command, action: &str, delay: Duration) -> bool {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn netmon");
    std::thread::sleep(delay);
    match child.try_wait().expect("try_wait") {
        Some(status) => {
            let mut err = String::new();
            let _ = child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut err);
            assert!(
                status.success() && err.is_empty(),
                "{action}: {status:?} {err}"
            );
            false
        }
        None => {
            // `ip netns exec` execs netmon in place: this pid is netmon (or
            // ip just before the exec).
            child.kill().expect("SIGKILL");
            child.wait().expect("wait");
            true
        }
    }
}

/// Issue 4, done-when 1: `update` and `sync` killed with SIGKILL at random
/// points; after every round both copies load, totals never decrease and
/// never exceed the traffic sent; at the end one clean `update` makes the
/// total exact (the kernel counters kept what a killed run did not save).
#[test]
fn crash_safety_sigkill_at_random_points() {
    let Some(rig) = Rig::new("crash_safety_sigkill_at_random_points") else {
        return;
    };
    rig.ok(&["start"]);
    let typical = calibrate(|| {
        rig.ok(&["update"]);
    });
    // Kill points spread over a whole run, bounded so that a slow machine
    // does not turn this into minutes.
    let span_us = (typical.as_micros() as u64 * 6 / 5).clamp(5_000, 150_000);
    let mut rng = Lcg(0x6e65_746d_6f6e_0004);
    let mut sent = Count::default();
    let mut prev: [Option<Vec<Count>>; 2] = [None, None];
    let (mut killed, mut torn) = (0usize, 0usize);
    let t0 = Instant::now();
    for round in 0..CRASH_ROUNDS {
        if rng.below(6) == 0 {
            sent = add(sent, rig.send(1 + rng.below(1400), 1 + rng.below(4)));
        }
        let action = if rng.below(2) == 0 { "update" } else { "sync" };
        let tmps = [rig.state.join(".state.tmp"), rig.persist.join(".state.tmp")];
        let before: Vec<_> = tmps.iter().map(|p| stamp(p)).collect();
        let delay = Duration::from_micros(rng.below(span_us));
        if run_and_kill(&rig, action, delay) {
            killed += 1;
            // A temp file this run created or rewrote and left behind: the
            // kill landed between writing the new state and renaming it.
            let after: Vec<_> = tmps.iter().map(|p| stamp(p)).collect();
            if after
                .iter()
                .zip(&before)
                .any(|(a, b)| a.is_some() && a != b)
            {
                torn += 1;
            }
        }
        let ram = check_copies(&rig, round, sent, &mut prev);
        if round % 100 == 99 {
            let want: Vec<u64> = ram.iter().map(|c| c.bytes).collect();
            assert_eq!(daily_sums(&rig), want, "round {round}: day buckets");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "crash loop too slow at round {round}"
        );
    }
    // A clean reading: nothing in flight, so nothing may be missing.
    rig.ok(&["update"]);
    assert_totals(&load(&rig.ram_file()), sent, "after the final update");
    assert_eq!(daily_sums(&rig), vec![sent.bytes; 2], "day buckets");
    assert_report_totals(
        &Report::parse(&rig.ok(&["report", "--format", "json"])),
        sent,
    );
    eprintln!(
        "crash_safety: {CRASH_ROUNDS} rounds in {:?}, clean run {typical:?}, kills within \
         {} ms: {killed} killed, {torn} between temp write and rename; sent {sent:?}",
        t0.elapsed(),
        span_us / 1000
    );
    assert!(killed >= CRASH_ROUNDS / 4, "only {killed} runs were killed");
    assert!(torn >= 1, "no kill landed inside a state write");
}

// ---------------------------------------------------------------------------
// 1b. Crash safety with devices (issue 11, done-when 6).

const DEVICE_CRASH_ROUNDS: usize = 200;

/// What a state holds that must never go down: each meter's total, and
/// each device's (and `other`'s, under `Mac::OTHER`) download and upload.
#[derive(Clone, Debug, Default, PartialEq)]
struct Totals {
    meters: BTreeMap<String, Count>,
    devices: BTreeMap<Mac, DownUp>,
}

impl Totals {
    fn of(st: &State) -> Totals {
        Totals {
            meters: st
                .meters
                .iter()
                .map(|m| (m.name.to_string(), m.total))
                .collect(),
            devices: st
                .devices
                .iter()
                .chain([&st.other])
                .map(|d| (d.mac, d.total))
                .collect(),
        }
    }

    /// What the state must count of `devices`' traffic: each device its
    /// own, `other` nothing (the set has room), and the meters all of it
    /// (every byte a LAN device exchanged crossed the WAN link; the lab
    /// sends nothing else).
    fn sent(devices: &BTreeMap<Mac, DownUp>) -> Totals {
        let sum = |f: fn(&DownUp) -> Count| devices.values().map(f).fold(Count::default(), add);
        let mut all = devices.clone();
        all.insert(Mac::OTHER, DownUp::default());
        Totals {
            meters: [("wan_down", sum(|d| d.down)), ("wan_up", sum(|d| d.up))]
                .into_iter()
                .map(|(n, c)| (n.to_string(), c))
                .collect(),
            devices: all,
        }
    }
}

fn not_below(a: Count, b: Count) -> bool {
    b.packets >= a.packets && b.bytes >= a.bytes
}

/// `now` keeps every meter and device of `prev` with totals not below
/// them, and counts no more than `sent` (nothing for a device `sent` does
/// not know).
fn check_totals(what: &str, prev: Option<&Totals>, now: &Totals, sent: &Totals) {
    for (n, c) in &now.meters {
        let max = sent.meters.get(n).copied().unwrap_or_default();
        assert!(not_below(*c, max), "{what}: {n} counts {c:?}, sent {max:?}");
    }
    for (mac, d) in &now.devices {
        let max = sent.devices.get(mac).copied().unwrap_or_default();
        assert!(
            not_below(d.down, max.down) && not_below(d.up, max.up),
            "{what}: {mac:?} counts {d:?}, sent {max:?}"
        );
    }
    let Some(prev) = prev else { return };
    for (n, a) in &prev.meters {
        let b = now.meters.get(n).copied().unwrap_or_default();
        assert!(
            not_below(*a, b),
            "{what}: {n} went down from {a:?} to {b:?}"
        );
    }
    for (mac, a) in &prev.devices {
        let b = now.devices.get(mac).copied().unwrap_or_default();
        assert!(
            not_below(a.down, b.down) && not_below(a.up, b.up),
            "{what}: {mac:?} went down from {a:?} to {b:?}"
        );
    }
}

/// One LAN device of the lab: its namespace, address and MAC.
struct LanDevice<'a> {
    ns: &'a Netns,
    ip: &'static str,
    mac: Mac,
}

/// Sends a random UDP flow between a random LAN device and the WAN host
/// and adds what the device's counters must count to `sent`: IP bytes,
/// 20 + 8 + payload a datagram (payloads of 100 bytes or more: no
/// Ethernet padding is counted).
fn device_flow(rng: &mut Lcg, lab: &Lab, devs: &[LanDevice], sent: &mut BTreeMap<Mac, DownUp>) {
    let d = &devs[rng.below(devs.len() as u64) as usize];
    let (size, count) = (100 + rng.below(1300), 1 + rng.below(3));
    let c = Count::new(count, count * (IPV4_HDR + UDP_HDR + size));
    let e = sent.entry(d.mac).or_default();
    if rng.below(2) == 0 {
        udp_between(d.ns, d.ip, &lab.o, "10.99.0.2", size, count);
        e.up = add(e.up, c);
    } else {
        udp_between(&lab.o, "10.99.0.2", d.ns, d.ip, size, count);
        e.down = add(e.down, c);
    }
}

/// `netmon devices --days 2 --format json` (today and yesterday: a run
/// that crosses midnight still sees everything) as MAC -> (down, up) bytes.
fn devices_json(nm: &Netmon) -> BTreeMap<Option<Mac>, (u64, u64)> {
    let text = nm.ok(&["devices", "--days", "2", "--format", "json"]);
    let j = Json::parse(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    let rows = j.get("devices").and_then(Json::as_array);
    rows.unwrap_or_else(|| panic!("no devices in {text}"))
        .iter()
        .map(|d| {
            let mac = match d.get("mac") {
                Some(Json::Str(m)) => Some(Mac::parse(m).expect("MAC")),
                _ => None,
            };
            let n = |k: &str| d.get(k).and_then(Json::as_u64).expect(k);
            (mac, (n("download_bytes"), n("upload_bytes")))
        })
        .collect()
}

/// Issue 11, done-when 6: with devices counted, `update` (and now and then
/// `sync`) killed with SIGKILL at random points while LAN devices send
/// and receive. After every round both copies load; no meter's, device's
/// or `other`'s total went down; none counts more than was sent (a killed
/// run may have read counters it did not save: the next run folds them,
/// so a copy may lag, never lead). At the end one clean run counts every
/// byte exactly, per device and per meter.
#[test]
fn crash_safety_with_devices_sigkill_at_random_points() {
    let test = "crash_safety_with_devices_sigkill_at_random_points";
    if !require_root_tools(test, &["nft"]) {
        return;
    }
    let lab = Lab::new(false);
    let devs = [
        ("02:00:00:00:10:10", &lab.p, "192.168.1.10"),
        ("02:00:00:00:20:20", &lab.q, "192.168.1.20"),
    ]
    .map(|(mac, ns, ip)| LanDevice {
        ns,
        ip,
        mac: Mac::parse(mac).expect("MAC"),
    });
    let nm = Netmon::new(&lab.r, Backend::Nft, Some(DEVICES_CONFIG));
    nm.ok(&["start"]);
    let typical = calibrate(|| {
        nm.ok(&["update"]);
    });
    let span_us = (typical.as_micros() as u64 * 6 / 5).clamp(5_000, 150_000);
    let files = [nm.state.path(), nm.persist.path()].map(|d| d.join("state"));
    let mut rng = Lcg(0x6e65_746d_6f6e_0011);
    let mut sent = BTreeMap::new();
    let mut prev: [Option<Totals>; 2] = [None, None];
    let (mut killed, mut torn) = (0usize, 0usize);
    let t0 = Instant::now();
    for round in 0..DEVICE_CRASH_ROUNDS {
        if rng.below(3) == 0 {
            device_flow(&mut rng, &lab, &devs, &mut sent);
        }
        let action = if rng.below(4) == 0 { "sync" } else { "update" };
        let delay = Duration::from_micros(rng.below(span_us));
        let tmps = [nm.state.path(), nm.persist.path()].map(|d| d.join(".state.tmp"));
        let before = tmps.clone().map(|p| stamp(&p));
        if kill_after(nm.command(&[action]), action, delay) {
            killed += 1;
            // The kill landed between writing a new state and renaming it.
            let after = tmps.map(|p| stamp(&p));
            torn += usize::from(
                after
                    .iter()
                    .zip(&before)
                    .any(|(a, b)| a.is_some() && a != b),
            );
        }
        let want = Totals::sent(&sent);
        for (i, f) in files.iter().enumerate() {
            if !f.exists() {
                continue;
            }
            let now = Totals::of(&load(f));
            let what = format!("round {round} ({action}, {delay:?}), {}", f.display());
            check_totals(&what, prev[i].as_ref(), &now, &want);
            prev[i] = Some(now);
        }
        for d in [nm.state.path(), nm.persist.path()] {
            assert_eq!(bad_files(d), Vec::<PathBuf>::new(), "round {round}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "crash loop too slow at round {round}"
        );
    }
    // A clean run: nothing in flight, so nothing may be missing.
    let shown = devices_json(&nm);
    assert_eq!(Totals::of(&load(&files[0])), Totals::sent(&sent));
    let want_shown: BTreeMap<Option<Mac>, (u64, u64)> = sent
        .iter()
        .map(|(m, d)| (Some(*m), (d.down.bytes, d.up.bytes)))
        .collect();
    assert_eq!(shown, want_shown, "netmon devices");
    eprintln!(
        "crash_safety_with_devices: {DEVICE_CRASH_ROUNDS} rounds in {:?}, clean update \
         {typical:?}, kills within {} ms: {killed} killed, {torn} between temp write and rename; \
         sent {sent:?}",
        t0.elapsed(),
        span_us / 1000
    );
    assert!(
        killed >= DEVICE_CRASH_ROUNDS / 4,
        "only {killed} runs were killed"
    );
}

// ---------------------------------------------------------------------------
// 2. Reboot and counter resets.

/// Issue 4, done-when 2: RAM copy gone and counters reset (netmon
/// re-creates its rules): totals continue from the flash copy, and what is
/// lost is exactly the traffic since the last sync.
#[test]
fn reboot_continues_from_the_persistent_copy() {
    let Some(rig) = Rig::new("reboot_continues_from_the_persistent_copy") else {
        return;
    };
    rig.ok(&["start"]);
    let a = rig.send(1000, 10);
    rig.ok(&["sync"]);
    assert_totals(&load(&rig.flash_file()), a, "persistent copy after sync");
    let flash = fs::read(rig.flash_file()).expect("read flash");
    let x = rig.send(700, 5);
    rig.ok(&["update"]);
    assert_totals(&load(&rig.ram_file()), add(a, x), "RAM copy");
    // sync_interval is 12 h by default: an update leaves flash alone.
    assert_eq!(fs::read(rig.flash_file()).expect("read"), flash);
    let y = rig.send(300, 3);
    // Reboot: tmpfs is empty and the firewall comes up without netmon's table.
    fs::remove_dir_all(&rig.state).expect("drop RAM copy");
    rig.ns.ok(&["nft", "delete", "table", "inet", "netmon"]);
    rig.ok(&["update"]);
    let st = load(&rig.ram_file());
    // Lost: exactly x + y, the traffic since the last sync.
    assert_totals(&st, a, "restored from flash");
    assert!(st.reset_pending);
    let z = rig.send(1200, 20);
    let r = Report::parse(&rig.ok(&["report", "--format", "json"]));
    assert!(r.reset_detected, "{}", r.raw);
    assert_report_totals(&r, add(a, z));
    // Everything sent, minus what was reported: the traffic since the sync.
    let sent = add(add(a, x), add(y, z));
    assert_eq!(sent.bytes - add(a, z).bytes, add(x, y).bytes);
}

/// The table is deleted and re-created by someone else (a firewall reload
/// restoring a saved ruleset): same rules, counters from zero, new handle.
/// With more traffic afterwards than the old counter held, the counter never
/// goes down: only the handle tells netmon it started again. (A boot id
/// change cannot be staged here; src/state/tests.rs covers it.)
#[test]
fn recreated_table_with_more_traffic_is_a_reset() {
    let Some(rig) = Rig::new("recreated_table_with_more_traffic_is_a_reset") else {
        return;
    };
    rig.ok(&["start"]);
    let a = rig.send(400, 4);
    rig.ok(&["update"]);
    assert_totals(&load(&rig.ram_file()), a, "before");
    let old = rig.table_handle();
    let saved = rig.ns.ok(&["nft", "-s", "list", "table", "inet", "netmon"]);
    rig.ns.ok(&["nft", "delete", "table", "inet", "netmon"]);
    let out = ns_run(&rig.ns.name, &["nft", "-f", "-"], Some(&saved));
    assert!(out.status.success(), "{out:?}");
    let new = rig.table_handle();
    assert_ne!(old, new);
    let b = rig.send(1400, 12);
    assert!(b.bytes > a.bytes && b.packets > a.packets);
    rig.ok(&["update"]);
    // netmon found its rules in place: it did not re-create them itself.
    assert_eq!(rig.table_handle(), new);
    let st = load(&rig.ram_file());
    assert_totals(&st, add(a, b), "after the re-created table");
    for n in METERS {
        assert_eq!(st.meter(n).map(|m| m.resets), Some(1), "{n}");
    }
    let r = Report::parse(&rig.ok(&["report", "--format", "json"]));
    assert!(r.reset_detected, "{}", r.raw);
}

// ---------------------------------------------------------------------------
// 3. Full disk, read-only flash.

/// A tmpfs mounted for one test, unmounted (lazily) on drop. Mounted in the
/// test's mount namespace; each `ip netns exec` copies it into its own.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Mount {
        fs::create_dir_all(at).expect("mkdir mount point");
        let opts = format!("size={size},mode=0755");
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "nmt-durable"])
            .arg(at)
            .status()
            .expect("mount");
        assert!(st.success(), "mount tmpfs on {}", at.display());
        Mount(at.to_path_buf())
    }

    fn remount(&self, opt: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{opt}")])
            .arg(&self.0)
            .status()
            .expect("mount -o remount");
        assert!(st.success(), "remount {opt} {}", self.0.display());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// ENOSPC on Linux (asm-generic/errno-base.h).
const ENOSPC: i32 = 28;

/// Writes a filler file until the file system is full.
fn fill(dir: &Path) -> PathBuf {
    let p = dir.join("filler");
    let mut f = fs::File::create(&p).expect("create filler");
    let chunk = [0xAAu8; 512];
    for _ in 0..100_000 {
        if let Err(e) = f.write_all(&chunk).and_then(|_| f.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(ENOSPC), "{e}");
            return p;
        }
    }
    panic!("{} never filled up", dir.display());
}

/// Exit 1 and one `netmon: ` line that names `path` and says `why`.
fn assert_failed_naming(out: &Output, path: &Path, why: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].starts_with("netmon: "), "{err}");
    assert!(
        lines[0].contains(path_str(path)),
        "names {}: {err}",
        path.display()
    );
    assert!(lines[0].contains(why), "says {why:?}: {err}");
}

/// Issue 4, done-when 3 (RAM side): the state dir on a full tmpfs.
#[test]
fn full_ram_disk_keeps_the_previous_state() {
    let Some(mut rig) = Rig::new("full_ram_disk_keeps_the_previous_state") else {
        return;
    };
    rig.state = rig.dir.path().join("tiny");
    let _m = Mount::tmpfs(&rig.state, "16k");
    rig.ok(&["start"]);
    let a = rig.send(500, 3);
    rig.ok(&["update"]);
    let before = fs::read(rig.ram_file()).expect("read state");
    let filler = fill(&rig.state);
    let b = rig.send(900, 2);
    let out = rig.run(&["update"]);
    assert_failed_naming(&out, &rig.state, "No space left on device");
    assert_eq!(
        fs::read(rig.ram_file()).expect("read"),
        before,
        "state changed"
    );
    assert!(!rig.state.join(".state.tmp").exists(), "temp file left");
    // Space again: the counters still hold what the failed run could not save.
    fs::remove_file(filler).expect("rm filler");
    rig.ok(&["update"]);
    assert_totals(&load(&rig.ram_file()), add(a, b), "after space came back");
}

/// Shared by the read-only and the full flash tests: `sync` fails naming the
/// persistent directory, the RAM copy is still updated, flash is untouched.
/// `break_it` returns the filler file to remove, or None to remount rw.
fn flash_failure(rig: &Rig, m: &Mount, break_it: &dyn Fn(&Mount) -> Option<PathBuf>, why: &str) {
    rig.ok(&["start"]);
    let a = rig.send(600, 5);
    rig.ok(&["sync"]);
    let flash = fs::read(rig.flash_file()).expect("read flash");
    let synced = load(&rig.flash_file()).synced;
    let filler = break_it(m);
    let b = rig.send(800, 7);
    let out = rig.run(&["sync"]);
    assert_failed_naming(&out, &rig.persist, why);
    assert_eq!(
        fs::read(rig.flash_file()).expect("read"),
        flash,
        "flash changed"
    );
    let ram = load(&rig.ram_file());
    assert_totals(&ram, add(a, b), "RAM copy after the failed sync");
    assert_eq!(ram.synced, synced, "a failed sync is not recorded as done");
    match filler {
        Some(f) => fs::remove_file(f).expect("rm filler"),
        None => m.remount("rw"),
    }
    rig.ok(&["sync"]);
    assert_totals(&load(&rig.flash_file()), add(a, b), "flash after repair");
}

/// Issue 4, done-when 3 (flash side): persist_dir read-only.
#[test]
fn read_only_flash_fails_sync_and_keeps_ram_copy() {
    let Some(mut rig) = Rig::new("read_only_flash_fails_sync_and_keeps_ram_copy") else {
        return;
    };
    rig.persist = rig.dir.path().join("ro");
    let m = Mount::tmpfs(&rig.persist, "64k");
    let ro = |m: &Mount| {
        m.remount("ro");
        None
    };
    flash_failure(&rig, &m, &ro, "Read-only file system");
}

/// Issue 4, done-when 3 (flash side): persist_dir full.
#[test]
fn full_flash_fails_sync_and_keeps_ram_copy() {
    let Some(mut rig) = Rig::new("full_flash_fails_sync_and_keeps_ram_copy") else {
        return;
    };
    rig.persist = rig.dir.path().join("full");
    let m = Mount::tmpfs(&rig.persist, "16k");
    let full = |m: &Mount| Some(fill(&m.0));
    flash_failure(&rig, &m, &full, "No space left on device");
}

// ---------------------------------------------------------------------------
// 4. Corruption.

type Damage = (&'static str, fn(&[u8]) -> Vec<u8>);

/// Ways a state file gets damaged (power loss, flash bit rot, a downgrade).
fn damages() -> [Damage; 5] {
    [
        ("truncated", |b| b[..b.len() / 2].to_vec()),
        ("empty", |_| Vec::new()),
        ("zeroed", |b| vec![0; b.len()]),
        ("bit-flipped", |b| {
            let mut v = b.to_vec();
            let i = v.len() / 2;
            v[i] ^= 0x08;
            v
        }),
        ("wrong version", |b| {
            let mut v = b.to_vec();
            v[4..6].copy_from_slice(&(netmon::state::VERSION + 1).to_le_bytes());
            v
        }),
    ]
}

/// The one new `state.bad-*` file in `dir` since `before`.
fn new_bad(dir: &Path, before: &[PathBuf]) -> PathBuf {
    let now = bad_files(dir);
    let new: Vec<&PathBuf> = now.iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(
        new.len(),
        1,
        "one new damaged copy kept in {}: {now:?}",
        dir.display()
    );
    new[0].clone()
}

/// Issue 4, done-when 4: a damaged RAM copy with a good flash copy is moved
/// aside (original bytes kept), the flash copy is used, one warning, exit 0
/// — and since the kernel counters still hold everything, nothing is lost.
#[test]
fn damaged_ram_copy_is_moved_aside_and_flash_used() {
    let Some(rig) = Rig::new("damaged_ram_copy_is_moved_aside_and_flash_used") else {
        return;
    };
    rig.ok(&["start"]);
    let mut sent = Count::default();
    for (what, damage) in damages() {
        sent = add(sent, rig.send(300, 2));
        rig.ok(&["sync"]);
        // RAM ahead of flash: the counters still hold the difference.
        sent = add(sent, rig.send(1100, 3));
        rig.ok(&["update"]);
        let bad = damage(&fs::read(rig.ram_file()).expect("read"));
        fs::write(rig.ram_file(), &bad).expect("damage");
        let kept = bad_files(&rig.state);
        let flash = fs::read(rig.flash_file()).expect("read flash");
        let out = rig.run(&["update"]);
        let err = stderr_lines(&out);
        assert!(out.status.success(), "{what}: {err:?}");
        assert_eq!(err.len(), 1, "{what}: one sentence: {err:?}");
        let aside = new_bad(&rig.state, &kept);
        for must in [
            "netmon: warning: ",
            path_str(&rig.ram_file()),
            path_str(&rig.persist),
            path_str(&aside),
        ] {
            assert!(err[0].contains(must), "{what}: {must:?} not in {err:?}");
        }
        assert_eq!(fs::read(&aside).expect("read"), bad, "{what}: kept bytes");
        // Flash is read, not rewritten (no sync due).
        assert_eq!(fs::read(rig.flash_file()).expect("read"), flash, "{what}");
        assert_totals(&load(&rig.ram_file()), sent, what);
    }
}

/// Both copies damaged: exit 1, both files left byte for byte; with
/// `--force` both are moved aside (kept) and counting starts afresh.
#[test]
fn both_copies_damaged_needs_force() {
    let Some(rig) = Rig::new("both_copies_damaged_needs_force") else {
        return;
    };
    rig.ok(&["start"]);
    let a = rig.send(200, 2);
    rig.ok(&["report", "--format", "json"]);
    rig.ok(&["sync"]);
    let d = damages();
    for (round, (what, damage)) in d.iter().enumerate() {
        assert!(load(&rig.ram_file()).meters[0].at_report.bytes > 0);
        let ram_bad = damage(&fs::read(rig.ram_file()).expect("read"));
        let flash_bad = d[(round + 1) % d.len()].1(&fs::read(rig.flash_file()).expect("read"));
        fs::write(rig.ram_file(), &ram_bad).expect("damage");
        fs::write(rig.flash_file(), &flash_bad).expect("damage");
        let (kept_r, kept_f) = (bad_files(&rig.state), bad_files(&rig.persist));
        let out = rig.run(&["update"]);
        assert_failed_naming(&out, &rig.ram_file(), "--force");
        assert_failed_naming(&out, &rig.flash_file(), "--force");
        assert_eq!(fs::read(rig.ram_file()).expect("read"), ram_bad, "{what}");
        assert_eq!(
            fs::read(rig.flash_file()).expect("read"),
            flash_bad,
            "{what}"
        );
        assert_eq!(bad_files(&rig.state), kept_r, "{what}");
        assert_eq!(bad_files(&rig.persist), kept_f, "{what}");
        let out = rig.run(&["--force", "sync"]);
        let err = stderr_lines(&out);
        assert!(out.status.success(), "{what}: {err:?}");
        assert!(
            !err.is_empty() && err.iter().all(|l| l.starts_with("netmon: warning: ")),
            "{what}: {err:?}"
        );
        let r_aside = new_bad(&rig.state, &kept_r);
        let f_aside = new_bad(&rig.persist, &kept_f);
        assert_eq!(fs::read(r_aside).expect("read"), ram_bad, "{what}");
        assert_eq!(fs::read(f_aside).expect("read"), flash_bad, "{what}");
        // Afresh: the old report mark is gone; each meter, seen for the
        // first time, counts its whole counter; both copies load and agree.
        let st = load(&rig.ram_file());
        for m in &st.meters {
            assert_eq!(m.at_report, Count::default(), "{what}: not a fresh state");
            assert_eq!(m.total, a, "{what}");
        }
        assert_eq!(load(&rig.flash_file()), st, "{what}");
        // Give the next round a report mark to lose again.
        rig.ok(&["report", "--format", "json"]);
        rig.ok(&["sync"]);
    }
}

/// After a reboot (no RAM copy) with a damaged flash copy there is nothing
/// to continue from: netmon refuses until asked with --force.
#[test]
fn reboot_with_damaged_flash_refuses_without_force() {
    let Some(rig) = Rig::new("reboot_with_damaged_flash_refuses_without_force") else {
        return;
    };
    rig.ok(&["start"]);
    rig.ok(&["sync"]);
    fs::remove_dir_all(&rig.state).expect("drop RAM");
    let bad = damages()[3].1(&fs::read(rig.flash_file()).expect("read"));
    fs::write(rig.flash_file(), &bad).expect("damage");
    let out = rig.run(&["update"]);
    assert_failed_naming(&out, &rig.flash_file(), "--force");
    assert_eq!(fs::read(rig.flash_file()).expect("read"), bad);
    assert!(!rig.ram_file().exists());
    let out = rig.run(&["--force", "update"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read(new_bad(&rig.persist, &[])).expect("read"), bad);
    load(&rig.ram_file());
}

// ---------------------------------------------------------------------------
// 4a. Older state files through the binary (issue 11, done-when 6; the
//     field-by-field checks are src/state/tests.rs and device_tests.rs).

/// Each meter's total in the RAM copy, by name.
fn meter_totals(st: &State) -> BTreeMap<String, Count> {
    Totals::of(st).meters
}

/// A golden file of an older version as the RAM copy of a router whose
/// config has its meters (`proxy` and `offnet`, the blog's), every command
/// silent: `status` reads it and leaves it alone; `update` (unless the
/// file is of a stopped netmon) and `start` write it in the current
/// version with every meter's total (and every device's) kept; then traffic adds to the totals (every
/// loopback datagram is `offnet`'s: input, from outside the LAN; none is
/// `proxy`'s), and a report and the persistent copy show them.
fn golden_file_through_the_binary(test: &str, fixture: &str, version: u8) {
    let Some(rig) = Rig::new(test) else {
        return;
    };
    fs::write(&rig.config, BLOG_CONFIG).expect("write config");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let golden = fs::read(&path).expect("read the fixture");
    assert_eq!(golden[4..6], [version, 0], "{fixture} is version {version}");
    let old_state = State::decode(&golden).expect("the fixture decodes");
    let old = meter_totals(&old_state);
    assert_eq!(old.keys().collect::<Vec<_>>(), ["offnet", "proxy"]);
    fs::create_dir_all(&rig.state).expect("mkdir state");
    fs::write(rig.ram_file(), &golden).expect("write state");
    let status = rig.ok(&["status"]);
    assert!(status.contains("meters:   proxy offnet"), "{status}");
    assert_eq!(
        fs::read(rig.ram_file()).expect("read"),
        golden,
        "status wrote"
    );
    // The version-3 golden file is of a stopped netmon: an update leaves
    // it (and the rules) alone, and `start` ends the stop.
    for action in ["update", "start"] {
        rig.ok(&[action]);
        let file = fs::read(rig.ram_file()).expect("read");
        if old_state.stopped && action == "update" {
            assert_eq!(file, golden, "{fixture}: a stopped netmon's update wrote");
            continue;
        }
        assert_eq!(
            file[4..6],
            netmon::state::VERSION.to_le_bytes(),
            "{fixture}: {action} writes the current version"
        );
        let new_state = load(&rig.ram_file());
        assert_eq!(meter_totals(&new_state), old, "{fixture}: {action}");
        let devices =
            |s: &State| -> Vec<_> { s.devices.iter().map(|d| (d.mac, d.total)).collect() };
        assert_eq!(devices(&new_state), devices(&old_state), "{fixture}");
    }
    let sent = rig.send(900, 7);
    rig.ok(&["update"]);
    let mut want = old.clone();
    want.insert("offnet".into(), add(old["offnet"], sent));
    assert_eq!(
        meter_totals(&load(&rig.ram_file())),
        want,
        "{fixture}: traffic"
    );
    let r = Report::parse(&rig.ok(&["report", "--format", "json"]));
    for (n, c) in &want {
        let m = r.meter(n);
        assert_eq!(
            (m.total_packets, m.total_bytes),
            (c.packets, c.bytes),
            "{n}"
        );
    }
    rig.ok(&["sync"]);
    assert_eq!(
        meter_totals(&load(&rig.flash_file())),
        want,
        "{fixture}: flash"
    );
}

#[test]
fn version_2_golden_file_upgrades_through_the_binary() {
    golden_file_through_the_binary(
        "version_2_golden_file_upgrades_through_the_binary",
        "state-v2.bin",
        2,
    );
}

#[test]
fn version_3_golden_file_upgrades_through_the_binary() {
    golden_file_through_the_binary(
        "version_3_golden_file_upgrades_through_the_binary",
        "state-v3.bin",
        3,
    );
}

#[test]
fn version_5_golden_file_upgrades_through_the_binary() {
    golden_file_through_the_binary(
        "version_5_golden_file_upgrades_through_the_binary",
        "state-v5.bin",
        5,
    );
}

// ---------------------------------------------------------------------------
// 4b. The decoder on mutated input (deterministic, in-process fuzzing; the
//     coverage-guided target is fuzz/fuzz_targets/state_decode.rs).

fn sample_state(meters: usize, seed: u64) -> State {
    let names: Vec<String> = (0..meters).map(|i| format!("m{i}_{seed}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut rng = Lcg(seed);
    let t0 = 1_780_000_000 + rng.below(1 << 24) as i64;
    let mut st = State::new(t0);
    let mut counts = vec![Count::default(); meters];
    for step in 0..40 {
        for c in counts.iter_mut() {
            let p = rng.below(100);
            *c = add(*c, Count::new(p, p * (40 + rng.below(1400))));
        }
        let r = Reading {
            time: t0 + step * 7_200,
            uptime: step * 7_200,
            counts: refs
                .iter()
                .zip(&counts)
                .map(|(n, c)| (Name::try_from(*n).expect("name"), *c))
                .collect(),
            generation: Generation {
                boot_id: heapless::String::try_from("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9")
                    .expect("boot id"),
                handle: 3 + step as u64 / 10,
            },
            reinstalled: false,
            closes_rates: false,
            devices: Default::default(),
        };
        st.fold(&refs, &r, &Calendar::UTC);
    }
    st.mark_reported(t0 + 100_000);
    st.synced = t0 + 50_000;
    st
}

/// One mutation of `b` (`other` for splices); true when the CRC was
/// re-sealed after it, so the field checks behind the CRC are reached too.
fn mutate(rng: &mut Lcg, b: &[u8], other: &[u8]) -> (Vec<u8>, bool) {
    let mut v = b.to_vec();
    let len = v.len() as u64;
    match rng.below(7) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(len) as usize;
                v[i] ^= 1 << rng.below(8);
            }
        }
        1 => v.truncate(rng.below(len) as usize),
        2 => {
            let i = rng.below(len) as usize;
            let j = rng.below(other.len() as u64) as usize;
            v.truncate(i);
            v.extend_from_slice(&other[j..]);
        }
        3 => {
            let i = rng.below(len) as usize;
            let n = (1 + rng.below(16) as usize).min(v.len() - i);
            for x in &mut v[i..i + n] {
                *x = rng.next() as u8;
            }
        }
        4 => {
            for _ in 0..1 + rng.below(32) {
                v.push(rng.next() as u8);
            }
        }
        _ => {
            // Flip bits in the body and recompute the CRC: a file that
            // passes the checksum with wrong or odd fields.
            for _ in 0..1 + rng.below(3) {
                let i = 4 + rng.below(len - 8) as usize;
                v[i] ^= 1 << rng.below(8);
            }
            let n = v.len() - 4;
            let crc = netmon::state::crc32(&v[..n]);
            v[n..].copy_from_slice(&crc.to_le_bytes());
            return (v, true);
        }
    }
    (v, false)
}

/// Feeds `n` mutations of encoded sample states to `State::decode`, calls
/// `check` on each accepted one. Returns (rejected, accepted).
fn mutations(n: u32, mut check: impl FnMut(u32, &[u8], State)) -> (u32, u32) {
    let samples: Vec<Vec<u8>> = [(1, 11), (2, 22), (3, 33), (0, 44)]
        .iter()
        .map(|&(n, s)| sample_state(n, s).encode())
        .collect();
    for s in &samples {
        assert_eq!(State::decode(s).map(|st| st.encode()).as_ref(), Ok(s));
    }
    let mut rng = Lcg(0x5eed_0004);
    let (mut rejected, mut accepted) = (0u32, 0u32);
    for i in 0..n {
        let a = &samples[rng.below(samples.len() as u64) as usize];
        let b = &samples[rng.below(samples.len() as u64) as usize];
        let (m, sealed) = mutate(&mut rng, a, b);
        let got = std::panic::catch_unwind(|| State::decode(&m))
            .unwrap_or_else(|_| panic!("mutation {i} panicked: {m:02x?}"));
        match got {
            Ok(st) => {
                accepted += 1;
                // Without a re-sealed CRC only an unchanged sample may pass
                // (a splice can rebuild one exactly).
                assert!(
                    sealed || samples.contains(&m),
                    "mutation {i} passed the checksum"
                );
                check(i, &m, st);
            }
            Err(_) => rejected += 1,
        }
    }
    (rejected, accepted)
}

/// No panic on 20,000 mutations (bit flips, truncations, splices, random
/// runs, appended bytes, flips behind a re-sealed CRC); every damaged file
/// with a wrong CRC is rejected; anything accepted survives its own round
/// trip (decode after encode gives the same state).
#[test]
fn decoder_survives_20000_mutations() {
    let (rejected, accepted) = mutations(20_000, |i, _, st| {
        assert_eq!(
            State::decode(&st.encode()).as_ref(),
            Ok(&st),
            "mutation {i}"
        );
    });
    eprintln!("decoder: {rejected} rejected, {accepted} accepted (CRC re-sealed)");
    assert!(rejected > 10_000 && accepted > 1_000);
}

/// Stricter: accepted bytes are canonical (they re-encode to the very same
/// bytes), so one state has exactly one file. Regression: the decoder once
/// accepted non-zero padding after a meter name or the boot id.
#[test]
fn decoder_accepts_only_canonical_bytes() {
    mutations(20_000, |i, m, st| {
        // A version-2 file (still read) is written back as version 3:
        // the same bytes but the version and the CRC.
        let mut m = m.to_vec();
        if m[4..6] == [2, 0] {
            m[4] = 3;
            let n = m.len() - 4;
            let crc = netmon::state::crc32(&m[..n]);
            m[n..].copy_from_slice(&crc.to_le_bytes());
        }
        let m = &m[..];
        let e = st.encode();
        let at = e.iter().zip(m).position(|(x, y)| x != y);
        assert!(
            e == m,
            "mutation {i} was accepted but re-encodes differently (lengths {} and {}, \
             first difference at offset {at:?})",
            e.len(),
            m.len()
        );
    });
}

// ---------------------------------------------------------------------------
// 5. Two writers and the lock.

/// Issue 4, done-when 5: two `update` loops (200 runs) and a `report` loop
/// (50 runs) race while traffic flows. A fold is computed from the counter's absolute
/// value, so a stale read alone cannot add a byte twice to the total; what
/// an unserialised writer double counts is the report periods (a report's
/// mark overwritten by a racing update makes the next report repeat its
/// bytes). So: the reports' periods plus the final one must add up to
/// exactly the kernel's count, and so must the total.
#[test]
fn concurrent_updates_never_double_count() {
    let Some(rig) = Rig::new("concurrent_updates_never_double_count") else {
        return;
    };
    rig.ok(&["start"]);
    const PER_THREAD: usize = 100;
    const REPORTS: usize = 50;
    let mut sent = Count::default();
    let mut rng = Lcg(0x0005_0005);
    let mut flows = 0;
    let periods = std::thread::scope(|s| {
        let updaters: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..PER_THREAD {
                        rig.ok(&["update"]);
                    }
                })
            })
            .collect();
        let reporter = s.spawn(|| {
            let mut sum = vec![Count::default(); METERS.len()];
            for _ in 0..REPORTS {
                let r = Report::parse(&rig.ok(&["report", "--format", "json"]));
                for (acc, n) in sum.iter_mut().zip(METERS) {
                    let m = r.meter(n);
                    *acc = add(*acc, Count::new(m.period_packets, m.period_bytes));
                }
            }
            sum
        });
        while !(updaters.iter().all(|u| u.is_finished()) && reporter.is_finished()) {
            sent = add(sent, rig.send(1 + rng.below(1400), 1 + rng.below(6)));
            flows += 1;
        }
        for u in updaters {
            u.join().expect("update thread");
        }
        reporter.join().expect("report thread")
    });
    assert!(flows >= 5, "only {flows} flows overlapped the writers");
    let r = Report::parse(&rig.ok(&["report", "--format", "json"]));
    assert_report_totals(&r, sent);
    assert!(!r.reset_detected, "{}", r.raw);
    for (acc, n) in periods.iter().zip(METERS) {
        let m = r.meter(n);
        let all = add(*acc, Count::new(m.period_packets, m.period_bytes));
        assert_eq!(
            all, sent,
            "{n}: the report periods add up to more or less than was sent"
        );
    }
    assert_totals(&load(&rig.ram_file()), sent, "after 250 concurrent runs");
    eprintln!("two writers: {flows} flows, {sent:?}, during 250 runs");
}

/// A held lock makes netmon wait (without touching the state), then it
/// proceeds once the lock is free. The 30 s timeout is not waited for here.
#[test]
fn second_netmon_waits_for_the_lock() {
    let Some(rig) = Rig::new("second_netmon_waits_for_the_lock") else {
        return;
    };
    rig.ok(&["start"]);
    let lock = rig.state.join("lock");
    let state = rig.ram_file();
    let t0 = Instant::now();
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sleep", "1.5"])
        .spawn()
        .expect("flock");
    // Wait until the lock is really held (`flock -n` fails with 99 then).
    loop {
        let probe = Command::new("flock")
            .args(["-n", "-E", "99"])
            .arg(&lock)
            .arg("true")
            .status()
            .expect("flock -n");
        if probe.code() == Some(99) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "holder never took the lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = rig.send(100, 1);
    let ino = fs::metadata(&state).expect("state").ino();
    let mut waiter = rig
        .cmd(&["update"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        waiter.try_wait().expect("try_wait").is_none(),
        "did not wait"
    );
    assert_eq!(
        fs::metadata(&state).expect("state").ino(),
        ino,
        "wrote while locked"
    );
    let status = waiter.wait().expect("wait");
    let elapsed = t0.elapsed();
    let _ = holder.wait();
    assert!(status.success(), "{status:?}");
    assert!(
        elapsed >= Duration::from_millis(1500),
        "finished after {elapsed:?}, before the lock was free"
    );
    assert_totals(&load(&state), sent, "after waiting");
}

// ---------------------------------------------------------------------------
// 6. Clock: local days and billing months through the binary (no root:
//    `daily` only reads the state). The calendar arithmetic here is
//    independent of netmon's (H. Hinnant's civil-date algorithms).

fn date(t: i64) -> String {
    let (y, m, d) = civil(t);
    format!("{y:04}-{m:02}-{d:02}")
}

fn date_days(s: &str) -> i64 {
    let p: Vec<i64> = s.split('-').map(|x| x.parse().expect("date")).collect();
    days_from_civil(p[0], p[1], p[2])
}

fn days_in_month(y: i64, m: i64) -> i64 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)
}

/// EU rule (CET-1CEST,M3.5.0,M10.5.0/3): summer time from 01:00 UTC on the
/// last Sunday of March to 01:00 UTC on the last Sunday of October.
fn cet_offset(t: i64) -> i64 {
    let (y, _, _) = civil(t);
    // 1970-01-01 was a Thursday: weekday = (days + 4) mod 7, 0 = Sunday.
    let last_sunday = |m: i64| {
        let d = days_from_civil(y, m, 31);
        d - (d + 4).rem_euclid(7)
    };
    let start = last_sunday(3) * 86_400 + 3_600;
    let end = last_sunday(10) * 86_400 + 3_600;
    if (start..end).contains(&t) {
        7_200
    } else {
        3_600
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// `netmon daily ARGS --format json` with `TZ` and no state (rows of zeros,
/// labelled); returns the JSON and the times just before and after it ran.
fn daily_json(tz: &str, config: &str, args: &[&str]) -> (Json, i64, i64) {
    let dir = TempDir::new("nmt-dur-tz");
    let cfg = dir.path().join("netmon.conf");
    fs::write(&cfg, config).expect("write config");
    let mut c = Command::new(NETMON);
    c.arg("--config")
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.path().join("ram"))
        .arg("--persist-dir")
        .arg(dir.path().join("flash"))
        .arg("daily")
        .args(args)
        .args(["--format", "json"])
        .env("TZ", tz);
    let before = unix_now();
    let out = run_timeout(c);
    let after = unix_now();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf8");
    let j = Json::parse(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    (j, before, after)
}

fn labels(j: &Json, key: &str, field: &str) -> Vec<String> {
    let Some(Json::Arr(rows)) = j.get(key) else {
        panic!("no {key} in {j:?}")
    };
    rows.iter()
        .map(|r| match r.get(field) {
            Some(Json::Str(s)) => s.clone(),
            other => panic!("{field}: {other:?}"),
        })
        .collect()
}

/// Seconds east of UTC at a UTC time.
type Offset = fn(i64) -> i64;

#[test]
fn daily_labels_today_by_the_local_zone() {
    let cases: [(&str, Offset); 3] = [
        ("CET-1CEST,M3.5.0,M10.5.0/3", cet_offset),
        ("AAA-14", |_| 14 * 3_600),
        ("BBB+12", |_| -12 * 3_600),
    ];
    for (tz, offset) in cases {
        let (j, t0, t1) = daily_json(tz, CONFIG, &["--days", "3"]);
        let days = labels(&j, "days", "date");
        assert_eq!(days.len(), 3, "{tz}");
        let want: Vec<String> = [t0, t1].iter().map(|&t| date(t + offset(t))).collect();
        assert!(
            want.contains(&days[2]),
            "{tz}: today {} not in {want:?}",
            days[2]
        );
        let today = date_days(&days[2]);
        assert_eq!(date_days(&days[1]), today - 1, "{tz}: {days:?}");
        assert_eq!(date_days(&days[0]), today - 2, "{tz}: {days:?}");
    }
}

/// `option billing_day '31'`: a period starts on the 31st, or on the last
/// day of a shorter month (28/29 February, 30 April...).
#[test]
fn billing_day_31_labels_month_starts_at_month_ends() {
    let cfg = CONFIG.replacen(
        "\toption backend 'nft'\n",
        "\toption backend 'nft'\n\toption billing_day '31'\n",
        1,
    );
    assert!(cfg.contains("billing_day"));
    let (j, t0, t1) = daily_json("UTC", &cfg, &["--months"]);
    let starts = labels(&j, "months", "start");
    assert_eq!(starts.len(), 24);
    // Today's period, computed independently at both ends of the run.
    let want: Vec<String> = [t0, t1]
        .iter()
        .map(|&t| {
            let (y, m, d) = civil(t);
            let (y, m) = if d >= 31.min(days_in_month(y, m)) {
                (y, m)
            } else if m == 1 {
                (y - 1, 12)
            } else {
                (y, m - 1)
            };
            format!("{y:04}-{m:02}-{:02}", 31.min(days_in_month(y, m)))
        })
        .collect();
    assert!(want.contains(&starts[23]), "{} not in {want:?}", starts[23]);
    // Every period starts on its month's clamped billing day, months in a row.
    let ymd: Vec<Vec<i64>> = starts
        .iter()
        .map(|s| s.split('-').map(|x| x.parse().expect("n")).collect())
        .collect();
    for w in ymd.windows(2) {
        let next = if w[0][1] == 12 {
            (w[0][0] + 1, 1)
        } else {
            (w[0][0], w[0][1] + 1)
        };
        assert_eq!((w[1][0], w[1][1]), next, "{starts:?}");
    }
    for q in &ymd {
        assert_eq!(q[2], 31.min(days_in_month(q[0], q[1])), "{starts:?}");
    }
    assert!(starts
        .iter()
        .any(|s| s.ends_with("-02-28") || s.ends_with("-02-29")));
}

/// The autumn DST day (25 hours) through the public state API: the unit
/// tests in src/state/tests.rs cover the 23-hour spring day only. On
/// 2026-10-25 in Berlin, local Oct 25 runs from 22:00 UTC on the 24th to
/// 23:00 UTC on the 25th; a reading 24 h after the day began is still in it.
#[test]
fn dst_autumn_day_has_25_hours() {
    let zone = netmon::tz::Zone::parse("CET-1CEST,M3.5.0,M10.5.0/3").expect("zone");
    let cal = Calendar {
        zone,
        ..Calendar::UTC
    };
    let utc = |d: i64, h: i64, m: i64| (days_from_civil(2026, 10, d) * 24 + h) * 3_600 + m * 60;
    let mut st = State::new(utc(24, 0, 0));
    let names = ["wan"];
    for (t, bytes) in [
        (utc(24, 21, 30), 0),  // Oct 24, 23:30 CEST
        (utc(24, 22, 30), 10), // Oct 25, 00:30 CEST
        (utc(25, 22, 30), 30), // Oct 25, 23:30 CET: 24 h later, same day
        (utc(25, 23, 0), 60),  // Oct 26, 00:00 CET
    ] {
        let r = Reading {
            time: t,
            uptime: 0,
            counts: [(
                Name::try_from("wan").expect("name"),
                Count::new(bytes, bytes),
            )]
            .into_iter()
            .collect(),
            generation: Generation::default(),
            reinstalled: false,
            closes_rates: false,
            devices: Default::default(),
        };
        st.fold(&names, &r, &cal);
    }
    let m = st.meter("wan").expect("meter");
    let day = |d| m.day(days_from_civil(2026, 10, d)).bytes;
    assert_eq!((day(24), day(25), day(26)), (0, 30, 30));
    assert_eq!(m.month(2026 * 12 + 9).bytes, 60);
}
