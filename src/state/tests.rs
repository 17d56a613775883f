use super::*;
use crate::calendar::days_in_month;
use crate::device::Mac;
use crate::meter::Name;
use crate::time::{days_from_civil, Civil};

/// A reading at `t` of the meters `NAMES`, one count each, in order.
fn reading(t: i64, counts: &[(u64, u64)]) -> Reading {
    let named: Vec<(&str, (u64, u64))> =
        NAMES.iter().copied().zip(counts.iter().copied()).collect();
    reading_of(t, &named)
}

/// A reading at `t` of the meters named.
fn reading_of(t: i64, counts: &[(&str, (u64, u64))]) -> Reading {
    Reading {
        time: t,
        uptime: 0,
        counts: counts
            .iter()
            .map(|&(n, (p, b))| (Name::try_from(n).unwrap(), Count::new(p, b)))
            .collect(),
        generation: Generation::default(),
        reinstalled: false,
        closes_rates: false,
        devices: DeviceReading::default(),
    }
}

const NAMES: [&str; 2] = ["proxy", "offnet"];
const CAL: Calendar = Calendar::UTC;

/// Unix time of a UTC hour (also for `device_tests`).
pub(super) fn utc(y: i64, mo: u8, d: u8, h: u8) -> i64 {
    Civil {
        year: y,
        month: mo,
        day: d,
        hour: h,
        min: 0,
        sec: 0,
    }
    .to_unix()
}

#[test]
fn deltas_accumulate_and_period_resets_at_report() {
    let mut s = State::new(100);
    assert!(
        !s.fold(&NAMES, &reading(100, &[(1, 100), (2, 200)]), &CAL)
            .reset
    );
    assert!(
        !s.fold(&NAMES, &reading(200, &[(3, 300), (2, 250)]), &CAL)
            .reset
    );
    assert_eq!(s.meters[0].total, Count::new(3, 300));
    assert_eq!(s.meters[1].total, Count::new(2, 250));
    s.mark_reported(200);
    assert!(
        !s.fold(&NAMES, &reading(300, &[(4, 1300), (2, 250)]), &CAL)
            .reset
    );
    assert_eq!(s.period(&s.meters[0]), Count::new(1, 1000));
    assert_eq!(s.period(&s.meters[1]), Count::default());
}

#[test]
fn counter_going_down_is_a_reset_counted_from_new_value() {
    let mut s = State::new(0);
    s.fold(&NAMES, &reading(1, &[(10, 5000), (1, 10)]), &CAL);
    // Only the byte count of one meter went down: still a reset for it.
    assert!(
        s.fold(&NAMES, &reading(2, &[(11, 40), (2, 20)]), &CAL)
            .reset
    );
    assert_eq!(s.meters[0].total, Count::new(21, 5040));
    assert_eq!(s.meters[0].resets, 1);
    assert_eq!(s.meters[1].total, Count::new(2, 20));
    assert!(s.reset_pending);
}

#[test]
fn reset_followed_by_more_traffic_than_before_is_caught_by_generation() {
    let mut s = State::new(0);
    let mut r = reading(1, &[(10, 1000), (0, 0)]);
    r.generation.handle = 7;
    s.fold(&NAMES, &r, &CAL);
    // New table handle, and the counter already passed its old value.
    let mut r = reading(2, &[(20, 3000), (0, 0)]);
    r.generation.handle = 9;
    assert!(s.fold(&NAMES, &r, &CAL).reset);
    assert_eq!(s.meters[0].total, Count::new(30, 4000));
    // Reinstall flag alone.
    let mut r = reading(3, &[(25, 3500), (0, 0)]);
    r.generation.handle = 9;
    r.reinstalled = true;
    assert!(s.fold(&NAMES, &r, &CAL).reset);
    assert_eq!(s.meters[0].total, Count::new(55, 7500));
}

