//! POSIX TZ strings, as OpenWrt writes them to /etc/TZ
//! (`CET-1CEST,M3.5.0,M10.5.0/3`), so days are the router's local days.
//! Pure: `offset_at` takes the UTC time. Grammar: POSIX.1-2017 section 8.3,
//! with the common extension of transition times outside 0..24h.
//!
//! Every time a person reads (reports, status, mail subjects) is local
//! time with the zone's abbreviation (`Zone::write_human`); JSON and the
//! log keep UTC for scripts.

use crate::time::{days_from_civil, write_human_at};
use ufmt::uWrite;

/// A parsed zone: standard offset and name, and optionally DST with its
/// rules. Offsets are seconds east of UTC (the sign POSIX writes is
/// inverted).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Zone {
    pub std: i32,
    pub std_name: Abbr,
    pub dst: Option<Dst>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Dst {
    pub offset: i32,
    pub name: Abbr,
    pub start: Rule,
    pub end: Rule,
}

/// A zone's abbreviation (`CET`, `CEST`, `+03` from `<+03>`), as the TZ
/// string names it: letters, digits, `+` and `-` only, at most `Abbr::MAX`
/// bytes kept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Abbr {
    bytes: [u8; Abbr::MAX],
    len: u8,
}

impl Abbr {
    pub const MAX: usize = 15;

    /// `s` (ASCII letters, digits, `+`, `-`: what the parser accepts), cut
    /// to `MAX` bytes.
    pub const fn new(s: &[u8]) -> Abbr {
        let mut bytes = [0u8; Abbr::MAX];
        let mut i = 0;
        while i < s.len() && i < Abbr::MAX {
            bytes[i] = s[i];
            i += 1;
        }
        Abbr {
            bytes,
            len: i as u8,
        }
    }

    pub fn as_str(&self) -> &str {
        let b = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        core::str::from_utf8(b).unwrap_or("")
    }
}

/// A transition: a day of the year plus a local time in seconds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rule {
    pub date: Date,
    pub time: i32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Date {
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian1(u16),
    /// `n`: day 0..=365, leap days counted.
    Julian0(u16),
    /// `Mm.w.d`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    Month { m: u8, w: u8, d: u8 },
}

impl Zone {
    pub const UTC: Zone = Zone {
        std: 0,
        std_name: Abbr::new(b"UTC"),
        dst: None,
    };

    /// Parses a TZ string; `None` when it is not valid POSIX (the caller
    /// then says so and uses UTC).
    pub fn parse(s: &str) -> Option<Zone> {
        let mut c = Cursor {
            b: s.as_bytes(),
            i: 0,
        };
        let std_name = c.name()?;
        let std = -c.offset()?;
        if c.done() {
            return Some(Zone {
                std,
                std_name,
                dst: None,
            });
        }
        let name = c.name()?;
        let offset = if c.peek() == Some(b',') || c.done() {
            std + 3600
        } else {
            -c.offset()?
        };
        let (start, end) = if c.done() {
            // No rule: the US rule, as glibc and musl assume.
            (
                Rule {
                    date: Date::Month { m: 3, w: 2, d: 0 },
                    time: 7200,
                },
                Rule {
                    date: Date::Month { m: 11, w: 1, d: 0 },
                    time: 7200,
                },
            )
        } else {
            c.expect(b',')?;
            let a = c.rule()?;
            c.expect(b',')?;
            (a, c.rule()?)
        };
        c.done().then_some(Zone {
            std,
            std_name,
            dst: Some(Dst {
                offset,
                name,
                start,
                end,
            }),
        })
    }

    /// Seconds east of UTC in force at UTC time `t`.
    pub fn offset_at(&self, t: i64) -> i32 {
        self.local(t).0
    }

