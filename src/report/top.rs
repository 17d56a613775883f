//! `netmon top`: live rates per meter and per LAN device from two
//! readings of the counters an interval apart. Pure: the command reads the
//! counters, the clocks and the names and passes them in; this turns two
//! samples into rows and writes them as one frame of text.
//!
//! A rate is the increase of a counter between the two readings divided
//! by the time between them (monotonic milliseconds), in whole bytes per
//! second, rounded down. A counter that went back (netmon's rules made
//! again, a device's set element deleted and re-added, `nft reset
//! counters`), a meter table with a new handle, and a counter the earlier
//! reading did not have give no rate in that interval (`-`): never a
//! negative or a phantom one. Device names are chosen by whoever is on the
//! LAN: they are written through `text::write_terminal_safe` only.

use crate::device::{Host, Mac};
use crate::meter::Name;
use crate::state::{Counts, DeviceReading, State};
use crate::text::{num, write_ip, write_terminal_safe, Buf};
use crate::units::write_human;
use core::net::IpAddr;

/// What orders the device rows (largest first).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sort {
    Down,
    Up,
}

/// Whom a device row is about.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Key {
    /// A device by MAC; `Mac::OTHER` is the devices that did not fit in
    /// the kernel sets.
    Mac(Mac),
    /// An address the neighbour tables give no MAC for (on iptables the
    /// sets count addresses).
    Addr(IpAddr),
}

/// The counters at one moment.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Sample {
    /// When they were read, in monotonic milliseconds.
    pub at_ms: u64,
    /// The nft meter table's handle (0 when there is none, and on
    /// iptables): a new one means every meter counter started again.
    pub handle: u64,
    /// Bytes per meter, in the order read.
    pub meters: Vec<(Name, u64)>,
    /// Download and upload bytes per device, sorted by key, one entry a key.
    pub devices: Vec<(Key, u64, u64)>,
}

impl Sample {
    /// The sample of one read of the firewall (`Backend::read`'s counts,
    /// handle and devices) taken at `at_ms`.
    pub fn new(at_ms: u64, handle: u64, counts: &Counts, dev: &DeviceReading) -> Sample {
        Sample {
            at_ms,
            handle,
            meters: counts.iter().map(|(n, c)| (n.clone(), c.bytes)).collect(),
            devices: device_bytes(dev),
        }
    }
}

/// Bytes per device: nft's per-MAC elements and `other`, or iptables'
/// per-address counters summed per MAC (an address without one keeps
/// its own row).
fn device_bytes(d: &DeviceReading) -> Vec<(Key, u64, u64)> {
    if !d.on {
        return Vec::new();
    }
    let elems = d.elems.iter().map(|(m, dn, up)| (Key::Mac(*m), dn, up));
    let other = (Key::Mac(Mac::OTHER), &d.other_down, &d.other_up);
    let addrs = d.addrs.iter().map(|a| {
        let key = a.mac.map_or(Key::Addr(a.ip), Key::Mac);
        (key, &a.down, &a.up)
    });
    let mut v: Vec<(Key, u64, u64)> = elems
        .chain(core::iter::once(other))
        .chain(addrs)
        .map(|(k, dn, up)| (k, dn.bytes, up.bytes))
        .collect();
    v.sort_by_key(|e| e.0);
    v.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = kept.1.saturating_add(later.1);
            kept.2 = kept.2.saturating_add(later.2);
        }
        same
    });
    v
}

/// Bytes per second between `before` and `after`, `ms` milliseconds
/// apart; `None` when the counter went back or no time passed. Exact
/// floor of `(after - before) * 1000 / ms` without a wider type.
pub fn per_second(before: u64, after: u64, ms: u64) -> Option<u64> {
    let d = after.checked_sub(before)?;
    if ms == 0 {
        return None;
    }
    // d = q*ms + r with r < ms: d*1000/ms = q*1000 + r*1000/ms.
    let whole = (d / ms).saturating_mul(1000);
    Some(whole.saturating_add((d % ms).saturating_mul(1000) / ms))
}

/// One device's rates (bytes per second; `None`: none this interval).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DeviceRate {
    pub key: Key,
    pub down: Option<u64>,
    pub up: Option<u64>,
}

impl DeviceRate {
    /// Nothing moved either way (such devices are counted, not listed).
    fn idle(&self) -> bool {
        self.down == Some(0) && self.up == Some(0)
    }
}

