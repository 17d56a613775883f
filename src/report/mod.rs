//! Reports: a period's usage and the running totals per meter, rendered
//! as text for the terminal or JSON for scripts. Pure: callers pass the
//! state and the times; rendering writes into a `Buf`.

pub mod daily;
pub mod json;
pub mod text;

use crate::state::{Count, State};

/// One meter's line in a report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Row<'a> {
    pub name: &'a str,
    pub period: Count,
    pub total: Count,
}

/// A report over `from..to`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Report<'a> {
    pub from: i64,
    pub to: i64,
    pub total_since: i64,
    pub reset_detected: bool,
    pub rows: Vec<Row<'a>>,
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
        }
    }
}
