//! Per-device state: each LAN device's download and upload, folded from
//! the raw counters of its kernel set elements (see `crate::device`).
//!
//! Invariants: `State::devices` is sorted by MAC, each MAC once, never
//! `Mac::OTHER`; totals never decrease; the devices' totals plus
//! `other`'s are everything the sets and the `other` counters counted
//! (eviction moves a device's totals and buckets into `other`, it drops
//! nothing). Unlike a meter, a device counter that went back is no reset:
//! netmon deletes elements itself (pruning, eviction), and an element
//! created again counts from zero, so the delta is the new value.
//! Device buckets hold bytes only (the reports show bytes per device);
//! totals keep packets too.

use super::{add_bucket, get_bucket, pull_back, Bucket, Count, State, Tally, EMPTY};
use crate::device::{DeviceName, Host, Mac, MAX_DEVICES};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::BTreeMap;

/// Day buckets per device: a month (a device's history is shorter than a
/// meter's because there can be a thousand devices).
pub const DEVICE_DAYS: usize = 31;
/// Billing-period buckets per device: a year.
pub const DEVICE_MONTHS: usize = 12;

/// Down and up bytes: what a device bucket holds.
pub type DownUpBytes = (u64, u64);

const NO_BYTES: Bucket<DownUpBytes> = Bucket {
    key: EMPTY,
    count: (0, 0),
};

/// The device counters of one reading.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeviceReading {
    /// Devices are counted; when false the rest is empty and the device
    /// state is left as it is (nothing is lost when devices are turned off
    /// and on again).
    pub on: bool,
    /// Raw (down, up) counters per MAC as read now; a MAC appears once (a
    /// repeat is ignored, as is `Mac::OTHER`).
    pub elems: Vec<(Mac, Count, Count)>,
    /// Traffic of devices that did not fit in the kernel sets.
    pub other_down: Count,
    pub other_up: Count,
    /// The configured `max_devices`: most devices the state keeps (taken
    /// as 1..=`MAX_DEVICES`). It travels with the reading so that
    /// `State::fold` keeps its signature.
    pub max_devices: usize,
    /// Raw counters per address, where the firewall counts by address
    /// (iptables: ipset `hash:ip`), each with the MAC the neighbour tables
    /// give it now (`None`: no entry). `State::fold` turns them into
    /// `elems` through the addresses it remembers (`State::addrs`), so an
    /// address that loses its neighbour entry, or its counter, moves no
    /// bytes twice.
    pub addrs: Vec<AddrCount>,
}

/// One address's raw counters (iptables; see `DeviceReading::addrs`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AddrCount {
    pub ip: IpAddr,
    pub mac: Option<Mac>,
    pub down: Count,
    pub up: Count,
}

/// An address the state remembers: whose it is, and its raw counters at
/// the last reading. `Mac::OTHER` owns the firewall's own "other" counters
/// (kept under the unspecified address, never a set member).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AddrState {
    pub ip: IpAddr,
    pub owner: Mac,
    pub last: DownUp,
}

/// Most addresses the state remembers: a few per device.
pub const MAX_ADDRS: usize = 4 * MAX_DEVICES as usize + 1;

impl Default for DeviceReading {
    fn default() -> DeviceReading {
        DeviceReading {
            on: false,
            elems: Vec::new(),
            other_down: Count::default(),
            other_up: Count::default(),
            max_devices: crate::device::DEFAULT_MAX_DEVICES as usize,
            addrs: Vec::new(),
        }
    }
}

impl DeviceReading {
    /// `max_devices` within 1..=`MAX_DEVICES`: a state always has room for
    /// the device that just arrived.
    pub fn max(&self) -> usize {
        self.max_devices.clamp(1, MAX_DEVICES as usize)
    }
}

/// A download and an upload count.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct DownUp {
    pub down: Count,
    pub up: Count,
}

impl DownUp {
    pub fn new(down: Count, up: Count) -> DownUp {
        DownUp { down, up }
    }

    fn plus(self, o: DownUp) -> DownUp {
        DownUp::new(
            self.down.saturating_add(o.down),
            self.up.saturating_add(o.up),
        )
    }

    fn bytes(self) -> DownUpBytes {
        (self.down.bytes, self.up.bytes)
    }

    /// Both directions' bytes, for ranking devices by size.
    fn all_bytes(self) -> u64 {
        self.down.bytes.saturating_add(self.up.bytes)
    }
}

