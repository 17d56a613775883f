//! `netmon devices`: usage per LAN device for a span of time, as an
//! aligned text table, TSV (bytes) or JSON (bytes). Device names are chosen
//! by whoever is on the LAN: every format escapes them (terminal control
//! characters become `?`, JSON escapes, TSV drops tabs and line breaks).

use crate::calendar::Calendar;
use crate::device::Mac;
use crate::state::{DeviceState, State};
use crate::text::{lossy, num, Buf};
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
pub struct Row<'a> {
    pub dev: &'a DeviceState,
    pub down: u64,
    pub up: u64,
}

/// Longest name shown in the text table (the rest is cut with `~`).
const NAME_WIDTH: usize = 24;

/// The devices (then `other`, when it has anything) with their usage in
/// `span` up to `now`, sorted by `sort`, largest first; ties by MAC.
pub fn rows<'a>(st: &'a State, cal: &Calendar, now: i64, span: Span, sort: Sort) -> Vec<Row<'a>> {
    let today = cal.day(now);
    let usage = |d: &DeviceState| -> (u64, u64) {
        match span {
            Span::Month => d.month(cal.period(today)),
            Span::Days(n) => (0..i64::from(n)).fold((0, 0), |(a, b), back| {
                let (x, y) = d.day(today - back);
                (a.saturating_add(x), b.saturating_add(y))
            }),
        }
    };
    let key = |r: &Row<'_>| match sort {
        Sort::Down => r.down,
        Sort::Up => r.up,
        Sort::Total => r.down.saturating_add(r.up),
    };
    let mut out: Vec<Row<'a>> = st
        .devices
        .iter()
        .map(|dev| {
            let (down, up) = usage(dev);
            Row { dev, down, up }
        })
        .filter(|r| r.down != 0 || r.up != 0)
        .collect();
    out.sort_by(|a, b| key(b).cmp(&key(a)).then(a.dev.mac.cmp(&b.dev.mac)));
    let (down, up) = usage(&st.other);
    if down != 0 || up != 0 {
        out.push(Row {
            dev: &st.other,
            down,
            up,
        });
    }
    out
}

/// The name as a terminal may show it: invalid UTF-8 as U+FFFD, control
/// characters (C0, DEL, C1: ESC sequences, CR, LF) and bidirectional
/// overrides (which reorder what follows) as `?`, at most `max` characters
/// (a longer one ends in `~`).
pub fn safe_name(name: &[u8], max: usize) -> String {
    let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let clean: String = lossy(name)
        .chars()
        .map(|c| if c.is_control() || bidi(c) { '?' } else { c })
        .collect();
    if clean.chars().count() <= max {
        return clean;
    }
    let mut cut: String = clean.chars().take(max.saturating_sub(1)).collect();
    cut.push('~');
    cut
}

/// The name shown for a device: its name, else its MAC; `other` is
/// "(other devices)".
fn shown(d: &DeviceState, max: usize) -> String {
    if d.mac == Mac::OTHER {
        return "(other devices)".into();
    }
    if d.name.is_empty() {
        let mut b = Buf::new();
        let _ = d.mac.write(&mut b);
        return b.into_string();
    }
    safe_name(&d.name, max)
}

fn mac_text(b: &mut Buf, mac: Mac) {
    if mac == Mac::OTHER {
        b.push_bytes(b"-");
    } else {
        let _ = mac.write(b);
    }
}

fn ip_text(b: &mut Buf, d: &DeviceState) {
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
        for v in [r.down, r.up, r.down.saturating_add(r.up)] {
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
        let name = shown(r.dev, crate::device::MAX_DEVICE_NAME).replace('\t', "?");
        b.push_bytes(name.as_bytes());
        b.push_bytes(b"\t");
        mac_text(b, r.dev.mac);
        for v in [r.down, r.up, r.down.saturating_add(r.up)] {
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

/// `{"devices":[{"mac","name","ipv4","ipv6","download_bytes",
/// "upload_bytes","other"}]}`; `name` is null when unknown, `mac` null for
/// the other devices.
fn json(rows: &[Row<'_>], b: &mut Buf) {
    b.push_bytes(b"{\"devices\":[");
    for (i, r) in rows.iter().enumerate() {
        b.push_bytes(if i == 0 { b"{" } else { b",{" });
        let other = r.dev.mac == Mac::OTHER;
        b.push_bytes(b"\"mac\":");
        if other {
            b.push_bytes(b"null");
        } else {
            b.push_bytes(b"\"");
            let _ = r.dev.mac.write(b);
            b.push_bytes(b"\"");
        }
        b.push_bytes(b",\"name\":");
        if r.dev.name.is_empty() {
            b.push_bytes(b"null");
        } else {
            super::json::write_string(b, &lossy(&r.dev.name));
        }
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
        if other {
            b.push_bytes(b",\"other\":true");
        }
        b.push_bytes(b"}");
    }
    b.push_bytes(b"]}\n");
}