/// The devices of `cur` that moved (or have no rate) between `prev` and
/// `cur`, sorted by `sort` (largest first; no rate after every rate;
/// then the other direction; then by key), and how many were idle.
pub fn device_rates(prev: &Sample, cur: &Sample, sort: Sort) -> (Vec<DeviceRate>, usize) {
    let ms = cur.at_ms.saturating_sub(prev.at_ms);
    let mut rows = Vec::new();
    let mut idle = 0;
    for &(key, down, up) in &cur.devices {
        let before = prev.devices.binary_search_by_key(&key, |e| e.0);
        let before = before.ok().and_then(|i| prev.devices.get(i));
        let r = DeviceRate {
            key,
            down: before.and_then(|b| per_second(b.1, down, ms)),
            up: before.and_then(|b| per_second(b.2, up, ms)),
        };
        if r.idle() {
            // `other` is no device: not counted among the idle ones.
            idle += usize::from(key != Key::Mac(Mac::OTHER));
        } else {
            rows.push(r);
        }
    }
    let rank = |r: &DeviceRate| match sort {
        Sort::Down => (r.down, r.up),
        Sort::Up => (r.up, r.down),
    };
    // `None < Some(_)`: reversed, rows without a rate go last.
    rows.sort_by(|a, b| rank(b).cmp(&rank(a)).then(a.key.cmp(&b.key)));
    (rows, idle)
}

/// Each meter of `cur` with its rate, in the order read.
pub fn meter_rates<'a>(prev: &Sample, cur: &'a Sample) -> Vec<(&'a str, Option<u64>)> {
    let ms = cur.at_ms.saturating_sub(prev.at_ms);
    let same_table = prev.handle == cur.handle;
    cur.meters
        .iter()
        .map(|(name, bytes)| {
            let before = prev.meters.iter().find(|(n, _)| n == name);
            let rate = before
                .filter(|_| same_table)
                .and_then(|b| per_second(b.1, *bytes, ms));
            (name.as_str(), rate)
        })
        .collect()
}

/// Names and addresses of the devices, by MAC: those the state kept
/// (`update` names devices and keeps the names when the lease is gone),
/// overlaid by what the name sources say now.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Names(Vec<Host>);

impl Names {
    pub fn new(st: Option<&State>, sources: &[Host]) -> Names {
        let kept = st.into_iter().flat_map(|s| &s.devices).map(|d| Host {
            mac: d.mac,
            name: Some(d.name.clone()).filter(|n| !n.is_empty()),
            ip4: d.ip4,
            ip6: d.ip6,
        });
        let mut all: Vec<Host> = kept.chain(sources.iter().cloned()).collect();
        // Stable: for one MAC the state's entry comes first, the sources after.
        all.sort_by_key(|h| h.mac);
        all.dedup_by(|later, kept| {
            let same = later.mac == kept.mac;
            if same {
                let name = later.name.take().filter(|n| !n.is_empty());
                kept.name = name.or(kept.name.take());
                kept.ip4 = later.ip4.or(kept.ip4);
                kept.ip6 = later.ip6.or(kept.ip6);
            }
            same
        });
        Names(all)
    }

    fn by_mac(&self, mac: Mac) -> Option<&Host> {
        let i = self.0.binary_search_by_key(&mac, |h| h.mac).ok()?;
        self.0.get(i)
    }

    fn by_addr(&self, ip: IpAddr) -> Option<&Host> {
        self.0.iter().find(|h| match ip {
            IpAddr::V4(a) => h.ip4 == Some(a),
            IpAddr::V6(a) => h.ip6 == Some(a),
        })
    }
}

/// How a frame is drawn.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct View<'a> {
    /// The local time of the reading, as people read it.
    pub when: &'a str,
    /// Seconds between readings.
    pub interval: u32,
    pub sort: Sort,
    /// Most lines the frame may take (a terminal's height); `None`: no limit.
    pub lines: Option<usize>,
}

/// Longest device name shown (the rest is cut with `…`), as `devices` does.
const NAME_WIDTH: usize = 24;
/// Width of a rate: `1023.99 KiB/s`.
const RATE_WIDTH: usize = 13;
/// Lines a frame has besides the meter and device rows: the header, the
/// meters' heading, a blank line and the devices' heading.
const FIXED_LINES: usize = 4;