/// What the fold of one reading shares with every device.
pub(super) struct Moment {
    pub restarted: bool,
    pub sane: bool,
    pub day: i32,
    pub period: i32,
    /// The time a device that moved was `seen`.
    pub now: i64,
}

/// One device (or `other`): its names, raw counters last read, running
/// totals, totals at the last report, traffic waiting for a sane clock,
/// and the day and billing-period buckets of its bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeviceState {
    pub mac: Mac,
    /// Empty = unknown.
    pub name: DeviceName,
    pub ip4: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub last: DownUp,
    pub total: DownUp,
    pub at_report: DownUp,
    pub carry: DownUp,
    /// Time of the last reading in which it moved (0 = never).
    pub seen: i64,
    /// Bytes (down, up) it moved between the last two updates
    /// (`State::rates_from`..`rates_to`): its rate then.
    pub rate_bytes: DownUpBytes,
    /// Bytes (down, up) it moved since the last update (the window the
    /// next update closes).
    pub since_update: DownUpBytes,
    pub days: [Bucket<DownUpBytes>; DEVICE_DAYS],
    pub months: [Bucket<DownUpBytes>; DEVICE_MONTHS],
    /// It moved in the latest fold. Not encoded: a decoded state has it
    /// false everywhere (it only serves the pruning right after a fold).
    pub moved: bool,
}

/// `cur - last`, or `cur` after a restart or when the element was
/// deleted and created again (it went back).
fn delta(cur: Count, last: Count, restarted: bool) -> Count {
    match cur.checked_sub(last) {
        Some(d) if !restarted => d,
        _ => cur,
    }
}

impl DeviceState {
    pub fn new(mac: Mac) -> DeviceState {
        DeviceState {
            mac,
            name: DeviceName::new(),
            ip4: None,
            ip6: None,
            last: DownUp::default(),
            total: DownUp::default(),
            at_report: DownUp::default(),
            carry: DownUp::default(),
            seen: 0,
            rate_bytes: (0, 0),
            since_update: (0, 0),
            days: [NO_BYTES; DEVICE_DAYS],
            months: [NO_BYTES; DEVICE_MONTHS],
            moved: false,
        }
    }

    /// Bytes (down, up) of local day `day`.
    pub fn day(&self, day: i64) -> DownUpBytes {
        i32::try_from(day).map_or((0, 0), |d| get_bucket(&self.days, d))
    }

    /// Bytes (down, up) of billing period `period`.
    pub fn month(&self, period: i32) -> DownUpBytes {
        get_bucket(&self.months, period)
    }

    /// Usage (down, up) since the last report.
    pub fn period_down_up(&self) -> (Count, Count) {
        let since = |t: Count, r: Count| t.checked_sub(r).unwrap_or_default();
        (
            since(self.total.down, self.at_report.down),
            since(self.total.up, self.at_report.up),
        )
    }

    /// Takes the raw counters `cur`, then buckets what is carried.
    fn fold(&mut self, cur: DownUp, at: &Moment) {
        let d = DownUp::new(
            delta(cur.down, self.last.down, at.restarted),
            delta(cur.up, self.last.up, at.restarted),
        );
        self.last = cur;
        self.total = self.total.plus(d);
        self.carry = self.carry.plus(d);
        self.moved = d != DownUp::default();
        if self.moved {
            self.seen = at.now;
        }
        self.since_update = self.since_update.plus(d.bytes());
        if at.sane {
            // A bucket is made only for bytes: every bucket that has a
            // key holds something, which keeps the encoding one-to-one.
            let b = self.carry.bytes();
            if b != (0, 0) {
                add_bucket(&mut self.days, at.day, b);
                add_bucket(&mut self.months, at.period, b);
            }
            self.carry = DownUp::default();
        }
    }

    /// Its element is gone (absent from the reading, or deleted by the
    /// caller): a new one counts from zero.
    fn gone(&mut self) {
        self.last = DownUp::default();
        self.moved = false;
    }

    /// Takes over an evicted device's totals and buckets (its `last`
    /// belongs to an element about to be deleted).
    fn absorb(&mut self, d: &DeviceState) {
        self.total = self.total.plus(d.total);
        self.at_report = self.at_report.plus(d.at_report);
        self.carry = self.carry.plus(d.carry);
        self.seen = self.seen.max(d.seen);
        self.rate_bytes = self.rate_bytes.plus(d.rate_bytes);
        self.since_update = self.since_update.plus(d.since_update);
        for b in d.days.iter().filter(|b| b.key != EMPTY) {
            add_bucket(&mut self.days, b.key, b.count);
        }
        for b in d.months.iter().filter(|b| b.key != EMPTY) {
            add_bucket(&mut self.months, b.key, b.count);
        }
    }