#[test]
fn first_reading_and_orderly_stop_start_are_not_resets() {
    let mut s = State::new(0);
    let mut r = reading(1, &[(1, 100), (0, 0)]);
    r.reinstalled = true;
    assert!(!s.fold(&NAMES, &r, &CAL).reset);
    s.fold(&NAMES, &reading(2, &[(5, 900), (0, 0)]), &CAL);
    s.mark_stopped();
    let mut r = reading(3, &[(9, 1000), (0, 0)]);
    r.reinstalled = true;
    assert!(!s.fold(&NAMES, &r, &CAL).reset);
    assert_eq!(s.meters[0].total, Count::new(14, 1900));
    assert!(!s.reset_pending);
}

#[test]
fn boot_id_change_alone_is_a_reset() {
    let mut s = State::new(0);
    let mut r = reading(1, &[(1, 100), (0, 0)]);
    r.generation.boot_id = heapless::String::try_from("aaa").unwrap();
    s.fold(&NAMES, &r, &CAL);
    r.generation.boot_id = heapless::String::try_from("bbb").unwrap();
    r.counts[0].1 = Count::new(5, 500);
    assert!(s.fold(&NAMES, &r, &CAL).reset);
    assert_eq!(s.meters[0].total, Count::new(6, 600));
}

#[test]
fn counters_past_2_32_and_near_2_64_fold_exactly_and_saturate() {
    let mut s = State::new(0);
    let big = (1u64 << 32) + 5;
    s.fold(&NAMES, &reading(1, &[(1, big), (0, u64::MAX - 10)]), &CAL);
    s.fold(
        &NAMES,
        &reading(2, &[(2, big + (1 << 33)), (0, u64::MAX)]),
        &CAL,
    );
    assert_eq!(s.meters[0].total.bytes, big + (1 << 33));
    assert_eq!(s.meters[1].total.bytes, u64::MAX);
    s.fold(&NAMES, &reading(3, &[(2, big + (1 << 33)), (0, 100)]), &CAL);
    assert_eq!(s.meters[1].total.bytes, u64::MAX);
}

#[test]
fn new_meter_counts_its_whole_counter_and_a_removed_meter_is_kept_retired() {
    let mut s = State::new(0);
    s.fold(&["proxy"], &reading_of(1, &[("proxy", (1, 100))]), &CAL);
    s.fold(&["offnet"], &reading_of(2, &[("offnet", (3, 300))]), &CAL);
    assert_eq!(s.meters.len(), 2);
    assert_eq!(s.meters[0].name, "offnet");
    assert_eq!(s.meters[0].total, Count::new(3, 300));
    // proxy left the config: kept, after the configured ones, untouched.
    assert_eq!(s.meters[1].name, "proxy");
    assert_eq!(s.meters[1].total, Count::new(1, 100));
    let names: Vec<&str> = s.retired(&["offnet"]).map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["proxy"]);
}

#[test]
fn day_and_month_buckets() {
    let mut s = State::new(0);
    let t0 = utc(2026, 1, 31, 23);
    s.fold(&NAMES, &reading(t0, &[(1, 100), (0, 0)]), &CAL);
    s.fold(&NAMES, &reading(t0 + 7200, &[(2, 300), (0, 0)]), &CAL);
    let jan31 = days_from_civil(2026, 1, 31);
    assert_eq!(s.meters[0].day(jan31), Count::new(1, 100));
    assert_eq!(s.meters[0].day(jan31 + 1), Count::new(1, 200));
    assert_eq!(s.meters[0].month(2026 * 12), Count::new(1, 100));
    assert_eq!(s.meters[0].month(2026 * 12 + 1), Count::new(1, 200));
    // 62 days later the slot of Jan 31 is reused; the old day reads as zero.
    s.fold(
        &NAMES,
        &reading(t0 + 62 * 86_400, &[(3, 400), (0, 0)]),
        &CAL,
    );
    assert_eq!(s.meters[0].day(jan31), Count::default());
    assert_eq!(s.meters[0].day(jan31 + 62), Count::new(1, 100));
}

