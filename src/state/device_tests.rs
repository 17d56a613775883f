//! Per-device state: folding, eviction, pruning, naming, and the
//! version-4 devices section.

use super::tests::utc;
use super::*;
use crate::device::{DeviceName, Host, MAX_DEVICES, MAX_DEVICE_NAME};
use crate::meter::Name;
use crate::time::days_from_civil;
use core::net::{Ipv4Addr, Ipv6Addr};

const CAL: Calendar = Calendar::UTC;

/// A locally administered unicast MAC ending in `n`.
fn mac(n: u16) -> Mac {
    let [hi, lo] = n.to_be_bytes();
    Mac([2, 0, 0, 0, hi, lo])
}

type Dir = (u64, u64);

/// A reading at `t` of no meters and the devices `elems` (MAC number,
/// down, up), `other` (down, up), at most `max` devices.
fn reading(t: i64, elems: &[(u16, Dir, Dir)], other: (Dir, Dir), max: usize) -> Reading {
    let c = |(p, b): Dir| Count::new(p, b);
    Reading {
        time: t,
        uptime: 0,
        counts: Counts::new(),
        generation: Generation::default(),
        reinstalled: false,
        closes_rates: false,
        devices: DeviceReading {
            on: true,
            elems: elems
                .iter()
                .map(|&(m, d, u)| (mac(m), c(d), c(u)))
                .collect(),
            other_down: c(other.0),
            other_up: c(other.1),
            max_devices: max,
            addrs: Vec::new(),
        },
    }
}

const NONE: (Dir, Dir) = ((0, 0), (0, 0));

fn dev(s: &State, m: u16) -> &DeviceState {
    s.device(mac(m)).expect("device in the state")
}

fn down(d: &DeviceState) -> Count {
    d.total.down
}

#[test]
fn devices_fold_byte_exact_over_several_readings() {
    let t0 = utc(2026, 5, 1, 10);
    let d0 = days_from_civil(2026, 5, 1);
    let mut s = State::new(t0);
    let r = reading(
        t0,
        &[(1, (10, 1_000), (5, 300)), (2, (1, 100), (0, 0))],
        ((2, 20), (1, 10)),
        8,
    );
    let f = s.fold(&[], &r, &CAL);
    assert!(!f.reset && f.evicted.is_empty());
    assert_eq!(s.devices.len(), 2);
    let a = dev(&s, 1);
    assert_eq!(
        a.total,
        DownUp::new(Count::new(10, 1_000), Count::new(5, 300))
    );
    assert_eq!((a.seen, a.moved), (t0, true));
    assert_eq!(a.day(d0), (1_000, 300));
    assert_eq!(s.other.total.down, Count::new(2, 20));
    // B's element is gone from the reading; A moves.
    let r = reading(
        t0 + 300,
        &[(1, (15, 1_600), (7, 400))],
        ((3, 50), (1, 10)),
        8,
    );
    s.fold(&[], &r, &CAL);
    assert_eq!(dev(&s, 2).last, DownUp::default());
    assert!(!dev(&s, 2).moved);
    assert_eq!(dev(&s, 2).seen, t0);
    assert_eq!(dev(&s, 1).total.up, Count::new(7, 400));
    assert_eq!(
        s.other.total,
        DownUp::new(Count::new(3, 50), Count::new(1, 10))
    );
    s.mark_reported(t0 + 301);
    // Next day: A idle, B's element was created again and counts anew.
    let r = reading(
        t0 + 86_400,
        &[(1, (15, 1_600), (7, 400)), (2, (2, 40), (1, 60))],
        ((3, 50), (1, 10)),
        8,
    );
    s.fold(&[], &r, &CAL);
    let (a, b) = (dev(&s, 1), dev(&s, 2));
    assert!(!a.moved && b.moved);
    assert_eq!(a.seen, t0 + 300);
    assert_eq!(b.seen, t0 + 86_400);
    assert_eq!(a.day(d0), (1_600, 400));
    assert_eq!(a.day(d0 + 1), (0, 0));
    assert_eq!(b.day(d0), (100, 0));
    assert_eq!(b.day(d0 + 1), (40, 60));
    assert_eq!(b.month(CAL.period(d0)), (140, 60));
    assert_eq!(s.other.day(d0), (50, 10));
    assert_eq!(a.period_down_up(), (Count::default(), Count::default()));
    assert_eq!(b.period_down_up(), (Count::new(2, 40), Count::new(1, 60)));
    assert_eq!(
        s.other.period_down_up(),
        (Count::default(), Count::default())
    );
}

#[test]
fn a_restart_counts_every_device_counter_anew_and_is_no_reset() {
    let mut s = State::new(0);
    let mut r = reading(1_000, &[(1, (10, 1_000), (1, 10))], ((1, 1), (0, 0)), 8);
    r.generation.handle = 5;
    s.fold(&[], &r, &CAL);
    // The table was recreated and already counted past the old values.
    let mut r = reading(2_000, &[(1, (20, 2_000), (2, 20))], ((4, 4), (0, 0)), 8);
    r.generation.handle = 6;
    assert!(!s.fold(&[], &r, &CAL).reset);
    assert_eq!(down(dev(&s, 1)), Count::new(30, 3_000));
    assert_eq!(dev(&s, 1).total.up, Count::new(3, 30));
    assert_eq!(s.other.total.down, Count::new(5, 5));
    let mut r = reading(3_000, &[(1, (1, 100), (0, 0))], NONE, 8);
    r.generation.handle = 6;
    r.reinstalled = true;
    assert!(!s.fold(&[], &r, &CAL).reset);
    assert_eq!(down(dev(&s, 1)), Count::new(31, 3_100));
    assert!(!s.reset_pending);
}

