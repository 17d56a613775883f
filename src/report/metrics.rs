//! Prometheus metrics: the text exposition format, version 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>), for
//! `netmon metrics` and the textfile (`option metrics_file`).
//!
//! Invariants a scraper relies on: every family has one `# HELP` and one
//! `# TYPE` line before its samples, its samples are contiguous, and all
//! samples of a family carry the same label names. Families come in a
//! fixed order; meters in report order (configured, then retired), devices
//! by MAC with `other` last, quotas in config order. Counters are the
//! running totals since `total_start` (they only go down when the admin
//! forgets a meter or a device leaves the state). Device names are the
//! LAN's choice: `text::write_label_value` makes them valid UTF-8 with no
//! raw control character. Cardinality is bounded by `max_devices`.

use crate::device::Mac;
use crate::state::{Count, DeviceState, State};
use crate::text::{write_label_value, Buf};

/// One device's standing against one quota.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct QuotaRow<'a> {
    pub quota: &'a str,
    pub mac: Mac,
    pub used: u64,
    pub limit: u64,
    /// The quota cuts the device now.
    pub cut: bool,
}

/// A device cut off now: by the admin's block (`quota` `None`) or by a
/// used-up quota.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Blocked<'a> {
    pub mac: Mac,
    pub quota: Option<&'a str>,
}

/// What the metrics show.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Metrics<'a> {
    pub st: &'a State,
    /// The configured meters, in config order (retired ones come from `st`).
    pub meters: &'a [&'a str],
    pub quotas: Vec<QuotaRow<'a>>,
    pub blocked: Vec<Blocked<'a>>,
}

/// A label: its name and its value's bytes (escaped when written).
type Label<'a> = (&'a str, &'a [u8]);

/// Writes the exposition of `m`.
pub fn render(m: &Metrics<'_>, b: &mut Buf) {
    meters(m, b);
    devices(m.st, b);
    quotas(m, b);
    blocked(m, b);
    let times = [
        (
            "netmon_last_update_timestamp_seconds",
            "Time of the last reading folded into the totals (Unix seconds).",
            m.st.updated,
        ),
        (
            "netmon_total_start_timestamp_seconds",
            "Time the running totals start from (Unix seconds).",
            m.st.created,
        ),
    ];
    for (name, help, t) in times {
        header(b, name, "gauge", help);
        sample(b, name, &[], &num_i64(t));
    }
}

fn meters(m: &Metrics<'_>, b: &mut Buf) {
    let names = super::meter_names(m.st, m.meters);
    let families = [
        (
            "netmon_meter_bytes_total",
            "Bytes a meter counted since total_start.",
            (|c: Count| c.bytes) as fn(Count) -> u64,
        ),
        (
            "netmon_meter_packets_total",
            "Packets a meter counted since total_start.",
            |c: Count| c.packets,
        ),
    ];
    for (family, help, value) in families {
        header(b, family, "counter", help);
        for name in &names {
            let total = m.st.meter(name).map_or(Count::default(), |s| s.total);
            let retired: &[u8] = if m.meters.contains(name) { b"0" } else { b"1" };
            let labels = [("meter", name.as_bytes()), ("retired", retired)];
            sample(b, family, &labels, &crate::text::num(value(total)));
        }
    }
}

fn devices(st: &State, b: &mut Buf) {
    let families = [
        (
            "netmon_device_bytes_total",
            "Bytes a LAN device downloaded or uploaded since total_start; mac=\"other\" \
             sums the devices that did not fit.",
            (|c: Count| c.bytes) as fn(Count) -> u64,
        ),
        (
            "netmon_device_packets_total",
            "Packets a LAN device downloaded or uploaded since total_start; mac=\"other\" \
             sums the devices that did not fit.",
            |c: Count| c.packets,
        ),
    ];
    let other = (st.other.total != Default::default()).then_some(&st.other);
    for (family, help, value) in families {
        header(b, family, "counter", help);
        for d in st.devices.iter().chain(other) {
            let mac = mac_text(d.mac);
            for (dir, c) in [("down", d.total.down), ("up", d.total.up)] {
                let labels = [
                    ("mac", mac.as_bytes()),
                    ("name", d.name.as_slice()),
                    ("direction", dir.as_bytes()),
                ];
                sample(b, family, &labels, &crate::text::num(value(c)));
            }
        }
    }
}