#[test]
fn billing_day_31_in_february_and_month_ends() {
    let cal = Calendar {
        billing_day: 31,
        ..CAL
    };
    let d = |y, m, dd| days_from_civil(y, m, dd);
    // Feb 2026 has 28 days: the period starts on the 28th.
    assert_eq!(cal.period(d(2026, 2, 27)), 2026 * 12); // the period of Jan 31
    assert_eq!(cal.period(d(2026, 2, 28)), 2026 * 12 + 1);
    assert_eq!(cal.period(d(2026, 3, 30)), 2026 * 12 + 1);
    assert_eq!(cal.period(d(2026, 3, 31)), 2026 * 12 + 2);
    // Leap year: Feb 29.
    assert_eq!(cal.period(d(2028, 2, 28)), 2028 * 12);
    assert_eq!(cal.period(d(2028, 2, 29)), 2028 * 12 + 1);
    assert_eq!(cal.period_start(2028 * 12 + 1), d(2028, 2, 29));
    // Billing day 1: plain calendar months, across a year end.
    assert_eq!(CAL.period(d(2026, 12, 31)), 2026 * 12 + 11);
    assert_eq!(CAL.period(d(2027, 1, 1)), 2027 * 12);
    assert_eq!(days_in_month(2100, 2), 28);
    assert_eq!(days_in_month(2000, 2), 29);
}

#[test]
fn clock_in_1970_or_stepping_back_carries_to_the_next_sane_day() {
    let cal = Calendar {
        min_sane: utc(2026, 1, 1, 0),
        ..CAL
    };
    let mut s = State::new(utc(2026, 3, 1, 0));
    s.fold(
        &NAMES,
        &reading(utc(2026, 3, 1, 12), &[(1, 100), (0, 0)]),
        &cal,
    );
    // Reboot with the clock at 1970: counted in the totals, no 1970 bucket.
    s.fold(&NAMES, &reading(600, &[(2, 300), (0, 0)]), &cal);
    assert_eq!(s.meters[0].total, Count::new(2, 300));
    assert_eq!(s.meters[0].day(0), Count::default());
    assert_eq!(s.meters[0].carry, Count::new(1, 200));
    // Clock stepped back before the last sane reading: carried too.
    s.fold(
        &NAMES,
        &reading(utc(2026, 3, 1, 6), &[(3, 350), (0, 0)]),
        &cal,
    );
    assert_eq!(s.meters[0].carry, Count::new(2, 250));
    assert_eq!(s.updated, utc(2026, 3, 1, 12));
    // NTP synced: everything carried lands on the sane reading's day.
    s.fold(
        &NAMES,
        &reading(utc(2026, 3, 2, 9), &[(4, 450), (0, 0)]),
        &cal,
    );
    let mar2 = days_from_civil(2026, 3, 2);
    assert_eq!(s.meters[0].day(mar2), Count::new(3, 350));
    assert_eq!(s.meters[0].carry, Count::default());
    let month: Count = s.meters[0].month(2026 * 12 + 2);
    assert_eq!(month, Count::new(4, 450));
}

#[test]
fn dst_days_are_local_days() {
    let zone = crate::tz::Zone::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
    let cal = Calendar { zone, ..CAL };
    let mut s = State::new(0);
    // 2026-03-29 is 23 hours long in Berlin: 22:00 UTC on the 28th .. 22:00 UTC on the 29th.
    s.fold(
        &NAMES,
        &reading(utc(2026, 3, 28, 22), &[(0, 0), (0, 0)]),
        &cal,
    );
    s.fold(
        &NAMES,
        &reading(utc(2026, 3, 29, 21), &[(1, 10), (0, 0)]),
        &cal,
    );
    s.fold(
        &NAMES,
        &reading(utc(2026, 3, 29, 22), &[(2, 30), (0, 0)]),
        &cal,
    );
    let d = days_from_civil(2026, 3, 29);
    assert_eq!(s.meters[0].day(d), Count::new(1, 10));
    assert_eq!(s.meters[0].day(d + 1), Count::new(1, 20));
}

