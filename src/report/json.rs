//! JSON report, a fixed shape scripts can rely on:
//! `{"from","to","reset_detected","flow_offloading" ("off", "software"
//! or "hardware"),"meters":[{"name","period_bytes",
//! "period_packets","total_bytes","total_packets","total_since"}]}`,
//! times in RFC 3339 UTC, counts as exact integers. A meter no longer in
//! the config carries `"retired":true` after its name.
//!
//! When the state has devices, `"devices":[{"mac","name","download_bytes",
//! "upload_bytes"}]` follows the meters: usage since the last report, at
//! most `REPORT_DEVICES` devices with usage, largest total first, then the
//! devices that did not fit in the kernel sets as `{"mac":null,
//! "name":null,…,"other":true}` when they have usage. `name` is null when
//! unknown; it is the name's bytes as a JSON string (invalid UTF-8 as
//! U+FFFD). When devices were left out, `"more_devices":{"count",
//! "download_bytes","upload_bytes"}` sums them. Then the optional history
//! (`"days"` or `"months"`).

use super::{DeviceList, Report};
use crate::text::{num, Buf};
use crate::time::write_rfc3339;

/// Writes `s` as a JSON string (RFC 8259 section 7 escapes).
pub fn write_string(b: &mut Buf, s: &str) {
    b.push_bytes(b"\"");
    for c in s.chars() {
        match c {
            '"' => b.push_bytes(b"\\\""),
            '\\' => b.push_bytes(b"\\\\"),
            '\n' => b.push_bytes(b"\\n"),
            '\r' => b.push_bytes(b"\\r"),
            '\t' => b.push_bytes(b"\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let v = c as u32;
                let hex = b"0123456789abcdef";
                b.push_bytes(b"\\u");
                for shift in [12, 8, 4, 0] {
                    b.push_bytes(&[hex[((v >> shift) & 0xf) as usize]]);
                }
            }
            c => {
                let mut tmp = [0u8; 4];
                b.push_bytes(c.encode_utf8(&mut tmp).as_bytes());
            }
        }
    }
    b.push_bytes(b"\"");
}

fn time(b: &mut Buf, t: i64) {
    b.push_bytes(b"\"");
    let _ = write_rfc3339(b, t);
    b.push_bytes(b"\"");
}

pub fn render(r: &Report<'_>, b: &mut Buf) {
    b.push_bytes(b"{\"from\":");
    time(b, r.from);
    b.push_bytes(b",\"to\":");
    time(b, r.to);
    b.push_bytes(if r.reset_detected {
        b",\"reset_detected\":true"
    } else {
        b",\"reset_detected\":false"
    });
    b.fill(
        ",\"flow_offloading\":\"{}\",\"meters\":[",
        &[r.offload.as_str()],
    );
    for (i, row) in r.rows.iter().enumerate() {
        if i > 0 {
            b.push_bytes(b",");
        }
        b.push_bytes(b"{\"name\":");
        write_string(b, row.name);
        if row.retired {
            b.push_bytes(b",\"retired\":true");
        }
        let _ = ufmt::uwrite!(
            b,
            ",\"period_bytes\":{},\"period_packets\":{},\"total_bytes\":{},\"total_packets\":{},\"total_since\":",
            row.period.bytes,
            row.period.packets,
            row.total.bytes,
            row.total.packets
        );
        time(b, r.total_since);
        b.push_bytes(b"}");
    }
    b.push_bytes(b"]");
    if let Some(d) = &r.devices {
        devices(d, b);
    }
    if let Some(t) = &r.table {
        table(r, t, b);
    }
    b.push_bytes(b"}\n");
}

fn devices(d: &DeviceList<'_>, b: &mut Buf) {
    b.push_bytes(b",\"devices\":[");
    for (i, r) in d.top.iter().enumerate() {
        b.push_bytes(if i == 0 { b"{" } else { b",{" });
        super::devices::json_identity(b, r.dev);
        down_up(b, r.down, r.up);
        if r.is_other() {
            b.push_bytes(b",\"other\":true");
        }
        b.push_bytes(b"}");
    }
    b.push_bytes(b"]");
    if d.more > 0 {
        b.push_bytes(b",\"more_devices\":{\"count\":");
        b.push_bytes(num(d.more as u64).as_bytes());
        down_up(b, d.more_down, d.more_up);
        b.push_bytes(b"}");
    }
}

