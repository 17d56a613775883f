//! The terminal report, laid out like the blog's mail: period, then per
//! meter the usage and the current total, then "Total since"; then the
//! devices of the period (when the state has devices) and the history.
//! Device names go through `text::write_terminal_safe`: no control
//! character of theirs reaches the terminal (or the mail's text part).

use super::devices::{mac_text, write_shown, Row};
use super::{DeviceList, Report};
use crate::device::Offload;
use crate::text::Buf;
use crate::units::write_human as size;

/// Longest device name shown (escapes count in full; a longer one is cut
/// and ends in `…`).
pub const DEVICE_NAME_CHARS: usize = 24;

pub fn render(r: &Report<'_>, b: &mut Buf) {
    b.push_bytes(b"Network usage between ");
    let _ = r.zone.write_human(b, r.from);
    b.push_bytes(b" and ");
    let _ = r.zone.write_human(b, r.to);
    b.push_bytes(b"\n");
    if r.reset_detected {
        b.push_bytes(
            b"== RESET DETECTED == (counters restarted since the last report; usage is counted from the new counters)\n",
        );
    }
    if r.offload != Offload::Off {
        b.fill("Note: {}.\n", &[r.offload.sentence()]);
    }
    for row in &r.rows {
        let retired = if row.retired {
            " (retired: no longer in the config; netmon forget removes it)"
        } else {
            ""
        };
        let _ = ufmt::uwrite!(b, "\n{}{}:\n    Usage:         ", row.name, retired);
        let _ = size(b, row.period.bytes);
        let _ = ufmt::uwrite!(
            b,
            "  ({} bytes, {} packets)\n    Current Total: ",
            row.period.bytes,
            row.period.packets
        );
        let _ = size(b, row.total.bytes);
        let _ = ufmt::uwrite!(
            b,
            "  ({} bytes, {} packets)\n",
            row.total.bytes,
            row.total.packets
        );
    }
    b.push_bytes(b"\nTotal since: ");
    let _ = r.zone.write_human(b, r.total_since);
    b.push_bytes(b"\n");
    if let Some(d) = &r.devices {
        devices(d, b);
    }
    if let Some(t) = &r.table {
        table(r, t, b);
    }
}

/// `Devices since the last report:`, a row per device (name, MAC,
/// download, upload), then `N more devices: X` when the list was cut.
fn devices(d: &DeviceList<'_>, b: &mut Buf) {
    b.push_bytes(b"\nDevices since the last report:\n");
    if d.top.is_empty() {
        b.push_bytes(b"    no device traffic\n");
        return;
    }
    let names: Vec<Buf> = d.top.iter().map(device_name).collect();
    let width = names
        .iter()
        .map(|n| n.as_str().chars().count())
        .fold(6, usize::max);
    b.push_bytes(b"    ");
    pad_right(b, b"device", 6, width);
    b.push_bytes(b"  ");
    pad_right(b, b"mac", 3, 17);
    for head in [&b"download"[..], b"upload"] {
        b.push_bytes(b"  ");
        pad_left(b, head);
    }
    b.push_bytes(b"\n");
    let mut cell = Buf::new();
    for (row, name) in d.top.iter().zip(&names) {
        b.push_bytes(b"    ");
        pad_right(b, name.as_bytes(), name.as_str().chars().count(), width);
        b.push_bytes(b"  ");
        cell.clear();
        mac_text(&mut cell, row.dev.mac);
        pad_right(b, cell.as_bytes(), cell.as_bytes().len(), 17);
        for v in [row.down, row.up] {
            cell.clear();
            let _ = size(&mut cell, v);
            b.push_bytes(b"  ");
            pad_left(b, cell.as_bytes());
        }
        b.push_bytes(b"\n");
    }
    if d.more > 0 {
        let noun = if d.more == 1 { "device" } else { "devices" };
        let _ = ufmt::uwrite!(b, "    {} more {}: ", d.more, noun);
        let _ = size(b, d.more_down.saturating_add(d.more_up));
        b.push_bytes(b"\n");
    }
}

fn device_name(r: &Row<'_>) -> Buf {
    let mut b = Buf::new();
    write_shown(&mut b, r.dev, DEVICE_NAME_CHARS);
    b
}

/// `cell` (`chars` characters wide) and spaces up to `width`.
fn pad_right(b: &mut Buf, cell: &[u8], chars: usize, width: usize) {
    b.push_bytes(cell);
    for _ in chars..width {
        b.push_bytes(b" ");
    }
}

/// Column width of the history table: `1023.99 GiB` fits.
const COL: usize = 12;

fn pad_left(b: &mut Buf, cell: &[u8]) {
    for _ in cell.len()..COL {
        b.push_bytes(b" ");
    }
    b.push_bytes(cell);
}