/// The header line: `netmon top: <when>, every N s, by download`.
fn header(v: &View<'_>, b: &mut Buf) {
    let by = match v.sort {
        Sort::Down => "download",
        Sort::Up => "upload",
    };
    let every = num(u64::from(v.interval));
    b.fill(
        "netmon top: {}, every {} s, by {}\n",
        &[v.when, every.as_str(), by],
    );
}

/// The frame shown before the second reading: the header and a line that
/// says when the rates come.
pub fn render_waiting(v: &View<'_>, b: &mut Buf) {
    header(v, b);
    let every = num(u64::from(v.interval));
    b.fill("first reading taken; rates in {} s\n", &[every.as_str()]);
}

/// One frame: the header, each meter's rate, then the devices that moved
/// (as many as `v.lines` leaves room for) and how many more and idle
/// there are. Devices only when `cur` has any (devices counted).
pub fn render(prev: &Sample, cur: &Sample, names: &Names, v: &View<'_>, b: &mut Buf) {
    let start = b.as_bytes().len();
    frame(prev, cur, names, v, b);
    // On a terminal shorter than the meters, the last lines are cut: a
    // frame taller than the screen would scroll and push the header off.
    if let Some(n) = v.lines {
        keep_lines(b, start, n);
    }
}

/// Cuts what was written after `start` to its first `n` lines.
fn keep_lines(b: &mut Buf, start: usize, n: usize) {
    let text = b.as_bytes().get(start..).unwrap_or_default();
    let mut ends = (text.iter().enumerate()).filter(|&(_, &c)| c == b'\n');
    let end = match n {
        0 => Some(0),
        n => ends.nth(n - 1).map(|(i, _)| i + 1),
    };
    if let Some(end) = end {
        b.0.truncate(start + end);
    }
}

fn frame(prev: &Sample, cur: &Sample, names: &Names, v: &View<'_>, b: &mut Buf) {
    header(v, b);
    let meters = meter_rates(prev, cur);
    b.push_bytes(b"         rate  meter\n");
    for (name, rate) in &meters {
        write_rate(b, *rate);
        b.fill("  {}\n", &[name]);
    }
    if cur.devices.is_empty() {
        return;
    }
    b.push_bytes(b"\n");
    let (rows, idle) = device_rates(prev, cur, v.sort);
    let room = v
        .lines
        .map_or(usize::MAX, |l| l.saturating_sub(FIXED_LINES + meters.len()));
    // The footer takes a line when there are idle or cut rows.
    let fits = rows.len() + usize::from(idle > 0) <= room;
    let shown = if fits {
        rows.len()
    } else {
        room.saturating_sub(1)
    };
    let shown = shown.min(rows.len());
    device_table(rows.get(..shown).unwrap_or_default(), names, b);
    footer(rows.len() - shown, idle, b);
}

/// The devices' heading and one line per row.
fn device_table(rows: &[DeviceRate], names: &Names, b: &mut Buf) {
    let shown: Vec<Buf> = rows.iter().map(|r| shown_name(r.key, names)).collect();
    let width = (shown.iter())
        .map(|n| n.as_str().chars().count())
        .max()
        .unwrap_or(0)
        .max("device".len());
    b.push_bytes(b"     download        upload  ");
    pad(b, "device", width);
    b.push_bytes(b"  mac                addresses\n");
    for (r, name) in rows.iter().zip(&shown) {
        write_rate(b, r.down);
        b.push_bytes(b" ");
        write_rate(b, r.up);
        b.push_bytes(b"  ");
        pad(b, name.as_str(), width);
        b.push_bytes(b"  ");
        identity(r.key, names, b);
        b.push_bytes(b"\n");
    }
}

/// `N more devices, M idle` (what is not listed), when there is any.
fn footer(more: usize, idle: usize, b: &mut Buf) {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let (m, i) = (num(more as u64), num(idle as u64));
    match (more, idle) {
        (0, 0) => {}
        (0, _) => b.fill("{} idle device{}\n", &[i.as_str(), plural(idle)]),
        (_, 0) => b.fill("{} more device{}\n", &[m.as_str(), plural(more)]),
        _ => b.fill(
            "{} more device{}, {} idle\n",
            &[m.as_str(), plural(more), i.as_str()],
        ),
    }
}

