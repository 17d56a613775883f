//! State: the last reading, running totals, totals at the last report,
//! day and month buckets, and reset bookkeeping. Pure: `fold` takes the
//! reading (with its time) and a `Calendar`; encoding is a fixed binary
//! layout with a magic number, a version and a CRC-32.
//!
//! Invariants: totals never decrease; a counter that went down, rules that
//! netmon (re)created unexpectedly, a new boot id or a new nft table handle
//! is a reset, after which the delta is the counter's new value (never
//! negative). Traffic read while the clock is not sane (before the build
//! date, or before the previous reading) goes into the totals at once and
//! into the buckets of the next sane reading's day (`carry`).

mod codec;

pub use crate::calendar::Calendar;
use crate::meter::{Name, MAX_METERS, MAX_NAME};
pub use codec::{crc32, DecodeError};

pub const MAGIC: [u8; 4] = *b"NMST";
pub const VERSION: u16 = 2;
/// Day buckets per meter (two months and a bit).
pub const DAYS: usize = 62;
/// Month (billing period) buckets per meter.
pub const MONTHS: usize = 24;
/// Key of a bucket that holds nothing.
pub const EMPTY: i32 = crate::calendar::NO_PERIOD;
/// Size of the header before the meters.
const HEADER: usize = 4 + 2 + 2 + 4 + 8 * 5 + 1 + 40 + 2;
/// Size of one encoded meter.
pub const METER_BYTES: usize = 1 + MAX_NAME + 16 * 4 + 4 + (DAYS + MONTHS) * 20;
/// Largest state file: the bound documented in the README.
pub const MAX_BYTES: usize = HEADER + MAX_METERS * METER_BYTES + 4;
// The whole state, even with every meter, stays a small file on flash.
const _: () = assert!(MAX_BYTES < 64 * 1024);

/// A packet and byte count.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Count {
    pub packets: u64,
    pub bytes: u64,
}

impl Count {
    pub fn new(packets: u64, bytes: u64) -> Count {
        Count { packets, bytes }
    }
    pub fn saturating_add(self, o: Count) -> Count {
        Count::new(
            self.packets.saturating_add(o.packets),
            self.bytes.saturating_add(o.bytes),
        )
    }
    /// `self - o`, or `None` when either field would go negative.
    pub fn checked_sub(self, o: Count) -> Option<Count> {
        Some(Count::new(
            self.packets.checked_sub(o.packets)?,
            self.bytes.checked_sub(o.bytes)?,
        ))
    }
}

/// Usage of one day (key = local day number) or one billing period
/// (key = year * 12 + month index of the period's first day).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Bucket {
    pub key: i32,
    pub count: Count,
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        key: EMPTY,
        count: Count {
            packets: 0,
            bytes: 0,
        },
    };
}

/// Adds `c` to the bucket for `key` in a ring indexed by `key mod len`.
/// An older key in the slot is replaced; a newer one is left alone.
fn add_bucket(ring: &mut [Bucket], key: i32, c: Count) {
    let len = ring.len() as i64;
    let Some(slot) = ring.get_mut(i64::from(key).rem_euclid(len) as usize) else {
        return;
    };
    if slot.key == key {
        slot.count = slot.count.saturating_add(c);
    } else if slot.key == EMPTY || slot.key < key {
        *slot = Bucket { key, count: c };
    }
}

fn get_bucket(ring: &[Bucket], key: i32) -> Count {
    let len = ring.len() as i64;
    match ring.get(i64::from(key).rem_euclid(len) as usize) {
        Some(b) if b.key == key => b.count,
        _ => Count::default(),
    }
}

/// Per meter: the raw counter last seen, the running total, the total at
/// the last report, traffic waiting for a sane clock, and the buckets.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MeterState {
    pub name: Name,
    pub last: Count,
    pub total: Count,
    pub at_report: Count,
    pub carry: Count,
    pub resets: u32,
    pub days: [Bucket; DAYS],
    pub months: [Bucket; MONTHS],
}

impl MeterState {
    fn new(name: &str) -> MeterState {
        MeterState {
            name: Name::try_from(name).unwrap_or_default(),
            last: Count::default(),
            total: Count::default(),
            at_report: Count::default(),
            carry: Count::default(),
            resets: 0,
            days: [Bucket::EMPTY; DAYS],
            months: [Bucket::EMPTY; MONTHS],
        }
    }

    pub fn day(&self, day: i64) -> Count {
        i32::try_from(day).map_or(Count::default(), |d| get_bucket(&self.days, d))
    }

