//! The state file's encoding: a fixed little-endian layout with a magic
//! number, a version, the length and a CRC-32, so a torn, truncated,
//! padded or foreign file is refused rather than misread, and a file
//! moves between big- and little-endian routers unchanged.
//!
//! Version 6 (written): version 5's layout, then before the CRC the
//! devices' rate windows: `rates_from`, `rates_to`, `update_at` (zigzag),
//! then for `other` and each device in the order of the devices section
//! its `rate_bytes` and `since_update` (down, up each).
//!
//! Version 5 (read): version 4's layout, then before the CRC the
//! admin's blocks (their number, then in MAC order: the MAC, `since`
//! (zigzag), the end plus one or 0 for none (zigzag)) and the quota
//! warnings sent (their number, then sorted: the quota's id, the MAC, the
//! period key (zigzag)).
//!
//! Version 4 (read): the header and meters of version 3, but the
//! length field is the whole file's; then the devices section: `other`,
//! the number of devices (a varint, at most `MAX_DEVICES`), the devices in
//! MAC order; then the CRC. A device is its MAC (6 bytes), its name (a
//! length byte, at most `MAX_DEVICE_NAME`, and the bytes), a byte saying
//! which of IPv4 (bit 0) and IPv6 (bit 1) follow, the addresses, then
//! LEB128 varints: `last`, `total`, `at_report`, `carry` (down packets,
//! down bytes, up packets, up bytes each), `seen` (zigzag), and the day
//! then the month buckets that hold a key: their number, then in
//! ascending key order the first key (zigzag) or the step from the
//! previous key (at least 1), down bytes, up bytes. Varints, because a
//! fixed layout of 8192 devices of 43 buckets would be megabytes of
//! zeros on flash; key steps, because a month of days is then one byte a
//! key. Every value has one encoding (minimal varints, sorted MACs and
//! keys), so equal states are equal files.
//!
//! Version 3 (read): the flags byte after `reset_pending` holds
//! `expect_restart` (bit 0), `stopped` (bit 1) and `stop_noted` (bit 2);
//! up to `MAX_STATE_METERS` meters; the length field counts the whole
//! file, which ends after the meters. Version 2 (read): the same layout
//! with that byte 0 or 1 (`expect_restart`, then named `stopped`), at most
//! `MAX_METERS` meters.

use super::*;
use crate::device::{DeviceName, MAX_DEVICES, MAX_DEVICE_NAME};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest LEB128 varint of a u64.
const MAX_VARINT: usize = 10;
/// Largest header and meters part (with the CRC): the whole of a file
/// with no devices.
pub const METERS_MAX_BYTES: usize = HEADER + MAX_STATE_METERS * METER_BYTES + 4;
// The meters alone, even every one of them, stay a small file on flash.
const _: () = assert!(METERS_MAX_BYTES < 128 * 1024);
/// Largest encoding of one device (or `other`): every varint at its
/// longest, every bucket in use. A real one is a few hundred bytes.
pub const DEVICE_MAX_BYTES: usize = 6
    + 1
    + MAX_DEVICE_NAME
    + 1
    + 4
    + 16
    + (16 + 1) * MAX_VARINT
    + 2 * MAX_VARINT
    + (DEVICE_DAYS + DEVICE_MONTHS) * 3 * MAX_VARINT
    + 4 * MAX_VARINT;

/// Largest state file with `devices` devices (and `other`): the bound
/// the README documents, about 13 MB at `MAX_DEVICES` (it lives in RAM;
/// flash gets the same file, a few hundred bytes a device in practice).
pub const fn max_bytes(devices: usize) -> usize {
    METERS_MAX_BYTES
        + MAX_VARINT
        + (devices + 1) * DEVICE_MAX_BYTES
        + MAX_VARINT
        + MAX_ADDRS * (1 + 16 + 6 + 4 * MAX_VARINT)
        + MAX_VARINT
        + MAX_BLOCKS * (6 + 2 * MAX_VARINT)
        + MAX_VARINT
        + MAX_WARNED * (6 + 2 * MAX_VARINT)
        + 3 * MAX_VARINT
}