/// A rate right-aligned in `RATE_WIDTH`: `1.50 MiB/s`, `0 B/s`, or `-`.
fn write_rate(b: &mut Buf, rate: Option<u64>) {
    let mut t = Buf::new();
    match rate {
        Some(r) => {
            let _ = write_human(&mut t, r);
            t.push_bytes(b"/s");
        }
        None => t.push_bytes(b"-"),
    }
    for _ in t.as_str().chars().count()..RATE_WIDTH {
        b.push_bytes(b" ");
    }
    b.push_bytes(t.as_bytes());
}

/// What the name column shows: the name (escaped), else the MAC, else
/// the address; `other` is `(other devices)`.
fn shown_name(key: Key, names: &Names) -> Buf {
    let mut b = Buf::new();
    let host = match key {
        Key::Mac(Mac::OTHER) => {
            b.push_bytes(b"(other devices)");
            return b;
        }
        Key::Mac(m) => names.by_mac(m),
        Key::Addr(ip) => names.by_addr(ip),
    };
    match (host.and_then(|h| h.name.as_ref()), key) {
        (Some(name), _) => write_terminal_safe(&mut b, name, NAME_WIDTH),
        (None, Key::Mac(m)) => {
            let _ = m.write(&mut b);
        }
        (None, Key::Addr(ip)) => {
            let _ = write_ip(&mut b, &ip);
        }
    }
    b
}

/// The MAC and addresses columns: `-` for what is not known.
fn identity(key: Key, names: &Names, b: &mut Buf) {
    let (mac, host) = match key {
        Key::Mac(m) if m != Mac::OTHER => (Some(m), names.by_mac(m)),
        Key::Mac(_) => (None, None),
        Key::Addr(ip) => (None, names.by_addr(ip)),
    };
    match mac.or(host.map(|h| h.mac)) {
        Some(m) => {
            let _ = m.write(b);
        }
        None => b.push_bytes(b"-                "),
    }
    b.push_bytes(b"  ");
    let mut any = false;
    let v4 = host.and_then(|h| h.ip4).map(IpAddr::V4);
    let v6 = host.and_then(|h| h.ip6).map(IpAddr::V6);
    let own = match key {
        Key::Addr(ip) if v4 != Some(ip) && v6 != Some(ip) => Some(ip),
        _ => None,
    };
    for ip in [own, v4, v6].into_iter().flatten() {
        b.push_bytes(if any { b" " } else { b"" });
        let _ = write_ip(b, &ip);
        any = true;
    }
    if !any {
        b.push_bytes(b"-");
    }
}

fn pad(b: &mut Buf, s: &str, width: usize) {
    b.push_bytes(s.as_bytes());
    for _ in s.chars().count()..width {
        b.push_bytes(b" ");
    }
}

/// Switches a terminal to the alternate screen (the shell's screen comes
/// back as it was at the end), hides the cursor and turns line wrapping
/// off (a line wider than the terminal is cut instead of wrapping onto
/// the next and pushing the frame down).
pub const SCREEN_ENTER: &str = "\x1b[?1049h\x1b[?25l\x1b[?7l";
/// Undoes `SCREEN_ENTER`, in the reverse order.
pub const SCREEN_LEAVE: &str = "\x1b[?7h\x1b[?25h\x1b[?1049l";