fn quotas(m: &Metrics<'_>, b: &mut Buf) {
    let families = [
        (
            "netmon_quota_used_bytes",
            "Bytes a device used of a quota in its current period.",
            (|q: &QuotaRow<'_>| q.used) as fn(&QuotaRow<'_>) -> u64,
        ),
        (
            "netmon_quota_limit_bytes",
            "A quota's limit per device and period.",
            |q| q.limit,
        ),
        (
            "netmon_quota_cut",
            "1 when the quota cuts the device off now, else 0.",
            |q| u64::from(q.cut),
        ),
    ];
    for (family, help, value) in families {
        header(b, family, "gauge", help);
        for q in &m.quotas {
            let mac = mac_text(q.mac);
            let labels = [
                ("quota", q.quota.as_bytes()),
                ("mac", mac.as_bytes()),
                ("name", name_of(m.st, q.mac)),
            ];
            sample(b, family, &labels, &crate::text::num(value(q)));
        }
    }
}

fn blocked(m: &Metrics<'_>, b: &mut Buf) {
    let family = "netmon_device_blocked";
    header(
        b,
        family,
        "gauge",
        "1 for each device cut off now and why: reason=\"block\" (netmon block) or \
         reason=\"quota\" (the quota named).",
    );
    for c in &m.blocked {
        let mac = mac_text(c.mac);
        let (reason, quota): (&[u8], &[u8]) = match c.quota {
            None => (b"block", b""),
            Some(q) => (b"quota", q.as_bytes()),
        };
        let labels = [
            ("mac", mac.as_bytes()),
            ("name", name_of(m.st, c.mac)),
            ("reason", reason),
            ("quota", quota),
        ];
        sample(b, family, &labels, &crate::text::num(1));
    }
}

/// `# HELP` and `# TYPE` of a family. `help` is ours: it holds no
/// backslash or line feed (the two characters HELP text escapes).
fn header(b: &mut Buf, family: &str, kind: &str, help: &str) {
    b.fill(
        "# HELP {} {}\n# TYPE {} {}\n",
        &[family, help, family, kind],
    );
}

