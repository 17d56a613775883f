//! Quotas: how much a device may use in a day or a billing month, and
//! what happens past it. Pure: the definitions as the config gives them;
//! the state (`state::control`) works out each device's use against them.
//!
//! A quota applies to each of its devices on its own: "10G a month for
//! the kids' phones" gives every phone 10G. Its use is the device's
//! counted bytes of the period in the quota's direction, the numbers
//! `netmon devices` shows.

use crate::calendar::Calendar;

/// Most `config quota` sections: each costs one map lookup per packet and
/// direction on the nft backend.
pub const MAX_QUOTAS: usize = 8;

/// The span a quota's use is counted over.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Period {
    /// The local calendar day.
    Day,
    /// The billing month (from `billing_day`).
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    /// The key of the period that holds `now`: the day number, or the
    /// billing month's key (both as the state's buckets use them).
    pub fn key(self, cal: &Calendar, now: i64) -> i64 {
        let day = cal.day(now);
        match self {
            Period::Day => day,
            Period::Month => i64::from(cal.period(day)),
        }
    }

    /// When the period holding `now` ends (the next one's first second).
    pub fn end(self, cal: &Calendar, now: i64) -> i64 {
        let day = cal.day(now);
        let next_day = match self {
            Period::Day => day + 1,
            Period::Month => {
                // The first day whose billing month differs.
                let key = cal.period(day);
                let mut d = day + 1;
                while cal.period(d) == key && d < day + 32 {
                    d += 1;
                }
                d
            }
        };
        cal.day_start(next_day)
    }
}

/// Which traffic counts toward a quota.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    Down,
    Up,
    Total,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Down => "down",
            Direction::Up => "up",
            Direction::Total => "total",
        }
    }

    pub fn counts_down(self) -> bool {
        self != Direction::Up
    }

    pub fn counts_up(self) -> bool {
        self != Direction::Down
    }

    /// The part of `(down, up)` bytes this direction counts.
    pub fn of(self, (down, up): (u64, u64)) -> u64 {
        match self {
            Direction::Down => down,
            Direction::Up => up,
            Direction::Total => down.saturating_add(up),
        }
    }
}

/// One `config quota` section.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Quota {
    /// The section's name (`quota1`, ... for unnamed ones, by order): it
    /// identifies the quota's warnings in the state.
    pub name: String,
    /// Names or MACs, as the admin wrote them; empty: every device.
    pub devices: Vec<String>,
    pub period: Period,
    /// Bytes.
    pub limit: u64,
    pub direction: Direction,
    /// Cut the device's forwarded traffic until the period ends.
    pub block: bool,
    /// Mail one warning per device and period.
    pub mail: bool,
}

impl Quota {
    /// A short stable fingerprint of the name: how the state remembers
    /// which quota a warning was for.
    pub fn id(&self) -> u32 {
        self.name.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_ends_at_the_next_local_midnight_and_a_month_at_the_billing_day() {
        let cal = Calendar {
            billing_day: 15,
            ..Calendar::UTC
        };
        // 2026-12-03 20:00 UTC.
        let now = 1_796_328_000;
        assert_eq!(Period::Day.end(&cal, now), 1_796_342_400);
        // 2026-12-15 00:00 UTC.
        assert_eq!(Period::Month.end(&cal, now), 1_797_292_800);
        assert_eq!(
            Period::Month.key(&cal, now),
            Period::Month.key(&cal, now + 86_400)
        );
        assert_ne!(
            Period::Day.key(&cal, now),
            Period::Day.key(&cal, now + 86_400)
        );
    }

    #[test]
    fn a_direction_takes_its_part() {
        assert_eq!(Direction::Down.of((3, 4)), 3);
        assert_eq!(Direction::Up.of((3, 4)), 4);
        assert_eq!(Direction::Total.of((3, 4)), 7);
        assert_eq!(Direction::Total.of((u64::MAX, 4)), u64::MAX);
    }
}
