//! Reports: a period's usage and the running totals per meter, rendered
//! as text for the terminal or JSON for scripts. Pure: callers pass the
//! state and the times; rendering writes into a `Buf`.

pub mod daily;
pub mod devices;
pub mod html;
pub mod json;
pub mod metrics;
pub mod page;
pub mod text;
pub mod top;

use crate::device::Offload;
use crate::state::{Calendar, Count, DeviceState, DownUp, MeterState, State};
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
    let first = today - i64::from(n) + 1;
    table(cal, false, first, today, |day| {
        meter_cells(st, names, |m| m.day(day))
    })
}

/// Every kept billing month up to the one of `now`, from the month
/// buckets of the meters `names`.
pub fn month_rows(st: &State, names: &[&str], cal: &Calendar, now: i64) -> Table {
    let (first, last) = months(cal, now, crate::state::MONTHS);
    table(cal, true, first, last, |p| {
        meter_cells(st, names, |m| m.month(p as i32))
    })
}

/// The last `n` local days (at most `DEVICE_DAYS` are kept) of device
/// `d`: columns download and upload, bytes.
pub fn device_day_rows(d: &DeviceState, cal: &Calendar, now: i64, n: u8) -> Table {
    let today = cal.day(now);
    let first = today - i64::from(n) + 1;
    table(cal, false, first, today, |day| {
        let (down, up) = d.day(day);
        vec![down, up]
    })
}

/// Every kept billing month (`DEVICE_MONTHS`) of device `d` up to the one
/// of `now`: columns download and upload, bytes.
pub fn device_month_rows(d: &DeviceState, cal: &Calendar, now: i64) -> Table {
    let (first, last) = months(cal, now, crate::state::DEVICE_MONTHS);
    table(cal, true, first, last, |p| {
        let (down, up) = d.month(p as i32);
        vec![down, up]
    })
}

/// The first and last of the `n` billing periods up to the one of `now`.
fn months(cal: &Calendar, now: i64, n: usize) -> (i64, i64) {
    let this = i64::from(cal.period(cal.day(now)));
    (this - n as i64 + 1, this)
}

/// The bytes of `bucket` of each meter of `names` (0 for one the state
/// does not hold).
fn meter_cells(st: &State, names: &[&str], bucket: impl Fn(&MeterState) -> Count) -> Vec<u64> {
    names
        .iter()
        .map(|n| st.meter(n).map_or(0, |m| bucket(m).bytes))
        .collect()
}

/// Rows `first..=last` (days, or billing periods with `months`), the
/// cells of each from `cells(key)`.
fn table(
    cal: &Calendar,
    months: bool,
    first: i64,
    last: i64,
    cells: impl Fn(i64) -> Vec<u64>,
) -> Table {
    let rows = (first..=last)
        .map(|key| {
            // Periods come from an i32 range, so `key` fits.
            let start = if months {
                cal.period_start(key as i32)
            } else {
                key
            };
            (start, cells(key))
        })
        .collect();
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
    /// The devices of the period, when the state has any.
    pub devices: Option<DeviceList<'a>>,
    /// Flow offloading as the firewall config sets it: what it does to
    /// which numbers is said in every format.
    pub offload: Offload,
}

/// Most devices a report lists; the others are summed in one line.
pub const REPORT_DEVICES: usize = 10;

/// The devices of a report's period (usage since the last report).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeviceList<'a> {
    /// The largest `REPORT_DEVICES` devices with usage, largest total
    /// first, then `other` when it has any (it is no device: it counts
    /// apart from the limit).
    pub top: Vec<devices::Row<'a>>,
    /// The devices left out: how many, and their download and upload.
    pub more: usize,
    pub more_down: u64,
    pub more_up: u64,
}

impl<'a> DeviceList<'a> {
    /// The list of `st`, or `None` when the state holds no device (and
    /// `other` never counted anything): devices are off.
    pub fn of(st: &'a State) -> Option<DeviceList<'a>> {
        if st.devices.is_empty() && st.other.total == DownUp::default() {
            return None;
        }
        let mut top = devices::period_rows(st);
        let other = top.pop_if(|r| r.is_other());
        let cut = top.split_off(top.len().min(REPORT_DEVICES));
        let sum =
            |f: fn(&devices::Row<'_>) -> u64| cut.iter().fold(0u64, |a, r| a.saturating_add(f(r)));
        let (more_down, more_up) = (sum(|r| r.down), sum(|r| r.up));
        top.extend(other);
        Some(DeviceList {
            top,
            more: cut.len(),
            more_down,
            more_up,
        })
    }
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
            devices: DeviceList::of(st),
            offload: Offload::Off,
        }
    }

    /// The names of the rows, in order (the table's columns).
    pub fn names(&self) -> Vec<&'a str> {
        self.rows.iter().map(|r| r.name).collect()
    }
}