    /// The clock came back to `day`/`period`: later buckets move there.
    pub(super) fn pull_back(&mut self, day: i32, period: i32) -> bool {
        let days = day != EMPTY && pull_back(&mut self.days, day);
        let months = period != EMPTY && pull_back(&mut self.months, period);
        days || months
    }

    /// Eviction order: the least recently seen first, then the smallest.
    fn eviction_rank(&self) -> (i64, u64, Mac) {
        (self.seen, self.total.all_bytes(), self.mac)
    }
}

/// The reading's elements by MAC, each MAC once, without `Mac::OTHER`.
fn sorted_elems(elems: &[(Mac, Count, Count)]) -> Vec<(Mac, DownUp)> {
    let mut v: Vec<(Mac, DownUp)> = elems
        .iter()
        .filter(|e| e.0 != Mac::OTHER)
        .map(|&(m, down, up)| (m, DownUp::new(down, up)))
        .collect();
    // Stable: of a repeated MAC the first stays.
    v.sort_by_key(|e| e.0);
    v.dedup_by_key(|e| e.0);
    v
}

impl State {
    /// A reading by address (`r.addrs`) as one by MAC: each address's
    /// growth since the last reading goes to its owner (the MAC the
    /// neighbour tables give it now, else the one it had), and each owner's
    /// counter is its last one plus that growth (from zero after a
    /// restart), so it only moves forward. An address whose counter went
    /// back (its element was deleted and made again) counts from zero; one
    /// never seen with a MAC waits, uncounted, until it has one; one that
    /// left the sets is forgotten.
    pub(super) fn by_address(&mut self, r: &DeviceReading, restarted: bool) -> DeviceReading {
        let mut grew: BTreeMap<Mac, DownUp> = BTreeMap::new();
        let mut next = Vec::with_capacity(r.addrs.len().min(MAX_ADDRS));
        for a in r.addrs.iter().take(MAX_ADDRS) {
            let prev = self.addrs.binary_search_by_key(&a.ip, |s| s.ip).ok();
            let prev = prev.and_then(|i| self.addrs.get(i)).filter(|_| !restarted);
            let Some(owner) = a.mac.or(prev.map(|p| p.owner)) else {
                continue;
            };
            let cur = DownUp::new(a.down, a.up);
            let since = |now: Count, then: Count| now.checked_sub(then).unwrap_or(now);
            let d = match prev {
                Some(p) => DownUp::new(since(cur.down, p.last.down), since(cur.up, p.last.up)),
                None => cur,
            };
            let g = grew.entry(owner).or_default();
            *g = DownUp::new(g.down.saturating_add(d.down), g.up.saturating_add(d.up));
            next.push(AddrState {
                ip: a.ip,
                owner,
                last: cur,
            });
        }
        next.sort_by_key(|s| s.ip);
        next.dedup_by_key(|s| s.ip);
        self.addrs = next;
        let base = |d: Option<&DeviceState>| match (d, restarted) {
            (Some(d), false) => d.last,
            _ => DownUp::default(),
        };
        let mut out = DeviceReading {
            on: r.on,
            max_devices: r.max_devices,
            ..DeviceReading::default()
        };
        let other = base(Some(&self.other));
        let g = grew.remove(&Mac::OTHER).unwrap_or_default();
        out.other_down = other.down.saturating_add(g.down);
        out.other_up = other.up.saturating_add(g.up);
        for (mac, g) in grew {
            let b = base(self.device(mac));
            out.elems.push((
                mac,
                b.down.saturating_add(g.down),
                b.up.saturating_add(g.up),
            ));
        }
        out
    }