fn sample() -> State {
    let mut s = State::new(1_700_000_000);
    let mut r = reading(1_700_000_300, &[(u64::MAX, u64::MAX - 1), (1, 2)]);
    r.generation.boot_id =
        heapless::String::try_from("5f0e1b2c-0000-4000-8000-000000000000").unwrap();
    r.generation.handle = 42;
    s.fold(&NAMES, &r, &CAL);
    s.mark_reported(1_700_000_301);
    s.synced = 1_700_000_302;
    s
}

#[test]
fn encode_decode_round_trip_and_size_bound() {
    let s = sample();
    let b = s.encode();
    // With no devices, the devices section is `other` with nothing in it
    // (MAC, name length, addresses byte, 16 varints, seen, 2 bucket
    // counts), a device count of zero, an address count of zero, no
    // blocks, no quota warnings, the three times of the rate windows
    // and `other`'s bytes in them.
    assert_eq!(
        b.len(),
        HEADER + 2 * METER_BYTES + 6 + 1 + 1 + 16 + 1 + 2 + 1 + 1 + 1 + 1 + 3 + 4 + 4
    );
    assert_eq!(State::decode(&b), Ok(s));
}

#[test]
fn decode_refuses_torn_zeroed_flipped_and_foreign_files() {
    let b = sample().encode();
    for cut in 0..b.len() {
        assert!(State::decode(&b[..cut]).is_err(), "prefix {cut} accepted");
    }
    assert_eq!(
        State::decode(&vec![0u8; b.len()]),
        Err(DecodeError::NotState)
    );
    for i in (0..b.len()).step_by(7) {
        for bit in [0u8, 3, 7] {
            let mut x = b.clone();
            x[i] ^= 1 << bit;
            assert!(State::decode(&x).is_err(), "flip at {i}.{bit} accepted");
        }
    }
    let mut v = b.clone();
    v[4] = 9;
    assert_eq!(State::decode(&v), Err(DecodeError::Version(9)));
    let mut long = b.clone();
    long.push(0);
    assert_eq!(State::decode(&long), Err(DecodeError::Length));
}

#[test]
fn crc32_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn report_tables_of_days_and_months() {
    let mut s = State::new(0);
    let t0 = utc(2026, 1, 31, 23);
    s.fold(&NAMES, &reading(t0, &[(1, 100), (0, 0)]), &CAL);
    s.fold(&NAMES, &reading(t0 + 7200, &[(2, 300), (1, 5)]), &CAL);
    let jan31 = days_from_civil(2026, 1, 31);
    let t = crate::report::day_rows(&s, &NAMES, &CAL, t0 + 7200, 3);
    assert!(!t.months);
    let want = [
        (jan31 - 1, vec![0, 0]),
        (jan31, vec![100, 0]),
        (jan31 + 1, vec![200, 5]),
    ];
    assert_eq!(t.rows, want);
    assert!(crate::report::day_rows(&s, &NAMES, &CAL, t0, 0)
        .rows
        .is_empty());
    let t = crate::report::month_rows(&s, &NAMES, &CAL, t0 + 7200);
    assert!(t.months);
    assert_eq!(t.rows.len(), MONTHS);
    let first = days_from_civil(2024, 3, 1);
    assert_eq!(t.rows[0], (first, vec![0, 0]));
    assert_eq!(t.rows[MONTHS - 2], (jan31 - 30, vec![100, 0]));
    assert_eq!(t.rows[MONTHS - 1], (jan31 + 1, vec![200, 5]));
}

