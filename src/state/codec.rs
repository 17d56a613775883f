//! The state file's encoding: a fixed little-endian layout with a magic
//! number, a version, the length and a CRC-32, so a torn, truncated,
//! padded or foreign file is refused rather than misread, and a file
//! moves between big- and little-endian routers unchanged.
//!
//! Version 3 (written): the flags byte after `reset_pending` holds
//! `expect_restart` (bit 0), `stopped` (bit 1) and `stop_noted` (bit 2);
//! up to `MAX_STATE_METERS` meters. Version 2 (read): the same layout with
//! that byte 0 or 1 (`expect_restart`, then named `stopped`), at most
//! `MAX_METERS` meters.

use super::*;

impl State {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(
            HEADER + self.meters.len() * METER_BYTES + 4,
        ));
        w.0.extend_from_slice(&MAGIC);
        w.u16(VERSION);
        w.u16(self.meters.len() as u16);
        w.u32((HEADER + self.meters.len() * METER_BYTES + 4) as u32);
        for v in [self.created, self.updated, self.reported, self.synced] {
            w.i64(v);
        }
        w.u64(self.generation.handle);
        w.fixed(self.generation.boot_id.as_bytes(), 40);
        w.u8(u8::from(self.reset_pending));
        let flags = u8::from(self.expect_restart)
            | u8::from(self.stopped) << 1
            | u8::from(self.stop_noted) << 2;
        w.u8(flags);
        for m in &self.meters {
            w.fixed(m.name.as_bytes(), MAX_NAME);
            for c in [m.last, m.total, m.at_report, m.carry] {
                w.count(c);
            }
            w.u32(m.resets);
            for b in m.days.iter().chain(m.months.iter()) {
                w.u32(b.key as u32);
                w.count(b.count);
            }
        }
        let crc = crc32(&w.0);
        w.u32(crc);
        w.0
    }

    pub fn decode(b: &[u8]) -> Result<State, DecodeError> {
        if b.len() < HEADER + 4 || b.get(..4) != Some(&MAGIC[..]) {
            return Err(DecodeError::NotState);
        }
        // Every field is read; the first error found is the answer (the
        // length is checked first, so plain reads cannot run out).
        let mut r = Reader { b, i: 4, bad: None };
        let version = r.u16();
        let (max_meters, max_flags) = match version {
            2 => (MAX_METERS, 1),
            VERSION => (MAX_STATE_METERS, 7),
            v => return Err(DecodeError::Version(v)),
        };
        let n = usize::from(r.u16());
        let len = r.u32() as usize;
        if n > max_meters || len != HEADER + n * METER_BYTES + 4 || b.len() != len {
            return Err(DecodeError::Length);
        }
        let (body, tail) = b.split_at(len - 4);
        if crc32(body).to_le_bytes() != tail {
            return Err(DecodeError::Checksum);
        }
        let mut st = State::new(r.i64());
        st.updated = r.i64();
        st.reported = r.i64();
        st.synced = r.i64();
        st.generation.handle = r.u64();
        let boot = r.fixed(40);
        match heapless::String::try_from(boot) {
            Ok(s) => st.generation.boot_id = s,
            Err(_) => r.fail(DecodeError::Field),
        }
        st.reset_pending = r.flag();
        let [flags] = r.take::<1>();
        if flags > max_flags {
            r.fail(DecodeError::Field);
        }
        st.expect_restart = flags & 1 != 0;
        st.stopped = flags & 2 != 0;
        st.stop_noted = flags & 4 != 0;
        for _ in 0..n {
            st.meters.push(decode_meter(&mut r));
        }
        match r.bad {
            Some(e) => Err(e),
            None => Ok(st),
        }
    }
}

fn decode_meter(r: &mut Reader<'_>) -> MeterState {
    let name = r.fixed(MAX_NAME);
    if !crate::meter::valid_name(name) {
        r.fail(DecodeError::Field);
    }
    let mut m = MeterState::new(name);
    m.last = r.count();
    m.total = r.count();
    m.at_report = r.count();
    m.carry = r.count();
    m.resets = r.u32();
    for b in m.days.iter_mut().chain(m.months.iter_mut()) {
        b.key = r.u32() as i32;
        b.count = r.count();
    }
    m
}

/// Why a state file did not decode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DecodeError {
    NotState,
    Version(u16),
    Length,
    Checksum,
    Field,
}

impl DecodeError {
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeError::NotState => "not a netmon state file",
            DecodeError::Version(_) => "written by an unsupported version of netmon",
            DecodeError::Length => "truncated or padded",
            DecodeError::Checksum => "checksum mismatch",
            DecodeError::Field => "invalid field",
        }
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn count(&mut self, c: Count) {
        self.u64(c.packets);
        self.u64(c.bytes);
    }
    /// A length byte and the text padded with zeros to `width`.
    fn fixed(&mut self, s: &[u8], width: usize) {
        let n = s.len().min(width);
        self.u8(n as u8);
        self.0.extend_from_slice(&s[..n]);
        self.0.resize(self.0.len() + width - n, 0);
    }
}

/// Reads little-endian fields; a field that cannot be read yields zeros
/// (or "") and records the first such error in `bad`.
struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    bad: Option<DecodeError>,
}

impl<'a> Reader<'a> {
    fn fail(&mut self, e: DecodeError) {
        self.bad.get_or_insert(e);
    }
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        match self.b.get(self.i..self.i + N) {
            Some(s) => a.copy_from_slice(s),
            None => self.fail(DecodeError::Length),
        }
        self.i += N;
        a
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
    fn flag(&mut self) -> bool {
        let [v] = self.take::<1>();
        if v > 1 {
            self.fail(DecodeError::Field);
        }
        v == 1
    }
    fn count(&mut self) -> Count {
        Count::new(self.u64(), self.u64())
    }
    fn fixed(&mut self, width: usize) -> &'a str {
        let [n] = self.take::<1>();
        let n = usize::from(n);
        let Some(s) = self.b.get(self.i..self.i + width) else {
            self.fail(DecodeError::Length);
            return "";
        };
        self.i += width;
        let (Some(text), pad) = (s.get(..n), &s[n.min(width)..]) else {
            self.fail(DecodeError::Field);
            return "";
        };
        // One encoding per state: padding is zeros, as `Writer::fixed` writes it.
        if pad.iter().any(|&b| b != 0) {
            self.fail(DecodeError::Field);
            return "";
        }
        core::str::from_utf8(text).unwrap_or_else(|_| {
            self.fail(DecodeError::Field);
            ""
        })
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib), bitwise: the state is a few KB.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
