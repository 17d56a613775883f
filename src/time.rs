//! Calendar arithmetic on Unix seconds, UTC (local times are shifted by
//! the caller, see `tz`). Pure: callers pass the time.
//!
//! Days are counted with Howard Hinnant's `days_from_civil` algorithm, exact
//! over the whole i64 range netmon stores (no `libc::gmtime`, so no time32
//! surprise on 32-bit musl and no year-2038 limit).

use ufmt::uWrite;

/// A broken-down UTC time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Civil {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub min: u8,
    pub sec: u8,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of `days_from_civil`).
pub fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl Civil {
    pub fn from_unix(t: i64) -> Civil {
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (secs / 3600) as u8,
            min: (secs / 60 % 60) as u8,
            sec: (secs % 60) as u8,
        }
    }

    pub fn to_unix(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.min) * 60
            + i64::from(self.sec)
    }
}

/// Day number (days since the epoch) of a Unix time, UTC.
pub fn day_of(t: i64) -> i64 {
    t.div_euclid(86_400)
}

fn two<W: uWrite + ?Sized>(w: &mut W, v: u8) -> Result<(), W::Error> {
    if v < 10 {
        w.write_str("0")?;
    }
    ufmt::uwrite!(w, "{}", v)
}

fn year<W: uWrite + ?Sized>(w: &mut W, y: i64) -> Result<(), W::Error> {
    if (0..1000).contains(&y) {
        w.write_str(if y < 10 {
            "000"
        } else if y < 100 {
            "00"
        } else {
            "0"
        })?;
    }
    ufmt::uwrite!(w, "{}", y)
}

/// `YYYY-MM-DD`.
pub fn write_date<W: uWrite + ?Sized>(w: &mut W, day: i64) -> Result<(), W::Error> {
    let (y, m, d) = civil_from_days(day);
    year(w, y)?;
    w.write_str("-")?;
    two(w, m)?;
    w.write_str("-")?;
    two(w, d)
}

fn write_with<W: uWrite + ?Sized>(
    w: &mut W,
    t: i64,
    seps: [&str; 5],
    tail: &str,
) -> Result<(), W::Error> {
    let c = Civil::from_unix(t);
    year(w, c.year)?;
    w.write_str(seps[0])?;
    two(w, c.month)?;
    w.write_str(seps[1])?;
    two(w, c.day)?;
    w.write_str(seps[2])?;
    two(w, c.hour)?;
    w.write_str(seps[3])?;
    two(w, c.min)?;
    w.write_str(seps[4])?;
    two(w, c.sec)?;
    w.write_str(tail)
}

/// RFC 3339 in UTC: `2026-11-21T19:24:00Z`.
pub fn write_rfc3339<W: uWrite + ?Sized>(w: &mut W, t: i64) -> Result<(), W::Error> {
    write_with(w, t, ["-", "-", "T", ":", ":"], "Z")
}

/// Human form: `2026-11-21 19:24:00 ABBR`, for `local`, a time already
/// shifted to the zone whose abbreviation `abbr` is (see
/// `tz::Zone::write_human`).
pub fn write_human_at<W: uWrite + ?Sized>(
    w: &mut W,
    local: i64,
    abbr: &str,
) -> Result<(), W::Error> {
    write_with(w, local, ["-", "-", " ", ":", ":"], " ")?;
    w.write_str(abbr)
}

/// The blog's log stamp: `2026/11/21-19:24:00`.
pub fn write_log_stamp<W: uWrite + ?Sized>(w: &mut W, t: i64) -> Result<(), W::Error> {
    write_with(w, t, ["/", "/", "-", ":", ":"], "")
}

/// Parses `YYYY/MM/DD-HH:MM:SS` (the log stamp) back to Unix seconds.
pub fn parse_log_stamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19 || b[4] != b'/' || b[7] != b'/' || b[10] != b'-' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: core::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        i64::try_from(crate::text::parse_u64(t).ok()?).ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let c = Civil {
        year: y,
        month: mo as u8,
        day: d as u8,
        hour: h as u8,
        min: mi as u8,
        sec: se as u8,
    };
    Some(c.to_unix())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Buf;

    fn s(f: impl Fn(&mut Buf)) -> String {
        let mut b = Buf::new();
        f(&mut b);
        b.as_str().to_string()
    }

    #[test]
    fn known_dates() {
        assert_eq!(s(|b| write_rfc3339(b, 0).unwrap()), "1970-01-01T00:00:00Z");
        assert_eq!(
            s(|b| write_rfc3339(b, 1_779_305_040).unwrap()),
            "2026-05-20T19:24:00Z"
        );
        // One second past the signed 32-bit limit (2038-01-19T03:14:07Z).
        assert_eq!(
            s(|b| write_rfc3339(b, 2_147_483_648).unwrap()),
            "2038-01-19T03:14:08Z"
        );
        assert_eq!(
            s(|b| write_log_stamp(b, 951_782_400).unwrap()),
            "2000/02/29-00:00:00"
        );
        assert_eq!(s(|b| write_date(b, -1).unwrap()), "1969-12-31");
    }

    #[test]
    fn days_round_trip_over_centuries() {
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn log_stamp_round_trips_and_refuses_garbage() {
        for t in [0i64, 951_782_400, 2_147_483_648, 4_102_444_799] {
            let text = s(|b| write_log_stamp(b, t).unwrap());
            assert_eq!(parse_log_stamp(&text), Some(t), "{text}");
        }
        for bad in [
            "",
            "2024/05/17",
            "2024-05-17-08:00:00",
            "2024/13/17-08:00:00",
            "2024/05/17-0x:00:00",
        ] {
            assert_eq!(parse_log_stamp(bad), None, "{bad}");
        }
    }
}
