//! State: the last reading, running totals, totals at the last report, and
//! reset bookkeeping. Pure: `fold` takes the reading (with its time) and
//! returns what happened; encoding is text with a magic line and version.
//!
//! Invariants: totals never decrease; a counter that went down, rules that
//! netmon (re)created, a new boot id or a new nft table handle is a reset,
//! after which the delta is the counter's new value (never negative).

use crate::meter::{Name, MAX_METERS};
use crate::out::Buf;

pub const MAGIC: &str = "netmon-state";
pub const VERSION: u32 = 1;

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

/// Per meter: the raw counter last seen, the running total, the total at
/// the last report, and how many resets were seen.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MeterState {
    pub name: Name,
    pub last: Count,
    pub total: Count,
    pub at_report: Count,
    pub resets: u32,
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

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct State {
    /// When the running totals started (`total_since`).
    pub created: i64,
    /// Time of the last reading folded in.
    pub updated: i64,
    /// Time of the last report (start of the next report's period).
    pub reported: i64,
    pub generation: Generation,
    /// A reset happened since the last report.
    pub reset_pending: bool,
    /// `stop` removed the rules in an orderly way: the next install starts
    /// every counter from zero as expected, which is not a reset.
    pub stopped: bool,
    pub meters: heapless::Vec<MeterState, MAX_METERS>,
}

impl State {
    pub fn new(now: i64) -> State {
        State {
            created: now,
            updated: now,
            reported: now,
            generation: Generation::default(),
            reset_pending: false,
            stopped: false,
            meters: heapless::Vec::new(),
        }
    }

    pub fn meter(&self, name: &str) -> Option<&MeterState> {
        self.meters.iter().find(|m| m.name == name)
    }