#[test]
fn a_pruned_element_created_again_counts_from_zero_without_loss() {
    let mut s = State::new(0);
    s.fold(
        &[],
        &reading(100, &[(1, (10, 1_000), (0, 0))], NONE, 8),
        &CAL,
    );
    // The caller deleted the element.
    s.pruned(&[mac(1), mac(9)]);
    assert_eq!(dev(&s, 1).last, DownUp::default());
    s.fold(&[], &reading(200, &[], NONE, 8), &CAL);
    s.fold(&[], &reading(300, &[(1, (4, 400), (0, 0))], NONE, 8), &CAL);
    assert_eq!(down(dev(&s, 1)), Count::new(14, 1_400));
    // Deleted and created again between two readings, behind the
    // state's back: the lower value is all new traffic, no alarm.
    let f = s.fold(&[], &reading(400, &[(1, (2, 100), (0, 0))], NONE, 8), &CAL);
    assert!(!f.reset);
    assert_eq!(down(dev(&s, 1)), Count::new(16, 1_500));
    assert_eq!(dev(&s, 1).day(0), (1_500, 0));
}

#[test]
fn devices_off_leave_the_device_state_as_it_is() {
    let mut s = State::new(0);
    s.fold(
        &[],
        &reading(100, &[(1, (1, 100), (0, 0))], ((1, 5), (0, 0)), 8),
        &CAL,
    );
    let before = (s.devices.clone(), s.other.clone());
    let mut off = reading(200, &[], NONE, 8);
    off.devices = DeviceReading::default();
    s.fold(&[], &off, &CAL);
    assert_eq!((s.devices.clone(), s.other.clone()), before);
    // Back on: the counters went on in the kernel meanwhile.
    s.fold(
        &[],
        &reading(300, &[(1, (3, 250), (0, 0))], ((2, 9), (0, 0)), 8),
        &CAL,
    );
    assert_eq!(down(dev(&s, 1)), Count::new(3, 250));
    assert_eq!(s.other.total.down, Count::new(2, 9));
}

#[test]
fn a_full_state_evicts_the_least_recently_seen_then_the_smallest_into_other() {
    let d = CAL.day(1_000);
    let mut s = State::new(0);
    let elems = [
        (1, (1, 100), (1, 1)),
        (2, (1, 50), (0, 0)),
        (3, (1, 70), (0, 0)),
    ];
    s.fold(&[], &reading(1_000, &elems, NONE, 3), &CAL);
    s.mark_reported(1_001);
    // A moves, B and C are idle (B the smaller), D is new.
    let elems = [
        (1, (2, 110), (1, 1)),
        (2, (1, 50), (0, 0)),
        (3, (1, 70), (0, 0)),
        (4, (1, 5), (0, 0)),
    ];
    let r = reading(2_000, &elems, NONE, 3);
    let f = s.fold(&[], &r, &CAL);
    assert_eq!(f.evicted, [mac(2)]);
    assert!(!f.reset);
    let macs: Vec<Mac> = s.devices.iter().map(|d| d.mac).collect();
    assert_eq!(macs, [mac(1), mac(3), mac(4)]);
    assert_eq!(s.other.total.down, Count::new(1, 50));
    assert_eq!(s.other.at_report.down, Count::new(1, 50));
    assert_eq!(s.other.day(d), (50, 0));
    assert_eq!(s.other.seen, 1_000);
    // The caller deletes B's element (the state no longer holds it) and,
    // the set being crowded (4 elements for 3 devices), idle C's.
    assert_eq!(s.devices_to_prune(&r.devices), [mac(2), mac(3)]);
    // The limit shrank: evicted down to it, new ones first kept.
    let f = s.fold(&[], &reading(3_000, &elems[..1], NONE, 1), &CAL);
    assert_eq!(f.evicted, [mac(3), mac(4)]);
    assert_eq!(s.devices.len(), 1);
    assert_eq!(s.other.total.down, Count::new(3, 125));
}

#[test]
fn more_new_devices_than_room_keep_the_limit() {
    let mut s = State::new(0);
    let elems = [
        (1, (1, 100), (0, 0)),
        (2, (1, 5), (0, 0)),
        (3, (0, 0), (0, 0)),
    ];
    let f = s.fold(&[], &reading(1_000, &elems, NONE, 2), &CAL);
    // 3 never moved (seen 0): it goes first, it counted nothing.
    assert_eq!(f.evicted, [mac(3)]);
    assert_eq!(s.devices.len(), 2);
    // The next new device evicts the smaller of the two.
    let elems = [
        (1, (1, 100), (0, 0)),
        (2, (1, 5), (0, 0)),
        (4, (1, 1), (0, 0)),
    ];
    let f = s.fold(&[], &reading(2_000, &elems, NONE, 2), &CAL);
    assert_eq!(f.evicted, [mac(2)]);
    assert!(s.device(mac(4)).is_some());
}

/// Small deterministic generator (no external crates).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The firewall side: elements of at most `max` MACs, `other` for
/// traffic that found no room.
#[derive(Default)]
struct Kernel {
    elems: Vec<(Mac, Count, Count)>,
    other: (Count, Count),
}

impl Kernel {
    fn count(&mut self, m: Mac, d: Count, u: Count, max: usize) {
        let room = self.elems.len() < max;
        match self.elems.iter_mut().find(|e| e.0 == m) {
            Some(e) => {
                e.1 = e.1.saturating_add(d);
                e.2 = e.2.saturating_add(u);
            }
            None if room => self.elems.push((m, d, u)),
            None => {
                self.other.0 = self.other.0.saturating_add(d);
                self.other.1 = self.other.1.saturating_add(u);
            }
        }
    }
}

fn sum_totals(s: &State) -> DownUp {
    let mut t = s.other.total;
    for d in &s.devices {
        t = DownUp::new(
            t.down.saturating_add(d.total.down),
            t.up.saturating_add(d.total.up),
        );
    }
    t
}

