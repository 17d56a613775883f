//! `netmon devices`: usage per LAN device for a span of time, as an
//! aligned text table, TSV (bytes) or JSON (bytes); and the devices of a
//! report's period (`period_rows`). Device names are chosen by whoever is
//! on the LAN: every format escapes them through the writers of
//! `crate::text` (text and TSV: controls as a visible `\x1b`, bidi
//! formatting characters as `\u{202e}`, so no tab or line break is left;
//! JSON: RFC 8259 escapes; invalid UTF-8 as U+FFFD everywhere).

use crate::calendar::Calendar;
use crate::device::Mac;
use crate::state::{DeviceState, State};
use crate::text::{num, write_json_string, write_terminal_safe, Buf};
use crate::units::write_human;

/// How the devices are ordered (largest first).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sort {
    Down,
    Up,
    Total,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Tsv,
    Json,
}

/// The span a listing covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Span {
    /// The current billing month so far.
    Month,
    /// The last N days, today included.
    Days(u8),
}

/// One device's usage in the span.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Row<'a> {
    pub dev: &'a DeviceState,
    pub down: u64,
    pub up: u64,
    /// Bytes a second (down, up) between the last two updates
    /// (`State::rate`); `None` when there is no such window.
    pub rate: Option<(u64, u64)>,
}

/// Longest name shown in the text table (the rest is cut with `~`).
const NAME_WIDTH: usize = 24;

/// The devices (then `other`, when it has anything) with their usage in
/// `span` up to `now`, sorted by `sort`, largest first; ties by MAC.
pub fn rows<'a>(st: &'a State, cal: &Calendar, now: i64, span: Span, sort: Sort) -> Vec<Row<'a>> {
    let today = cal.day(now);
    ranked(st, sort, |d| match span {
        Span::Month => d.month(cal.period(today)),
        Span::Days(n) => (0..i64::from(n)).fold((0, 0), |(a, b), back| {
            let (x, y) = d.day(today - back);
            (a.saturating_add(x), b.saturating_add(y))
        }),
    })
}

/// The devices (then `other`, when it has anything) with their usage
/// since the last report, largest total first; ties by MAC.
pub fn period_rows(st: &State) -> Vec<Row<'_>> {
    ranked(st, Sort::Total, |d| {
        let (down, up) = d.period_down_up();
        (down.bytes, up.bytes)
    })
}

/// The devices with any `usage`, sorted by `sort`, then `other` if it
/// has any.
fn ranked<'a>(
    st: &'a State,
    sort: Sort,
    usage: impl Fn(&DeviceState) -> (u64, u64),
) -> Vec<Row<'a>> {
    let key = |r: &Row<'_>| match sort {
        Sort::Down => r.down,
        Sort::Up => r.up,
        Sort::Total => r.total(),
    };
    let mut out: Vec<Row<'a>> = st
        .devices
        .iter()
        .map(|dev| {
            let (down, up) = usage(dev);
            let rate = st.rate(dev);
            Row {
                dev,
                down,
                up,
                rate,
            }
        })
        .filter(|r| r.total() != 0)
        .collect();
    out.sort_by(|a, b| key(b).cmp(&key(a)).then(a.dev.mac.cmp(&b.dev.mac)));
    let (down, up) = usage(&st.other);
    if down != 0 || up != 0 {
        out.push(Row {
            dev: &st.other,
            down,
            up,
            rate: st.rate(&st.other),
        });
    }
    out
}

impl Row<'_> {
    /// Download plus upload.
    pub fn total(&self) -> u64 {
        self.down.saturating_add(self.up)
    }

    /// This is `other` (devices that did not fit in the kernel sets, or
    /// were evicted from the state).
    pub fn is_other(&self) -> bool {
        self.dev.mac == Mac::OTHER
    }
}

/// Why `find` found no single device.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Lookup {
    /// Neither a device's MAC nor any device's name.
    Unknown,
    /// The name of several devices: their MACs.
    Ambiguous(Vec<Mac>),
}