/// The on-flash format is little-endian on every router: a state file
/// must survive a move between a big-endian mips router and an ARM one
/// (a restored backup, a replaced router). The golden bytes below were
/// encoded on x86_64; under qemu-mips a field written in native byte
/// order changes them.
#[test]
fn encoding_is_little_endian_on_every_target() {
    let b = sample().encode();
    assert_eq!(&b[..4], &MAGIC);
    // Version 6, 2 meters, length 3,763: u16 u16 u32, least significant first.
    assert_eq!(VERSION, 6);
    assert_eq!(&b[4..12], &[6, 0, 2, 0, 0xB3, 0x0E, 0, 0]);
    // created = 1_700_000_000 = 0x6553_F100.
    assert_eq!(&b[12..20], &[0x00, 0xF1, 0x53, 0x65, 0, 0, 0, 0]);
    // The nft table handle, 42.
    assert_eq!(&b[44..52], &[42, 0, 0, 0, 0, 0, 0, 0]);
    // Every other field, the counters and buckets among them: the CRC of
    // everything before the stored CRC. (The CRC of a whole file, its own
    // CRC included, is the same constant for every file: it pins nothing.)
    let body = &b[..b.len() - 4];
    assert_eq!(crc32(body), GOLDEN_CRC, "encoding changed");
    assert_eq!(crc32(&b), 0x2144_DF1C, "the CRC-32 residue");
}
const GOLDEN_CRC: u32 = 0x5FF5_BBD4;

/// A version-2 file as a7d9b2e wrote it (tests/fixtures/state-v2.bin, see
/// the README there): read without losing a field, and written back as
/// version 4 with the same content.
#[test]
fn version_2_file_upgrades_without_loss() {
    let v2 = include_bytes!("../../tests/fixtures/state-v2.bin");
    assert_eq!(&v2[4..6], &[2, 0], "the fixture is a version-2 file");
    let st = State::decode(v2).expect("a version-2 file decodes");
    assert_eq!(
        (st.created, st.updated, st.reported, st.synced),
        (1_790_000_000, 1_790_100_000, 1_790_090_001, 1_790_090_002)
    );
    assert_eq!(
        st.generation.boot_id,
        "5f0e1b2c-0000-4000-8000-000000000000"
    );
    assert_eq!(st.generation.handle, 0);
    // Version 2's `stopped` meant "the next restart is expected"; no
    // version-2 netmon ever stayed stopped.
    assert!(st.reset_pending && st.expect_restart);
    assert!(!st.stopped && !st.stop_noted);
    let [proxy, offnet] = st.meters.as_slice() else {
        panic!("{:?}", st.meters)
    };
    assert_eq!(proxy.name, "proxy");
    assert_eq!(proxy.total, Count::new(25, (1 << 33) + 1000));
    assert_eq!(proxy.at_report, Count::new(20, 1 << 33));
    assert_eq!(offnet.total, Count::new(4, 700));
    assert_eq!(offnet.carry, Count::new(1, 11));
    let day = CAL.day(1_790_090_000);
    assert_eq!(proxy.day(day), Count::new(15, (1 << 33) - 4_000));
    assert_eq!(proxy.month(CAL.period(day)), proxy.total);
    assert_eq!(st.other, DeviceState::new(Mac::OTHER));
    assert!(st.devices.is_empty());
    // Written back: version 6, and every field reads back the same.
    let v4 = st.encode();
    assert_eq!(&v4[4..6], &[6, 0]);
    assert_eq!(State::decode(&v4), Ok(st.clone()));
    // Only the version, the length and the checksum differ, and the
    // devices section follows the meters.
    let meters = v2.len() - 4;
    let differ: Vec<usize> = (0..meters).filter(|&i| v2[i] != v4[i]).collect();
    assert!(
        differ.iter().all(|&i| i == 4 || (8..12).contains(&i)),
        "{differ:?}"
    );
    assert_eq!(&v4[8..12], &(v4.len() as u32).to_le_bytes());
}