fn sum_day(s: &State, day: i64) -> DownUpBytes {
    s.devices
        .iter()
        .chain([&s.other])
        .map(|d| d.day(day))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Eviction, pruning and restarts move traffic between devices and
/// `other`, never lose or double it: the totals and each day add up to
/// what the kernel counted.
#[test]
fn eviction_and_pruning_keep_the_sum_of_devices_and_other() {
    for seed in 1..=20u64 {
        let mut rng = Lcg(seed);
        let max = 2 + rng.below(7) as usize;
        let t0 = utc(2026, 7, 1, 0);
        let mut s = State::new(t0);
        let mut k = Kernel::default();
        let mut want = DownUp::default();
        let mut want_days: Vec<DownUpBytes> = vec![(0, 0); 40];
        for step in 0..200i64 {
            let t = t0 + step * 3 * 3_600;
            let mut reinstalled = false;
            if rng.below(40) == 0 {
                // Rules recreated: the kernel starts from zero.
                k = Kernel::default();
                reinstalled = true;
            }
            for _ in 0..rng.below(5) {
                let m = mac(1 + rng.below(3 * max as u64) as u16);
                let d = Count::new(rng.below(50), rng.below(1 << 30));
                let u = Count::new(rng.below(50), rng.below(1 << 20));
                k.count(m, d, u, max);
                want = DownUp::new(want.down.saturating_add(d), want.up.saturating_add(u));
                let day = &mut want_days[(step / 8) as usize];
                *day = (day.0 + d.bytes, day.1 + u.bytes);
            }
            let mut r = reading(t, &[], NONE, max);
            r.devices.elems = k.elems.clone();
            (r.devices.other_down, r.devices.other_up) = k.other;
            r.reinstalled = reinstalled;
            let f = s.fold(&[], &r, &CAL);
            assert!(!f.reset, "seed {seed} step {step}");
            assert!(s.devices.len() <= max);
            assert!(s.devices.windows(2).all(|w| w[0].mac < w[1].mac));
            assert_eq!(sum_totals(&s), want, "seed {seed} step {step}");
            let prune = s.devices_to_prune(&r.devices);
            for m in &f.evicted {
                assert!(prune.contains(m) || !k.elems.iter().any(|e| e.0 == *m));
            }
            k.elems.retain(|e| !prune.contains(&e.0));
            s.pruned(&prune);
        }
        let d0 = CAL.day(t0);
        for (i, w) in want_days.iter().enumerate() {
            assert_eq!(sum_day(&s, d0 + i as i64), *w, "seed {seed} day {i}");
        }
    }
}

#[test]
fn device_traffic_waits_for_a_sane_clock_and_recovers_from_the_future() {
    let cal = Calendar {
        min_sane: utc(2026, 1, 1, 0),
        ..CAL
    };
    let t = utc(2026, 3, 1, 12);
    let mut s = State::new(t);
    s.fold(&[], &reading(t, &[(1, (1, 100), (0, 0))], NONE, 8), &cal);
    // Reboot with the clock at 1970: totals now, buckets later; `seen`
    // keeps a time the state trusts.
    let r = reading(600, &[(1, (2, 300), (1, 7))], ((1, 1), (0, 0)), 8);
    s.fold(&[], &r, &cal);
    let a = dev(&s, 1);
    assert_eq!(down(a), Count::new(2, 300));
    assert_eq!(a.carry.down, Count::new(1, 200));
    assert_eq!(a.seen, t);
    assert_eq!(a.day(0), (0, 0));
    assert_eq!(s.other.carry.down, Count::new(1, 1));
    let t2 = utc(2026, 3, 2, 9);
    s.fold(&[], &reading(t2, &[(1, (2, 300), (1, 7))], NONE, 8), &cal);
    let a = dev(&s, 1);
    assert_eq!(a.day(cal.day(t2)), (200, 7));
    assert_eq!(a.carry, DownUp::default());
    assert_eq!(s.other.day(cal.day(t2)), (1, 0));
    assert_eq!(a.month(cal.period(cal.day(t2))), (300, 7));
    // A clock in the future, then corrected in the same boot.
    let future = utc(2031, 6, 1, 12);
    s.fold(
        &[],
        &reading(future, &[(1, (3, 500), (1, 7))], NONE, 8),
        &cal,
    );
    assert_eq!(dev(&s, 1).day(cal.day(future)), (200, 0));
    let mut r = reading(t2 + 600, &[(1, (3, 500), (1, 7))], NONE, 8);
    r.uptime = CLOCK_GRACE;
    assert!(s.fold(&[], &r, &cal).recovered);
    let a = dev(&s, 1);
    assert_eq!(a.day(cal.day(future)), (0, 0));
    assert_eq!(a.day(cal.day(t2)), (400, 7));
    assert_eq!(a.month(cal.period(cal.day(t2))), (500, 7));
}

#[test]
fn hosts_name_the_devices_of_the_state_only() {
    let mut s = State::new(0);
    s.fold(
        &[],
        &reading(10, &[(1, (1, 1), (0, 0)), (2, (1, 1), (0, 0))], NONE, 8),
        &CAL,
    );
    let name = |b: &[u8]| DeviceName::from_slice(b).unwrap();
    let ip4 = Ipv4Addr::new(192, 168, 1, 20);
    let ip6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x20);
    s.name_devices(&[
        Host {
            mac: mac(1),
            name: Some(name(b"laptop")),
            ip4: Some(ip4),
            ip6: None,
        },
        Host {
            mac: mac(7),
            name: Some(name(b"stranger")),
            ..Host::default()
        },
    ]);
    // Later sources that know less leave what is known.
    s.name_devices(&[Host {
        mac: mac(1),
        name: Some(name(b"")),
        ip4: None,
        ip6: Some(ip6),
    }]);
    let a = dev(&s, 1);
    assert_eq!(
        (&a.name[..], a.ip4, a.ip6),
        (&b"laptop"[..], Some(ip4), Some(ip6))
    );
    assert!(dev(&s, 2).name.is_empty());
    assert!(s.device(mac(7)).is_none(), "no traffic, no device");
}