/// `family{label="value",...} value`.
fn sample(b: &mut Buf, family: &str, labels: &[Label<'_>], value: &Buf) {
    b.push_bytes(family.as_bytes());
    for (i, (name, v)) in labels.iter().enumerate() {
        b.push_bytes(if i == 0 { b"{" } else { b"," });
        b.push_bytes(name.as_bytes());
        b.push_bytes(b"=\"");
        write_label_value(b, v);
        b.push_bytes(b"\"");
    }
    if !labels.is_empty() {
        b.push_bytes(b"}");
    }
    b.push_bytes(b" ");
    b.push_bytes(value.as_bytes());
    b.push_bytes(b"\n");
}

fn num_i64(v: i64) -> Buf {
    let mut b = Buf::new();
    let _ = ufmt::uwrite!(b, "{}", v);
    b
}

/// A device's MAC as a label value: `other` for the devices that did not fit.
fn mac_text(mac: Mac) -> Buf {
    let mut b = Buf::new();
    if mac == Mac::OTHER {
        b.push_bytes(b"other");
    } else {
        let _ = mac.write(&mut b);
    }
    b
}

/// The device's name, empty when unknown (or not in the state).
fn name_of(st: &State, mac: Mac) -> &[u8] {
    st.device(mac)
        .map_or(&[], |d: &DeviceState| d.name.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{device, hostile_state, state};
    use crate::state::MeterState;

    fn out(m: &Metrics<'_>) -> String {
        let mut b = Buf::new();
        render(m, &mut b);
        b.into_string()
    }

    fn metrics<'a>(st: &'a State, meters: &'a [&'a str]) -> Metrics<'a> {
        Metrics {
            st,
            meters,
            quotas: Vec::new(),
            blocked: Vec::new(),
        }
    }

    /// The family of each line, in order, and whether every family's
    /// HELP and TYPE come once, first, and its samples stay together.
    fn families(text: &str) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        let mut lines = text.lines().peekable();
        while let Some(l) = lines.next() {
            let help = l.strip_prefix("# HELP ").expect(l);
            let name = help.split(' ').next().unwrap_or("").to_string();
            assert!(!seen.contains(&name), "{name} twice in {text}");
            let ty = lines.next().unwrap_or("");
            assert!(ty.starts_with(&format!("# TYPE {name} ")), "{ty}");
            while let Some(s) = lines.next_if(|l| !l.starts_with('#')) {
                let head = s.split(['{', ' ']).next().unwrap_or("");
                assert_eq!(head, name, "{s} in {name}'s samples");
            }
            seen.push(name);
        }
        seen
    }

    #[test]
    fn every_family_has_help_and_type_and_keeps_its_samples_together() {
        let mut st = hostile_state();
        st.other.total.down = Count::new(3, 300);
        st.created = 1_764_000_000;
        st.updated = 1_764_000_300;
        let mut gone = MeterState::new("old");
        gone.total = Count::new(2, 20);
        st.meters.push(gone);
        let mut m = metrics(&st, &["wan_down"]);
        m.quotas.push(QuotaRow {
            quota: "cap",
            mac: Mac([2, 0, 0, 0, 0, 1]),
            used: 5,
            limit: 9,
            cut: false,
        });
        m.blocked.push(Blocked {
            mac: Mac([2, 0, 0, 0, 0, 2]),
            quota: None,
        });
        let t = out(&m);
        assert_eq!(
            families(&t),
            [
                "netmon_meter_bytes_total",
                "netmon_meter_packets_total",
                "netmon_device_bytes_total",
                "netmon_device_packets_total",
                "netmon_quota_used_bytes",
                "netmon_quota_limit_bytes",
                "netmon_quota_cut",
                "netmon_device_blocked",
                "netmon_last_update_timestamp_seconds",
                "netmon_total_start_timestamp_seconds",
            ]
        );
        for want in [
            "# TYPE netmon_meter_bytes_total counter\n",
            "# TYPE netmon_quota_cut gauge\n",
            "netmon_meter_bytes_total{meter=\"wan_down\",retired=\"0\"} 0\n",
            "netmon_meter_packets_total{meter=\"old\",retired=\"1\"} 2\n",
            "netmon_device_bytes_total{mac=\"other\",name=\"\",direction=\"down\"} 300\n",
            "netmon_quota_limit_bytes{quota=\"cap\",mac=\"02:00:00:00:00:01\",name=\"<script>alert(1)</script>\"} 9\n",
            "netmon_device_blocked{mac=\"02:00:00:00:00:02\",name=\"\\\\x1b[31mred\\\\x1b[0m\",reason=\"block\",quota=\"\"} 1\n",
            "netmon_last_update_timestamp_seconds 1764000300\n",
            "netmon_total_start_timestamp_seconds 1764000000\n",
        ] {
            assert!(t.contains(want), "{want} in {t}");
        }
    }

    #[test]
    fn devices_come_by_mac_down_then_up_then_other() {
        let mut st = state(vec![device(2, b"b", 10, 20), device(1, b"a", 30, 40)]);
        st.other.total.up = Count::new(1, 7);
        let t = out(&metrics(&st, &[]));
        let bytes: Vec<&str> = t
            .lines()
            .filter(|l| l.starts_with("netmon_device_bytes_total{"))
            .collect();
        assert_eq!(
            bytes,
            [
                "netmon_device_bytes_total{mac=\"02:00:00:00:00:01\",name=\"a\",direction=\"down\"} 1030",
                "netmon_device_bytes_total{mac=\"02:00:00:00:00:01\",name=\"a\",direction=\"up\"} 50",
                "netmon_device_bytes_total{mac=\"02:00:00:00:00:02\",name=\"b\",direction=\"down\"} 1010",
                "netmon_device_bytes_total{mac=\"02:00:00:00:00:02\",name=\"b\",direction=\"up\"} 30",
                "netmon_device_bytes_total{mac=\"other\",name=\"\",direction=\"down\"} 0",
                "netmon_device_bytes_total{mac=\"other\",name=\"\",direction=\"up\"} 7",
            ]
        );
        // `other` without traffic is left out; an empty state has families only.
        let t = out(&metrics(&State::new(0), &[]));
        assert!(!t.contains("{mac=\"other\""), "{t}");
        assert_eq!(t.lines().filter(|l| !l.starts_with('#')).count(), 2, "{t}");
    }

    #[test]
    fn hostile_names_are_escaped_and_no_control_gets_through() {
        let st = state(vec![
            device(1, b"q\"\\\n\r\x1b\xff\x7f", 1, 1),
            device(2, "a\u{202e}b\u{9b}".as_bytes(), 1, 1),
        ]);
        let t = out(&metrics(&st, &[]));
        assert!(
            t.contains("name=\"q\\\"\\\\\\n\\\\x0d\\\\x1b\u{fffd}\\\\x7f\""),
            "{t}"
        );
        assert!(t.contains("name=\"a\\\\u{202e}b\\\\x9b\""), "{t}");
        // Line feeds end lines only; nothing else is a control.
        for l in t.lines() {
            assert!(!l.chars().any(char::is_control), "{l:?}");
        }
    }

    #[test]
    fn label_values_escape_only_what_the_format_says() {
        let mut b = Buf::new();
        write_label_value(&mut b, b"plain \xc3\xa9 \\ \" \n end");
        assert_eq!(b.as_str(), "plain é \\\\ \\\" \\n end");
    }
}
