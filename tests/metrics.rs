//! `netmon metrics` and `option metrics_file`, black box: the lab's router
//! with the WAN meters and per-device accounting, real UDP traffic from
//! two LAN devices, a used-up quota on one, the admin's block on the
//! other, whose name (from dnsmasq's lease file) is hostile.
//!
//! - `promtool check metrics` (Debian's prometheus package) accepts the
//!   exposition, from stdout and from the textfile alike.
//! - Every meter's and device's value equals what `report --format json`,
//!   `devices --format json` and `quota --format json` say at the same
//!   moment (no traffic in between); the hostile name is escaped as the
//!   exposition format says, with no raw control character.
//! - With `metrics_file` set, an update writes the file (its directory
//!   made), equal to a following `netmon metrics` but for the update's
//!   timestamp; a file that cannot be written is a warning, never a lost
//!   update.
//!
//! Root, the backend's tools and promtool are needed (SKIPPED otherwise,
//! a failure under CI).

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// A device name a DHCP client chose: quote, backslash, ESC, CR, a bidi
/// override and a C1 control (CSI), no blank (a lease field ends there).
const HOSTILE: &str = "q\"b\\s\x1b[1m\rz\u{202e}x\u{9b}";
/// `HOSTILE` as a label value in the exposition.
const HOSTILE_LABEL: &str = "q\\\"b\\\\s\\\\x1b[1m\\\\x0dz\\\\u{202e}x\\\\x9b";
/// The quota's upload limit, bytes: the peer's upload is over it.
const LIMIT: u64 = 1000;

fn config(metrics_file: &str) -> String {
    format!(
        "config netmon 'main'
\toption metrics_file '{metrics_file}'

{DEVICES_CONFIG}
config quota 'cap'
\tlist device '{Q_MAC}'
\toption period 'day'
\toption limit '{LIMIT}'
\toption direction 'up'
\toption action 'block'
"
    )
}

/// One sample of the exposition.
#[derive(Debug)]
struct Sample {
    family: String,
    labels: Vec<(String, String)>,
    value: String,
}

/// The samples of `text`, label values unescaped (`\\`, `\"`, `\n`, the
/// only escapes the format has: anything else fails the test).
fn samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (head, value) = line.rsplit_once(' ').expect(line);
        let (family, labels) = match head.split_once('{') {
            Some((f, rest)) => (f, labels(rest.strip_suffix('}').expect(line))),
            None => (head, Vec::new()),
        };
        out.push(Sample {
            family: family.to_string(),
            labels,
            value: value.to_string(),
        });
    }
    out
}

/// `name="value",...` (the closing brace taken off).
fn labels(mut s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while !s.is_empty() {
        let (name, rest) = s.split_once("=\"").expect(s);
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("an unterminated label value") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().map(|c| c.1) {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => panic!("escape \\{other:?} in {rest}"),
                },
                (_, c) => value.push(c),
            }
        };
        out.push((name.to_string(), value));
        s = rest[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&rest[end + 1..]);
    }
    out
}

/// The one sample of `family` whose labels include `want`.
fn find<'a>(all: &'a [Sample], family: &str, want: &[(&str, &str)]) -> &'a Sample {
    let hits: Vec<&Sample> = all
        .iter()
        .filter(|s| s.family == family)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.iter().any(|(n, x)| n == k && x == v))
        })
        .collect();
    assert_eq!(hits.len(), 1, "{family} {want:?} in {all:#?}");
    hits[0]
}

fn value(all: &[Sample], family: &str, want: &[(&str, &str)]) -> u64 {
    find(all, family, want).value.parse().expect("an integer")
}

fn label<'a>(s: &'a Sample, name: &str) -> &'a str {
    let v = s.labels.iter().find(|(n, _)| n == name);
    v.map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} in {s:?}"))
}

/// A name as netmon shows it in a label value, unescaped: controls and
/// bidi format characters as the visible `\x1b` and `\u{202e}`, line
/// feeds as themselves.
fn shown(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '\n' => c.to_string(),
            c if c.is_control() => format!("\\x{:02x}", c as u32),
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                format!("\\u{{{:04x}}}", c as u32)
            }
            c => c.to_string(),
        })
        .collect()
}