impl State {
    pub fn encode(&self) -> Vec<u8> {
        // A device that is active every day is about 500 bytes.
        let devices = (self.devices.len() + 1) * 512;
        let mut w = Writer(Vec::with_capacity(
            HEADER + self.meters.len() * METER_BYTES + devices,
        ));
        w.0.extend_from_slice(&MAGIC);
        w.u16(VERSION);
        w.u16(self.meters.len() as u16);
        // The length, known at the end.
        w.u32(0);
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
        w.device(&self.other);
        w.varint(self.devices.len() as u64);
        for d in &self.devices {
            w.device(d);
        }
        w.varint(self.addrs.len() as u64);
        for a in &self.addrs {
            w.addr(a);
        }
        w.varint(self.blocks.len() as u64);
        for b in &self.blocks {
            w.0.extend_from_slice(&b.mac.0);
            w.zigzag(b.since);
            // 0: until unblocked; else the end plus one (an end at 0 is
            // a time long gone, kept as such).
            w.zigzag(b.until.map_or(0, |u| u.saturating_add(1).max(1)));
        }
        w.varint(self.warned.len() as u64);
        for x in &self.warned {
            w.varint(u64::from(x.quota));
            w.0.extend_from_slice(&x.mac.0);
            w.zigzag(x.period);
        }
        for t in [self.rates_from, self.rates_to, self.update_at] {
            w.zigzag(t);
        }
        for d in [&self.other].into_iter().chain(&self.devices) {
            for v in [d.rate_bytes, d.since_update] {
                w.varint(v.0);
                w.varint(v.1);
            }
        }
        let len = (w.0.len() + 4) as u32;
        w.0[8..12].copy_from_slice(&len.to_le_bytes());
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
            3..=VERSION => (MAX_STATE_METERS, 7),
            v => return Err(DecodeError::Version(v)),
        };
        let n = usize::from(r.u16());
        let len = r.u32() as usize;
        let meters_end = HEADER + n * METER_BYTES;
        let fits = match version {
            4..=VERSION => len > meters_end + 4,
            _ => len == meters_end + 4,
        };
        if n > max_meters || !fits || b.len() != len {
            return Err(DecodeError::Length);
        }
        let (body, tail) = b.split_at(len - 4);
        if crc32(body).to_le_bytes() != tail {
            return Err(DecodeError::Checksum);
        }
        // The devices section must end where the CRC starts.
        r.b = body;
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
        if version >= 4 {
            decode_devices(&mut r, &mut st);
            decode_addrs(&mut r, &mut st);
        }
        if version >= 5 {
            decode_blocks(&mut r, &mut st);
            decode_warned(&mut r, &mut st);
        }
        if version >= 6 {
            st.rates_from = r.zigzag();
            st.rates_to = r.zigzag();
            st.update_at = r.zigzag();
            for d in [&mut st.other].into_iter().chain(st.devices.iter_mut()) {
                d.rate_bytes = (r.varint(), r.varint());
                d.since_update = (r.varint(), r.varint());
            }
        }
        if r.bad.is_none() && r.i != body.len() {
            r.fail(DecodeError::Length);
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

/// The admin's blocks: in MAC order (so each once), at most `MAX_BLOCKS`.
fn decode_blocks(r: &mut Reader<'_>, st: &mut State) {
    let n = r.varint();
    if n > MAX_BLOCKS as u64 {
        r.fail(DecodeError::Field);
        return;
    }
    for _ in 0..n {
        let mac = Mac(r.take());
        let since = r.zigzag();
        let until = match r.zigzag() {
            0 => None,
            u => Some(u - 1),
        };
        if st.blocks.last().is_some_and(|b| b.mac >= mac) || !mac.is_device() {
            r.fail(DecodeError::Field);
        }
        st.blocks.push(Block { mac, since, until });
    }
}

/// The quota warnings sent: sorted (so each once), at most `MAX_WARNED`.
fn decode_warned(r: &mut Reader<'_>, st: &mut State) {
    let n = r.varint();
    if n > MAX_WARNED as u64 {
        r.fail(DecodeError::Field);
        return;
    }
    for _ in 0..n {
        let quota = u32::try_from(r.varint()).unwrap_or_else(|_| {
            r.fail(DecodeError::Field);
            0
        });
        let w = Warned {
            quota,
            mac: Mac(r.take()),
            period: r.zigzag(),
        };
        if st.warned.last().is_some_and(|p| *p >= w) {
            r.fail(DecodeError::Field);
        }
        st.warned.push(w);
    }
}

/// The remembered addresses: in address order (so each once), at most
/// `MAX_ADDRS`.
fn decode_addrs(r: &mut Reader<'_>, st: &mut State) {
    let n = r.varint();
    if n > MAX_ADDRS as u64 {
        r.fail(DecodeError::Field);
        return;
    }
    for _ in 0..n {
        if r.bad.is_some() {
            return;
        }
        let [family] = r.take::<1>();
        let ip = match family {
            4 => IpAddr::from(r.take::<4>()),
            6 => IpAddr::from(r.take::<16>()),
            _ => {
                r.fail(DecodeError::Field);
                return;
            }
        };
        let owner = Mac(r.take());
        let mut c = [Count::default(); 2];
        for v in c.iter_mut() {
            *v = Count::new(r.varint(), r.varint());
        }
        if st.addrs.last().is_some_and(|p| p.ip >= ip) {
            r.fail(DecodeError::Field);
        }
        let last = DownUp::new(c[0], c[1]);
        st.addrs.push(AddrState { ip, owner, last });
    }
}

/// `other`, then the devices: in MAC order (so each once), none of them
/// `Mac::OTHER`, at most `MAX_DEVICES`.
fn decode_devices(r: &mut Reader<'_>, st: &mut State) {
    st.other = decode_device(r);
    if st.other.mac != Mac::OTHER {
        r.fail(DecodeError::Field);
    }
    let n = r.varint();
    if n > u64::from(MAX_DEVICES) {
        r.fail(DecodeError::Field);
        return;
    }
    let mut prev = Mac::OTHER;
    for _ in 0..n {
        // A damaged file stops here rather than filling memory.
        if r.bad.is_some() {
            return;
        }
        let d = decode_device(r);
        if d.mac <= prev {
            r.fail(DecodeError::Field);
        }
        prev = d.mac;
        st.devices.push(d);
    }
}

fn decode_device(r: &mut Reader<'_>) -> DeviceState {
    let mut d = DeviceState::new(Mac(r.take()));
    d.name = r.name();
    let [ips] = r.take::<1>();
    if ips > 3 {
        r.fail(DecodeError::Field);
    }
    if ips & 1 != 0 {
        d.ip4 = Some(Ipv4Addr::from(r.take::<4>()));
    }
    if ips & 2 != 0 {
        d.ip6 = Some(Ipv6Addr::from(r.take::<16>()));
    }
    d.last = r.down_up();
    d.total = r.down_up();
    d.at_report = r.down_up();
    d.carry = r.down_up();
    d.seen = r.zigzag();
    r.buckets(&mut d.days);
    r.buckets(&mut d.months);
    d
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
    /// LEB128: seven bits a byte, least significant first.
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.u8((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.u8(v as u8);
    }
    /// Zigzag, so that small negative numbers stay short.
    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }
    fn down_up(&mut self, c: DownUp) {
        for v in [c.down.packets, c.down.bytes, c.up.packets, c.up.bytes] {
            self.varint(v);
        }
    }
    /// The buckets that hold a key, in key order, keys as steps.
    fn buckets(&mut self, ring: &[Bucket<DownUpBytes>]) {
        let mut used: Vec<&Bucket<DownUpBytes>> = ring.iter().filter(|b| b.key != EMPTY).collect();
        used.sort_unstable_by_key(|b| b.key);
        self.varint(used.len() as u64);
        let mut prev = None;
        for b in used {
            match prev {
                None => self.zigzag(i64::from(b.key)),
                Some(p) => self.varint(i64::from(b.key).abs_diff(p)),
            }
            prev = Some(i64::from(b.key));
            self.varint(b.count.0);
            self.varint(b.count.1);
        }
    }
    /// `4` or `6`, the address, the owner's MAC, then varints.
    fn addr(&mut self, a: &AddrState) {
        match a.ip {
            IpAddr::V4(v) => {
                self.u8(4);
                self.0.extend_from_slice(&v.octets());
            }
            IpAddr::V6(v) => {
                self.u8(6);
                self.0.extend_from_slice(&v.octets());
            }
        }
        self.0.extend_from_slice(&a.owner.0);
        for c in [a.last.down, a.last.up] {
            self.varint(c.packets);
            self.varint(c.bytes);
        }
    }

    fn device(&mut self, d: &DeviceState) {
        self.0.extend_from_slice(&d.mac.0);
        self.u8(d.name.len() as u8);
        self.0.extend_from_slice(&d.name);
        self.u8(u8::from(d.ip4.is_some()) | u8::from(d.ip6.is_some()) << 1);
        if let Some(a) = d.ip4 {
            self.0.extend_from_slice(&a.octets());
        }
        if let Some(a) = d.ip6 {
            self.0.extend_from_slice(&a.octets());
        }
        for c in [d.last, d.total, d.at_report, d.carry] {
            self.down_up(c);
        }
        self.zigzag(d.seen);
        self.buckets(&d.days);
        self.buckets(&d.months);
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
    /// A minimal LEB128 varint of at most 64 bits.
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let [b] = self.take::<1>();
            let bits = u64::from(b & 0x7f);
            // The tenth byte holds the 64th bit only; a last byte of zero
            // after others is a longer spelling of a shorter number.
            if (shift == 63 && b > 1) || (shift > 0 && b == 0) {
                self.fail(DecodeError::Field);
                return 0;
            }
            v |= bits << shift;
            if b & 0x80 == 0 || self.bad.is_some() {
                return v;
            }
        }
        v
    }
    fn zigzag(&mut self) -> i64 {
        let v = self.varint();
        (v >> 1) as i64 ^ -((v & 1) as i64)
    }
    fn down_up(&mut self) -> DownUp {
        let mut c = [0u64; 4];
        for v in c.iter_mut() {
            *v = self.varint();
        }
        DownUp::new(Count::new(c[0], c[1]), Count::new(c[2], c[3]))
    }
    /// A length byte (at most `MAX_DEVICE_NAME`) and that many bytes.
    fn name(&mut self) -> DeviceName {
        let [n] = self.take::<1>();
        let Some(s) = self.b.get(self.i..self.i + usize::from(n)) else {
            self.fail(DecodeError::Length);
            return DeviceName::new();
        };
        self.i += usize::from(n);
        DeviceName::from_slice(s).unwrap_or_else(|_| {
            self.fail(DecodeError::Field);
            DeviceName::new()
        })
    }
    /// Buckets as `Writer::buckets` writes them, each into its slot: more
    /// than the ring holds, a key that does not step up, one outside the
    /// i32 keys, or two keys for one slot are refused.
    fn buckets(&mut self, ring: &mut [Bucket<DownUpBytes>]) {
        let n = self.varint();
        if n > ring.len() as u64 {
            self.fail(DecodeError::Field);
            return;
        }
        let mut prev: Option<i64> = None;
        for _ in 0..n {
            let key = match prev {
                None => Some(self.zigzag()),
                Some(p) => i64::try_from(self.varint())
                    .ok()
                    .filter(|&step| step > 0)
                    .and_then(|step| p.checked_add(step)),
            };
            let count = (self.varint(), self.varint());
            let key = key
                .and_then(|k| i32::try_from(k).ok())
                .filter(|&k| k != EMPTY);
            let Some(key) = key else {
                self.fail(DecodeError::Field);
                return;
            };
            prev = Some(i64::from(key));
            let slot = i64::from(key).rem_euclid(ring.len() as i64) as usize;
            match ring.get_mut(slot) {
                Some(b) if b.key == EMPTY => *b = Bucket { key, count },
                _ => self.fail(DecodeError::Field),
            }
        }
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
