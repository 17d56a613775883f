//! Reports: a period's usage and the running totals per meter, rendered
//! as text for the terminal or JSON for scripts. Pure: callers pass the
//! state and the times; rendering writes into a `Buf`.

pub mod daily;
pub mod html;
pub mod json;
pub mod text;

use crate::state::{Calendar, Count, State};

/// One meter's line in a report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Row<'a> {
    pub name: &'a str,
    pub period: Count,
    pub total: Count,
}

/// A table of bytes per meter: days (first day of each row) or billing months.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Table {
    pub months: bool,
    /// (first local day of the row, bytes per meter in state order)
    pub rows: Vec<(i64, Vec<u64>)>,
}

/// The last `n` local days up to the day of `now`, from the day buckets.
pub fn day_rows(st: &State, cal: &Calendar, now: i64, n: u8) -> Table {
    let today = cal.day(now);
    table(st, cal, false, today - i64::from(n) + 1, today)
}

/// Every kept billing month up to the one of `now`, from the month buckets.
pub fn month_rows(st: &State, cal: &Calendar, now: i64) -> Table {
    let this = cal.period(cal.day(now));
    let n = crate::state::MONTHS as i32;
    table(st, cal, true, i64::from(this - n + 1), i64::from(this))
}

/// Rows `first..=last` (days, or billing periods with `months`).
fn table(st: &State, cal: &Calendar, months: bool, first: i64, last: i64) -> Table {
    let mut rows = Vec::new();
    for key in first..=last {
        // Periods come from an i32 range, so `key` fits.
        let p = key as i32;
        let mut v = Vec::with_capacity(st.meters.len());
        for m in &st.meters {
            v.push(if months { m.month(p) } else { m.day(key) }.bytes);
        }
        rows.push((if months { cal.period_start(p) } else { key }, v));
    }
    Table { months, rows }
}

/// A report over `from..to`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Report<'a> {
    pub from: i64,
    pub to: i64,
    pub total_since: i64,
    pub reset_detected: bool,
    pub rows: Vec<Row<'a>>,
    /// Optional per-day or per-month history (`report --days N`, `--months`).
    pub table: Option<Table>,
}

impl<'a> Report<'a> {
    /// The report of `st` as of `now` (before `mark_reported`).
    pub fn of(st: &'a State, now: i64) -> Report<'a> {
        Report {
            from: st.reported,
            to: now,
            total_since: st.created,
            reset_detected: st.reset_pending,
            rows: st
                .meters
                .iter()
                .map(|m| Row {
                    name: m.name.as_str(),
                    period: st.period(m),
                    total: m.total,
                })
                .collect(),
            table: None,
        }
    }
}