#[test]
fn version_2_refuses_version_3_flags_and_more_meters() {
    let mut v2 = include_bytes!("../../tests/fixtures/state-v2.bin").to_vec();
    // The flags byte after reset_pending: version 2 knew only 0 and 1.
    let flags = 4 + 2 + 2 + 4 + 8 * 5 + 41 + 1;
    v2[flags] = 2;
    let n = v2.len() - 4;
    let crc = crc32(&v2[..n]).to_le_bytes();
    v2[n..].copy_from_slice(&crc);
    assert_eq!(State::decode(&v2), Err(DecodeError::Field));
    v2[4] = 3;
    let crc = crc32(&v2[..n]).to_le_bytes();
    v2[n..].copy_from_slice(&crc);
    assert!(State::decode(&v2).unwrap().stopped);
}

/// Issue 10, defect 2: a meter that leaves the config keeps its totals
/// and history, folds the last counts its rules still had, and continues
/// where it was when it comes back.
#[test]
fn a_retired_meter_keeps_its_history_and_continues_when_it_returns() {
    let mut s = State::new(0);
    let t0 = utc(2026, 5, 1, 10);
    s.fold(&NAMES, &reading(t0, &[(1, 100), (2, 3_000)]), &CAL);
    s.fold(&NAMES, &reading(t0 + 300, &[(2, 200), (4, 3_684)]), &CAL);
    // offnet leaves the config; its rule is still there at the next read.
    let r = reading(t0 + 600, &[(3, 300), (5, 3_700)]);
    s.fold(&["proxy"], &r, &CAL);
    assert_eq!(s.meter("offnet").unwrap().total, Count::new(5, 3_700));
    // The rules are rebuilt without it (a planned restart): later readings
    // lack it, and it keeps its totals and day bucket.
    s.expect_restart();
    let mut r = reading_of(t0 + 900, &[("proxy", (0, 0))]);
    r.reinstalled = true;
    assert!(!s.fold(&["proxy"], &r, &CAL).reset);
    s.fold(
        &["proxy"],
        &reading_of(t0 + 86_400, &[("proxy", (1, 50))]),
        &CAL,
    );
    let offnet = s.meter("offnet").unwrap();
    assert_eq!(offnet.total, Count::new(5, 3_700));
    assert_eq!(offnet.day(CAL.day(t0)), Count::new(5, 3_700));
    assert_eq!(s.retired(&["proxy"]).count(), 1);
    // Back in the config: new rules start at zero, and it continues.
    s.expect_restart();
    let mut r = reading_of(t0 + 86_700, &[("proxy", (0, 0)), ("offnet", (1, 16))]);
    r.reinstalled = true;
    assert!(!s.fold(&NAMES, &r, &CAL).reset);
    let offnet = s.meter("offnet").unwrap();
    assert_eq!(offnet.total, Count::new(6, 3_716));
    assert_eq!(s.meters[1].name, "offnet", "config order again");
    assert_eq!(s.retired(&NAMES).count(), 0);
    // Forget drops it for good.
    assert!(s.forget("offnet"));
    assert!(!s.forget("offnet"));
    assert_eq!(s.meter("offnet"), None);
}

#[test]
fn the_state_keeps_at_most_max_state_meters() {
    let mut s = State::new(0);
    let names: Vec<String> = (0..MAX_STATE_METERS + 1).map(|i| format!("m{i}")).collect();
    for chunk in names.chunks(MAX_METERS) {
        let n: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let counts: Vec<(&str, (u64, u64))> = n.iter().map(|&m| (m, (1, 1))).collect();
        let f = s.fold(&n, &reading_of(1, &counts), &CAL);
        // 33 meters in a 32-meter config are refused by the config; here
        // the third chunk is the 65th meter and finds no room.
        assert_eq!(f.full, s.meters.len() == MAX_STATE_METERS && n.len() == 1);
    }
    assert_eq!(s.meters.len(), MAX_STATE_METERS);
    assert!(s.meter(&format!("m{MAX_STATE_METERS}")).is_none());
    // Encodes within the documented bound and reads back.
    let b = s.encode();
    assert!(b.len() <= max_bytes(0));
    assert_eq!(State::decode(&b).unwrap().meters.len(), MAX_STATE_METERS);
}

