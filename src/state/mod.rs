//! State: the last reading, running totals, totals at the last report,
//! day and month buckets, and reset bookkeeping. Pure: `fold` takes the
//! reading (with its time) and a `Calendar`; encoding is a fixed binary
//! layout with a magic number, a version and a CRC-32.
//!
//! Invariants: totals never decrease; a counter that went down, rules that
//! netmon (re)created, a new boot id or a new nft table handle restart the
//! counters, after which the delta is the counter's new value (never
//! negative). A restart netmon did not plan (a stop, a shutdown, its own
//! reinstall right after a reading) is a reset, reported as such; a
//! planned one, and a meter's first reading, are not. A meter that leaves
//! the config keeps its totals and buckets (retired) until `forget`, and
//! continues where it was when it comes back. Traffic read while the clock
//! is not sane (see `clock`) goes into the totals at once and into the
//! buckets of the next sane reading's day (`carry`).
//!
//! Devices (see `devices`) are folded in the same reading, by the same
//! clock and restart rules, but a device's counter going back is never a
//! reset: netmon deletes kernel elements itself (pruning, eviction).

mod codec;
mod control;
mod devices;

pub use crate::calendar::Calendar;
use crate::device::Mac;
use crate::meter::{Name, MAX_METERS, MAX_NAME};
pub use codec::{crc32, max_bytes, DecodeError, DEVICE_MAX_BYTES, METERS_MAX_BYTES};
pub use control::{Block, BlocksFull, Cut, KernelQuota, Use, Warned, MAX_BLOCKS, MAX_WARNED};
pub use devices::{
    AddrCount, AddrState, DeviceReading, DeviceState, DownUp, DownUpBytes, DEVICE_DAYS,
    DEVICE_MONTHS, MAX_ADDRS,
};

pub const MAGIC: [u8; 4] = *b"NMST";
/// Version 6 added the devices' rates over the last update; version 5 the
/// blocks and quota warnings; version 4 the devices section (and the
/// length field became the whole file's); version 3 the sticky stop and
/// retired meters. Versions 2 to 5 are read (with none of what came later)
/// and written back as version 6 at the next save.
pub const VERSION: u16 = 6;
/// Most meters the state keeps: the configured ones (`MAX_METERS`) and as
/// many retired ones. A new meter that finds no room is not added (its
/// counter keeps counting in the kernel) until a retired one is forgotten.
pub const MAX_STATE_METERS: usize = 2 * MAX_METERS;
/// How long after a boot a clock that is behind the last reading is given
/// to be set right (NTP) before netmon trusts it (see `State::clock`).
pub const CLOCK_GRACE: i64 = 3600;
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

/// What a bucket holds: a meter's `Count`, a device's down and up bytes.
pub trait Tally: Copy + Default + PartialEq {
    /// The sum, each field saturating (a bucket never wraps).
    fn plus(self, o: Self) -> Self;
}

impl Tally for Count {
    fn plus(self, o: Count) -> Count {
        self.saturating_add(o)
    }
}

impl Tally for DownUpBytes {
    fn plus(self, o: DownUpBytes) -> DownUpBytes {
        (self.0.saturating_add(o.0), self.1.saturating_add(o.1))
    }
}

/// Usage of one day (key = local day number) or one billing period
/// (key = year * 12 + month index of the period's first day).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Bucket<T = Count> {
    pub key: i32,
    pub count: T,
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
fn add_bucket<T: Tally>(ring: &mut [Bucket<T>], key: i32, c: T) {
    let len = ring.len() as i64;
    let Some(slot) = ring.get_mut(i64::from(key).rem_euclid(len) as usize) else {
        return;
    };
    if slot.key == key {
        slot.count = slot.count.plus(c);
    } else if slot.key == EMPTY || slot.key < key {
        *slot = Bucket { key, count: c };
    }
}

/// Moves the counts of buckets later than `key` into the bucket of `key`
/// (which is emptied first if it held an older key): time went back.
/// Whether there were any.
fn pull_back<T: Tally>(ring: &mut [Bucket<T>], key: i32) -> bool {
    let mut later = T::default();
    let mut any = false;
    for b in ring.iter_mut().filter(|b| b.key != EMPTY && b.key > key) {
        later = later.plus(b.count);
        *b = Bucket {
            key: EMPTY,
            count: T::default(),
        };
        any = true;
    }
    if any {
        add_bucket(ring, key, later);
    }
    any
}

