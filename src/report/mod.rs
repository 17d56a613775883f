//! Reports: a period's usage and the running totals per meter, rendered
//! as text for the terminal or JSON for scripts. Pure: callers pass the
//! state and the times; rendering writes into a `Buf`.

pub mod daily;
pub mod devices;
pub mod html;
pub mod json;
pub mod text;

use crate::state::{Calendar, Count, State};
use crate::tz::Zone;

/// One meter's line in a report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Row<'a> {
    pub name: &'a str,
    pub period: Count,
    pub total: Count,
    /// No longer in the config: shown while it has data, until `forget`.
    pub retired: bool,
}

/// A table of bytes per meter: days (first day of each row) or billing months.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Table {
    pub months: bool,
    /// (first local day of the row, bytes per meter in state order)
    pub rows: Vec<(i64, Vec<u64>)>,
}

/// The last `n` local days up to the day of `now`, from the day buckets
/// of the meters `names` (a column each, in that order).
pub fn day_rows(st: &State, names: &[&str], cal: &Calendar, now: i64, n: u8) -> Table {
    let today = cal.day(now);
    table(st, names, cal, false, today - i64::from(n) + 1, today)
}

/// Every kept billing month up to the one of `now`, from the month
/// buckets of the meters `names`.
pub fn month_rows(st: &State, names: &[&str], cal: &Calendar, now: i64) -> Table {
    let this = cal.period(cal.day(now));
    let n = crate::state::MONTHS as i32;
    table(
        st,
        names,
        cal,
        true,
        i64::from(this - n + 1),
        i64::from(this),
    )
}

/// Rows `first..=last` (days, or billing periods with `months`).
fn table(st: &State, names: &[&str], cal: &Calendar, months: bool, first: i64, last: i64) -> Table {
    let mut rows = Vec::new();
    for key in first..=last {
        // Periods come from an i32 range, so `key` fits.
        let p = key as i32;
        let mut v = Vec::with_capacity(names.len());
        for name in names {
            let c = match st.meter(name) {
                Some(m) if months => m.month(p),
                Some(m) => m.day(key),
                None => Count::default(),
            };
            v.push(c.bytes);
        }
        rows.push((if months { cal.period_start(p) } else { key }, v));
    }
    Table { months, rows }
}

impl Table {
    /// Drops the columns of `names` (the table's, in order) that `keep`
    /// refuses and that hold only zeros; returns the names left.
    pub fn drop_empty<'a>(
        &mut self,
        names: &[&'a str],
        keep: impl Fn(&str) -> bool,
    ) -> Vec<&'a str> {
        let empty = |j: usize| {
            self.rows
                .iter()
                .all(|(_, v)| v.get(j).is_none_or(|&b| b == 0))
        };
        let gone: Vec<bool> = (0..names.len())
            .map(|j| !keep(names[j]) && empty(j))
            .collect();
        for (_, v) in self.rows.iter_mut() {
            let mut j = 0;
            v.retain(|_| {
                j += 1;
                !gone[j - 1]
            });
        }
        names
            .iter()
            .zip(&gone)
            .filter(|(_, &g)| !g)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// The meters a report or a table shows, in order: the configured ones
/// (`configured`), then the retired ones still in the state.
pub fn meter_names<'a>(st: &'a State, configured: &'a [&'a str]) -> Vec<&'a str> {
    let mut v = configured.to_vec();
    v.extend(st.retired(configured).map(|m| m.name.as_str()));
    v
}

/// A report over `from..to`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Report<'a> {
    pub from: i64,
    pub to: i64,
    pub total_since: i64,
    pub reset_detected: bool,
    pub rows: Vec<Row<'a>>,
    /// Optional per-day or per-month history (`report --days N`, `--months`),
    /// a column per row.
    pub table: Option<Table>,
    /// The router's zone: times are shown in it.
    pub zone: Zone,
}

impl<'a> Report<'a> {
    /// The report of `st` as of `now` (before `mark_reported`): the
    /// configured meters (`configured`, config order), then the retired
    /// ones that have counted anything.
    pub fn of(st: &'a State, configured: &[&str], now: i64, zone: Zone) -> Report<'a> {
        let row = |name: &str, retired: bool| {
            let m = st.meter(name)?;
            let r = Row {
                name: m.name.as_str(),
                period: st.period(m),
                total: m.total,
                retired,
            };
            (!retired || r.total != Count::default()).then_some(r)
        };
        let mut rows: Vec<Row<'a>> = configured.iter().filter_map(|n| row(n, false)).collect();
        rows.extend(st.retired(configured).filter_map(|m| row(&m.name, true)));
        Report {
            from: st.reported,
            to: now,
            total_since: st.created,
            reset_detected: st.reset_pending,
            rows,
            table: None,
            zone,
        }
    }

    /// The names of the rows, in order (the table's columns).
    pub fn names(&self) -> Vec<&'a str> {
        self.rows.iter().map(|r| r.name).collect()
    }
}