/// Issue 10, defect 6: a fresh state on a router where an earlier
/// install's (or config's) table is present: the reading of the stale
/// table, then netmon's own reinstall, is no reset.
#[test]
fn a_fresh_state_over_a_stale_table_is_no_reset() {
    let mut s = State::new(1_000);
    let mut stale = reading(1_000, &[(50, 70_000), (9, 900)]);
    stale.generation.handle = 7;
    let f = s.fold(&NAMES, &stale, &CAL);
    assert!(!f.reset);
    s.expect_restart();
    let mut fresh = reading(1_001, &[(0, 0), (0, 0)]);
    fresh.generation.handle = 8;
    fresh.reinstalled = true;
    assert!(!s.fold(&NAMES, &fresh, &CAL).reset);
    assert!(!s.reset_pending);
    assert_eq!(s.meters[0].total, Count::new(50, 70_000));
    // A later flush behind netmon's back is still a reset.
    s.fold(&NAMES, &reading(1_300, &[(5, 500), (0, 0)]), &CAL);
    let mut flushed = reading(1_600, &[(1, 60), (0, 0)]);
    flushed.reinstalled = true;
    assert!(s.fold(&NAMES, &flushed, &CAL).reset);
}

/// Issue 10, defect 6: a clean reboot (shutdown, new boot id, new rules)
/// and stop then start are no alarms; a reboot without a shutdown is.
#[test]
fn planned_restarts_are_no_alarm_and_unplanned_ones_are() {
    let boot = |id: &str| heapless::String::try_from(id).unwrap();
    let mut s = State::new(0);
    let mut r = reading(10, &[(10, 1_000), (1, 10)]);
    r.generation.boot_id = boot("a");
    s.fold(&NAMES, &r, &CAL);
    // netmon shutdown: counters stay; the new boot starts them again.
    s.expect_restart();
    let mut r = reading(20, &[(2, 200), (1, 10)]);
    r.generation.boot_id = boot("b");
    r.reinstalled = true;
    assert!(!s.fold(&NAMES, &r, &CAL).reset);
    assert_eq!(s.meters[0].total, Count::new(12, 1_200));
    // stop, then start.
    s.mark_stopped();
    s.mark_started();
    let mut r = reading(30, &[(3, 300), (0, 0)]);
    r.generation.boot_id = boot("b");
    r.reinstalled = true;
    assert!(!s.fold(&NAMES, &r, &CAL).reset);
    assert_eq!(s.meters[0].total, Count::new(15, 1_500));
    // A power cut: new boot, nothing planned.
    let mut r = reading(40, &[(1, 50), (0, 0)]);
    r.generation.boot_id = boot("c");
    r.reinstalled = true;
    assert!(s.fold(&NAMES, &r, &CAL).reset);
    assert!(s.reset_pending);
    // A shutdown that is not followed by a reboot: counters go on.
    s.expect_restart();
    let mut r = reading(50, &[(4, 90), (0, 0)]);
    r.generation.boot_id = boot("c");
    assert!(!s.fold(&NAMES, &r, &CAL).reset);
    assert_eq!(s.meters[0].total, Count::new(19, 1_590));
}

