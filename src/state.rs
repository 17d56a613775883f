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

use crate::meter::{Name, MAX_METERS, MAX_NAME};
use crate::time::{civil_from_days, days_from_civil};
use crate::tz::Zone;

pub const MAGIC: [u8; 4] = *b"NMST";
pub const VERSION: u16 = 2;
/// Day buckets per meter (two months and a bit).
pub const DAYS: usize = 62;
/// Month (billing period) buckets per meter.
pub const MONTHS: usize = 24;
/// Key of a bucket that holds nothing.
pub const EMPTY: i32 = i32::MIN;
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
    /// Out of line: two u64 saturating adds are long on 32-bit routers.
    #[inline(never)]
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

/// How times map to days and billing periods.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Calendar {
    pub zone: Zone,
    /// 1-31; a day past a month's end means its last day.
    pub billing_day: u8,
    /// Readings before this time (the build date) have a clock not yet set.
    pub min_sane: i64,
}

impl Calendar {
    pub const UTC: Calendar = Calendar {
        zone: Zone::UTC,
        billing_day: 1,
        min_sane: 0,
    };

    pub fn day(&self, t: i64) -> i64 {
        self.zone.day_of(t)
    }

    /// The billing period (year * 12 + month - 1 of its first day) of a local day.
    pub fn period(&self, day: i64) -> i32 {
        let (y, m, d) = civil_from_days(day);
        let key = y * 12 + i64::from(m) - 1;
        let key = if d >= self.start_day(y, m) {
            key
        } else {
            key - 1
        };
        i32::try_from(key).unwrap_or(EMPTY)
    }

    /// The day of the month a period starts in month `m` of year `y`.
    pub fn start_day(&self, y: i64, m: u8) -> u8 {
        self.billing_day.clamp(1, days_in_month(y, m))
    }

    /// First local day of period `key`.
    pub fn period_start(&self, key: i32) -> i64 {
        let (y, m) = (
            i64::from(key).div_euclid(12),
            (i64::from(key).rem_euclid(12) + 1) as u8,
        );
        days_from_civil(y, m, self.start_day(y, m))
    }
}

pub fn days_in_month(y: i64, m: u8) -> u8 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as u8
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

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(
            HEADER + self.meters.len() * METER_BYTES + 4,
        ));
        w.0.extend_from_slice(&MAGIC);
        w.u16(VERSION);
        w.u16(self.meters.len() as u16);
        w.u32((HEADER + self.meters.len() * METER_BYTES + 4) as u32);
        for v in [self.created, self.updated, self.reported, self.synced] {
            w.i64(v);
        }
        w.u64(self.generation.handle);
        w.fixed(self.generation.boot_id.as_bytes(), 40);
        w.u8(u8::from(self.reset_pending));
        w.u8(u8::from(self.stopped));
        for m in &self.meters {
            w.fixed(m.name.as_bytes(), MAX_NAME);
            for c in [m.last, m.total, m.at_report, m.carry] {
                w.count(c);
            }
            w.u32(m.resets);
            for b in m.days.iter().chain(m.months.iter()) {
                w.u32(b.key as u32);
                w.count(b.count);
            }
        }
        let crc = crc32(&w.0);
        w.u32(crc);
        w.0
    }

    pub fn decode(b: &[u8]) -> Result<State, DecodeError> {
        if b.len() < HEADER + 4 || b.get(..4) != Some(&MAGIC[..]) {
            return Err(DecodeError::NotState);
        }
        // Every field is read; the first error found is the answer (the
        // length is checked first, so plain reads cannot run out).
        let mut r = Reader { b, i: 4, bad: None };
        let version = r.u16();
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let n = usize::from(r.u16());
        let len = r.u32() as usize;
        if n > MAX_METERS || len != HEADER + n * METER_BYTES + 4 || b.len() != len {
            return Err(DecodeError::Length);
        }
        let (body, tail) = b.split_at(len - 4);
        if crc32(body).to_le_bytes() != tail {
            return Err(DecodeError::Checksum);
        }
        let mut st = State::new(r.i64());
        st.updated = r.i64();
        st.reported = r.i64();
        st.synced = r.i64();
        st.generation.handle = r.u64();
        let boot = r.fixed(40);
        match heapless::String::try_from(boot) {
            Ok(s) => st.generation.boot_id = s,
            Err(_) => r.fail(DecodeError::Field),
        }
        st.reset_pending = r.flag();
        st.stopped = r.flag();
        for _ in 0..n {
            st.meters.push(decode_meter(&mut r));
        }
        match r.bad {
            Some(e) => Err(e),
            None => Ok(st),
        }
    }
}

fn decode_meter(r: &mut Reader<'_>) -> MeterState {
    let name = r.fixed(MAX_NAME);
    if !crate::meter::valid_name(name) {
        r.fail(DecodeError::Field);
    }
    let mut m = MeterState::new(name);
    m.last = r.count();
    m.total = r.count();
    m.at_report = r.count();
    m.carry = r.count();
    m.resets = r.u32();
    for b in m.days.iter_mut().chain(m.months.iter_mut()) {
        b.key = r.u32() as i32;
        b.count = r.count();
    }
    m
}

/// Why a state file did not decode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DecodeError {
    NotState,
    Version(u16),
    Length,
    Checksum,
    Field,
}

impl DecodeError {
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeError::NotState => "not a netmon state file",
            DecodeError::Version(_) => "written by an unsupported version of netmon",
            DecodeError::Length => "truncated or padded",
            DecodeError::Checksum => "checksum mismatch",
            DecodeError::Field => "invalid field",
        }
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn count(&mut self, c: Count) {
        self.u64(c.packets);
        self.u64(c.bytes);
    }
    /// A length byte and the text padded with zeros to `width`.
    fn fixed(&mut self, s: &[u8], width: usize) {
        let n = s.len().min(width);
        self.u8(n as u8);
        self.0.extend_from_slice(&s[..n]);
        self.0.resize(self.0.len() + width - n, 0);
    }
}

/// Reads little-endian fields; a field that cannot be read yields zeros
/// (or "") and records the first such error in `bad`.
struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    bad: Option<DecodeError>,
}

impl<'a> Reader<'a> {
    fn fail(&mut self, e: DecodeError) {
        self.bad.get_or_insert(e);
    }
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        match self.b.get(self.i..self.i + N) {
            Some(s) => a.copy_from_slice(s),
            None => self.fail(DecodeError::Length),
        }
        self.i += N;
        a
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
    fn flag(&mut self) -> bool {
        let [v] = self.take::<1>();
        if v > 1 {
            self.fail(DecodeError::Field);
        }
        v == 1
    }
    fn count(&mut self) -> Count {
        Count::new(self.u64(), self.u64())
    }
    fn fixed(&mut self, width: usize) -> &'a str {
        let [n] = self.take::<1>();
        let n = usize::from(n);
        let Some(s) = self.b.get(self.i..self.i + width) else {
            self.fail(DecodeError::Length);
            return "";
        };
        self.i += width;
        let (Some(text), pad) = (s.get(..n), &s[n.min(width)..]) else {
            self.fail(DecodeError::Field);
            return "";
        };
        // One encoding per state: padding is zeros, as `Writer::fixed` writes it.
        if pad.iter().any(|&b| b != 0) {
            self.fail(DecodeError::Field);
            return "";
        }
        core::str::from_utf8(text).unwrap_or_else(|_| {
            self.fail(DecodeError::Field);
            ""
        })
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib), bitwise: the state is a few KB.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[cfg(test)]
mod tests;
