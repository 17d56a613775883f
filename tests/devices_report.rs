//! Devices in the outputs (issue 11), black box: devices are put into a
//! state file (as a fold would have left them), then the netmon binary
//! shows them. Checked:
//! - `report` (text and JSON) lists the devices of the period, largest
//!   first, at most 10, `other`, and "N more devices";
//! - `devices --format text|json|tsv`;
//! - `daily --device` by name and by MAC, the exact bytes of the buckets,
//!   per day and per billing month, in tsv, csv and json;
//! - hostile names (markup, an ANSI colour, CR/LF, 300 bytes kept as 63,
//!   invalid UTF-8, a bidi override) come out escaped in every format.
//!
//! `daily` needs no root (it only reads the state); `report` and
//! `devices` update first, so they run as root in a namespace with nft
//! (SKIPPED otherwise, failure under CI). The mail's HTML part is checked
//! in mail_report.rs.
//!
//! Run: `cargo test --test devices_report`.

mod common;

use common::*;
use netmon::device::{DeviceName, Mac};
use netmon::state::{Bucket, Calendar, Count, DeviceState, DownUp, State};
use netmon::state::{DEVICE_DAYS, DEVICE_MONTHS};
use std::path::Path;
use std::process::{Command, Output};

/// Names chosen by a hostile LAN, the largest device first.
const HOSTILE: [&[u8]; 6] = [
    b"<script>alert(1)</script>",
    b"\x1b[31mred\x1b[0m",
    b"cr\r\nlf",
    &[b'A'; 300],
    b"bad\xff\xfename",
    "a\u{202e}evil".as_bytes(),
];

fn mac(n: u8) -> Mac {
    Mac([2, 0, 0, 0, 0, n])
}

fn mac_text(n: u8) -> String {
    format!("02:00:00:00:00:{n:02x}")
}

/// Device `mac(n)` named `name` (cut to 63 bytes, as the name sources
/// cut it) with `down`/`up` bytes since the last report.
fn device(n: u8, name: &[u8], down: u64, up: u64) -> DeviceState {
    let mut d = DeviceState::new(mac(n));
    d.name = DeviceName::from_slice(&name[..name.len().min(63)]).unwrap();
    d.total = DownUp::new(Count::new(1, down), Count::new(1, up));
    d
}

/// The hostile devices (bytes 6000, 5000, ... down; 7 up each) and five
/// unnamed ones of 100 down and 1 up: eleven, one more than a report lists.
fn devices() -> Vec<DeviceState> {
    let mut v: Vec<DeviceState> = (HOSTILE.iter().enumerate())
        .map(|(i, n)| device(i as u8 + 1, n, 6000 - 1000 * i as u64, 7))
        .collect();
    v.extend((0x20..0x25).map(|i| device(i, b"", 100, 1)));
    v
}

fn put(st: &mut State, mut devs: Vec<DeviceState>) {
    devs.sort_by_key(|d| d.mac);
    st.devices = devs;
}