#[test]
fn a_crowded_set_prunes_the_devices_that_did_not_move() {
    let mut s = State::new(0);
    let e = |n, b| (n, (1, b), (0, 0));
    s.fold(
        &[],
        &reading(10, &[e(1, 1), e(2, 1), e(3, 1), e(4, 1)], NONE, 8),
        &CAL,
    );
    let r = reading(20, &[e(1, 2), e(2, 1), e(3, 2), e(4, 1)], NONE, 8);
    s.fold(&[], &r, &CAL);
    // 4 of 8: room enough.
    assert!(s.devices_to_prune(&r.devices).is_empty());
    // 4 of 5 (over 3/4): the idle ones go.
    let r = reading(30, &[e(1, 3), e(2, 1), e(3, 3), e(4, 1)], NONE, 5);
    s.fold(&[], &r, &CAL);
    let prune = s.devices_to_prune(&r.devices);
    assert_eq!(prune, [mac(2), mac(4)]);
    s.pruned(&prune);
    assert_eq!(dev(&s, 2).last, DownUp::default());
    assert_eq!(dev(&s, 1).last.down, Count::new(1, 3));
}

/// A state with devices of hostile names and every kind of field.
fn sample() -> State {
    let t0 = utc(2026, 9, 29, 8);
    let mut s = State::new(t0);
    let names = ["proxy", "offnet"];
    let mut r = reading(t0, &[], NONE, 16);
    r.counts = [("proxy", 5u64), ("offnet", 7)]
        .iter()
        .map(|&(n, v)| (Name::try_from(n).unwrap(), Count::new(v, v * 100)))
        .collect();
    r.generation.handle = 3;
    r.closes_rates = true;
    for step in 0..6u64 {
        r.time = t0 + step as i64 * 40_000;
        r.devices.elems = (1..=5u16)
            .map(|m| {
                let v = u64::from(m) * (step + 1);
                let up = Count::new(v, v << (4 * m));
                (mac(m * 37), Count::new(v, v * 1_500), up)
            })
            .collect();
        r.devices.other_down = Count::new(step, step * 90);
        s.fold(&names, &r, &CAL);
    }
    let hostile: [&[u8]; 5] = [
        b"\x00nul",
        b"\xff\xfe",
        b"<script>alert(1)</script>",
        b"a\r\nBcc: x@y",
        &[b'x'; 63],
    ];
    let hosts: Vec<Host> = hostile
        .iter()
        .enumerate()
        .map(|(i, n)| Host {
            mac: mac((i as u16 + 1) * 37),
            name: Some(DeviceName::from_slice(n).unwrap()),
            ip4: (i % 2 == 0).then(|| Ipv4Addr::new(10, 0, 0, i as u8)),
            ip6: (i % 3 == 0).then(|| Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, i as u16)),
        })
        .collect();
    s.name_devices(&hosts);
    s.mark_reported(t0 + 200_001);
    s.devices[2].carry.up = Count::new(1, 2);
    s.devices[3].seen = -5;
    s
}

/// `moved` is not encoded: what a decoded state has.
fn settled(mut s: State) -> State {
    for d in s.devices.iter_mut().chain([&mut s.other]) {
        d.moved = false;
    }
    s
}

#[test]
fn devices_round_trip_with_hostile_names() {
    let s = sample();
    assert_eq!(s.devices.len(), 5);
    let b = s.encode();
    assert_eq!(&b[4..6], &VERSION.to_le_bytes());
    assert_eq!(&b[8..12], &(b.len() as u32).to_le_bytes());
    let back = State::decode(&b).expect("decodes");
    assert_eq!(back, settled(s));
    assert_eq!(&back.devices[2].name[..], b"<script>alert(1)</script>");
    assert_eq!(back.encode(), b, "one encoding per state");
}