/// `promtool check metrics` on `text`: must pass.
fn promtool_accepts(text: &str, what: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).expect("write to promtool");
    drop(stdin);
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics refused {what}:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(text: &str) -> Json {
    Json::parse(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn str_of(j: &Json, key: &str) -> Option<String> {
    match j.get(key) {
        Some(Json::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

fn num_of(j: &Json, key: &str) -> u64 {
    j.get(key).and_then(Json::as_u64).expect(key)
}

/// Every meter of the JSON report, by total bytes and packets.
fn check_meters(m: &[Sample], report: &Json) {
    let meters = report
        .get("meters")
        .and_then(Json::as_array)
        .expect("meters");
    assert!(!meters.is_empty());
    for j in meters {
        let name = str_of(j, "name").expect("name");
        let want = [("meter", name.as_str()), ("retired", "0")];
        let bytes = value(m, "netmon_meter_bytes_total", &want);
        assert_eq!(bytes, num_of(j, "total_bytes"), "{name}");
        let packets = value(m, "netmon_meter_packets_total", &want);
        assert_eq!(packets, num_of(j, "total_packets"), "{name}");
    }
    let n = m.iter().filter(|s| s.family == "netmon_meter_bytes_total");
    assert_eq!(n.count(), meters.len(), "one sample per meter");
}

/// Every device with usage this month (all of it, in a test that runs
/// within one day) by download and upload bytes, and by name; no other
/// device has usage in the metrics.
fn check_devices(m: &[Sample], devices: &Json) {
    let list = devices
        .get("devices")
        .and_then(Json::as_array)
        .expect("devices");
    let mut macs = Vec::new();
    for d in list {
        let mac = str_of(d, "mac").unwrap_or_else(|| "other".into());
        for (dir, key) in [("down", "download_bytes"), ("up", "upload_bytes")] {
            let want = [("mac", mac.as_str()), ("direction", dir)];
            let got = value(m, "netmon_device_bytes_total", &want);
            assert_eq!(got, num_of(d, key), "{mac} {dir}");
            let s = find(m, "netmon_device_bytes_total", &want);
            let name = str_of(d, "name").unwrap_or_default();
            assert_eq!(label(s, "name"), shown(&name), "{mac}");
        }
        macs.push(mac);
    }
    for s in m.iter().filter(|s| s.family == "netmon_device_bytes_total") {
        let mac = label(s, "mac");
        assert!(
            s.value == "0" || macs.iter().any(|x| x == mac),
            "{s:?} has usage the devices list has not"
        );
    }
}

/// The quota's rows: used, limit, cut, as `netmon quota --format json`.
fn check_quotas(m: &[Sample], quota: &Json) {
    let rows = quota
        .get("quotas")
        .and_then(Json::as_array)
        .expect("quotas");
    assert!(!rows.is_empty());
    for q in rows {
        let (name, mac) = (
            str_of(q, "quota").expect("quota"),
            str_of(q, "mac").expect("mac"),
        );
        let want = [("quota", name.as_str()), ("mac", mac.as_str())];
        assert_eq!(
            value(m, "netmon_quota_used_bytes", &want),
            num_of(q, "used")
        );
        assert_eq!(
            value(m, "netmon_quota_limit_bytes", &want),
            num_of(q, "limit")
        );
        let cut = u64::from(q.get("cut") == Some(&Json::Bool(true)));
        assert_eq!(value(m, "netmon_quota_cut", &want), cut, "{mac}");
    }
}

/// Runs and checks everything on one backend.
fn metrics_match_the_reports(test: &str, backend: Backend) {
    let mut tools = backend.tools().to_vec();
    if backend != Backend::Nft {
        tools.push("ipset");
    }
    tools.push("promtool");
    if !require_root_tools(test, &tools) {
        return;
    }
    let lab = Lab::new(false);
    if backend != Backend::Nft {
        br_netfilter_on(&lab.r);
    }
    let (r, p, q, o) = (&lab.r, &lab.p, &lab.q, &lab.o);
    let mut nm = Netmon::new(r, backend, Some(DEVICES_CONFIG));
    // Outside /tmp, which `with_files` overlays.
    nm.state = TempDir::new_in(Path::new("/dev/shm"), "nmt-state");
    nm.persist = TempDir::new_in(Path::new("/dev/shm"), "nmt-persist");
    let prom_dir = TempDir::new_in(Path::new("/dev/shm"), "nmt-prom");
    let prom = prom_dir.path().join("prometheus/netmon.prom");
    nm.ok(&["start"]);
    udp_between(p, "192.168.1.10", o, "10.99.0.2", 800, 3);
    udp_between(o, "10.99.0.2", p, "192.168.1.10", 1200, 2);
    udp_between(q, "192.168.1.20", o, "10.99.0.2", 600, 3);
    udp_between(o, "10.99.0.2", q, "192.168.1.20", 300, 2);
    // The proxy's name comes from dnsmasq's lease file.
    let lease = format!("1767225600 {P_MAC} 192.168.1.10 {HOSTILE} 01:{P_MAC}\n");
    with_files(&nm, &[("/tmp/dhcp.leases", &lease)], &["update"]);
    // Now the quota (the peer's upload is over it already) and the textfile.
    std::fs::write(&nm.config, config(prom.to_str().expect("utf-8 path"))).expect("config");
    nm.ok(&["update"]);
    nm.ok(&["block", P_MAC]);

    // The textfile: written by the update, its directory made.
    nm.ok(&["update"]);
    let file = std::fs::read_to_string(&prom).expect("the metrics file after update");
    let text = nm.ok(&["metrics"]);
    promtool_accepts(&text, "netmon metrics");
    promtool_accepts(&file, "the metrics file");
    let stamp = "netmon_last_update_timestamp_seconds ";
    let but_stamp = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with(stamp))
            .map(String::from)
            .collect()
    };
    assert_eq!(but_stamp(&file), but_stamp(&text), "file and stdout");
    assert_eq!(
        std::fs::read_to_string(&prom).expect("file"),
        text,
        "rewritten by metrics"
    );

    // The same moment: no traffic since `metrics`.
    let report = json(&nm.ok(&["report", "--format", "json"]));
    let devices = json(&nm.ok(&["devices", "--format", "json"]));
    let quota = json(&nm.ok(&["quota", "--format", "json"]));
    let m = samples(&text);
    check_meters(&m, &report);
    check_devices(&m, &devices);
    check_quotas(&m, &quota);

    // The hostile name, escaped; nothing but line ends is a control.
    let raw = format!("mac=\"{P_MAC}\",name=\"{HOSTILE_LABEL}\",direction=\"down\"}}");
    assert!(text.contains(&raw), "{raw} in {text}");
    for l in text.lines() {
        assert!(!l.chars().any(char::is_control), "{l:?}");
    }
    let s = find(
        &m,
        "netmon_device_bytes_total",
        &[("mac", P_MAC), ("direction", "up")],
    );
    assert_eq!(label(s, "name"), shown(HOSTILE));

    // The block and the quota's cut, one sample each.
    let blocked: Vec<&Sample> = m
        .iter()
        .filter(|s| s.family == "netmon_device_blocked")
        .collect();
    assert_eq!(blocked.len(), 2, "{blocked:?}");
    let by_admin = find(&m, "netmon_device_blocked", &[("mac", P_MAC)]);
    assert_eq!(label(by_admin, "reason"), "block");
    let by_quota = find(&m, "netmon_device_blocked", &[("mac", Q_MAC)]);
    assert_eq!(
        (label(by_quota, "reason"), label(by_quota, "quota")),
        ("quota", "cap")
    );
    assert_eq!(value(&m, "netmon_quota_cut", &[("mac", Q_MAC)]), 1);
    let since = value(&m, "netmon_total_start_timestamp_seconds", &[]);
    let updated = value(&m, "netmon_last_update_timestamp_seconds", &[]);
    assert!(
        since > 1_700_000_000 && updated >= since,
        "{since} {updated}"
    );

    // A file that cannot be written: said, and the update is saved (a
    // second later, so its time shows).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&nm.config, config("/proc/nmt/netmon.prom")).expect("config");
    let out = nm.run(&["update"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("the metrics file is not written"), "{err}");
    let after = samples(&nm.ok(&["metrics"]));
    let stamp_of = |m: &[Sample]| value(m, "netmon_last_update_timestamp_seconds", &[]);
    assert!(stamp_of(&after) > updated, "the update was saved");
}

per_backend!(metrics_match_the_reports: metrics_nft, metrics_iptables_nft, metrics_iptables_legacy);