fn load(path: &Path) -> State {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    State::decode(&b).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

/// Rewrites the state file in `dir` through `f`.
fn edit(dir: &Path, f: impl FnOnce(&mut State)) {
    let path = dir.join("state");
    let mut st = load(&path);
    f(&mut st);
    std::fs::write(&path, st.encode()).unwrap();
}

/// `nm`'s command with days counted in UTC, as the tests count them.
fn run_utc(nm: &Netmon, args: &[&str]) -> String {
    let mut cmd = nm.command(args);
    cmd.env("TZ", "UTC0");
    let out = run_timeout(cmd);
    let so = String::from_utf8(out.stdout).expect("UTF-8 output");
    assert!(
        out.status.success(),
        "netmon {args:?}: {so}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

fn no_controls(s: &str, allowed: &[char]) {
    for (i, l) in s.lines().enumerate() {
        let bad = l.chars().find(|c| c.is_control() && !allowed.contains(c));
        assert_eq!(bad, None, "line {i} {l:?}");
        assert!(!l.contains('\u{202e}'), "bidi override in {l:?}");
    }
}

fn setup(test: &str) -> Option<(Netns, Netmon)> {
    if !require_root_tools(test, &["nft"]) {
        return None;
    }
    let ns = Netns::new(&unique("nmt-devrep"));
    let nm = Netmon::new(&ns, Backend::Nft, Some(BLOG_CONFIG));
    nm.ok(&["start"]);
    Some((ns, nm))
}

#[test]
fn report_lists_the_devices_of_the_period_escaped() {
    let Some((_ns, nm)) = setup("report_lists_the_devices_of_the_period_escaped") else {
        return;
    };
    let seed = |st: &mut State| {
        put(st, devices());
        st.other.total.up = Count::new(1, 2048);
        st.other.at_report = DownUp::default();
    };
    edit(nm.state.path(), seed);
    let text = nm.ok(&["report"]);
    no_controls(&text, &[]);
    let at = text
        .find("\nDevices since the last report:\n")
        .expect(&text);
    let lines: Vec<&str> = text[at..].lines().collect();
    assert_eq!(
        lines[2],
        "    device                    mac                    download        upload"
    );
    assert_eq!(
        lines[3],
        "    <script>alert(1)</scrip…  02:00:00:00:00:01      5.86 KiB           7 B"
    );
    for (line, name) in [
        (4, "\\x1b[31mred\\x1b[0m"),
        (5, "cr\\x0d\\x0alf"),
        (6, &format!("{}…", "A".repeat(23))),
        (7, "bad\u{fffd}\u{fffd}name"),
        (8, "a\\u{202e}evil"),
    ] {
        assert!(lines[line].starts_with(&format!("    {name} ")), "{text}");
    }
    assert!(lines[9].starts_with("    02:00:00:00:00:20  "), "{text}");
    assert_eq!(
        lines[13],
        "    (other devices)           -                           0 B      2.00 KiB"
    );
    assert_eq!(lines[14], "    1 more device: 101 B");

    // The report marked the period: a second one lists no traffic.
    let again = nm.ok(&["report"]);
    assert!(
        again.contains("\nDevices since the last report:\n    no device traffic\n"),
        "{again}"
    );

    edit(nm.state.path(), seed);
    let raw = nm.ok(&["report", "--format", "json"]);
    let j = Json::parse(raw.trim()).unwrap_or_else(|e| panic!("{e}: {raw}"));
    let list = j.get("devices").and_then(Json::as_array).expect(&raw);
    assert_eq!(list.len(), 11, "10 devices and other: {raw}");
    let name = |i: usize| match list[i].get("name") {
        Some(Json::Str(s)) => Some(s.clone()),
        Some(Json::Null) => None,
        other => panic!("name {other:?}"),
    };
    assert_eq!(name(0).as_deref(), Some("<script>alert(1)</script>"));
    assert_eq!(name(1).as_deref(), Some("\x1b[31mred\x1b[0m"));
    assert_eq!(name(2).as_deref(), Some("cr\r\nlf"));
    assert_eq!(name(3), Some("A".repeat(63)));
    assert_eq!(name(4).as_deref(), Some("bad\u{fffd}\u{fffd}name"));
    assert_eq!(name(5).as_deref(), Some("a\u{202e}evil"));
    assert_eq!(name(6), None);
    assert!(!raw.contains('\x1b') && !raw.contains('\r'), "{raw}");
    for (i, d) in list.iter().take(6).enumerate() {
        assert_eq!(d.get("mac"), Some(&Json::Str(mac_text(i as u8 + 1))));
        let n = |k: &str| d.get(k).and_then(Json::as_u64).unwrap();
        assert_eq!(
            (n("download_bytes"), n("upload_bytes")),
            (6000 - 1000 * i as u64, 7)
        );
    }
    let other = &list[10];
    assert_eq!(other.get("mac"), Some(&Json::Null));
    assert_eq!(other.get("other"), Some(&Json::Bool(true)));
    assert_eq!(other.get("upload_bytes").and_then(Json::as_u64), Some(2048));
    let more = j.get("more_devices").expect(&raw);
    assert_eq!(more.get("count").and_then(Json::as_u64), Some(1));
    assert_eq!(more.get("download_bytes").and_then(Json::as_u64), Some(100));
    assert_eq!(more.get("upload_bytes").and_then(Json::as_u64), Some(1));
    nm.ok(&["stop"]);
}

#[test]
fn report_without_devices_has_no_devices_section() {
    let Some((_ns, nm)) = setup("report_without_devices_has_no_devices_section") else {
        return;
    };
    assert!(!nm.ok(&["report"]).contains("Devices"));
    assert!(!nm.ok(&["report", "--format", "json"]).contains("devices"));
    nm.ok(&["stop"]);
}

#[test]
fn devices_lists_the_hostile_names_escaped_in_every_format() {
    let Some((_ns, nm)) = setup("devices_lists_the_hostile_names_escaped_in_every_format") else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let cal = Calendar::UTC;
    let p = cal.period(cal.day(now));
    edit(nm.state.path(), |st| {
        let mut devs = devices();
        for d in devs.iter_mut() {
            let slot = p.rem_euclid(DEVICE_MONTHS as i32) as usize;
            let count = (d.total.down.bytes, d.total.up.bytes);
            d.months[slot] = Bucket { key: p, count };
        }
        put(st, devs);
    });
    let text = run_utc(&nm, &["devices"]);
    no_controls(&text, &[]);
    for (n, name) in [
        (1, "<script>alert(1)</scrip…"),
        (2, "\\x1b[31mred\\x1b[0m"),
        (3, "cr\\x0d\\x0alf"),
        (5, "bad\u{fffd}\u{fffd}name"),
        (6, "a\\u{202e}evil"),
    ] {
        let want = format!("\n{name:<24}  {} ", mac_text(n));
        assert!(text.contains(&want), "{want:?} in\n{text}");
    }
    assert_eq!(text.lines().count(), 2 + 11, "{text}");

    let tsv = run_utc(&nm, &["devices", "--format", "tsv"]);
    no_controls(&tsv, &['\t']);
    let rows: Vec<Vec<&str>> = tsv.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 12, "{tsv}");
    assert!(rows.iter().all(|r| r.len() == 7), "{tsv}");
    assert_eq!(
        rows[3][..5],
        ["cr\\x0d\\x0alf", "02:00:00:00:00:03", "4000", "7", "4007"]
    );
    assert_eq!(rows[4][0], "A".repeat(63));

    let raw = run_utc(&nm, &["devices", "--format", "json"]);
    let j = Json::parse(raw.trim()).unwrap_or_else(|e| panic!("{e}: {raw}"));
    let list = j.get("devices").and_then(Json::as_array).expect(&raw);
    assert_eq!(list.len(), 11);
    assert_eq!(
        list[1].get("name"),
        Some(&Json::Str("\x1b[31mred\x1b[0m".into()))
    );
    assert_eq!(
        list[4].get("name"),
        Some(&Json::Str("bad\u{fffd}\u{fffd}name".into()))
    );
    assert!(!raw.contains('\x1b') && !raw.contains('\r'), "{raw}");
    nm.ok(&["stop"]);
}

// ---------------------------------------------------------------------------
// daily --device: no firewall, no root.

/// A config, a state dir holding `st`, and a persist dir.
struct Dirs {
    dir: TempDir,
}

impl Dirs {
    fn new(st: &State) -> Dirs {
        let dir = TempDir::new("nmt-daily-dev");
        for d in ["state", "persist"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("state/state"), st.encode()).unwrap();
        std::fs::write(dir.path().join("netmon.conf"), BLOG_CONFIG).unwrap();
        Dirs { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        let p = |n: &str| self.dir.path().join(n);
        let mut cmd = Command::new(NETMON);
        cmd.arg("--config").arg(p("netmon.conf"));
        cmd.arg("--state-dir").arg(p("state"));
        cmd.arg("--persist-dir").arg(p("persist"));
        cmd.args(["--backend", "nft"]).args(args).env("TZ", "UTC0");
        run_timeout(cmd)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `2024-10-04` of a day number.
fn date(day: i64) -> String {
    let (y, m, d) = civil(day * 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Buckets of the device `tv` (and a namesake-free neighbour with other
/// numbers): days `today-1` and `today-3`, this period and the one before.
/// (day or period key, download, upload) of a bucket.
type Put<K> = [(K, u64, u64); 2];

fn daily_state(today: i64) -> (State, Put<i64>, Put<i32>) {
    let cal = Calendar::UTC;
    let days = [(today - 3, 1_048_576, 5), (today - 1, 123_456_789_012, 42)];
    let p = cal.period(today);
    let months = [(p - 1, 7, 8), (p, 9_999_999_999, 1)];
    let mut tv = device(1, b"tv", 0, 0);
    let mut other = device(2, b"\x1b[31mred\x1b[0m", 0, 0);
    for (d, ring) in [(&mut tv, 1), (&mut other, 2)] {
        for &(k, down, up) in &days {
            let slot = k.rem_euclid(DEVICE_DAYS as i64) as usize;
            let k = k as i32;
            d.days[slot] = Bucket {
                key: k,
                count: (down * ring, up * ring),
            };
        }
        for &(k, down, up) in &months {
            let slot = k.rem_euclid(DEVICE_MONTHS as i32) as usize;
            d.months[slot] = Bucket {
                key: k,
                count: (down * ring, up * ring),
            };
        }
    }
    let mut st = State::new(now() - 40 * 86_400);
    put(&mut st, vec![tv, other]);
    (st, days, months)
}

#[test]
fn daily_device_by_name_and_by_mac_has_the_bytes_of_its_buckets() {
    let today = now().div_euclid(86_400);
    let (st, days, months) = daily_state(today);
    let dirs = Dirs::new(&st);
    let raw = dirs.ok(&["daily", "--device", "tv", "--days", "6", "--format", "json"]);
    assert_eq!(
        raw,
        dirs.ok(&[
            "daily",
            "--device",
            "02:00:00:00:00:01",
            "--days",
            "6",
            "--format",
            "json"
        ]),
        "by MAC as by name"
    );
    let j = Json::parse(raw.trim()).unwrap_or_else(|e| panic!("{e}: {raw}"));
    assert_eq!(j.get("unit"), Some(&Json::Str("bytes".into())));
    let rows = j.get("days").and_then(Json::as_array).expect(&raw);
    assert_eq!(rows.len(), 6);
    let mut seen = 0;
    for r in rows {
        let Some(Json::Str(d)) = r.get("date") else {
            panic!("{raw}")
        };
        let b = r.get("bytes").unwrap();
        let got = (
            b.get("download").and_then(Json::as_u64).unwrap(),
            b.get("upload").and_then(Json::as_u64).unwrap(),
        );
        // By date: the test may cross midnight (then every bucket is still
        // among the last 6 days).
        let want = days.iter().find(|k| date(k.0) == *d).map_or((0, 0), |k| {
            seen += 1;
            (k.1, k.2)
        });
        assert_eq!(got, want, "{d} in {raw}");
    }
    assert_eq!(seen, 2, "{raw}");

    // The other device, by its (hostile) name; csv and tsv in MiB.
    let csv = dirs.ok(&[
        "daily",
        "--device",
        "\x1b[31mred\x1b[0m",
        "--days",
        "4",
        "--format",
        "csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "Date,download,upload");
    assert_eq!(lines.len(), 5);
    assert!(
        csv.contains(&format!("{},2.00,0.00\n", date(today - 3))),
        "{csv}"
    );
    let tsv = dirs.ok(&["daily", "--device", "02-00-00-00-00-02", "--days", "31"]);
    assert_eq!(tsv.lines().count(), 32);
    assert!(tsv.starts_with("Date\tdownload\tupload\n"), "{tsv}");

    let raw = dirs.ok(&["daily", "--device", "tv", "--months", "--format", "json"]);
    let j = Json::parse(raw.trim()).unwrap();
    let rows = j.get("months").and_then(Json::as_array).expect(&raw);
    assert_eq!(rows.len(), DEVICE_MONTHS, "{raw}");
    let cal = Calendar::UTC;
    let cell = |i: usize, k: &str| {
        rows[i]
            .get("bytes")
            .and_then(|b| b.get(k))
            .and_then(Json::as_u64)
    };
    let start = |i: usize| rows[i].get("start").cloned();
    assert_eq!(
        start(11),
        Some(Json::Str(date(cal.period_start(months[1].0))))
    );
    assert_eq!(
        start(10),
        Some(Json::Str(date(cal.period_start(months[0].0))))
    );
    assert_eq!(
        (cell(11, "download"), cell(11, "upload")),
        (Some(9_999_999_999), Some(1))
    );
    assert_eq!(
        (cell(10, "download"), cell(10, "upload")),
        (Some(7), Some(8))
    );
    assert!((0..10).all(|i| cell(i, "download") == Some(0) && cell(i, "upload") == Some(0)));
}

/// One `netmon: ` line, exit 2.
fn usage_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("netmon: ") && err.lines().count() == 1,
        "{err:?}"
    );
    assert!(out.stdout.is_empty());
    err
}

#[test]
fn daily_device_that_names_no_single_device_is_a_usage_error() {
    let (mut st, _, _) = daily_state(now().div_euclid(86_400));
    st.devices.push(device(3, b"phone", 1, 1));
    st.devices.push(device(4, b"phone", 1, 1));
    let dirs = Dirs::new(&st);
    let err = usage_error(&dirs.run(&["daily", "--device", "laptop"]));
    assert_eq!(
        err,
        "netmon: no device 'laptop' in the state (neither a MAC nor a device's name): \
         netmon devices lists them\n"
    );
    let err = usage_error(&dirs.run(&["daily", "--device", "02:00:00:00:00:99"]));
    assert!(err.contains("netmon devices lists them"), "{err}");
    let err = usage_error(&dirs.run(&["daily", "--device", "TV\x1b[2J"]));
    assert!(
        err.contains("'TV\\x1b[2J'"),
        "the name is shown escaped: {err:?}"
    );
    let err = usage_error(&dirs.run(&["daily", "--device", "phone"]));
    assert_eq!(
        err,
        "netmon: 2 devices are named 'phone' (02:00:00:00:00:03, 02:00:00:00:00:04): \
         give --device the MAC of the one you mean\n"
    );
    // The MAC picks one of them.
    dirs.ok(&["daily", "--device", "02:00:00:00:00:04"]);
}