    pub fn month(&self, period: i32) -> Count {
        get_bucket(&self.months, period)
    }
}

/// What identifies one life of the firewall counters: when any part that
/// is known on both sides changes, every counter started again from zero.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Generation {
    pub boot_id: heapless::String<40>,
    /// nft table handle (0 = unknown / iptables).
    pub handle: u64,
}

impl Generation {
    fn changed_from(&self, old: &Generation) -> bool {
        let boot =
            !self.boot_id.is_empty() && !old.boot_id.is_empty() && self.boot_id != old.boot_id;
        let handle = self.handle != 0 && old.handle != 0 && self.handle != old.handle;
        boot || handle
    }
}

/// One reading of every configured meter, in config order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Reading {
    pub time: i64,
    pub counts: heapless::Vec<Count, MAX_METERS>,
    pub generation: Generation,
    /// netmon (re)created its rules just before this reading.
    pub reinstalled: bool,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct State {
    /// When the running totals started (`total_since`).
    pub created: i64,
    /// Time of the last reading with a sane clock.
    pub updated: i64,
    /// Time of the last report (start of the next report's period).
    pub reported: i64,
    /// Time of the last copy to persistent storage (0 = never).
    pub synced: i64,
    pub generation: Generation,
    /// A reset happened since the last report.
    pub reset_pending: bool,
    /// `stop` removed the rules in an orderly way: the next install starts
    /// every counter from zero as expected, which is not a reset.
    pub stopped: bool,
    /// At most `MAX_METERS`, in config order.
    pub meters: Vec<MeterState>,
}

impl State {
    pub fn new(now: i64) -> State {
        State {
            created: now,
            updated: now,
            reported: now,
            synced: 0,
            generation: Generation::default(),
            reset_pending: false,
            stopped: false,
            meters: Vec::new(),
        }
    }

    pub fn meter(&self, name: &str) -> Option<&MeterState> {
        self.meters.iter().find(|m| m.name == name)
    }

    /// Folds a reading of `names` (config order) into the state and returns
    /// whether a reset was detected. Meters no longer configured are dropped;
    /// a meter seen for the first time counts its whole counter (netmon's
    /// own rules counted it) and is never a reset.
    pub fn fold(&mut self, names: &[&str], r: &Reading, cal: &Calendar) -> bool {
        let gen_reset =
            (r.reinstalled && !self.stopped) || r.generation.changed_from(&self.generation);
        let sane = r.time >= cal.min_sane && r.time >= self.updated;
        let day = cal.day(r.time);
        let period = cal.period(day);
        let day = i32::try_from(day).unwrap_or(EMPTY);
        let mut any = false;
        let mut next = Vec::with_capacity(names.len().min(MAX_METERS));
        for (name, cur) in names.iter().zip(r.counts.iter()).take(MAX_METERS) {
            let seen = self.meters.iter().position(|m| m.name == *name);
            let first = seen.is_none();
            let mut m = match seen {
                Some(i) => self.meters.swap_remove(i),
                None => MeterState::new(name),
            };
            let delta = match cur.checked_sub(m.last) {
                Some(d) if !gen_reset || first => d,
                _ => {
                    any = true;
                    m.resets = m.resets.saturating_add(1);
                    *cur
                }
            };
            m.total = m.total.saturating_add(delta);
            m.last = *cur;
            m.carry = m.carry.saturating_add(delta);
            if sane && day != EMPTY {
                add_bucket(&mut m.days, day, m.carry);
                add_bucket(&mut m.months, period, m.carry);
                m.carry = Count::default();
            }
            next.push(m);
        }
        self.meters = next;
        self.generation = r.generation.clone();
        if sane {
            self.updated = r.time;
        }
        self.reset_pending |= any;
        self.stopped = false;
        any
    }

    /// After `stop` removed the rules: the next counters start at zero.
    pub fn mark_stopped(&mut self) {
        for m in self.meters.iter_mut() {
            m.last = Count::default();
        }
        self.generation.handle = 0;
        self.stopped = true;
    }

    /// Usage of a meter since the last report.
    pub fn period(&self, m: &MeterState) -> Count {
        m.total.checked_sub(m.at_report).unwrap_or_default()
    }

    /// Marks a report made at `now`: the next period starts here.
    pub fn mark_reported(&mut self, now: i64) {
        for m in self.meters.iter_mut() {
            m.at_report = m.total;
        }
        self.reported = now;
        self.reset_pending = false;
    }
}

#[cfg(test)]
mod tests;
