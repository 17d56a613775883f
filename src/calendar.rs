//! Local days and billing periods: how a time maps to the day and month
//! buckets. Pure: the zone and the billing day are values.

use crate::time::{civil_from_days, days_from_civil};
use crate::tz::Zone;

/// The period of a day outside the i32 range of period keys (never
/// reached by real dates).
pub const NO_PERIOD: i32 = i32::MIN;

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
        i32::try_from(key).unwrap_or(NO_PERIOD)
    }

    /// The day of the month a period starts in month `m` of year `y`.
    pub fn start_day(&self, y: i64, m: u8) -> u8 {
        self.billing_day.clamp(1, days_in_month(y, m))
    }

    /// The first second of local day `day`: a binary search over the two
    /// days around its UTC midnight, since local days are 23 to 25 hours
    /// long and `day_of` never goes back as time goes on.
    pub fn day_start(&self, day: i64) -> i64 {
        let midnight = day.saturating_mul(86_400);
        let (mut lo, mut hi) = (
            midnight.saturating_sub(2 * 86_400),
            midnight.saturating_add(2 * 86_400),
        );
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.day(mid) >= day {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::days_from_civil;

    #[test]
    fn a_local_day_starts_at_local_midnight_and_dst_days_are_23_or_25_hours() {
        let cal = Calendar {
            zone: Zone::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap(),
            ..Calendar::UTC
        };
        // 2026-03-29: clocks go forward; 2026-10-25: back.
        let spring = days_from_civil(2026, 3, 29);
        let autumn = days_from_civil(2026, 10, 25);
        // Local midnight of 2026-03-29 is 23:00 UTC the day before.
        assert_eq!(cal.day_start(spring), spring * 86_400 - 3600);
        assert_eq!(cal.day_start(spring + 1) - cal.day_start(spring), 23 * 3600);
        assert_eq!(cal.day_start(autumn + 1) - cal.day_start(autumn), 25 * 3600);
        for d in [spring, autumn, spring + 100] {
            let t = cal.day_start(d);
            assert_eq!((cal.day(t - 1), cal.day(t)), (d - 1, d));
        }
    }
}