fn table(r: &Report<'_>, t: &super::Table, b: &mut Buf) {
    b.push_bytes(if t.months {
        b"\nMonth from "
    } else {
        b"\nDate       "
    });
    for row in &r.rows {
        b.push_bytes(b" ");
        pad_left(b, row.name.as_bytes());
    }
    b.push_bytes(b"\n");
    let mut cell = Buf::new();
    for (day, vals) in &t.rows {
        let _ = crate::time::write_date(b, *day);
        for v in vals {
            cell.clear();
            let _ = size(&mut cell, *v);
            b.push_bytes(b" ");
            pad_left(b, cell.as_bytes());
        }
        b.push_bytes(b"\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Row;
    use crate::state::Count;

    fn report(zone: crate::tz::Zone) -> Report<'static> {
        Report {
            from: 0,
            to: 3600,
            total_since: 0,
            reset_detected: true,
            rows: vec![Row {
                name: "proxy",
                period: Count::new(3, 1536),
                total: Count::new(9, 3 << 30),
                retired: false,
            }],
            table: Some(crate::report::Table {
                months: false,
                rows: vec![(20_000, vec![1536])],
            }),
            zone,
            devices: None,
            offload: Default::default(),
        }
    }

    #[test]
    fn blog_layout_with_reset_line() {
        let mut b = Buf::new();
        render(&report(crate::tz::Zone::UTC), &mut b);
        let t = b.as_str();
        assert!(t.starts_with("Network usage between 1970-01-01 00:00:00 UTC and 1970-01-01 01:00:00 UTC\n== RESET DETECTED =="));
        assert!(t.contains("proxy:\n    Usage:         1.50 KiB  (1536 bytes, 3 packets)\n    Current Total: 3.00 GiB  (3221225472 bytes, 9 packets)\n"));
        assert!(t.ends_with("Total since: 1970-01-01 00:00:00 UTC\n\nDate               proxy\n2024-10-04     1.50 KiB\n"));
    }

    #[test]
    fn times_are_the_routers_local_time() {
        let cet = crate::tz::Zone::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        let mut r = report(cet);
        // 2026-07-01 10:00 UTC is summer time in Berlin.
        r.to = 1_782_900_000;
        let mut b = Buf::new();
        render(&r, &mut b);
        let t = b.as_str();
        assert!(
            t.starts_with(
                "Network usage between 1970-01-01 01:00:00 CET and 2026-07-01 12:00:00 CEST\n"
            ),
            "{t}"
        );
        assert!(t.contains("Total since: 1970-01-01 01:00:00 CET\n"), "{t}");
    }

    #[test]
    fn retired_meters_say_so() {
        let mut r = report(crate::tz::Zone::UTC);
        r.rows[0].retired = true;
        r.table = None;
        let mut b = Buf::new();
        render(&r, &mut b);
        assert!(b.as_str().contains(
            "\nproxy (retired: no longer in the config; netmon forget removes it):\n    Usage:"
        ));
    }

    #[test]
    fn devices_of_the_period_escaped_and_cut() {
        let mut devs: Vec<_> = crate::report::fixture::HOSTILE
            .iter()
            .enumerate()
            .map(|(i, n)| crate::report::fixture::device(i as u8 + 1, n, 6000 - 1000 * i as u64, 7))
            .collect();
        // Five small unnamed ones: 11 devices, one more than listed.
        devs.extend((20..25).map(|i| crate::report::fixture::device(i, b"", 100, 1)));
        let mut st = crate::report::fixture::state(devs);
        st.other.total.down = Count::new(1, 2048);
        let mut r = report(crate::tz::Zone::UTC);
        r.table = None;
        r.devices = crate::report::DeviceList::of(&st);
        let mut b = Buf::new();
        render(&r, &mut b);
        let t = b.as_str();
        let devices = &t[t.find("\nDevices since the last report:\n").expect(t)..];
        assert!(
            !devices.replace('\n', "").chars().any(char::is_control),
            "{t:?}"
        );
        assert!(!devices.contains('\u{202e}'), "{t}");
        let lines: Vec<&str> = devices.lines().collect();
        assert_eq!(
            lines[2],
            "    device                    mac                    download        upload"
        );
        assert_eq!(
            lines[3],
            "    <script>alert(1)</scrip…  02:00:00:00:00:01      5.86 KiB           7 B"
        );
        assert!(lines[4].starts_with("    \\x1b[31mred\\x1b[0m        02:00:00:00:00:02  "));
        assert!(lines[5].starts_with("    cr\\x0d\\x0alf              02:00:00:00:00:03  "));
        assert!(lines[6].starts_with(&format!("    {}…  02:00:00:00:00:04", "A".repeat(23))));
        assert!(
            lines[7].starts_with("    bad\u{fffd}\u{fffd}name"),
            "{}",
            lines[7]
        );
        assert!(lines[8].starts_with("    a\\u{202e}evil "), "{}", lines[8]);
        assert_eq!(
            lines[13],
            "    (other devices)           -                      2.00 KiB           0 B"
        );
        assert_eq!(lines[14], "    1 more device: 101 B");
        assert_eq!(lines.len(), 15, "{devices}");
    }

    #[test]
    fn devices_on_without_traffic_say_so() {
        let st =
            crate::report::fixture::state(vec![crate::report::fixture::device(1, b"tv", 0, 0)]);
        let mut r = report(crate::tz::Zone::UTC);
        r.table = None;
        r.devices = crate::report::DeviceList::of(&st);
        let mut b = Buf::new();
        render(&r, &mut b);
        assert!(b
            .as_str()
            .ends_with("\n\nDevices since the last report:\n    no device traffic\n"));
    }
}