/// The device `arg` names: the one with that MAC (any form
/// `Mac::parse` takes), else the one whose name is exactly `arg`'s bytes.
pub fn find<'a>(st: &'a State, arg: &str) -> Result<&'a DeviceState, Lookup> {
    if let Some(d) = Mac::parse(arg).and_then(|m| st.device(m)) {
        return Ok(d);
    }
    let named: Vec<&DeviceState> = (st.devices.iter())
        .filter(|d| !d.name.is_empty() && d.name.as_slice() == arg.as_bytes())
        .collect();
    match named[..] {
        [d] => Ok(d),
        [] => Err(Lookup::Unknown),
        _ => Err(Lookup::Ambiguous(named.iter().map(|d| d.mac).collect())),
    }
}

/// Writes the name shown for a device on a terminal: its name (escaped
/// by `text::write_terminal_safe`, at most `max` characters), else its
/// MAC; `other` is "(other devices)".
pub fn write_shown(b: &mut Buf, d: &DeviceState, max: usize) {
    if d.mac == Mac::OTHER {
        b.push_bytes(b"(other devices)");
    } else if d.name.is_empty() {
        let _ = d.mac.write(b);
    } else {
        write_terminal_safe(b, &d.name, max);
    }
}

fn shown(d: &DeviceState, max: usize) -> String {
    let mut b = Buf::new();
    write_shown(&mut b, d, max);
    b.into_string()
}

/// `write_terminal_safe` shows a byte of a name as at most 4 characters
/// (`\x1b`; a 3-byte bidi character as 8, `\u{202e}`): a whole name fits.
const WHOLE_NAME: usize = 4 * crate::device::MAX_DEVICE_NAME;

pub fn mac_text(b: &mut Buf, mac: Mac) {
    if mac == Mac::OTHER {
        b.push_bytes(b"-");
    } else {
        let _ = mac.write(b);
    }
}

pub(super) fn ip_text(b: &mut Buf, d: &DeviceState) {
    let mut any = false;
    if let Some(a) = d.ip4 {
        let _ = crate::text::write_ip(b, &a.into());
        any = true;
    }
    if let Some(a) = d.ip6 {
        b.push_bytes(if any { b" " } else { b"" });
        let _ = crate::text::write_ip(b, &a.into());
        any = true;
    }
    if !any {
        b.push_bytes(b"-");
    }
}