/// `,"download_bytes":N,"upload_bytes":M`.
fn down_up(b: &mut Buf, down: u64, up: u64) {
    let _ = ufmt::uwrite!(b, ",\"download_bytes\":{},\"upload_bytes\":{}", down, up);
}

/// `"days":[{"date":"…","bytes":{"name":N,…}},…]` (or `"months"`/`"start"`).
fn table(r: &Report<'_>, t: &super::Table, b: &mut Buf) {
    b.push_bytes(if t.months {
        b",\"months\":["
    } else {
        b",\"days\":["
    });
    for (i, (day, vals)) in t.rows.iter().enumerate() {
        if i > 0 {
            b.push_bytes(b",");
        }
        b.push_bytes(if t.months {
            b"{\"start\":\""
        } else {
            b"{\"date\":\""
        });
        let _ = crate::time::write_date(b, *day);
        b.push_bytes(b"\",\"bytes\":{");
        for (j, (row, v)) in r.rows.iter().zip(vals.iter()).enumerate() {
            if j > 0 {
                b.push_bytes(b",");
            }
            write_string(b, row.name);
            let _ = ufmt::uwrite!(b, ":{}", *v);
        }
        b.push_bytes(b"}}");
    }
    b.push_bytes(b"]");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Row;
    use crate::state::Count;

    /// Every format says when flow offloading is on, and what it does.
    #[test]
    fn offloading_is_said_in_every_format() {
        use crate::device::Offload;
        let mut r = Report {
            from: 0,
            to: 60,
            total_since: 0,
            reset_detected: false,
            rows: Vec::new(),
            table: None,
            zone: crate::tz::Zone::UTC,
            devices: None,
            offload: Offload::Software,
        };
        let (mut j, mut t, mut h) = (Buf::new(), Buf::new(), Buf::new());
        render(&r, &mut j);
        crate::report::text::render(&r, &mut t);
        crate::report::html::render(&r, &[], &[], &mut h);
        assert!(
            j.as_str().contains("\"flow_offloading\":\"software\""),
            "{}",
            j.as_str()
        );
        for out in [t.as_str(), h.as_str()] {
            assert!(
                out.contains("software flow offloading is on: meters on the input"),
                "{out}"
            );
        }
        r.offload = Offload::Hardware;
        let mut t = Buf::new();
        crate::report::text::render(&r, &mut t);
        assert!(t.as_str().contains("no software counter sees them"));
        r.offload = Offload::Off;
        let mut t = Buf::new();
        crate::report::text::render(&r, &mut t);
        assert!(!t.as_str().contains("offloading"));
    }

    #[test]
    fn exact_shape() {
        let r = Report {
            from: 60,
            to: 120,
            total_since: 0,
            reset_detected: false,
            rows: vec![
                Row {
                    name: "offnet",
                    period: Count::new(1, 2),
                    total: Count::new(3, u64::MAX),
                    retired: false,
                },
                Row {
                    name: "old",
                    period: Count::default(),
                    total: Count::new(1, 10),
                    retired: true,
                },
            ],
            table: None,
            zone: crate::tz::Zone::UTC,
            devices: None,
            offload: Default::default(),
        };
        let mut b = Buf::new();
        render(&r, &mut b);
        assert_eq!(
            b.as_str(),
            "{\"from\":\"1970-01-01T00:01:00Z\",\"to\":\"1970-01-01T00:02:00Z\",\"reset_detected\":false,\"flow_offloading\":\"off\",\"meters\":[{\"name\":\"offnet\",\"period_bytes\":2,\"period_packets\":1,\"total_bytes\":18446744073709551615,\"total_packets\":3,\"total_since\":\"1970-01-01T00:00:00Z\"},{\"name\":\"old\",\"retired\":true,\"period_bytes\":0,\"period_packets\":0,\"total_bytes\":10,\"total_packets\":1,\"total_since\":\"1970-01-01T00:00:00Z\"}]}\n"
        );
    }

    #[test]
    fn optional_history() {
        let r = Report {
            from: 0,
            to: 0,
            total_since: 0,
            reset_detected: false,
            rows: vec![Row {
                name: "a",
                period: Count::default(),
                total: Count::default(),
                retired: false,
            }],
            table: Some(crate::report::Table {
                months: true,
                rows: vec![(0, vec![7])],
            }),
            zone: crate::tz::Zone::UTC,
            devices: None,
            offload: Default::default(),
        };
        let mut b = Buf::new();
        render(&r, &mut b);
        assert!(b
            .as_str()
            .ends_with("}],\"months\":[{\"start\":\"1970-01-01\",\"bytes\":{\"a\":7}}]}\n"));
    }

    #[test]
    fn escapes() {
        let mut b = Buf::new();
        write_string(&mut b, "a\"b\\c\n\u{1}<é>");
        assert_eq!(b.as_str(), "\"a\\\"b\\\\c\\n\\u0001<é>\"");
    }

    #[test]
    fn devices_exact_shape_with_escapes_other_and_the_cut() {
        use crate::report::fixture::{device, state, HOSTILE};
        let mut devs: Vec<_> = (HOSTILE.iter().enumerate())
            .map(|(i, n)| device(i as u8 + 1, n, 60 - 10 * i as u64, 7))
            .collect();
        devs.push(device(9, b"", 2, 0));
        devs.extend((20..24).map(|i| device(i, b"x", 1, 0)));
        let mut st = state(devs);
        st.other.total.up = Count::new(1, 3);
        let r = Report {
            from: 0,
            to: 0,
            total_since: 0,
            reset_detected: false,
            rows: vec![],
            table: None,
            zone: crate::tz::Zone::UTC,
            devices: crate::report::DeviceList::of(&st),
            offload: Default::default(),
        };
        let mut b = Buf::new();
        render(&r, &mut b);
        let a63 = "A".repeat(63);
        let want = [
            "{\"from\":\"1970-01-01T00:00:00Z\",\"to\":\"1970-01-01T00:00:00Z\",\"reset_detected\":false,\"flow_offloading\":\"off\",\"meters\":[],\"devices\":[",
            "{\"mac\":\"02:00:00:00:00:01\",\"name\":\"<script>alert(1)</script>\",\"download_bytes\":60,\"upload_bytes\":7},",
            "{\"mac\":\"02:00:00:00:00:02\",\"name\":\"\\u001b[31mred\\u001b[0m\",\"download_bytes\":50,\"upload_bytes\":7},",
            "{\"mac\":\"02:00:00:00:00:03\",\"name\":\"cr\\u000d\\u000alf\",\"download_bytes\":40,\"upload_bytes\":7},",
            &format!("{{\"mac\":\"02:00:00:00:00:04\",\"name\":\"{a63}\",\"download_bytes\":30,\"upload_bytes\":7}},"),
            "{\"mac\":\"02:00:00:00:00:05\",\"name\":\"bad\u{fffd}\u{fffd}name\",\"download_bytes\":20,\"upload_bytes\":7},",
            "{\"mac\":\"02:00:00:00:00:06\",\"name\":\"a\u{202e}evil\",\"download_bytes\":10,\"upload_bytes\":7},",
            "{\"mac\":\"02:00:00:00:00:09\",\"name\":null,\"download_bytes\":2,\"upload_bytes\":0},",
            "{\"mac\":\"02:00:00:00:00:14\",\"name\":\"x\",\"download_bytes\":1,\"upload_bytes\":0},",
            "{\"mac\":\"02:00:00:00:00:15\",\"name\":\"x\",\"download_bytes\":1,\"upload_bytes\":0},",
            "{\"mac\":\"02:00:00:00:00:16\",\"name\":\"x\",\"download_bytes\":1,\"upload_bytes\":0},",
            "{\"mac\":null,\"name\":null,\"download_bytes\":0,\"upload_bytes\":3,\"other\":true}],",
            "\"more_devices\":{\"count\":1,\"download_bytes\":1,\"upload_bytes\":0}}\n",
        ]
        .concat();
        assert_eq!(b.as_str(), want);
    }
}