/// `frame` drawn over the previous one without a blank flash: the cursor
/// home, each line cleared after its text (`ESC[K`), then everything below
/// the frame cleared (`ESC[J`). `frame` holds no control character but
/// line ends (names are escaped), so nothing in it moves the cursor.
pub fn redraw(frame: &[u8], b: &mut Buf) {
    b.push_bytes(b"\x1b[H");
    for line in frame.split_inclusive(|&c| c == b'\n') {
        match line.strip_suffix(b"\n") {
            Some(text) => {
                b.push_bytes(text);
                b.push_bytes(b"\x1b[K\n");
            }
            None => b.push_bytes(line),
        }
    }
    b.push_bytes(b"\x1b[J");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{device, state, HOSTILE};
    use crate::state::{AddrCount, Count};
    use core::net::Ipv4Addr;

    fn mac(n: u8) -> Mac {
        Mac([2, 0, 0, 0, 0, n])
    }

    /// A sample at `at_ms` of devices `(n, down, up)` (MAC `mac(n)`) and
    /// meters `(name, bytes)`.
    fn sample(at_ms: u64, devs: &[(u8, u64, u64)], meters: &[(&str, u64)]) -> Sample {
        let mut counts = Counts::new();
        for (n, b) in meters {
            crate::state::add_count(&mut counts, n, Count::new(1, *b));
        }
        let reading = DeviceReading {
            on: true,
            elems: (devs.iter())
                .map(|&(n, d, u)| (mac(n), Count::new(1, d), Count::new(1, u)))
                .collect(),
            ..DeviceReading::default()
        };
        Sample::new(at_ms, 7, &counts, &reading)
    }

    fn view(lines: Option<usize>, sort: Sort) -> View<'static> {
        View {
            when: "2026-11-21 20:24:03 CET",
            interval: 1,
            sort,
            lines,
        }
    }

    fn frame(prev: &Sample, cur: &Sample, names: &Names, v: &View<'_>) -> String {
        let mut b = Buf::new();
        render(prev, cur, names, v, &mut b);
        b.into_string()
    }

    fn host(n: u8, name: &[u8]) -> Host {
        Host {
            mac: mac(n),
            name: crate::device::DeviceName::from_slice(name).ok(),
            ip4: Some(Ipv4Addr::new(192, 168, 1, n)),
            ip6: None,
        }
    }

    #[test]
    fn per_second_is_the_exact_floor_and_never_negative() {
        for (d, ms) in [
            (0u64, 1u64),
            (1, 3),
            (102_800, 1003),
            (u64::MAX / 1000, 1),
            (u64::MAX / 2, 999),
            (u64::MAX / 7, 3_600_000),
        ] {
            let want = u128::from(d) * 1000 / u128::from(ms);
            assert_eq!(u128::from(per_second(0, d, ms).unwrap()), want, "{d} {ms}");
            assert_eq!(per_second(3, d.saturating_add(3), ms), per_second(0, d, ms));
        }
        // Past u64 only for a counter that rose by more than 2^64/1000.
        assert_eq!(per_second(0, u64::MAX, 1), Some(u64::MAX));
        assert_eq!(per_second(0, 102_800, 1000), Some(102_800));
        assert_eq!(per_second(0, 1000, 2000), Some(500));
        assert_eq!(per_second(10, 9, 1000), None, "a counter that went back");
        assert_eq!(per_second(0, 9, 0), None, "no time passed");
    }

    #[test]
    fn devices_are_ordered_by_the_chosen_direction() {
        let prev = sample(1000, &[(1, 0, 0), (2, 0, 0), (3, 0, 0), (4, 0, 0)], &[]);
        let cur = sample(
            2000,
            &[(1, 100, 900), (2, 500, 10), (3, 500, 20), (4, 0, 0)],
            &[],
        );
        let keys = |s: Sort| -> Vec<Key> {
            let (rows, idle) = device_rates(&prev, &cur, s);
            assert_eq!(idle, 1, "device 4 did not move");
            rows.iter().map(|r| r.key).collect()
        };
        let k = |n| Key::Mac(mac(n));
        // Ties on download go by upload, then by MAC.
        assert_eq!(keys(Sort::Down), [k(3), k(2), k(1)]);
        assert_eq!(keys(Sort::Up), [k(1), k(3), k(2)]);
    }

    #[test]
    fn a_counter_that_went_back_or_is_new_has_no_rate() {
        let prev = sample(0, &[(1, 5000, 5000), (2, 10, 10)], &[("wan_down", 9000)]);
        // Device 1's element was re-created (counters restarted); device 3 is new.
        let cur = sample(
            1000,
            &[(1, 100, 6000), (2, 20, 10), (3, 50, 50)],
            &[("wan_down", 10)],
        );
        let (rows, _) = device_rates(&prev, &cur, Sort::Down);
        let get = |n| rows.iter().find(|r| r.key == Key::Mac(mac(n))).copied();
        assert_eq!(get(1).map(|r| (r.down, r.up)), Some((None, Some(1000))));
        assert_eq!(get(2).map(|r| (r.down, r.up)), Some((Some(10), Some(0))));
        assert_eq!(get(3).map(|r| (r.down, r.up)), Some((None, None)));
        // Rows without a rate for the sort key go last.
        assert_eq!(rows.last().map(|r| r.key), Some(Key::Mac(mac(3))));
        assert_eq!(meter_rates(&prev, &cur), [("wan_down", None)]);
        let f = frame(&prev, &cur, &Names::default(), &view(None, Sort::Down));
        assert!(!f.contains("16777216"), "no phantom rate: {f}");
        assert!(f.contains("            -  wan_down\n"), "{f}");
    }

    #[test]
    fn meters_of_a_new_table_have_no_rate() {
        let prev = sample(0, &[], &[("wan_down", 100), ("wan_up", 50)]);
        let mut cur = sample(2000, &[], &[("wan_down", 4196), ("wan_up", 50)]);
        assert_eq!(
            meter_rates(&prev, &cur),
            [("wan_down", Some(2048)), ("wan_up", Some(0))]
        );
        cur.handle += 1;
        assert_eq!(
            meter_rates(&prev, &cur),
            [("wan_down", None), ("wan_up", None)]
        );
    }

    #[test]
    fn a_frame_has_meters_then_devices_with_names() {
        let prev = sample(0, &[(1, 0, 0), (2, 0, 0), (3, 0, 0)], &[("wan_down", 0)]);
        let cur = sample(
            1000,
            &[(1, 1_572_864, 2048), (2, 0, 100), (3, 0, 0)],
            &[("wan_down", 1_574_912)],
        );
        let names = Names::new(None, &[host(1, b"laptop")]);
        let f = frame(&prev, &cur, &names, &view(None, Sort::Down));
        let want = "netmon top: 2026-11-21 20:24:03 CET, every 1 s, by download
         rate  meter
   1.50 MiB/s  wan_down

     download        upload  device             mac                addresses
   1.50 MiB/s    2.00 KiB/s  laptop             02:00:00:00:00:01  192.168.1.1
        0 B/s       100 B/s  02:00:00:00:00:02  02:00:00:00:00:02  -
1 idle device
";
        assert_eq!(f, want);
    }

    /// What `devices` makes sure of, on the live view too: no control
    /// character and no bidi override of a name reaches the terminal.
    #[test]
    fn hostile_names_are_escaped() {
        let n = HOSTILE.len() as u8;
        let devs: Vec<(u8, u64, u64)> = (1..=n).map(|i| (i, 0, 0)).collect();
        let moved: Vec<(u8, u64, u64)> = (1..=n).map(|i| (i, 1000 * u64::from(i), 1)).collect();
        let hosts: Vec<Host> = (1..=n)
            .map(|i| host(i, HOSTILE[usize::from(i) - 1]))
            .collect();
        let names = Names::new(None, &hosts);
        let f = frame(
            &sample(0, &devs, &[]),
            &sample(1000, &moved, &[]),
            &names,
            &view(None, Sort::Down),
        );
        assert!(!f.replace('\n', "").chars().any(char::is_control), "{f:?}");
        assert!(!f.contains('\u{202e}'), "{f}");
        for want in [
            "<script>alert(1)</scrip…",
            "\\x1b[31mred\\x1b[0m",
            "cr\\x0d\\x0alf",
            "bad\u{fffd}\u{fffd}name",
            "a\\u{202e}evil",
        ] {
            assert!(f.contains(want), "{want} in {f}");
        }
        let mut screen = Buf::new();
        redraw(f.as_bytes(), &mut screen);
        let escapes = screen.as_str().matches('\x1b').count();
        assert_eq!(
            escapes,
            2 + f.lines().count(),
            "only redraw's own: {:?}",
            screen.as_str()
        );
    }

    #[test]
    fn a_terminal_too_short_shows_what_fits_and_says_how_many_more() {
        let devs: Vec<(u8, u64, u64)> = (1..=10).map(|i| (i, 0, 0)).collect();
        let mut moved: Vec<(u8, u64, u64)> = (1..=10).map(|i| (i, 100 * u64::from(i), 0)).collect();
        moved.push((11, 0, 0));
        let prev = sample(
            0,
            &[devs.as_slice(), &[(11, 0, 0)]].concat(),
            &[("wan_down", 0)],
        );
        let cur = sample(1000, &moved, &[("wan_down", 0)]);
        // 4 fixed lines, 1 meter, 3 rows and the footer.
        let f = frame(&prev, &cur, &Names::default(), &view(Some(9), Sort::Down));
        assert_eq!(f.lines().count(), 9, "{f}");
        assert!(f.ends_with("\n7 more devices, 1 idle\n"), "{f}");
        assert!(
            f.contains("1000 B/s") && f.contains("900 B/s") && f.contains("800 B/s"),
            "{f}"
        );
        assert!(!f.contains("700 B/s"), "{f}");
        // Everything fits: no footer but the idle one.
        let all = frame(&prev, &cur, &Names::default(), &view(Some(40), Sort::Down));
        assert_eq!(all.lines().count(), 4 + 1 + 10 + 1, "{all}");
        assert!(all.ends_with("\n1 idle device\n"), "{all}");
        // Not even the footer fits: the frame still keeps to the lines.
        let tiny = frame(&prev, &cur, &Names::default(), &view(Some(5), Sort::Down));
        assert_eq!(tiny.lines().count(), 5, "{tiny}");
        assert!(tiny.ends_with("  addresses\n"), "{tiny}");
    }

    #[test]
    fn iptables_addresses_add_up_per_mac_and_unknown_ones_stay_addresses() {
        let a = |ip: [u8; 4], m: Option<Mac>, d: u64, u: u64| AddrCount {
            ip: IpAddr::V4(Ipv4Addr::from(ip)),
            mac: m,
            down: Count::new(1, d),
            up: Count::new(1, u),
        };
        let reading = |k: u64| DeviceReading {
            on: true,
            addrs: vec![
                a([192, 168, 1, 5], Some(mac(5)), 100 * k, 0),
                a([192, 168, 1, 6], Some(mac(5)), 10 * k, k),
                a([192, 168, 1, 9], None, 7 * k, 0),
                a([0, 0, 0, 0], Some(Mac::OTHER), 0, 0),
            ],
            ..DeviceReading::default()
        };
        let prev = Sample::new(0, 0, &Counts::new(), &reading(1));
        let cur = Sample::new(1000, 0, &Counts::new(), &reading(2));
        let (rows, idle) = device_rates(&prev, &cur, Sort::Down);
        let got: Vec<(Key, Option<u64>, Option<u64>)> =
            rows.iter().map(|r| (r.key, r.down, r.up)).collect();
        let nine = Key::Addr(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 9)));
        assert_eq!(
            got,
            [
                (Key::Mac(mac(5)), Some(110), Some(1)),
                (nine, Some(7), Some(0))
            ]
        );
        assert_eq!(idle, 0, "`other` is not an idle device");
        let names = Names::new(None, &[host(9, b"printer")]);
        let mut b = Buf::new();
        device_table(&rows[1..], &names, &mut b);
        assert!(
            b.as_str()
                .ends_with("  printer  02:00:00:00:00:09  192.168.1.9\n"),
            "{}",
            b.as_str()
        );
        let unknown = device_table_text(&rows[1..]);
        assert!(
            unknown.ends_with("  192.168.1.9  -                  192.168.1.9\n"),
            "{unknown}"
        );
    }

    fn device_table_text(rows: &[DeviceRate]) -> String {
        let mut b = Buf::new();
        device_table(rows, &Names::default(), &mut b);
        b.into_string()
    }

    #[test]
    fn names_the_sources_know_replace_the_kept_ones() {
        let mut d1 = device(1, b"old-name", 0, 0);
        d1.ip4 = Some(Ipv4Addr::new(192, 168, 1, 50));
        let d2 = device(2, b"kept", 0, 0);
        let st = state(vec![d1, d2]);
        let mut unnamed = host(2, b"");
        unnamed.name = None;
        let names = Names::new(
            Some(&st),
            &[host(1, b"new-name"), unnamed, host(3, b"fresh")],
        );
        let name = |n| names.by_mac(mac(n)).and_then(|h| h.name.clone());
        assert_eq!(name(1).as_deref(), Some(&b"new-name"[..]));
        assert_eq!(name(2).as_deref(), Some(&b"kept"[..]));
        assert_eq!(name(3).as_deref(), Some(&b"fresh"[..]));
        assert_eq!(
            names.by_mac(mac(1)).and_then(|h| h.ip4),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
        assert_eq!(
            names.by_mac(mac(2)).and_then(|h| h.ip4),
            Some(Ipv4Addr::new(192, 168, 1, 2))
        );
        assert_eq!(names.0.len(), 3);
    }

    #[test]
    fn redraw_homes_clears_each_line_and_the_rest() {
        let mut b = Buf::new();
        redraw(b"a\nbc\n", &mut b);
        assert_eq!(b.as_str(), "\x1b[Ha\x1b[K\nbc\x1b[K\n\x1b[J");
        assert!(SCREEN_ENTER.contains("\x1b[?1049h") && SCREEN_LEAVE.ends_with("\x1b[?1049l"));
    }
}