    /// The offset (seconds east of UTC) and the abbreviation in force at
    /// UTC time `t`.
    pub fn local(&self, t: i64) -> (i32, &str) {
        let std = (self.std, self.std_name.as_str());
        let Some(d) = &self.dst else { return std };
        let year = crate::time::Civil::from_unix(t + i64::from(self.std)).year;
        // Start is given in standard local time, end in daylight local time.
        let start = d.start.local(year) - i64::from(self.std);
        let end = d.end.local(year) - i64::from(d.offset);
        let in_dst = if start < end {
            t >= start && t < end
        } else {
            !(t >= end && t < start)
        };
        if in_dst {
            (d.offset, d.name.as_str())
        } else {
            std
        }
    }

    /// `2026-11-21 20:24:00 CET`: UTC time `t` as the router's clock
    /// shows it, for people.
    pub fn write_human<W: uWrite + ?Sized>(&self, w: &mut W, t: i64) -> Result<(), W::Error> {
        let (offset, abbr) = self.local(t);
        write_human_at(w, t.saturating_add(i64::from(offset)), abbr)
    }

    /// The local day number (days since 1970-01-01 local) of UTC time `t`.
    pub fn day_of(&self, t: i64) -> i64 {
        (t + i64::from(self.offset_at(t))).div_euclid(86_400)
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

impl Rule {
    /// Local seconds since the epoch of this transition in `year`.
    fn local(&self, year: i64) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        let day = match self.date {
            Date::Julian1(n) => {
                let n = i64::from(n);
                jan1 + n - 1 + i64::from(is_leap(year) && n >= 60)
            }
            Date::Julian0(n) => jan1 + i64::from(n),
            Date::Month { m, w, d } => {
                let first = days_from_civil(year, m, 1);
                // 1970-01-01 was a Thursday (weekday 4).
                let wd_first = (first + 4).rem_euclid(7);
                let mut day =
                    first + (i64::from(d) - wd_first).rem_euclid(7) + 7 * (i64::from(w) - 1);
                let next = if m == 12 {
                    days_from_civil(year + 1, 1, 1)
                } else {
                    days_from_civil(year, m + 1, 1)
                };
                while day >= next {
                    day -= 7;
                }
                day
            }
        };
        day * 86_400 + i64::from(self.time)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }
    /// `std`/`dst` name: 3+ letters, or `<...>` with letters, digits, + and
    /// -; the name without its angle brackets.
    fn name(&mut self) -> Option<Abbr> {
        let start = self.i;
        if self.peek() == Some(b'<') {
            self.i += 1;
            while self.peek()?.is_ascii_alphanumeric() || matches!(self.peek()?, b'+' | b'-') {
                self.i += 1;
            }
            self.expect(b'>')?;
            let inner = self.b.get(start + 1..self.i - 1)?;
            return (inner.len() >= 3).then(|| Abbr::new(inner));
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        let name = self.b.get(start..self.i)?;
        (name.len() >= 3).then(|| Abbr::new(name))
    }
    /// Up to `max_digits` digits, value at most `max`.
    fn number(&mut self, max_digits: usize, max: u32) -> Option<u32> {
        let start = self.i;
        let mut v = 0u32;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if self.i - start >= max_digits {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
            self.i += 1;
        }
        (self.i > start && v <= max).then_some(v)
    }
    /// `[+-]hh[:mm[:ss]]` in seconds; hours up to `max_h`.
    fn hms(&mut self, max_h: u32) -> Option<i32> {
        let neg = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                true
            }
            Some(b'+') => {
                self.i += 1;
                false
            }
            _ => false,
        };
        let mut secs = self.number(3, max_h)? * 3600;
        for mult in [60, 1] {
            if self.peek() != Some(b':') {
                break;
            }
            self.i += 1;
            secs += self.number(2, 59)? * mult;
        }
        let s = secs as i32;
        Some(if neg { -s } else { s })
    }
    fn offset(&mut self) -> Option<i32> {
        self.hms(24)
    }
    fn rule(&mut self) -> Option<Rule> {
        let date = match self.peek()? {
            b'J' => {
                self.i += 1;
                let n = self.number(3, 365)?;
                (n >= 1).then_some(Date::Julian1(n as u16))?
            }
            b'M' => {
                self.i += 1;
                let m = self.number(2, 12)?;
                self.expect(b'.')?;
                let w = self.number(1, 5)?;
                self.expect(b'.')?;
                let d = self.number(1, 6)?;
                (m >= 1 && w >= 1).then_some(Date::Month {
                    m: m as u8,
                    w: w as u8,
                    d: d as u8,
                })?
            }
            _ => Date::Julian0(self.number(3, 365)? as u16),
        };
        let time = if self.peek() == Some(b'/') {
            self.i += 1;
            self.hms(167)?
        } else {
            7200
        };
        Some(Rule { date, time })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Civil;

    fn utc(y: i64, mo: u8, d: u8, h: u8, mi: u8) -> i64 {
        Civil {
            year: y,
            month: mo,
            day: d,
            hour: h,
            min: mi,
            sec: 0,
        }
        .to_unix()
    }

    #[test]
    fn berlin_switches_on_the_last_sundays() {
        let z = Zone::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2026: DST from 2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC.
        assert_eq!(z.offset_at(utc(2026, 3, 29, 0, 59)), 3600);
        assert_eq!(z.offset_at(utc(2026, 3, 29, 1, 0)), 7200);
        assert_eq!(z.offset_at(utc(2026, 10, 25, 0, 59)), 7200);
        assert_eq!(z.offset_at(utc(2026, 10, 25, 1, 0)), 3600);
        // Local midnight of the 23-hour day is 22:00 UTC the day before.
        let d = z.day_of(utc(2026, 3, 28, 23, 0));
        assert_eq!(d, days_from_civil(2026, 3, 29));
        assert_eq!(z.day_of(utc(2026, 3, 28, 22, 59)), d - 1);
    }

    #[test]
    fn southern_hemisphere_and_us_default_rule() {
        let z = Zone::parse("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        assert_eq!(z.offset_at(utc(2026, 1, 15, 0, 0)), 11 * 3600);
        assert_eq!(z.offset_at(utc(2026, 6, 15, 0, 0)), 10 * 3600);
        let us = Zone::parse("EST5EDT").unwrap();
        assert_eq!(us.offset_at(utc(2026, 7, 1, 12, 0)), -4 * 3600);
        assert_eq!(us.offset_at(utc(2026, 12, 1, 12, 0)), -5 * 3600);
        // 2026-03-08 is the second Sunday of March: 02:00 EST = 07:00 UTC.
        assert_eq!(us.offset_at(utc(2026, 3, 8, 6, 59)), -5 * 3600);
        assert_eq!(us.offset_at(utc(2026, 3, 8, 7, 0)), -4 * 3600);
    }

    #[test]
    fn plain_offsets_and_bad_strings() {
        assert_eq!(Zone::parse("UTC0"), Some(Zone::UTC));
        assert_eq!(Zone::parse("<+0330>-3:30").unwrap().std, 3 * 3600 + 1800);
        assert_eq!(
            Zone::parse("GMT0BST,M3.5.0/1,M10.5.0")
                .unwrap()
                .dst
                .unwrap()
                .offset,
            3600
        );
        assert_eq!(Zone::parse("IST-5:30").unwrap().offset_at(0), 19_800);
        for bad in [
            "",
            "C",
            "CET",
            "CET-1CEST,M3.5.0",
            "CET-1CEST,M13.5.0,M10.5.0",
            "CET-1X",
            "CET-99",
            "CET-1CEST,J0,J5",
        ] {
            assert_eq!(Zone::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn julian_dates() {
        let z = Zone::parse("XXX0YYY,J60/0,J300/0").unwrap();
        // J60 is March 1 in every year, leap or not.
        assert_eq!(z.offset_at(utc(2024, 3, 1, 0, 0)), 3600);
        assert_eq!(z.offset_at(utc(2024, 2, 29, 23, 59)), 0);
    }
}