fn get_bucket<T: Tally>(ring: &[Bucket<T>], key: i32) -> T {
    let len = ring.len() as i64;
    match ring.get(i64::from(key).rem_euclid(len) as usize) {
        Some(b) if b.key == key => b.count,
        _ => T::default(),
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
    pub(crate) fn new(name: &str) -> MeterState {
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

    /// Takes counter `cur`: returns whether it is a reset. After a restart,
    /// or when the counter went back, the delta is `cur` itself; that is a
    /// reset unless `expected`.
    fn count(&mut self, cur: Count, restarted: bool, expected: bool) -> bool {
        let (delta, reset) = match cur.checked_sub(self.last) {
            Some(d) if !restarted => (d, false),
            _ => (cur, !expected),
        };
        if reset {
            self.resets = self.resets.saturating_add(1);
        }
        self.total = self.total.saturating_add(delta);
        self.last = cur;
        self.carry = self.carry.saturating_add(delta);
        reset
    }

    /// Puts what is carried into the buckets of `day` and `period` when the
    /// clock is `sane`.
    fn bucket(&mut self, sane: bool, day: i32, period: i32) {
        if sane {
            add_bucket(&mut self.days, day, self.carry);
            add_bucket(&mut self.months, period, self.carry);
            self.carry = Count::default();
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

/// One reading: every counter of netmon's found in the firewall, by
/// meter name (configured or not), with the time it was taken.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Reading {
    /// Wall clock, Unix seconds.
    pub time: i64,
    /// Seconds since the kernel booted (steps of the wall clock do not
    /// move it).
    pub uptime: i64,
    pub counts: Counts,
    pub generation: Generation,
    /// netmon (re)created its rules just before this reading.
    pub reinstalled: bool,
    /// It is an update's (`netmon update` or `sync`, what cron runs): it
    /// closes the devices' rate window (see `State::rate`).
    pub closes_rates: bool,
    /// The per-device counters (`on` false when devices are off).
    pub devices: DeviceReading,
}

/// Counters by meter name, each name once.
pub type Counts = heapless::Vec<(Name, Count), MAX_STATE_METERS>;

/// The counter of meter `name` in `counts`.
pub fn count_of(counts: &Counts, name: &str) -> Option<Count> {
    counts.iter().find(|(n, _)| n == name).map(|&(_, c)| c)
}

/// Adds `c` to meter `name`'s counter in `counts` (a meter's rules on
/// several hooks or families add up); a name past the capacity is left
/// out.
pub fn add_count(counts: &mut Counts, name: &str, c: Count) {
    match counts.iter_mut().find(|(n, _)| n == name) {
        Some((_, have)) => *have = have.saturating_add(c),
        None => {
            if let Ok(n) = Name::try_from(name) {
                let _ = counts.push((n, c));
            }
        }
    }
}

/// How the time of a reading is taken (see `State::clock`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Clock {
    /// The time is right: buckets by it.
    Sane,
    /// Not yet set (before the build date, or behind the last reading
    /// just after a boot): the totals count now, the buckets wait.
    Carry,
    /// Behind the last reading, and trusted: the earlier readings were in
    /// the future. Buckets by it, and what went to future buckets moves
    /// to its day.
    Recover,
}

/// What `State::fold` saw.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Folded {
    /// Counters went back that netmon did not expect to.
    pub reset: bool,
    /// A meter with no room in the state (`MAX_STATE_METERS`) was left out.
    pub full: bool,
    /// The clock was behind the last reading and netmon took it as right.
    pub recovered: bool,
    /// Devices folded into `other` to make room (`max_devices`): the
    /// caller deletes their kernel elements, so a return counts from zero
    /// as a new device.
    pub evicted: Vec<Mac>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct State {
    /// When the running totals started (`total_since`).
    pub created: i64,
    /// Time of the last reading with a sane clock.
    pub updated: i64,
    /// The times of the last two updates (`Reading::closes_rates`): the
    /// window the devices' `rate_bytes` moved in (0 and 0: none yet).
    pub rates_from: i64,
    pub rates_to: i64,
    /// The time of the last update, when the devices' `since_update`
    /// started counting (0: a reading since then had devices off or the
    /// clock unset or gone back, so that window gets no rate).
    pub update_at: i64,
    /// Time of the last report (start of the next report's period).
    pub reported: i64,
    /// Time of the last copy to persistent storage (0 = never).
    pub synced: i64,
    pub generation: Generation,
    /// A reset happened since the last report.
    pub reset_pending: bool,
    /// The counters are expected to start again (netmon stopped, shut
    /// down or is about to reinstall its rules right after a reading): the
    /// next restart is no reset.
    pub expect_restart: bool,
    /// The admin stopped netmon: `update` leaves the rules out until
    /// `start`.
    pub stopped: bool,
    /// An update already said that netmon is stopped (it says so once).
    pub stop_noted: bool,
    /// The configured meters in config order, then the retired ones; at
    /// most `MAX_STATE_METERS`.
    pub meters: Vec<MeterState>,
    /// The devices, sorted by MAC (each once, never `Mac::OTHER`); at
    /// most `max_devices` after a fold.
    pub devices: Vec<DeviceState>,
    /// `Mac::OTHER`: traffic of devices that did not fit in the kernel
    /// set, and everything of the devices evicted from the state.
    pub other: DeviceState,
    /// Where the firewall counts by address (iptables): every address's
    /// owner and last raw counters, sorted by address; at most `MAX_ADDRS`.
    pub addrs: Vec<AddrState>,
    /// The admin's blocks, sorted by MAC; at most `MAX_BLOCKS`.
    pub blocks: Vec<Block>,
    /// Quota warnings sent in the current periods, sorted; at most
    /// `MAX_WARNED`.
    pub warned: Vec<Warned>,
}

impl State {
    pub fn new(now: i64) -> State {
        State {
            created: now,
            updated: now,
            rates_from: 0,
            rates_to: 0,
            update_at: 0,
            reported: now,
            synced: 0,
            generation: Generation::default(),
            reset_pending: false,
            expect_restart: false,
            stopped: false,
            stop_noted: false,
            meters: Vec::new(),
            devices: Vec::new(),
            addrs: Vec::new(),
            blocks: Vec::new(),
            warned: Vec::new(),
            other: DeviceState::new(Mac::OTHER),
        }
    }

    pub fn meter(&self, name: &str) -> Option<&MeterState> {
        self.meters.iter().find(|m| m.name == name)
    }

    /// Folds a reading into the state. `names` are the configured meters
    /// in config order: each gets its counter from the reading (0 when the
    /// counter is missing), is added if new, and comes first in `meters`;
    /// the retired meters follow, and fold their counter only when the
    /// reading still has it (the last minutes before their rules went;
    /// once it is gone, their last counter is zero).
    /// A meter seen for the first time counts its whole counter (netmon's
    /// own rules counted it) and is never a reset.
    pub fn fold(&mut self, names: &[&str], r: &Reading, cal: &Calendar) -> Folded {
        let restarted = r.reinstalled || r.generation.changed_from(&self.generation);
        let planned = restarted && self.expect_restart;
        let clock = self.clock(r, cal);
        let day = cal.day(r.time);
        let period = cal.period(day);
        let day = i32::try_from(day).unwrap_or(EMPTY);
        let mut out = Folded::default();
        if clock == Clock::Recover {
            // Worth a word when usage moved, or the clock went far back.
            let far = self.updated.saturating_sub(r.time) > CLOCK_GRACE;
            out.recovered = self.recover(day, period, r.time) || far;
        }
        let sane = clock != Clock::Carry && day != EMPTY;
        if r.devices.on {
            // A device's `seen` is a time the state trusts: the last sane
            // one while the clock is not (it only orders devices for
            // eviction).
            let now = if sane { r.time } else { self.updated };
            let at = devices::Moment {
                restarted,
                sane,
                day,
                period,
                now,
            };
            out.evicted = match r.devices.addrs.is_empty() {
                true => self.fold_devices(&r.devices, &at),
                false => {
                    let by_mac = self.by_address(&r.devices, restarted);
                    self.fold_devices(&by_mac, &at)
                }
            };
        }
        let mut next = Vec::with_capacity(self.meters.len().max(names.len()));
        for name in names.iter().take(MAX_METERS) {
            let cur = count_of(&r.counts, name).unwrap_or_default();
            let m = match self.meters.iter().position(|m| m.name == *name) {
                Some(i) => Some(self.meters.remove(i)),
                None if next.len() + self.meters.len() < MAX_STATE_METERS => {
                    Some(MeterState::new(name))
                }
                None => None,
            };
            let Some(mut m) = m else {
                out.full = true;
                continue;
            };
            let first = m.last == Count::default() && m.total == Count::default();
            out.reset |= m.count(cur, restarted, planned || first);
            m.bucket(sane, day, period);
            next.push(m);
        }
        for mut m in core::mem::take(&mut self.meters) {
            match count_of(&r.counts, &m.name) {
                Some(cur) => {
                    out.reset |= m.count(cur, restarted, planned);
                    m.bucket(sane, day, period);
                }
                // Its rules are gone: should it come back, its new counter
                // starts at zero (and a missing one reads as zero, no reset).
                None => m.last = Count::default(),
            }
            next.push(m);
        }
        self.meters = next;
        self.generation = r.generation.clone();
        let timed = clock == Clock::Sane && day != EMPTY && r.devices.on;
        self.rates_window(r.time, timed, r.closes_rates);
        if sane {
            self.updated = r.time;
        }
        self.reset_pending |= out.reset;
        self.expect_restart = false;
        out
    }

    /// How the time of `r` is taken. Before the build date the clock is
    /// not set yet: carry. At or after the last reading: sane. Behind the
    /// last reading (but after the build date), one of the two clocks was
    /// wrong: in the same boot as the last reading the clock was stepped
    /// back while netmon watched, so the new time is the corrected one
    /// (recover); just after a boot the clock may still be the one the
    /// router restored from its files, not yet set by NTP, so carry, and
    /// trust it once the router has been up `CLOCK_GRACE` (a last
    /// reading from a clock that ran ahead would otherwise stop the day
    /// buckets until the clock caught up with it).
    pub fn clock(&self, r: &Reading, cal: &Calendar) -> Clock {
        if r.time < cal.min_sane {
            return Clock::Carry;
        }
        if r.time >= self.updated {
            return Clock::Sane;
        }
        let (now, last) = (&r.generation.boot_id, &self.generation.boot_id);
        let same_boot = !now.is_empty() && now == last;
        if same_boot || r.uptime >= CLOCK_GRACE {
            Clock::Recover
        } else {
            Clock::Carry
        }
    }

    /// The clock came back from the future to `now` (local day `day`,
    /// period `period`): what went into later buckets moves to today's,
    /// and the times the state keeps are not left in the future. Whether
    /// any usage moved.
    fn recover(&mut self, day: i32, period: i32, now: i64) -> bool {
        let mut moved = false;
        for m in self.meters.iter_mut() {
            if day != EMPTY {
                moved |= pull_back(&mut m.days, day);
            }
            if period != EMPTY {
                moved |= pull_back(&mut m.months, period);
            }
        }
        for d in self.devices.iter_mut().chain([&mut self.other]) {
            moved |= d.pull_back(day, period);
        }
        self.updated = now;
        self.reported = self.reported.min(now);
        self.created = self.created.min(now);
        moved
    }

    /// Meters in the state that `names` (the configured ones) lacks.
    pub fn retired<'a>(&'a self, names: &'a [&str]) -> impl Iterator<Item = &'a MeterState> {
        self.meters
            .iter()
            .filter(move |m| !names.contains(&m.name.as_str()))
    }

    /// Drops meter `name` with its totals and history; whether it was there.
    pub fn forget(&mut self, name: &str) -> bool {
        let before = self.meters.len();
        self.meters.retain(|m| m.name != name);
        self.meters.len() != before
    }

    /// The counters are about to start again in an orderly way (`stop`,
    /// `shutdown`, or a reinstall right after a reading): the next restart
    /// (reinstalled rules, a new boot) is no reset. `last` stays: should
    /// the rules survive after all, the counters simply go on.
    pub fn expect_restart(&mut self) {
        self.expect_restart = true;
    }

    /// The admin stopped netmon: counting resumes at `start`.
    pub fn mark_stopped(&mut self) {
        self.expect_restart = true;
        self.stopped = true;
        self.stop_noted = false;
    }

    /// `start`: counting resumes (the next install is expected).
    pub fn mark_started(&mut self) {
        if self.stopped {
            self.stopped = false;
            self.stop_noted = false;
            self.expect_restart = true;
        }
    }

    /// The devices' rate windows after a reading at `now` (`timed`: with
    /// the clock right and devices counted): an update closes the open
    /// window, whose bytes become the rates, and opens the next; a
    /// reading that is not timed leaves the open window with no rate.
    /// An update in the same second as the last leaves the window open.
    fn rates_window(&mut self, now: i64, timed: bool, update: bool) {
        if !timed {
            self.update_at = 0;
            return;
        }
        if !update || now == self.update_at {
            return;
        }
        let closed = self.update_at > 0 && now > self.update_at;
        for d in self.devices.iter_mut().chain([&mut self.other]) {
            d.rate_bytes = if closed { d.since_update } else { (0, 0) };
            d.since_update = (0, 0);
        }
        (self.rates_from, self.rates_to) = if closed {
            (self.update_at, now)
        } else {
            (0, 0)
        };
        self.update_at = now;
    }

    /// A device's rate (down, up) in bytes a second between the last two
    /// updates, rounded down; `None` before there are two.
    pub fn rate(&self, d: &DeviceState) -> Option<(u64, u64)> {
        let secs = self.rates_secs()?;
        Some((d.rate_bytes.0 / secs, d.rate_bytes.1 / secs))
    }

    /// The seconds between the last two updates (the rates' window).
    pub fn rates_secs(&self) -> Option<u64> {
        let secs = self.rates_to.checked_sub(self.rates_from)?;
        u64::try_from(secs)
            .ok()
            .filter(|&s| s > 0 && self.rates_from > 0)
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
        for d in self.devices.iter_mut().chain([&mut self.other]) {
            d.at_report = d.total;
        }
        self.reported = now;
        self.reset_pending = false;
    }
}

#[cfg(test)]
mod device_tests;
#[cfg(test)]
mod tests;