/// Renders `rows` in `fmt`; `title` names the span (text only).
pub fn render(rows: &[Row<'_>], fmt: Format, title: &str, b: &mut Buf) {
    match fmt {
        Format::Text => text(rows, title, b),
        Format::Tsv => tsv(rows, b),
        Format::Json => json(rows, b),
    }
}

fn text(rows: &[Row<'_>], title: &str, b: &mut Buf) {
    b.fill("devices, {}\n", &[title]);
    if rows.is_empty() {
        b.push_bytes(b"  no device traffic in this span\n");
        return;
    }
    let names: Vec<String> = rows.iter().map(|r| shown(r.dev, NAME_WIDTH)).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    pad(b, "device", width);
    b.push_bytes(b"  mac                download     upload      total  addresses\n");
    for (r, name) in rows.iter().zip(&names) {
        pad(b, name, width);
        b.push_bytes(b"  ");
        let mut m = Buf::new();
        mac_text(&mut m, r.dev.mac);
        pad(b, m.as_str(), 17);
        for v in [r.down, r.up, r.total()] {
            let mut h = Buf::new();
            let _ = write_human(&mut h, v);
            b.push_bytes(b"  ");
            for _ in h.as_str().chars().count()..9 {
                b.push_bytes(b" ");
            }
            b.push_bytes(h.as_bytes());
        }
        b.push_bytes(b"  ");
        ip_text(b, r.dev);
        b.push_bytes(b"\n");
    }
}

fn pad(b: &mut Buf, s: &str, width: usize) {
    b.push_bytes(s.as_bytes());
    for _ in s.chars().count()..width {
        b.push_bytes(b" ");
    }
}

/// `name mac download upload total ipv4 ipv6`, bytes, a header line.
fn tsv(rows: &[Row<'_>], b: &mut Buf) {
    b.push_bytes(b"name\tmac\tdownload_bytes\tupload_bytes\ttotal_bytes\tipv4\tipv6\n");
    for r in rows {
        // Escaped, a name holds no tab or line break.
        write_shown(b, r.dev, WHOLE_NAME);
        b.push_bytes(b"\t");
        mac_text(b, r.dev.mac);
        for v in [r.down, r.up, r.total()] {
            b.push_bytes(b"\t");
            b.push_bytes(num(v).as_bytes());
        }
        for ip in [r.dev.ip4.map(Into::into), r.dev.ip6.map(Into::into)] {
            b.push_bytes(b"\t");
            match ip {
                Some(a) => {
                    let _ = crate::text::write_ip(b, &a);
                }
                None => b.push_bytes(b"-"),
            }
        }
        b.push_bytes(b"\n");
    }
}

/// `"mac":"…","name":"…"` of a device: `null` for the MAC of `other` and
/// for a name not known.
pub(super) fn json_identity(b: &mut Buf, dev: &DeviceState) {
    b.push_bytes(b"\"mac\":");
    if dev.mac == Mac::OTHER {
        b.push_bytes(b"null");
    } else {
        b.push_bytes(b"\"");
        let _ = dev.mac.write(b);
        b.push_bytes(b"\"");
    }
    b.push_bytes(b",\"name\":");
    if dev.name.is_empty() {
        b.push_bytes(b"null");
    } else {
        write_json_string(b, &dev.name);
    }
}

/// `{"devices":[{"mac","name","ipv4","ipv6","download_bytes",
/// "upload_bytes","download_bytes_per_second","upload_bytes_per_second",
/// "other"}]}`; `name` is null when unknown, `mac` null for the other
/// devices, the rates (between the last two updates) null when there is
/// no such window.
fn json(rows: &[Row<'_>], b: &mut Buf) {
    b.push_bytes(b"{\"devices\":[");
    for (i, r) in rows.iter().enumerate() {
        b.push_bytes(if i == 0 { b"{" } else { b",{" });
        let other = r.dev.mac == Mac::OTHER;
        json_identity(b, r.dev);
        for (key, ip) in [
            (",\"ipv4\":", r.dev.ip4.map(Into::into)),
            (",\"ipv6\":", r.dev.ip6.map(Into::into)),
        ] {
            b.push_bytes(key.as_bytes());
            match ip {
                Some(a) => {
                    b.push_bytes(b"\"");
                    let _ = crate::text::write_ip(b, &a);
                    b.push_bytes(b"\"");
                }
                None => b.push_bytes(b"null"),
            }
        }
        b.fill(
            ",\"download_bytes\":{},\"upload_bytes\":{}",
            &[num(r.down).as_str(), num(r.up).as_str()],
        );
        match r.rate {
            Some((down, up)) => b.fill(
                ",\"download_bytes_per_second\":{},\"upload_bytes_per_second\":{}",
                &[num(down).as_str(), num(up).as_str()],
            ),
            None => b.push_bytes(
                b",\"download_bytes_per_second\":null,\"upload_bytes_per_second\":null",
            ),
        }
        if other {
            b.push_bytes(b",\"other\":true");
        }
        b.push_bytes(b"}");
    }
    b.push_bytes(b"]}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{device, hostile_state, state};

    fn out(rows: &[Row<'_>], fmt: Format) -> String {
        let mut b = Buf::new();
        render(rows, fmt, "t", &mut b);
        b.into_string()
    }

    fn hostile_rows(st: &State) -> Vec<Row<'_>> {
        period_rows(st)
    }

    /// What `safe_name` (the devices listing's own escaper, now gone) made
    /// sure of, kept by `text::write_terminal_safe`: no control character
    /// and no bidi override reaches the terminal; both are visible.
    #[test]
    fn text_shows_controls_and_bidi_visibly() {
        let st = hostile_state();
        let t = out(&hostile_rows(&st), Format::Text);
        assert!(!t.replace('\n', "").chars().any(char::is_control), "{t:?}");
        assert!(!t.contains('\u{202e}'), "{t}");
        assert_eq!(t.lines().count(), 2 + 6, "{t}");
        for want in [
            "<script>alert(1)</scrip…",
            "\\x1b[31mred\\x1b[0m",
            "cr\\x0d\\x0alf",
            "bad\u{fffd}\u{fffd}name",
            "a\\u{202e}evil",
        ] {
            assert!(t.contains(want), "{want} in {t}");
        }
        assert!(t.contains(&format!("{}…", "A".repeat(23))), "{t}");
    }

    #[test]
    fn tsv_keeps_a_line_and_seven_fields_per_device() {
        let st = hostile_state();
        let t = out(&hostile_rows(&st), Format::Tsv);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 7, "{t}");
        for l in &lines {
            assert_eq!(l.split('\t').count(), 7, "{l:?}");
            assert!(!l.chars().any(|c| c.is_control() && c != '\t'), "{l:?}");
        }
        // The whole name, escaped: 63 of the 300 bytes were kept.
        assert!(t.contains(&format!("\n{}\t", "A".repeat(63))), "{t}");
        assert!(t.contains("\ncr\\x0d\\x0alf\t02:00:00:00:00:03\t"), "{t}");
    }

    #[test]
    fn json_escapes_names_and_nulls_unknowns() {
        let mut st = state(vec![
            device(1, b"q\"\\\r\n\x1b\xff", 5, 6),
            device(2, b"", 1, 0),
        ]);
        st.other.total.down.bytes = 3;
        // No window for rates yet: null.
        let j = out(&period_rows(&st), Format::Json);
        let none = r#""download_bytes_per_second":null,"upload_bytes_per_second":null"#;
        assert_eq!(
            j,
            format!(
                "{{\"devices\":[{{\"mac\":\"02:00:00:00:00:01\",\"name\":\"q\\\"\\\\\\u000d\\u000a\\u001b\u{fffd}\",\"ipv4\":null,\"ipv6\":null,\"download_bytes\":5,\"upload_bytes\":6,{none}}},\
                 {{\"mac\":\"02:00:00:00:00:02\",\"name\":null,\"ipv4\":null,\"ipv6\":null,\"download_bytes\":1,\"upload_bytes\":0,{none}}},\
                 {{\"mac\":null,\"name\":null,\"ipv4\":null,\"ipv6\":null,\"download_bytes\":3,\"upload_bytes\":0,{none},\"other\":true}}]}}\n"
            )
        );
        // A 100-second window: bytes a second, rounded down.
        (st.rates_from, st.rates_to) = (1_789_999_900, 1_790_000_000);
        st.devices[0].rate_bytes = (1_050, 250);
        let j = out(&period_rows(&st), Format::Json);
        let rates = |d: u64, u: u64| {
            format!(r#""download_bytes_per_second":{d},"upload_bytes_per_second":{u}"#)
        };
        assert!(
            j.contains(&format!(r#""upload_bytes":6,{}}}"#, rates(10, 2))),
            "{j}"
        );
        assert!(
            j.contains(&format!(r#""upload_bytes":0,{}}}"#, rates(0, 0))),
            "{j}"
        );
    }

    #[test]
    fn find_by_mac_then_exact_name() {
        let st = state(vec![
            device(1, b"tv", 1, 1),
            device(2, b"phone", 1, 1),
            device(3, b"phone", 1, 1),
            device(4, b"\xffx", 1, 1),
        ]);
        let mac = |n: u8| Mac([2, 0, 0, 0, 0, n]);
        assert_eq!(find(&st, "tv").map(|d| d.mac), Ok(mac(1)));
        assert_eq!(find(&st, "02-00-00-00-00-03").map(|d| d.mac), Ok(mac(3)));
        assert_eq!(find(&st, "2:0:0:0:0:2").map(|d| d.mac), Ok(mac(2)));
        assert_eq!(
            find(&st, "phone").map(|d| d.mac),
            Err(Lookup::Ambiguous(vec![mac(2), mac(3)]))
        );
        for unknown in ["TV", "tv ", "", "02:00:00:00:00:09", "\u{fffd}x"] {
            assert_eq!(find(&st, unknown).map(|d| d.mac), Err(Lookup::Unknown));
        }
    }

    #[test]
    fn rows_of_a_span_come_from_the_buckets() {
        let cal = Calendar::UTC;
        let mut d = device(1, b"x", 0, 0);
        d.days[0] = crate::state::Bucket {
            key: 20_026,
            count: (4, 5),
        };
        let st = state(vec![d, device(2, b"idle", 9, 9)]);
        let now = 20_026 * 86_400;
        let r = rows(&st, &cal, now, Span::Days(1), Sort::Up);
        assert_eq!(r.len(), 1, "a device without usage in the span is left out");
        assert_eq!((r[0].down, r[0].up, r[0].total()), (4, 5, 9));
    }
}
