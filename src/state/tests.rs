use super::*;
use crate::calendar::days_in_month;
use crate::time::{days_from_civil, Civil};

fn reading(t: i64, counts: &[(u64, u64)]) -> Reading {
    Reading {
        time: t,
        counts: counts.iter().map(|&(p, b)| Count::new(p, b)).collect(),
        generation: Generation::default(),
        reinstalled: false,
    }
}

const NAMES: [&str; 2] = ["proxy", "offnet"];
const CAL: Calendar = Calendar::UTC;

fn utc(y: i64, mo: u8, d: u8, h: u8) -> i64 {
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
    assert!(!s.fold(&NAMES, &reading(100, &[(1, 100), (2, 200)]), &CAL));
    assert!(!s.fold(&NAMES, &reading(200, &[(3, 300), (2, 250)]), &CAL));
    assert_eq!(s.meters[0].total, Count::new(3, 300));
    assert_eq!(s.meters[1].total, Count::new(2, 250));
    s.mark_reported(200);
    assert!(!s.fold(&NAMES, &reading(300, &[(4, 1300), (2, 250)]), &CAL));
    assert_eq!(s.period(&s.meters[0]), Count::new(1, 1000));
    assert_eq!(s.period(&s.meters[1]), Count::default());
}

#[test]
fn counter_going_down_is_a_reset_counted_from_new_value() {
    let mut s = State::new(0);
    s.fold(&NAMES, &reading(1, &[(10, 5000), (1, 10)]), &CAL);
    // Only the byte count of one meter went down: still a reset for it.
    assert!(s.fold(&NAMES, &reading(2, &[(11, 40), (2, 20)]), &CAL));
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
    assert!(s.fold(&NAMES, &r, &CAL));
    assert_eq!(s.meters[0].total, Count::new(30, 4000));
    // Reinstall flag alone.
    let mut r = reading(3, &[(25, 3500), (0, 0)]);
    r.generation.handle = 9;
    r.reinstalled = true;
    assert!(s.fold(&NAMES, &r, &CAL));
    assert_eq!(s.meters[0].total, Count::new(55, 7500));
}

#[test]
fn first_reading_and_orderly_stop_start_are_not_resets() {
    let mut s = State::new(0);
    let mut r = reading(1, &[(1, 100), (0, 0)]);
    r.reinstalled = true;
    assert!(!s.fold(&NAMES, &r, &CAL));
    s.fold(&NAMES, &reading(2, &[(5, 900), (0, 0)]), &CAL);
    s.mark_stopped();
    let mut r = reading(3, &[(9, 1000), (0, 0)]);
    r.reinstalled = true;
    assert!(!s.fold(&NAMES, &r, &CAL));
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
    r.counts[0] = Count::new(5, 500);
    assert!(s.fold(&NAMES, &r, &CAL));
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
fn new_meter_counts_its_whole_counter_and_removed_meter_is_dropped() {
    let mut s = State::new(0);
    s.fold(&["proxy"], &reading(1, &[(1, 100)]), &CAL);
    s.fold(&["offnet"], &reading(2, &[(3, 300)]), &CAL);
    assert_eq!(s.meters.len(), 1);
    assert_eq!(s.meters[0].name, "offnet");
    assert_eq!(s.meters[0].total, Count::new(3, 300));
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
    assert_eq!(b.len(), HEADER + 2 * METER_BYTES + 4);
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
    let t = crate::report::day_rows(&s, &CAL, t0 + 7200, 3);
    assert!(!t.months);
    let want = [
        (jan31 - 1, vec![0, 0]),
        (jan31, vec![100, 0]),
        (jan31 + 1, vec![200, 5]),
    ];
    assert_eq!(t.rows, want);
    assert!(crate::report::day_rows(&s, &CAL, t0, 0).rows.is_empty());
    let t = crate::report::month_rows(&s, &CAL, t0 + 7200);
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
    // Version 2, 2 meters, length 3,725: u16 u16 u32, least significant first.
    assert_eq!(VERSION, 2);
    assert_eq!(&b[4..12], &[2, 0, 2, 0, 0x8D, 0x0E, 0, 0]);
    // created = 1_700_000_000 = 0x6553_F100.
    assert_eq!(&b[12..20], &[0x00, 0xF1, 0x53, 0x65, 0, 0, 0, 0]);
    // The nft table handle, 42.
    assert_eq!(&b[44..52], &[42, 0, 0, 0, 0, 0, 0, 0]);
    // Every other field, the counters and buckets among them.
    assert_eq!(crc32(&b), GOLDEN_CRC, "encoding changed");
}
const GOLDEN_CRC: u32 = 0x2144_DF1C;