    /// Folds a reading of `names` (config order) into the state and returns
    /// whether a reset was detected. Meters no longer configured are dropped;
    /// a meter seen for the first time counts its whole counter (netmon's
    /// own rules counted it).
    pub fn fold(&mut self, names: &[&str], r: &Reading) -> bool {
        let gen_reset =
            (r.reinstalled && !self.stopped) || r.generation.changed_from(&self.generation);
        let mut any = false;
        let mut next: heapless::Vec<MeterState, MAX_METERS> = heapless::Vec::new();
        for (name, cur) in names.iter().zip(r.counts.iter()) {
            let seen = self.meter(name).cloned();
            let first = seen.is_none();
            let mut m = match seen {
                Some(m) => m,
                None => MeterState {
                    name: Name::try_from(*name).unwrap_or_default(),
                    last: Count::default(),
                    total: Count::default(),
                    at_report: Count::default(),
                    resets: 0,
                },
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
            // Capacity equals `names`' bound (both MAX_METERS).
            let _ = next.push(m);
        }
        self.meters = next;
        self.generation = r.generation.clone();
        if r.time > self.updated {
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

    /// Text encoding: a magic line, `key value` lines, one `meter` line each,
    /// and an `end N` line so a torn file is detected.
    pub fn encode(&self, b: &mut Buf) {
        let _ = ufmt::uwrite!(b, "{} {}\n", MAGIC, VERSION);
        let _ = ufmt::uwrite!(b, "created {}\nupdated {}\n", self.created, self.updated);
        let _ = ufmt::uwrite!(b, "reported {}\n", self.reported);
        let boot: &str = if self.generation.boot_id.is_empty() {
            "-"
        } else {
            &self.generation.boot_id
        };
        let _ = ufmt::uwrite!(b, "boot {}\nhandle {}\n", boot, self.generation.handle);
        let _ = ufmt::uwrite!(b, "reset {}\n", u8::from(self.reset_pending));
        let _ = ufmt::uwrite!(b, "stopped {}\n", u8::from(self.stopped));
        for m in &self.meters {
            let _ = ufmt::uwrite!(
                b,
                "meter {} {} {} {} {} {} {} {}\n",
                m.name.as_str(),
                m.last.packets,
                m.last.bytes,
                m.total.packets,
                m.total.bytes,
                m.at_report.packets,
                m.at_report.bytes,
                m.resets
            );
        }
        let _ = ufmt::uwrite!(b, "end {}\n", self.meters.len());
    }

    /// Decodes `encode`'s output. The error is a short phrase with the line.
    pub fn decode(text: &str) -> Result<State, DecodeError> {
        let mut st = State::new(0);
        let mut lines = text.split('\n').enumerate().map(|(i, l)| (i as u32 + 1, l));
        let (_, first) = lines.next().ok_or(DecodeError::new(1, "empty file"))?;
        match first.strip_prefix(MAGIC) {
            Some(v) if v.trim() == "1" => {}
            Some(_) => return Err(DecodeError::new(1, "unsupported state version")),
            None => return Err(DecodeError::new(1, "not a netmon state file")),
        }
        let mut ended = false;
        for (no, line) in lines {
            if ended {
                if line.is_empty() {
                    continue;
                }
                return Err(DecodeError::new(no, "data after the end line"));
            }
            ended = st.decode_line(no, line)?;
        }
        if !ended {
            return Err(DecodeError::new(0, "file is truncated (no end line)"));
        }
        Ok(st)
    }

    fn decode_line(&mut self, no: u32, line: &str) -> Result<bool, DecodeError> {
        let bad = || DecodeError::new(no, "malformed line");
        let mut f = line.split(' ');
        let key = f.next().unwrap_or("");
        let mut num = || -> Result<u64, DecodeError> {
            f.next().and_then(|t| t.parse().ok()).ok_or_else(bad)
        };
        match key {
            "created" => self.created = num()? as i64,
            "updated" => self.updated = num()? as i64,
            "reported" => self.reported = num()? as i64,
            "handle" => self.generation.handle = num()?,
            "reset" => self.reset_pending = num()? != 0,
            "stopped" => self.stopped = num()? != 0,
            "boot" => {
                let v = line.get(5..).ok_or_else(bad)?;
                if v != "-" {
                    self.generation.boot_id = heapless::String::try_from(v).map_err(|_| bad())?;
                }
            }
            "meter" => self.decode_meter(no, line)?,
            "end" => {
                if num()? as usize != self.meters.len() {
                    return Err(DecodeError::new(no, "meter count does not match"));
                }
                return Ok(true);
            }
            _ => return Err(DecodeError::new(no, "unknown line")),
        }
        Ok(false)
    }

    fn decode_meter(&mut self, no: u32, line: &str) -> Result<(), DecodeError> {
        let bad = || DecodeError::new(no, "malformed meter line");
        let mut f = line.split(' ').skip(1);
        let name = f.next().ok_or_else(bad)?;
        if !crate::meter::valid_name(name) {
            return Err(bad());
        }
        let mut v = [0u64; 7];
        for slot in v.iter_mut() {
            *slot = f.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
        }
        if f.next().is_some() {
            return Err(bad());
        }
        let m = MeterState {
            name: Name::try_from(name).map_err(|_| bad())?,
            last: Count::new(v[0], v[1]),
            total: Count::new(v[2], v[3]),
            at_report: Count::new(v[4], v[5]),
            resets: u32::try_from(v[6]).map_err(|_| bad())?,
        };
        self.meters
            .push(m)
            .map_err(|_| DecodeError::new(no, "too many meters"))
    }
}

/// Why a state file did not decode: a phrase and the line (0 = whole file).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DecodeError {
    pub line: u32,
    pub what: &'static str,
}

impl DecodeError {
    fn new(line: u32, what: &'static str) -> DecodeError {
        DecodeError { line, what }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(t: i64, counts: &[(u64, u64)]) -> Reading {
        Reading {
            time: t,
            counts: counts.iter().map(|&(p, b)| Count::new(p, b)).collect(),
            generation: Generation::default(),
            reinstalled: false,
        }
    }

    const NAMES: [&str; 2] = ["proxy", "offnet"];

    #[test]
    fn deltas_accumulate_and_period_resets_at_report() {
        let mut s = State::new(100);
        assert!(!s.fold(&NAMES, &reading(100, &[(1, 100), (2, 200)])));
        assert!(!s.fold(&NAMES, &reading(200, &[(3, 300), (2, 250)])));
        assert_eq!(s.meters[0].total, Count::new(3, 300));
        assert_eq!(s.meters[1].total, Count::new(2, 250));
        s.mark_reported(200);
        assert!(!s.fold(&NAMES, &reading(300, &[(4, 1300), (2, 250)])));
        assert_eq!(s.period(&s.meters[0]), Count::new(1, 1000));
        assert_eq!(s.period(&s.meters[1]), Count::default());
    }

    #[test]
    fn counter_going_down_is_a_reset_counted_from_new_value() {
        let mut s = State::new(0);
        s.fold(&NAMES, &reading(1, &[(10, 5000), (1, 10)]));
        // Only the byte count of one meter went down: still a reset for it.
        assert!(s.fold(&NAMES, &reading(2, &[(11, 40), (2, 20)])));
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
        s.fold(&NAMES, &r);
        // New table handle, and the counter already passed its old value.
        let mut r = reading(2, &[(20, 3000), (0, 0)]);
        r.generation.handle = 9;
        assert!(s.fold(&NAMES, &r));
        assert_eq!(s.meters[0].total, Count::new(30, 4000));
        // Reinstall flag alone.
        let mut r = reading(3, &[(25, 3500), (0, 0)]);
        r.generation.handle = 9;
        r.reinstalled = true;
        assert!(s.fold(&NAMES, &r));
        assert_eq!(s.meters[0].total, Count::new(55, 7500));
    }

    #[test]
    fn first_reading_and_orderly_stop_start_are_not_resets() {
        let mut s = State::new(0);
        let mut r = reading(1, &[(1, 100), (0, 0)]);
        r.reinstalled = true;
        assert!(!s.fold(&NAMES, &r));
        s.fold(&NAMES, &reading(2, &[(5, 900), (0, 0)]));
        s.mark_stopped();
        // Rules re-created by start: more traffic than before already.
        let mut r = reading(3, &[(9, 1000), (0, 0)]);
        r.reinstalled = true;
        assert!(!s.fold(&NAMES, &r));
        assert_eq!(s.meters[0].total, Count::new(14, 1900));
        assert!(!s.reset_pending);
    }

    #[test]
    fn boot_id_change_is_a_reset() {
        let mut s = State::new(0);
        let mut r = reading(1, &[(1, 100), (0, 0)]);
        r.generation.boot_id = heapless::String::try_from("aaa").unwrap();
        s.fold(&NAMES, &r);
        r.generation.boot_id = heapless::String::try_from("bbb").unwrap();
        r.counts[0] = Count::new(5, 500);
        assert!(s.fold(&NAMES, &r));
        assert_eq!(s.meters[0].total, Count::new(6, 600));
    }

    #[test]
    fn counters_past_2_32_and_near_2_64_fold_exactly_and_saturate() {
        let mut s = State::new(0);
        let big = (1u64 << 32) + 5;
        s.fold(&NAMES, &reading(1, &[(1, big), (0, u64::MAX - 10)]));
        s.fold(&NAMES, &reading(2, &[(2, big + (1 << 33)), (0, u64::MAX)]));
        assert_eq!(s.meters[0].total.bytes, big + (1 << 33));
        assert_eq!(s.meters[1].total.bytes, u64::MAX);
        // A reset then more traffic: the total saturates rather than wraps.
        s.fold(&NAMES, &reading(3, &[(2, big + (1 << 33)), (0, 100)]));
        assert_eq!(s.meters[1].total.bytes, u64::MAX);
    }

    #[test]
    fn new_meter_counts_its_whole_counter_and_removed_meter_is_dropped() {
        let mut s = State::new(0);
        s.fold(&["proxy"], &reading(1, &[(1, 100)]));
        s.fold(&["offnet"], &reading(2, &[(3, 300)]));
        assert_eq!(s.meters.len(), 1);
        assert_eq!(s.meters[0].name, "offnet");
        assert_eq!(s.meters[0].total, Count::new(3, 300));
    }

    #[test]
    fn encode_decode_round_trip() {
        let mut s = State::new(1_700_000_000);
        let mut r = reading(1_700_000_300, &[(u64::MAX, u64::MAX - 1), (1, 2)]);
        r.generation.boot_id = heapless::String::try_from("5f0e-11").unwrap();
        r.generation.handle = 42;
        s.fold(&NAMES, &r);
        s.mark_reported(1_700_000_301);
        let mut b = Buf::new();
        s.encode(&mut b);
        assert_eq!(State::decode(b.as_str()), Ok(s));
    }

    #[test]
    fn decode_refuses_torn_and_foreign_files() {
        let mut s = State::new(5);
        s.fold(&NAMES, &reading(6, &[(1, 1), (2, 2)]));
        let mut b = Buf::new();
        s.encode(&mut b);
        let text = b.as_str();
        // Every strict prefix is refused (torn write), never accepted.
        for cut in 0..text.len() - 1 {
            assert!(
                State::decode(&text[..cut]).is_err(),
                "prefix {cut} accepted"
            );
        }
        assert_eq!(
            State::decode("netmon-state 2\nend 0\n").unwrap_err().what,
            "unsupported state version"
        );
        assert!(State::decode("\0\0\0\0").is_err());
        assert!(State::decode(&text.replace("meter proxy 1", "meter proxy x")).is_err());
    }
}