    /// Folds the device counters of a reading (see the module docs);
    /// returns the MACs evicted to keep at most `r.max()` devices.
    pub(super) fn fold_devices(&mut self, r: &DeviceReading, at: &Moment) -> Vec<Mac> {
        let mut present = vec![false; self.devices.len()];
        let mut fresh = Vec::new();
        for (mac, cur) in sorted_elems(&r.elems) {
            match self.devices.binary_search_by_key(&mac, |d| d.mac) {
                Ok(i) => {
                    present[i] = true;
                    self.devices[i].fold(cur, at);
                }
                Err(_) => {
                    // A new device counts its whole counter: netmon's own
                    // set counted it.
                    let mut d = DeviceState::new(mac);
                    d.fold(cur, at);
                    fresh.push(d);
                }
            }
        }
        for (d, _) in self.devices.iter_mut().zip(present).filter(|p| !p.1) {
            d.gone();
        }
        let other = DownUp::new(r.other_down, r.other_up);
        self.other.fold(other, at);
        let known = self.devices.len();
        self.devices.append(&mut fresh);
        let evicted = self.make_room(known, r.max());
        self.devices.sort_by_key(|d| d.mac);
        evicted
    }

    /// Evicts devices into `other` until at most `max` are left. The
    /// first `known` were in the state before this reading and go first:
    /// a new device always gets in (unless more than `max` arrived at
    /// once).
    fn make_room(&mut self, known: usize, max: usize) -> Vec<Mac> {
        let excess = self.devices.len().saturating_sub(max);
        if excess == 0 {
            return Vec::new();
        }
        let mut order: Vec<(bool, (i64, u64, Mac))> = (self.devices.iter().enumerate())
            .map(|(i, d)| (i >= known, d.eviction_rank()))
            .collect();
        order.sort_unstable();
        let mut out: Vec<Mac> = order.iter().take(excess).map(|k| k.1 .2).collect();
        out.sort_unstable();
        let (gone, kept): (Vec<DeviceState>, Vec<DeviceState>) = core::mem::take(&mut self.devices)
            .into_iter()
            .partition(|d| out.binary_search(&d.mac).is_ok());
        self.devices = kept;
        for d in gone.iter() {
            self.other.absorb(d);
        }
        out
    }

    /// The kernel elements the caller should delete after a fold: those
    /// of MACs the state does not hold (evicted), and, once the reading
    /// holds more than 3/4 of `r.max()` elements, those of devices that
    /// did not move in the last fold (room for new devices in the set;
    /// an idle device loses nothing, its next element counts from zero).
    /// Call `pruned` once they are deleted.
    pub fn devices_to_prune(&self, r: &DeviceReading) -> Vec<Mac> {
        // By address (iptables): the owners the state remembers.
        let (mut macs, held): (Vec<Mac>, usize) = match r.addrs.is_empty() {
            true => (r.elems.iter().map(|e| e.0).collect(), r.elems.len()),
            false => (self.addrs.iter().map(|a| a.owner).collect(), r.addrs.len()),
        };
        macs.sort_unstable();
        macs.dedup();
        let crowded = held.saturating_mul(4) > r.max().saturating_mul(3);
        macs.into_iter()
            .filter(|&mac| match self.device(mac) {
                None => mac != Mac::OTHER,
                Some(d) => crowded && !d.moved,
            })
            .collect()
    }

    /// The device table was created again (a new port, a config change):
    /// every element, and the other counters, count from zero.
    pub fn devices_restarted(&mut self) {
        for d in self.devices.iter_mut() {
            d.gone();
        }
        self.other.gone();
        self.addrs.clear();
    }

    /// The kernel elements of `macs` were deleted: an element created
    /// again counts from zero.
    pub fn pruned(&mut self, macs: &[Mac]) {
        for &mac in macs {
            if let Ok(i) = self.devices.binary_search_by_key(&mac, |d| d.mac) {
                self.devices[i].gone();
            }
        }
    }

    /// Names devices from what the name sources say (DHCP leases,
    /// neighbours, /etc/ethers): a known name or address replaces the
    /// kept one, an unknown one leaves it. Hosts that are not devices of
    /// the state are ignored (a device exists once it has traffic).
    pub fn name_devices(&mut self, hosts: &[Host]) {
        for h in hosts {
            let Ok(i) = self.devices.binary_search_by_key(&h.mac, |d| d.mac) else {
                continue;
            };
            let d = &mut self.devices[i];
            if let Some(name) = h.name.as_ref().filter(|n| !n.is_empty()) {
                d.name = name.clone();
            }
            d.ip4 = h.ip4.or(d.ip4);
            d.ip6 = h.ip6.or(d.ip6);
        }
    }

    /// The device `mac`, if the state holds it.
    pub fn device(&self, mac: Mac) -> Option<&DeviceState> {
        let i = self.devices.binary_search_by_key(&mac, |d| d.mac).ok()?;
        self.devices.get(i)
    }
}