/// Puts a body (everything before the CRC) back into a file with its
/// length and CRC right, so the decoder gets past both.
fn reseal(body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    if b.len() >= 12 {
        let len = (b.len() + 4) as u32;
        b[8..12].copy_from_slice(&len.to_le_bytes());
    }
    let crc = crc32(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn every_truncation_of_a_version_4_file_fails_cleanly() {
    let b = sample().encode();
    let body = &b[..b.len() - 4];
    for cut in 0..b.len() {
        assert!(State::decode(&b[..cut]).is_err(), "prefix {cut}");
    }
    // Resealed, so that the devices parser itself meets the cut.
    let meters_end = HEADER + 2 * METER_BYTES;
    for cut in meters_end..body.len() {
        let e = State::decode(&reseal(&body[..cut]));
        assert!(e.is_err(), "resealed prefix {cut}");
    }
    // Trailing bytes, even resealed.
    let mut long = body.to_vec();
    long.push(0);
    assert_eq!(State::decode(&reseal(&long)), Err(DecodeError::Length));
}

#[test]
fn decode_refuses_unsorted_or_repeated_devices_and_buckets() {
    let mut s = settled(sample());
    s.devices.swap(0, 1);
    assert_eq!(State::decode(&s.encode()), Err(DecodeError::Field));
    let mut s = settled(sample());
    s.devices[1].mac = s.devices[0].mac;
    assert_eq!(State::decode(&s.encode()), Err(DecodeError::Field));
    let mut s = settled(sample());
    s.devices[0].mac = Mac::OTHER;
    assert_eq!(State::decode(&s.encode()), Err(DecodeError::Field));
    let mut s = settled(sample());
    s.other.mac = mac(1);
    assert_eq!(State::decode(&s.encode()), Err(DecodeError::Field));
    // One key in two slots: written as a step of zero.
    let mut s = settled(sample());
    let used = s.devices[0]
        .days
        .iter()
        .position(|b| b.key != EMPTY)
        .unwrap();
    let copy = s.devices[0].days[used];
    let free = s.devices[0]
        .days
        .iter()
        .position(|b| b.key == EMPTY)
        .unwrap();
    s.devices[0].days[free] = copy;
    assert_eq!(State::decode(&s.encode()), Err(DecodeError::Field));
    // Two keys for one slot (31 days apart).
    s.devices[0].days[free].key = copy.key + DEVICE_DAYS as i32;
    assert_eq!(State::decode(&s.encode()), Err(DecodeError::Field));
    // A key that is no key.
    let mut s = settled(sample());
    s.devices[0].months[0] = Bucket {
        key: EMPTY,
        count: (1, 1),
    };
    s.devices[0].months[1] = Bucket {
        key: i32::MAX,
        count: (1, 1),
    };
    let ok = State::decode(&s.encode());
    assert!(ok.is_ok(), "i32::MAX is a key (far off, but one)");
}

#[test]
fn decode_refuses_more_devices_than_max_and_bad_fields() {
    let s = State::new(5);
    let b = s.encode();
    let body = &b[..b.len() - 4];
    // The body ends with the device count, then the address, block and
    // warning counts, the three times of the rate windows and `other`'s
    // bytes in them (four varints): eleven zeros.
    assert_eq!(body.get(body.len() - 11..), Some(&[0u8; 11][..]));
    let cut = &body[..body.len() - 11];
    let with_count = |n: &[u8]| {
        let mut v = cut.to_vec();
        v.extend_from_slice(n);
        v.extend_from_slice(&[0; 10]);
        reseal(&v)
    };
    assert_eq!(State::decode(&with_count(&[0])), Ok(s.clone()));
    // 8193 = 0x2001: 0x81 0x40.
    assert_eq!(
        State::decode(&with_count(&[0x81, 0x40])),
        Err(DecodeError::Field)
    );
    // Overlong zero, an 11-byte varint, a varint past 64 bits.
    assert_eq!(
        State::decode(&with_count(&[0x80, 0])),
        Err(DecodeError::Field)
    );
    let eleven = [0xff; 11];
    assert_eq!(State::decode(&with_count(&eleven)), Err(DecodeError::Field));
    let mut big = [0xff; 10];
    big[9] = 2;
    assert_eq!(State::decode(&with_count(&big)), Err(DecodeError::Field));
    // A varint cut off by the end of the file.
    assert_eq!(
        State::decode(&reseal(&[cut, &[0x80][..]].concat())),
        Err(DecodeError::Length)
    );
    // The addresses byte of `other` (after its MAC and empty name).
    let ips = HEADER + 6 + 1;
    let mut v = body.to_vec();
    v[ips] = 4;
    assert_eq!(State::decode(&reseal(&v)), Err(DecodeError::Field));
    // A name longer than `MAX_DEVICE_NAME`.
    let mut v = body[..HEADER + 6].to_vec();
    v.push(64);
    v.extend_from_slice(&[b'a'; 64]);
    v.extend_from_slice(&body[HEADER + 7..]);
    assert_eq!(State::decode(&reseal(&v)), Err(DecodeError::Field));
}

/// Mutated files (bytes changed, inserted, removed, then resealed so
/// that the devices parser sees them) never panic, and whatever decodes
/// is a state that encodes back to the same bytes.
#[test]
fn mutated_version_4_files_never_panic() {
    // Without meters: the CRC of a short file is quick to redo.
    let mut s = sample();
    s.meters.clear();
    let b = s.encode();
    let body = b[..b.len() - 4].to_vec();
    let start = HEADER;
    let mut rng = Lcg(7);
    let mut accepted = 0;
    for _ in 0..10_000 {
        let mut v = body.clone();
        for _ in 0..1 + rng.below(4) {
            let i = start + rng.below((v.len() - start) as u64) as usize;
            match rng.below(4) {
                0 => v.insert(i, rng.below(256) as u8),
                1 => drop(v.remove(i)),
                2 => v[i] ^= 1 << rng.below(8),
                _ => v[i] = rng.below(256) as u8,
            }
        }
        let file = reseal(&v);
        if let Ok(st) = State::decode(&file) {
            accepted += 1;
            assert_eq!(st.encode(), file, "decoded, but not canonical");
        }
    }
    // Many mutations (a count, a name byte) still make a valid state.
    assert!(accepted > 100, "{accepted}");
}

/// A file as e324251 wrote it (tests/fixtures/state-v3.bin, see the
/// README there): every field read back, no devices, written back as
/// version 4 with the same meters.
#[test]
fn version_3_file_decodes_without_loss() {
    let v3 = include_bytes!("../../tests/fixtures/state-v3.bin");
    assert_eq!(&v3[4..6], &[3, 0], "the fixture is a version-3 file");
    let st = State::decode(v3).expect("a version-3 file decodes");
    let t = |d: u8, h: u8| utc(2026, if d == 30 { 9 } else { 10 }, d, h);
    assert_eq!(st.created, t(30, 8));
    assert_eq!(st.updated, t(1, 12));
    assert_eq!(st.reported, t(30, 21));
    assert_eq!(st.synced, t(1, 12) + 5);
    assert_eq!(
        st.generation.boot_id,
        "5f0e1b2c-0000-4000-8000-000000000003"
    );
    assert_eq!(st.generation.handle, 18);
    assert!(st.reset_pending && st.expect_restart && st.stopped && st.stop_noted);
    let [proxy, offnet] = st.meters.as_slice() else {
        panic!("{:?}", st.meters)
    };
    assert_eq!(proxy.name, "proxy");
    assert_eq!(proxy.last, Count::new(3, 300));
    assert_eq!(proxy.total, Count::new(35, (1 << 33) + 31_200));
    assert_eq!(proxy.at_report, Count::new(20, (1 << 33) + 20_000));
    assert_eq!(proxy.carry, Count::new(1, 200));
    assert_eq!(proxy.resets, 1);
    let sep30 = days_from_civil(2026, 9, 30);
    assert_eq!(proxy.day(sep30), Count::new(20, (1 << 33) + 20_000));
    assert_eq!(proxy.day(sep30 + 1), Count::new(14, 11_000));
    assert_eq!(
        proxy.month(2026 * 12 + 8),
        Count::new(20, (1 << 33) + 20_000)
    );
    assert_eq!(proxy.month(2026 * 12 + 9), Count::new(14, 11_000));
    // offnet left the config: retired, its rules gone.
    assert_eq!(offnet.name, "offnet");
    assert_eq!(offnet.last, Count::default());
    assert_eq!(offnet.total, Count::new(4, 1_800));
    assert_eq!(offnet.at_report, Count::new(3, 1_500));
    assert_eq!(offnet.resets, 0);
    assert_eq!(offnet.day(sep30), Count::new(3, 1_500));
    assert_eq!(offnet.day(sep30 + 1), Count::new(1, 300));
    assert_eq!(st.retired(&["proxy"]).count(), 1);
    let used = |m: &MeterState| m.days.iter().filter(|b| b.key != EMPTY).count();
    assert_eq!((used(proxy), used(offnet)), (2, 2));
    assert!(st.devices.is_empty());
    assert_eq!(st.other, DeviceState::new(Mac::OTHER));
    // Written back as version 4: the same meters, then the devices.
    let v4 = st.encode();
    let meters = v3.len() - 4;
    assert!((0..meters).all(|i| v3[i] == v4[i] || i == 4 || (8..12).contains(&i)));
    assert_eq!(State::decode(&v4), Ok(st));
}

/// The flash budget: 100 devices active every day for a month (31 day
/// buckets and 2 billing periods each, GiB a day), next to 2 meters,
/// encode to 50,187 bytes: under 64 KiB a state, so two writes a day stay
/// under 128 KiB of flash a day.
#[test]
fn a_month_of_100_devices_encodes_to_50187_bytes_under_64_kib() {
    let t0 = utc(2026, 8, 16, 12);
    let mut s = State::new(t0);
    let names = ["wan", "lan"];
    let mut r = reading(t0, &[], NONE, 1_024);
    let mut counters = [(Count::default(), Count::default()); 100];
    let mut rng = Lcg(3);
    for day in 0..31 {
        r.time = t0 + day * 86_400;
        for c in counters.iter_mut() {
            let down = Count::new(700_000 + rng.below(1 << 20), (1 << 30) + rng.below(1 << 32));
            let up = Count::new(300_000 + rng.below(1 << 19), (1 << 27) + rng.below(1 << 28));
            *c = (c.0.saturating_add(down), c.1.saturating_add(up));
        }
        r.devices.elems = (0..100u16)
            .zip(counters.iter())
            .map(|(m, c)| (mac(m + 1), c.0, c.1))
            .collect();
        r.counts = names
            .iter()
            .map(|&n| {
                (
                    Name::try_from(n).unwrap(),
                    Count::new(day as u64, (day as u64) << 34),
                )
            })
            .collect();
        s.fold(&names, &r, &CAL);
    }
    let hosts: Vec<Host> = (0..100u16)
        .map(|m| Host {
            mac: mac(m + 1),
            name: Some(
                DeviceName::from_slice(format!("android-{m:04x}c3d2e1").as_bytes()).unwrap(),
            ),
            ip4: Some(Ipv4Addr::new(192, 168, 1, m as u8)),
            ip6: Some(Ipv6Addr::new(0xfd00, 0, 0, 0, 0x1234, 0x5678, 0x9abc, m)),
        })
        .collect();
    s.name_devices(&hosts);
    let d = &s.devices[0];
    assert_eq!(d.days.iter().filter(|b| b.key != EMPTY).count(), 31);
    assert_eq!(d.months.iter().filter(|b| b.key != EMPTY).count(), 2);
    let b = s.encode();
    assert!(b.len() < 64 * 1024, "{}", b.len());
    assert_eq!(
        b.len(),
        50_187,
        "update the doc comment and the release note"
    );
    assert!(b.len() <= max_bytes(100));
}

/// `DEVICE_MAX_BYTES` holds: a device with every field at its longest.
#[test]
fn the_largest_device_fits_its_bound() {
    let mut s = State::new(0);
    let mut d = DeviceState::new(Mac([0xfe; 6]));
    d.name = DeviceName::from_slice(&[0xff; MAX_DEVICE_NAME]).unwrap();
    d.ip4 = Some(Ipv4Addr::BROADCAST);
    d.ip6 = Some(Ipv6Addr::from([0xff; 16]));
    let max = Count::new(u64::MAX, u64::MAX);
    let all = DownUp::new(max, max);
    (d.last, d.total, d.at_report, d.carry) = (all, all, all, all);
    d.seen = i64::MIN;
    // Keys as far apart as one slot each allows.
    for (i, b) in d.days.iter_mut().enumerate() {
        let k = i32::MIN + 31 + i as i32 + if i > 0 { i32::MAX - 62 } else { 0 };
        *b = Bucket {
            key: k - k.rem_euclid(31) + i as i32,
            count: (u64::MAX, u64::MAX),
        };
    }
    for (i, b) in d.months.iter_mut().enumerate() {
        *b = Bucket {
            key: i32::MAX - 11 + i as i32 - (i32::MAX - 11).rem_euclid(12),
            count: (u64::MAX, u64::MAX),
        };
    }
    s.devices.push(d.clone());
    let empty = State::new(0).encode().len();
    let one = s.encode();
    assert!(
        one.len() - empty <= DEVICE_MAX_BYTES,
        "{}",
        one.len() - empty
    );
    assert_eq!(State::decode(&one).map(|s| s.devices), Ok(vec![d]));
    assert!(max_bytes(MAX_DEVICES as usize) < 16 << 20);
}

/// A reading by address (iptables), as `ipset_devices` makes it.
fn by_addr(addrs: &[(&str, Option<Mac>, u64, u64)]) -> DeviceReading {
    DeviceReading {
        on: true,
        addrs: addrs
            .iter()
            .map(|&(ip, mac, down, up)| AddrCount {
                ip: ip.parse().unwrap(),
                mac,
                down: Count::new(down, down * 100),
                up: Count::new(up, up * 100),
            })
            .collect(),
        ..DeviceReading::default()
    }
}

#[test]
fn an_address_that_loses_its_neighbour_entry_stays_with_its_device() {
    let (a, b) = (mac(1), mac(2));
    let t0 = utc(2026, 5, 1, 10);
    let mut st = State::new(t0);
    let mut t = t0;
    let mut fold = |st: &mut State, r: DeviceReading| {
        t += 300;
        let mut reading = reading(t, &[], NONE, 8);
        reading.devices = r;
        st.fold(&[], &reading, &CAL);
    };
    // Device a has an IPv4 and an IPv6 address; b one.
    fold(
        &mut st,
        by_addr(&[
            ("192.168.1.10", Some(a), 5, 1),
            ("fd00::10", Some(a), 3, 2),
            ("192.168.1.20", Some(b), 1, 1),
        ]),
    );
    assert_eq!(st.device(a).unwrap().total.down.packets, 8);
    // a's IPv6 neighbour entry expires: its counter stays a's.
    fold(
        &mut st,
        by_addr(&[
            ("192.168.1.10", Some(a), 6, 1),
            ("fd00::10", None, 4, 2),
            ("192.168.1.20", Some(b), 1, 1),
        ]),
    );
    assert_eq!(
        st.device(a).unwrap().total.down.packets,
        10,
        "no byte counted twice"
    );
    assert_eq!(st.other.total.down.packets, 0);
    // It comes back: only the growth counts.
    fold(
        &mut st,
        by_addr(&[
            ("192.168.1.10", Some(a), 6, 1),
            ("fd00::10", Some(a), 7, 2),
            ("192.168.1.20", Some(b), 1, 1),
        ]),
    );
    assert_eq!(st.device(a).unwrap().total.down.packets, 13);
    // The IPv4 address goes to b (a new lease): its growth counts for b.
    fold(
        &mut st,
        by_addr(&[
            ("192.168.1.10", Some(b), 8, 1),
            ("fd00::10", Some(a), 7, 2),
            ("192.168.1.20", Some(b), 1, 1),
        ]),
    );
    assert_eq!(st.device(a).unwrap().total.down.packets, 13);
    assert_eq!(st.device(b).unwrap().total.down.packets, 3);
    // The element is deleted and made again: it counts from zero.
    fold(
        &mut st,
        by_addr(&[
            ("192.168.1.10", Some(b), 1, 0),
            ("fd00::10", Some(a), 7, 2),
            ("192.168.1.20", Some(b), 1, 1),
        ]),
    );
    assert_eq!(st.device(b).unwrap().total.down.packets, 4);
    // Never seen with a MAC: not counted until it is.
    fold(
        &mut st,
        by_addr(&[
            ("192.168.1.30", None, 9, 9),
            ("192.168.1.10", Some(b), 1, 0),
            ("fd00::10", Some(a), 7, 2),
            ("192.168.1.20", Some(b), 1, 1),
        ]),
    );
    let total: u64 =
        st.devices.iter().map(|d| d.total.down.packets).sum::<u64>() + st.other.total.down.packets;
    assert_eq!(total, 17);
    // The addresses survive the state file.
    let again = State::decode(&st.encode()).unwrap();
    assert_eq!(again.addrs, st.addrs);
    assert_eq!(st.addrs.len(), 3);
}

#[test]
fn a_used_up_quota_cuts_and_warns_once_per_period() {
    use crate::quota::{Direction, Period, Quota};
    let cal = Calendar::UTC;
    let day = 20_000i64;
    let now = day * 86_400 + 3600;
    let named = |n: u8, name: &[u8]| {
        let mut d = DeviceState::new(Mac([2, 0, 0, 0, 0, n]));
        d.name = DeviceName::from_slice(name).unwrap();
        d
    };
    let mut d = named(1, b"phone");
    d.days[(day % DEVICE_DAYS as i64) as usize] = crate::state::Bucket {
        key: day as i32,
        count: (900, 200),
    };
    let mut st = State::new(0);
    st.devices = vec![d, named(2, b"tv")];
    let q = Quota {
        name: "kids".into(),
        devices: vec!["phone".into()],
        period: Period::Day,
        limit: 1000,
        direction: Direction::Down,
        block: true,
        mail: true,
    };
    let quotas = [q.clone()];
    assert!(
        st.blocked_now(&quotas, &cal, now).is_empty(),
        "900 of 1000 used"
    );
    let total = [Quota {
        direction: Direction::Total,
        ..q.clone()
    }];
    let phone = Mac([2, 0, 0, 0, 0, 1]);
    assert_eq!(st.blocked_now(&total, &cal, now), vec![phone]);
    assert!(
        st.warnings_due(&quotas, &cal, now, &[]).is_empty(),
        "900 of 1000"
    );
    let kernel = [(0, phone)];
    assert_eq!(
        st.warnings_due(&quotas, &cal, now, &kernel).len(),
        1,
        "the kernel says it is used up"
    );
    st.warned.clear();
    assert_eq!(st.warnings_due(&total, &cal, now, &[]).len(), 1);
    assert!(
        st.warnings_due(&total, &cal, now + 60, &[]).is_empty(),
        "once a period"
    );
    // At most the limit: the kernel refuses a quota object that starts past it.
    assert_eq!(st.kernel_quotas(&total, &cal, now)[0].used, 1000);
    // The next day: nothing used, nothing cut, the old warning forgotten.
    assert!(st.blocked_now(&total, &cal, now + 86_400).is_empty());
    assert!(st.warnings_due(&total, &cal, now + 86_400, &[]).is_empty());
    assert!(st.warned.is_empty());
    // Every device, when the quota lists none.
    let every = [Quota {
        devices: Vec::new(),
        ..q
    }];
    assert_eq!(st.quota_devices(&every[0]).len(), 2);
}

/// The rates: what each device moved between the last two updates over
/// the seconds between them. Other readings (`devices`, `report`…) only
/// add to the open window; an update in the same second leaves it open;
/// a reading with the clock gone back or devices off leaves it unrated.
#[test]
fn rates_are_the_bytes_between_the_last_two_updates() {
    let t0 = utc(2026, 5, 1, 10);
    let mut s = State::new(t0);
    let fold = |s: &mut State, t: i64, update: bool, elems: &[(u16, Dir, Dir)]| {
        let mut r = reading(t, elems, NONE, 64);
        r.closes_rates = update;
        s.fold(&[], &r, &CAL);
    };
    fold(&mut s, t0 + 1, true, &[(1, (1, 100), (0, 0))]);
    assert_eq!(s.update_at, t0 + 1);
    assert_eq!(s.rate(dev(&s, 1)), None, "one update: no window yet");
    // A reading that is no update, then the update 300 s after the first.
    fold(&mut s, t0 + 100, false, &[(1, (2, 1_100), (1, 60))]);
    assert_eq!(s.rate(dev(&s, 1)), None);
    fold(
        &mut s,
        t0 + 301,
        true,
        &[(1, (3, 3_100), (2, 600)), (2, (1, 299), (0, 0))],
    );
    assert_eq!((s.rates_from, s.rates_to), (t0 + 1, t0 + 301));
    assert_eq!(dev(&s, 1).rate_bytes, (3_000, 600));
    assert_eq!(s.rate(dev(&s, 1)), Some((10, 2)));
    // 299 bytes in 300 s: under one a second.
    assert_eq!(s.rate(dev(&s, 2)), Some((0, 0)));
    // The same second again: the open window goes on, the rates stay.
    fold(&mut s, t0 + 301, true, &[(1, (4, 3_400), (2, 600))]);
    assert_eq!(s.rate(dev(&s, 1)), Some((10, 2)));
    assert_eq!(dev(&s, 1).since_update, (300, 0));
    // Readings between updates change no rate; device 2 is absent.
    fold(&mut s, t0 + 330, false, &[(1, (5, 3_700), (2, 600))]);
    assert_eq!(s.rate(dev(&s, 1)), Some((10, 2)));
    fold(&mut s, t0 + 361, true, &[(1, (6, 4_000), (3, 1_200))]);
    assert_eq!(s.rate(dev(&s, 1)), Some((15, 10)), "900 and 600 B in 60 s");
    assert_eq!(s.rate(dev(&s, 2)), Some((0, 0)));
    // The clock went back: the open window gets no rate, the last stays.
    let mut back = reading(t0 + 100, &[(1, (7, 4_100), (3, 1_200))], NONE, 64);
    back.uptime = CLOCK_GRACE;
    s.fold(&[], &back, &CAL);
    assert_eq!(s.rate(dev(&s, 1)), Some((15, 10)));
    fold(&mut s, t0 + 160, true, &[(1, (8, 4_160), (3, 1_200))]);
    assert_eq!(s.rate(dev(&s, 1)), None, "no whole window since");
    fold(&mut s, t0 + 220, true, &[(1, (9, 4_280), (3, 1_200))]);
    assert_eq!(s.rate(dev(&s, 1)), Some((2, 0)));
    // Devices off between two updates: that window is not rated.
    let mut off = reading(t0 + 250, &[], NONE, 64);
    off.devices.on = false;
    s.fold(&[], &off, &CAL);
    fold(&mut s, t0 + 280, true, &[(1, (10, 4_400), (3, 1_200))]);
    assert_eq!(s.rate(dev(&s, 1)), None);
    // The windows survive the state file.
    fold(&mut s, t0 + 290, false, &[(1, (11, 4_450), (3, 1_200))]);
    fold(&mut s, t0 + 340, true, &[(1, (12, 4_880), (3, 1_200))]);
    let back = State::decode(&s.encode()).expect("decodes");
    assert_eq!((back.rates_from, back.rates_to), (t0 + 280, t0 + 340));
    assert_eq!(back.rate(dev(&back, 1)), Some((8, 0)));
    fold(&mut s, t0 + 345, false, &[(1, (13, 4_900), (3, 1_200))]);
    let back = State::decode(&s.encode()).expect("decodes");
    assert_eq!(dev(&back, 1).since_update, (20, 0));
}

/// An evicted device's bytes in both windows go to `other` with its
/// totals: the rates still add up to what the sets counted.
#[test]
fn an_evicted_devices_window_bytes_move_to_other() {
    let t0 = utc(2026, 5, 1, 10);
    let mut s = State::new(t0);
    let mut r = reading(t0 + 10, &[(1, (1, 500), (0, 0))], NONE, 1);
    r.closes_rates = true;
    s.fold(&[], &r, &CAL);
    let r = reading(t0 + 20, &[(1, (2, 900), (0, 0))], NONE, 1);
    s.fold(&[], &r, &CAL);
    let r = reading(t0 + 30, &[(2, (1, 70), (0, 0))], NONE, 1);
    let f = s.fold(&[], &r, &CAL);
    assert_eq!(f.evicted, vec![mac(1)]);
    assert_eq!(s.other.since_update, (400, 0));
    assert_eq!(dev(&s, 2).since_update, (70, 0));
}

/// A version-5 file (tests/fixtures/state-v5.bin, see the README there):
/// every field reads back, with no rates (version 5 kept none), and it
/// is written back as version 6.
#[test]
fn version_5_file_decodes_without_loss() {
    let v5 = include_bytes!("../../tests/fixtures/state-v5.bin");
    assert_eq!(&v5[4..6], &[5, 0], "the fixture is a version-5 file");
    let st = State::decode(v5).expect("a version-5 file decodes");
    let mut want = settled(sample());
    want.block(mac(2 * 37), 1_790_000_100, Some(1_790_100_000))
        .unwrap();
    want.block(mac(4 * 37), 1_790_000_200, None).unwrap();
    want.warned.push(Warned {
        quota: 1,
        mac: mac(37),
        period: 20_000,
    });
    (want.rates_from, want.rates_to, want.update_at) = (0, 0, 0);
    for d in want.devices.iter_mut().chain([&mut want.other]) {
        d.rate_bytes = (0, 0);
        d.since_update = (0, 0);
    }
    assert_eq!(st, want);
    let v6 = st.encode();
    assert_eq!(&v6[4..6], &[6, 0]);
    assert_eq!(State::decode(&v6), Ok(st));
}