/// Issue 10, defect 7: one reading with a clock in the future must not
/// freeze the calendar. In the same boot the corrected clock is trusted at
/// once; after a reboot once the router has been up `CLOCK_GRACE`. No
/// byte leaves the totals or the buckets either way.
#[test]
fn a_clock_back_from_the_future_recovers() {
    let boot = |id: &str| heapless::String::try_from(id).unwrap();
    let cal = Calendar {
        min_sane: utc(2026, 1, 1, 0),
        ..CAL
    };
    let now = utc(2026, 12, 3, 10);
    let future = utc(2031, 6, 1, 12);
    let mut s = State::new(now - 600);
    let mut r = reading(now - 600, &[(1, 100), (0, 0)]);
    r.generation.boot_id = boot("a");
    s.fold(&NAMES, &r, &cal);
    // A bad RTC reading, 2031.
    let mut r = reading(future, &[(2, 300), (0, 0)]);
    r.generation.boot_id = boot("a");
    assert_eq!(s.clock(&r, &cal), Clock::Sane);
    s.fold(&NAMES, &r, &cal);
    assert_eq!(s.meters[0].day(cal.day(future)), Count::new(1, 200));
    // NTP corrected it: same boot, trusted at once.
    let mut r = reading(now, &[(3, 600), (0, 0)]);
    r.generation.boot_id = boot("a");
    assert_eq!(s.clock(&r, &cal), Clock::Recover);
    let f = s.fold(&NAMES, &r, &cal);
    assert!(f.recovered && !f.reset);
    let today = cal.day(now);
    assert_eq!(s.meters[0].day(today), Count::new(3, 600), "all of today");
    assert_eq!(s.meters[0].day(cal.day(future)), Count::default());
    assert_eq!(s.meters[0].month(cal.period(today)), Count::new(3, 600));
    assert_eq!(s.meters[0].total, Count::new(3, 600));
    assert_eq!(s.updated, now);
    // The next day buckets normally.
    let mut r = reading(now + 86_400, &[(4, 700), (0, 0)]);
    r.generation.boot_id = boot("a");
    s.fold(&NAMES, &r, &cal);
    assert_eq!(s.meters[0].day(today + 1), Count::new(1, 100));

    // After a reboot: the clock may be the restored one, not yet NTP's.
    let mut s = State::new(now);
    let mut r = reading(future, &[(1, 100), (0, 0)]);
    r.generation.boot_id = boot("a");
    s.fold(&NAMES, &r, &cal);
    let mut r = reading(now, &[(2, 200), (0, 0)]);
    r.generation.boot_id = boot("b");
    r.uptime = 120;
    r.reinstalled = true;
    assert_eq!(s.clock(&r, &cal), Clock::Carry);
    s.fold(&NAMES, &r, &cal);
    assert_eq!(s.meters[0].carry, Count::new(2, 200));
    // An hour later the clock is still behind: it is the right one.
    let mut r = reading(now + 3_600, &[(3, 250), (0, 0)]);
    r.generation.boot_id = boot("b");
    r.uptime = 120 + 3_600;
    assert_eq!(s.clock(&r, &cal), Clock::Recover);
    s.fold(&NAMES, &r, &cal);
    let day = cal.day(now + 3_600);
    assert_eq!(s.meters[0].day(day), Count::new(4, 350));
    assert_eq!(s.meters[0].carry, Count::default());
    assert_eq!(s.meters[0].total, Count::new(4, 350));
    // Before the build date nothing is trusted, whatever the uptime.
    let mut r = reading(600, &[(3, 250), (0, 0)]);
    r.uptime = 1_000_000;
    assert_eq!(s.clock(&r, &cal), Clock::Carry);
}

#[test]
fn blocks_and_quota_warnings_survive_a_round_trip() {
    let mut s = sample();
    let mac = |n| Mac([2, 0, 0, 0, 0, n]);
    s.block(mac(9), 100, None).unwrap();
    s.block(mac(3), 100, Some(200)).unwrap();
    s.warned.push(crate::state::Warned {
        quota: 7,
        mac: mac(3),
        period: 20_000,
    });
    let b = s.encode();
    assert_eq!(State::decode(&b), Ok(s.clone()));
    assert_eq!(s.blocks[0].mac, mac(3), "sorted by MAC");
    // A timed block lifts at its end, not before; a plain one stays.
    assert!(s.lift_expired(199).is_empty());
    assert_eq!(s.lift_expired(200).len(), 1);
    assert_eq!(s.blocks.len(), 1);
    assert!(s.unblock(mac(9)));
    assert!(!s.unblock(mac(9)));
}
