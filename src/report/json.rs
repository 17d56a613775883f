//! JSON report, a fixed shape scripts can rely on:
//! `{"from","to","reset_detected","meters":[{"name","period_bytes",
//! "period_packets","total_bytes","total_packets","total_since"}]}`,
//! times in RFC 3339 UTC, counts as exact integers. A meter no longer in
//! the config carries `"retired":true` after its name.

use super::Report;
use crate::text::Buf;
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
        b",\"reset_detected\":true,\"meters\":["
    } else {
        b",\"reset_detected\":false,\"meters\":["
    });
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
    if let Some(t) = &r.table {
        table(r, t, b);
    }
    b.push_bytes(b"}\n");
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
        };
        let mut b = Buf::new();
        render(&r, &mut b);
        assert_eq!(
            b.as_str(),
            "{\"from\":\"1970-01-01T00:01:00Z\",\"to\":\"1970-01-01T00:02:00Z\",\"reset_detected\":false,\"meters\":[{\"name\":\"offnet\",\"period_bytes\":2,\"period_packets\":1,\"total_bytes\":18446744073709551615,\"total_packets\":3,\"total_since\":\"1970-01-01T00:00:00Z\"},{\"name\":\"old\",\"retired\":true,\"period_bytes\":0,\"period_packets\":0,\"total_bytes\":10,\"total_packets\":1,\"total_since\":\"1970-01-01T00:00:00Z\"}]}\n"
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
}