/// States with devices for the renderers' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::device::{DeviceName, Mac};
    use crate::state::{Count, DeviceState, DownUp, State};

    /// Names chosen by a hostile LAN: markup, an ANSI colour, CR/LF, 300
    /// bytes (kept as 63), invalid UTF-8, a bidi override.
    pub const HOSTILE: [&[u8]; 6] = [
        b"<script>alert(1)</script>",
        b"\x1b[31mred\x1b[0m",
        b"cr\r\nlf",
        &[b'A'; 300],
        b"bad\xff\xfename",
        "a\u{202e}evil".as_bytes(),
    ];

    /// Device `02:00:00:00:00:n` named `name` (cut to 63 bytes, as the
    /// name sources cut it), with `down`/`up` bytes since the last report.
    pub fn device(n: u8, name: &[u8], down: u64, up: u64) -> DeviceState {
        let mut d = DeviceState::new(Mac([2, 0, 0, 0, 0, n]));
        let keep = name.len().min(crate::device::MAX_DEVICE_NAME);
        d.name = DeviceName::from_slice(&name[..keep]).unwrap_or_default();
        d.at_report = DownUp::new(Count::new(1, 1000), Count::new(1, 10));
        d.total = DownUp::new(Count::new(9, 1000 + down), Count::new(9, 10 + up));
        d
    }

    /// A state holding `devs` (sorted by MAC, as the state keeps them).
    pub fn state(mut devs: Vec<DeviceState>) -> State {
        let mut st = State::new(0);
        devs.sort_by_key(|d| d.mac);
        st.devices = devs;
        st
    }

    /// The hostile devices, the first the largest.
    pub fn hostile_state() -> State {
        let devs = HOSTILE.iter().enumerate();
        state(
            devs.map(|(i, n)| device(i as u8 + 1, n, 6000 - 1000 * i as u64, 7))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{device, state};
    use super::*;
    use crate::device::Mac;
    use crate::state::{Bucket, DEVICE_DAYS, DEVICE_MONTHS};

    #[test]
    fn no_devices_no_list() {
        assert_eq!(DeviceList::of(&State::new(0)), None);
        let mut st = State::new(0);
        st.other.total.down = Count::new(1, 5);
        let l = DeviceList::of(&st).expect("other counted: devices are on");
        assert_eq!(l.top.len(), 1);
        assert!(l.top[0].is_other());
    }

    #[test]
    fn list_is_cut_at_report_devices_and_other_comes_last() {
        // REPORT_DEVICES + 1 devices with usage, one idle, and `other`.
        let n = REPORT_DEVICES as u8 + 1;
        let mut devs: Vec<_> = (1..=n)
            .map(|i| device(i, b"", 100 * u64::from(i), u64::from(i)))
            .collect();
        devs.push(device(200, b"idle", 0, 0));
        let mut st = state(devs);
        st.other.total.up = Count::new(1, 5);
        let l = DeviceList::of(&st).unwrap();
        assert_eq!(l.top.len(), REPORT_DEVICES + 1);
        let macs: Vec<u8> = l.top.iter().map(|r| r.dev.mac.0[5]).collect();
        let want: Vec<u8> = (2..=n).rev().chain([0]).collect();
        assert_eq!(macs, want, "largest first, `other` last");
        assert_eq!((l.more, l.more_down, l.more_up), (1, 100, 1));
        assert_eq!((l.top[10].down, l.top[10].up), (0, 5));
        // Exactly REPORT_DEVICES: nothing left out.
        st.devices.remove(0);
        let l = DeviceList::of(&st).unwrap();
        assert_eq!((l.top.len(), l.more), (REPORT_DEVICES + 1, 0));
    }

    #[test]
    fn ties_go_by_mac() {
        let st = state(vec![device(3, b"c", 5, 5), device(1, b"a", 5, 5)]);
        let l = DeviceList::of(&st).unwrap();
        assert_eq!(l.top[0].dev.mac, Mac([2, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn device_tables_read_the_buckets() {
        let cal = Calendar::UTC;
        let now = 20_000 * 86_400 + 3600;
        let mut d = device(1, b"x", 0, 0);
        let slot = |key: i32, len: usize| key.rem_euclid(len as i32) as usize;
        d.days[slot(20_000, DEVICE_DAYS)] = Bucket {
            key: 20_000,
            count: (7, 8),
        };
        d.days[slot(19_998, DEVICE_DAYS)] = Bucket {
            key: 19_998,
            count: (1, 2),
        };
        let t = device_day_rows(&d, &cal, now, 3);
        assert_eq!(
            t.rows,
            vec![
                (19_998, vec![1, 2]),
                (19_999, vec![0, 0]),
                (20_000, vec![7, 8])
            ]
        );
        let p = cal.period(20_000);
        d.months[slot(p, DEVICE_MONTHS)] = Bucket {
            key: p,
            count: (9, 10),
        };
        let t = device_month_rows(&d, &cal, now);
        assert!(t.months);
        assert_eq!(t.rows.len(), DEVICE_MONTHS);
        assert_eq!(t.rows[11], (cal.period_start(p), vec![9, 10]));
        assert_eq!(t.rows[0].0, cal.period_start(p - 11));
        assert!(t.rows[..11].iter().all(|(_, v)| v == &[0, 0]));
    }
}
