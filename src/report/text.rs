//! The terminal report, laid out like the blog's mail: period, then per
//! meter the usage and the current total, then "Total since".

use super::Report;
use crate::text::Buf;
use crate::units::write_human as size;

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
    if let Some(t) = &r.table {
        table(r, t, b);
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
}
