//! The HTML report for mail: one small self-contained document with the
//! period, a RESET DETECTED notice when needed, a table per meter (usage
//! in the period, current total, packets), "Total since", the devices of
//! the period (when the state has devices: name, MAC, download, upload,
//! and a "N more devices" row when the list was cut), and an inline SVG
//! bar chart of the last `MAX_DAYS` days.
//!
//! Invariants of the output: no script, no event attribute, no external
//! resource (styles are inline `style` attributes; mail clients drop
//! `<link>` and often `<style>`); every text from outside the code goes
//! through `escape` (meter names) or `text::write_html_escaped` (device
//! names: bytes chosen by anyone on the LAN); a name is cut to
//! `MAX_NAME_CHARS` characters, so no line is longer than 998 bytes
//! (RFC 5322 2.1.1), even fully escaped.
//! Arithmetic is integer only (no float formatting in the binary).

use super::devices::mac_text;
use super::{DeviceList, Report, Row};
use crate::device::Mac;
use crate::device::Offload;
use crate::state::DeviceState;
use crate::text::{write_html_escaped, Buf};
use crate::time::write_date;
use crate::units::write_human as size;

/// Days drawn in the chart (the newest ones if more are given).
pub const MAX_DAYS: usize = 30;
/// Characters of a name shown; longer ones end in `…`. 64 characters
/// escape to at most 64 x 6 bytes (`&quot;`), and no line holds more
/// than two names, so every line stays far below 998 bytes.
pub const MAX_NAME_CHARS: usize = 64;
/// One colour per meter, cycling (Tableau 10: distinct, readable on white).
const COLOURS: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];
/// Chart geometry, in SVG user units.
const PLOT_H: u64 = 160;
const LEFT: u64 = 72;
const TOP: u64 = 12;
const BOTTOM: u64 = 34;

/// The style of a number cell and of a heading cell (inline: mail
/// clients drop `<style>`; the page shares them).
pub(super) const CELL: &str = "padding:4px 10px;border-bottom:1px solid #ddd;text-align:right";
pub(super) const HEAD: &str = "padding:4px 10px;border-bottom:2px solid #999;text-align:left";

/// Writes `s` with `& < > " '` as character references (HTML 5
/// section 13.1: safe in text and in quoted attributes alike), control
/// characters as `?`, cut to `MAX_NAME_CHARS` characters.
pub fn escape(b: &mut Buf, s: &str) {
    // Byte by byte: a character starts at every byte that is not a
    // continuation byte (10xxxxxx); C1 controls (U+0080..U+009F) are the
    // two-byte sequences C2 80..C2 9F.
    let s = s.as_bytes();
    let (mut i, mut n) = (0, 0);
    while let Some(&c) = s.get(i) {
        i += 1;
        if c & 0xc0 == 0x80 {
            b.0.push(c);
            continue;
        }
        if n == MAX_NAME_CHARS {
            b.push_bytes("…".as_bytes());
            return;
        }
        n += 1;
        let rep: &[u8] = match c {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&#39;",
            0..=0x1f | 0x7f => b"?",
            0xc2 if s.get(i).is_some_and(|&d| d < 0xa0) => {
                i += 1;
                b"?"
            }
            _ => {
                b.0.push(c);
                continue;
            }
        };
        b.push_bytes(rep);
    }
}

/// The whole document. `days`: (day number since the epoch, bytes per
/// meter in `names` order), oldest first; a missing value counts as 0.
pub fn render(r: &Report<'_>, days: &[(i64, Vec<u64>)], names: &[&str], b: &mut Buf) {
    let head = concat!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n",
        "<title>Network usage report</title>\n</head>\n",
        "<body style=\"font-family:Helvetica,Arial,sans-serif;color:#222;\">\n",
        "<h2 style=\"margin:0 0 4px 0;\">Network usage</h2>\n<p>Between ",
    );
    b.push_bytes(head.as_bytes());
    let _ = r.zone.write_human(b, r.from);
    b.push_bytes(b" and ");
    let _ = r.zone.write_human(b, r.to);
    b.push_bytes(b"</p>\n");
    if r.reset_detected {
        b.push_bytes(
            b"<p style=\"color:#b00020;font-weight:bold;\">RESET DETECTED: the counters \
            restarted since the last report; usage is counted from the new counters.</p>\n",
        );
    }
    if r.offload != Offload::Off {
        b.fill("<p><b>Note:</b> {}.</p>\n", &[r.offload.sentence()]);
    }
    for row in &r.rows {
        meter_table(row, b);
    }
    b.push_bytes(b"<p>Total since ");
    let _ = r.zone.write_human(b, r.total_since);
    b.push_bytes(b"</p>\n");
    if let Some(d) = &r.devices {
        devices(d, b);
    }
    h3(b, "Daily usage");
    chart(days, names, b);
    b.push_bytes(b"</body>\n</html>\n");
}

/// A section heading.
pub(super) fn h3(b: &mut Buf, text: &str) {
    b.fill("<h3 style=\"margin:16px 0 4px 0;\">{}</h3>\n", &[text]);
}

/// `<table>` and its heading row, one cell per `heads`.
pub(super) fn table_head(b: &mut Buf, heads: &[&str]) {
    b.push_bytes(b"<table style=\"border-collapse:collapse;\">\n<tr>");
    for head in heads {
        let _ = ufmt::uwrite!(b, "<th style=\"{}\">{}</th>", HEAD, *head);
    }
    b.push_bytes(b"</tr>\n");
}

fn meter_table(row: &Row<'_>, b: &mut Buf) {
    b.push_bytes(b"<h3 style=\"margin:16px 0 4px 0;\">");
    escape(b, row.name);
    if row.retired {
        b.push_bytes(b" (retired)");
    }
    b.push_bytes(b"</h3>\n<table style=\"border-collapse:collapse;\">\n");
    let _ = ufmt::uwrite!(
        b,
        "<tr><th style=\"{}\"></th><th style=\"{}\">Size</th><th style=\"{}\">Bytes</th><th style=\"{}\">Packets</th></tr>\n",
        HEAD,
        HEAD,
        HEAD,
        HEAD
    );
    table_row(b, "Usage", row.period.bytes, row.period.packets);
    table_row(b, "Current total", row.total.bytes, row.total.packets);
    b.push_bytes(b"</table>\n");
}

fn table_row(b: &mut Buf, label: &str, bytes: u64, packets: u64) {
    let _ = ufmt::uwrite!(
        b,
        "<tr><th style=\"{}\">{}</th><td style=\"{}\">",
        HEAD,
        label,
        CELL
    );
    let _ = size(b, bytes);
    let _ = ufmt::uwrite!(
        b,
        "</td><td style=\"{};color:#777;\">{} B</td><td style=\"{}\">{}</td></tr>\n",
        CELL,
        bytes,
        CELL,
        packets
    );
}

/// The devices of the period: a row each (name, MAC, download, upload),
/// then the devices left out in one row.
fn devices(d: &DeviceList<'_>, b: &mut Buf) {
    h3(b, "Devices since the last report");
    if d.top.is_empty() {
        b.push_bytes(b"<p>No device traffic.</p>\n");
        return;
    }
    table_head(b, &["Device", "MAC", "Download", "Upload"]);
    for r in &d.top {
        device_cells(b, r.dev);
        size_cells(b, &[r.down, r.up]);
    }
    if d.more > 0 {
        more_row(b, d.more, 1);
        size_cells(b, &[d.more_down, d.more_up]);
    }
    b.push_bytes(b"</table>\n");
}

/// The start of a device's row, then its MAC.
fn device_cells(b: &mut Buf, dev: &DeviceState) {
    device_name_cell(b, dev);
    mac_cell(b, dev.mac);
}

/// The start of a device's row: its name (escaped: chosen by anyone on
/// the LAN; its MAC when it has none).
pub(super) fn device_name_cell(b: &mut Buf, dev: &DeviceState) {
    let _ = ufmt::uwrite!(b, "<tr><th style=\"{}\">", HEAD);
    if dev.mac == Mac::OTHER {
        b.push_bytes(b"(other devices)");
    } else if dev.name.is_empty() {
        let _ = dev.mac.write(b);
    } else {
        write_html_escaped(b, &dev.name, MAX_NAME_CHARS);
    }
    b.push_bytes(b"</th>");
}

/// A MAC cell (`-` for the other devices).
pub(super) fn mac_cell(b: &mut Buf, mac: Mac) {
    let _ = ufmt::uwrite!(b, "<td style=\"{};font-family:monospace;\">", CELL);
    mac_text(b, mac);
    b.push_bytes(b"</td>");
}

/// The start of the row of the `more` devices left out, then `blank`
/// empty cells (to line the sizes up).
pub(super) fn more_row(b: &mut Buf, more: usize, blank: usize) {
    let _ = ufmt::uwrite!(
        b,
        "<tr><th style=\"{}\">{} more {}</th>",
        HEAD,
        more as u64,
        if more == 1 { "device" } else { "devices" },
    );
    for _ in 0..blank {
        let _ = ufmt::uwrite!(b, "<td style=\"{}\"></td>", CELL);
    }
}

/// A size cell per value, then the end of the row.
pub(super) fn size_cells(b: &mut Buf, values: &[u64]) {
    size_cells_open(b, values);
    b.push_bytes(b"</tr>\n");
}

/// A size cell per value; the row goes on.
pub(super) fn size_cells_open(b: &mut Buf, values: &[u64]) {
    for v in values {
        let _ = ufmt::uwrite!(b, "<td style=\"{}\">", CELL);
        let _ = size(b, *v);
        b.push_bytes(b"</td>");
    }
}

/// `t` with each `{}` replaced by the next of `nums`: one call per tag
/// instead of one `uwrite!` piece per literal and number.
fn fill(b: &mut Buf, t: &str, nums: &[u64]) {
    let mut nums = nums.iter();
    let mut rest = t.as_bytes();
    while let Some(i) = rest.windows(2).position(|w| w == b"{}") {
        b.push_bytes(rest.get(..i).unwrap_or(&[]));
        if let Some(n) = nums.next() {
            let _ = ufmt::uwrite!(b, "{}", *n);
        }
        rest = rest.get(i + 2..).unwrap_or(&[]);
    }
    b.push_bytes(rest);
}

/// Bar width and group width for `meters` bars per day.
fn bar_geometry(meters: u64) -> (u64, u64) {
    let bar = if meters <= 4 { 8 } else { (32 / meters).max(2) };
    (bar, bar * meters + 6)
}

/// A bar chart of `days` (the newest `MAX_DAYS`): a legend naming the
/// series `names` (escaped), then the SVG, a group of bars per day with a
/// bar per series. "No daily data yet." when there is nothing to draw.
pub(super) fn chart(days: &[(i64, Vec<u64>)], names: &[&str], b: &mut Buf) {
    let days = days
        .get(days.len().saturating_sub(MAX_DAYS)..)
        .unwrap_or(days);
    if days.is_empty() || names.is_empty() {
        b.push_bytes(b"<p>No daily data yet.</p>\n");
        return;
    }
    legend(names, b);
    let geometry = bar_geometry(names.len() as u64);
    let group = geometry.1;
    let width = LEFT + group * days.len() as u64 + 10;
    let height = TOP + PLOT_H + BOTTOM;
    fill(
        b,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"10\">\n",
        &[width, height, width, height],
    );
    let mut top = 1;
    for (_, v) in days {
        for &x in v.iter().take(names.len()) {
            top = top.max(x);
        }
    }
    y_axis(b, top, width);
    for (i, (day, values)) in days.iter().enumerate() {
        day_bars(b, i as u64, *day, values, names, top, geometry);
    }
    x_labels(b, days, group);
    b.push_bytes(b"</svg>\n");
}

fn legend(names: &[&str], b: &mut Buf) {
    b.push_bytes(b"<p>\n");
    for (j, name) in names.iter().enumerate() {
        let _ = ufmt::uwrite!(
            b,
            "<span style=\"display:inline-block;width:10px;height:10px;background:{};\"></span> ",
            colour(j)
        );
        escape(b, name);
        b.push_bytes(b"&nbsp;&nbsp;\n");
    }
    b.push_bytes(b"</p>\n");
}

fn colour(j: usize) -> &'static str {
    COLOURS.get(j % COLOURS.len()).copied().unwrap_or("#888")
}

/// Height in user units of `v` on a scale whose top is `top` (> 0).
fn scaled(v: u64, top: u64) -> u64 {
    crate::units::mul_div(v, PLOT_H as u8, top.max(1))
}

/// Grid lines and labels at 0, half and the top of the scale.
fn y_axis(b: &mut Buf, top: u64, width: u64) {
    for (num, den) in [(0u8, 2u64), (1, 2), (2, 2)] {
        let v = crate::units::mul_div(top, num, den);
        let y = TOP + PLOT_H - scaled(v, top);
        fill(
            b,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ccc\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"end\">",
            &[LEFT - 4, y, width - 6, y, LEFT - 8, y + 3],
        );
        let _ = size(b, v);
        b.push_bytes(b"</text>\n");
    }
}

/// One group of bars, one per meter, each with a tooltip title.
fn day_bars(
    b: &mut Buf,
    i: u64,
    day: i64,
    values: &[u64],
    names: &[&str],
    top: u64,
    (bar, group): (u64, u64),
) {
    for (j, name) in names.iter().enumerate() {
        let v = values.get(j).copied().unwrap_or(0);
        let h = scaled(v, top);
        let x = LEFT + i * group + 3 + j as u64 * bar;
        fill(
            b,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"",
            &[x, TOP + PLOT_H - h, bar, h],
        );
        b.push_bytes(colour(j).as_bytes());
        b.push_bytes(b"\"><title>");
        let _ = write_date(b, day);
        b.push_bytes(b" ");
        escape(b, name);
        b.push_bytes(b": ");
        let _ = size(b, v);
        b.push_bytes(b"</title></rect>\n");
    }
}

/// `MM-DD` under about six of the groups (every day would overlap).
fn x_labels(b: &mut Buf, days: &[(i64, Vec<u64>)], group: u64) {
    let step = days.len().div_ceil(6).max(1);
    let y = TOP + PLOT_H + 14;
    for (i, (day, _)) in days.iter().enumerate() {
        if i % step != 0 && i + 1 != days.len() {
            continue;
        }
        let x = LEFT + i as u64 * group + group / 2;
        let mut d = Buf::new();
        let _ = write_date(&mut d, *day);
        let md = d.as_str().get(5..).unwrap_or("");
        fill(
            b,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">",
            &[x, y],
        );
        b.push_bytes(md.as_bytes());
        b.push_bytes(b"</text>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Count;

    const HOSTILE: &str = "<script>alert(1)</script>\"'&";
    const HOSTILE_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";

    fn report<'a>(names: &[&'a str], reset: bool) -> Report<'a> {
        Report {
            from: 1_779_300_000,
            to: 1_779_386_400,
            total_since: 1_777_000_000,
            reset_detected: reset,
            rows: names
                .iter()
                .enumerate()
                .map(|(i, n)| Row {
                    name: n,
                    period: Count::new(10 + i as u64, 1536 * (i as u64 + 1)),
                    total: Count::new(99, 3 << 30),
                    retired: false,
                })
                .collect(),
            table: None,
            zone: crate::tz::Zone::UTC,
            devices: None,
            offload: Default::default(),
        }
    }

    fn days(n: usize, meters: usize) -> Vec<(i64, Vec<u64>)> {
        (0..n)
            .map(|d| {
                let v = (0..meters).map(|m| ((d * 7 + m) as u64) << 20).collect();
                (20_000 + d as i64, v)
            })
            .collect()
    }

    fn render_s(r: &Report, d: &[(i64, Vec<u64>)], names: &[&str]) -> String {
        let mut b = Buf::new();
        render(r, d, names, &mut b);
        b.as_str().to_string()
    }

    #[test]
    fn escape_all_five_and_controls() {
        let mut b = Buf::new();
        escape(&mut b, HOSTILE);
        assert_eq!(b.as_str(), HOSTILE_ESCAPED);
        let mut b = Buf::new();
        escape(&mut b, "a\u{7}b\u{0}é");
        assert_eq!(b.as_str(), "a?b?é");
        let mut b = Buf::new();
        escape(&mut b, &"x".repeat(100));
        assert_eq!(b.as_str(), "x".repeat(MAX_NAME_CHARS) + "…");
    }

    /// The character-level definition the byte loop must match.
    fn escape_by_chars(s: &str) -> String {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i == MAX_NAME_CHARS {
                out.push('…');
                break;
            }
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c if c.is_control() => out.push('?'),
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn escape_is_per_character_with_c1_controls_and_the_cut() {
        let long_multi = "é€😀\u{85}".repeat(30);
        for s in [
            "a\u{80}b\u{9f}c\u{a0}d\u{85}\u{7f}",
            "ü日本&<\"'",
            long_multi.as_str(),
            &"é".repeat(64),
            &"é".repeat(65),
            "",
        ] {
            let mut b = Buf::new();
            escape(&mut b, s);
            assert_eq!(b.as_str(), escape_by_chars(s), "{s:?}");
        }
    }

    #[test]
    fn hostile_name_appears_only_escaped() {
        let names = ["proxy", HOSTILE];
        let html = render_s(&report(&names, false), &days(3, 2), &names);
        assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("alert(1)</"), "{html}");
        // Table heading, legend, and one tooltip per day: 1 + 1 + 3.
        assert_eq!(html.matches(HOSTILE_ESCAPED).count(), 5, "{html}");
        // Outside the escaped name, no quote or apostrophe from it leaks.
        let rest = html.replace(HOSTILE_ESCAPED, "");
        assert!(!rest.contains("&#39;") && !rest.contains("&quot;"));
    }

    #[test]
    fn structure_one_rect_per_day_per_meter() {
        let names = ["proxy", "offnet", "wan_down"];
        let html = render_s(&report(&names, false), &days(30, 3), &names);
        assert!(html.starts_with("<!DOCTYPE html>\n<html>\n"));
        assert!(html.ends_with("</body>\n</html>\n"));
        assert_eq!(html.matches("<svg ").count(), 1);
        assert_eq!(html.matches("<rect ").count(), 30 * 3);
        for n in names {
            assert_eq!(
                html.matches(&format!("<h3 style=\"margin:16px 0 4px 0;\">{n}</h3>"))
                    .count(),
                1
            );
        }
        assert!(!html.contains("RESET DETECTED"));
        let outside_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for bad in [
            "<script", "http:", "https:", "<link", "<img", "url(", "<style",
        ] {
            assert!(!outside_ns.contains(bad), "{bad}");
        }
        // No event handler attribute (` onload=`, ` onclick=`, ...).
        for (i, _) in html.match_indices(" on") {
            let word: String = html[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            assert!(!html[i + 1 + word.len()..].starts_with('='), "{word}");
        }
        // The period and the totals, as in the text report.
        assert!(html.contains("<p>Between 2026-05-20 18:00:00 UTC and 2026-05-21 18:00:00 UTC</p>"));
        assert!(html.contains("<p>Total since 2026-04-24 03:06:40 UTC</p>"));
        assert!(html.contains(">1.50 KiB</td><td style=\"padding:4px 10px;border-bottom:1px solid #ddd;text-align:right;color:#777;\">1536 B</td><td style=\"padding:4px 10px;border-bottom:1px solid #ddd;text-align:right\">10</td></tr>"));
        // Dates on the axis: the first and last day are labelled.
        assert!(html.contains(">10-04</text>"), "day 20000 = 2024-10-04");
        assert!(html.contains(">11-02</text>"), "day 20029 = 2024-11-02");
    }

    #[test]
    fn tallest_bar_fills_the_plot_and_zero_is_flat() {
        let names = ["a"];
        let d = vec![(20_000, vec![0]), (20_001, vec![5 << 30])];
        let html = render_s(&report(&names, true), &d, &names);
        assert!(html.contains("height=\"0\" fill"), "{html}");
        assert!(
            html.contains("y=\"12\" width=\"8\" height=\"160\""),
            "{html}"
        );
        assert!(html.contains(">5.00 GiB</text>"));
        assert!(html.contains("RESET DETECTED"));
    }

    #[test]
    fn only_the_newest_30_days_are_drawn() {
        let names = ["a", "b"];
        let d = days(45, 2);
        let html = render_s(&report(&names, false), &d, &names);
        assert_eq!(html.matches("<rect ").count(), 60);
        assert!(!html.contains("<title>2024-10-04 "), "oldest days dropped");
    }

    #[test]
    fn lines_within_998_bytes_even_at_the_limits() {
        let long = "\"'<>&".repeat(60);
        let names: Vec<&str> = (0..32).map(|_| long.as_str()).collect();
        let html = render_s(&report(&names, true), &days(30, 32), &names);
        let longest = html.lines().map(str::len).max().unwrap();
        assert!(longest <= 998, "{longest}");
        assert_eq!(html.matches("<rect ").count(), 30 * 32);
    }

    #[test]
    fn no_days_no_chart() {
        let html = render_s(&report(&["a"], false), &[], &["a"]);
        assert!(html.contains("<p>No daily data yet.</p>"));
        assert!(!html.contains("<svg"));
    }

    #[test]
    fn devices_table_escapes_names() {
        use crate::report::fixture::{device, hostile_state};
        let mut st = hostile_state();
        st.devices.extend((20..25).map(|i| device(i, b"", 1, 1)));
        let mut r = report(&["a"], false);
        r.devices = crate::report::DeviceList::of(&st);
        let html = render_s(&r, &days(3, 1), &["a"]);
        assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
        let rows: Vec<&str> = html
            .lines()
            .filter(|l| l.contains(">02:00:00:00:00:0"))
            .collect();
        assert_eq!(rows.len(), 6, "{html}");
        let th = |name: &str| format!("<tr><th style=\"{HEAD}\">{name}</th>");
        assert!(
            rows[0].starts_with(&th("&lt;script&gt;alert(1)&lt;/script&gt;")),
            "{}",
            rows[0]
        );
        assert!(rows[1].starts_with(&th("?[31mred?[0m")), "{}", rows[1]);
        assert!(rows[2].starts_with(&th("cr??lf")), "{}", rows[2]);
        assert!(rows[3].starts_with(&th(&"A".repeat(63))), "{}", rows[3]);
        assert!(
            rows[4].starts_with(&th("bad\u{fffd}\u{fffd}name")),
            "{}",
            rows[4]
        );
        assert!(rows[0].ends_with(">5.86 KiB</td><td style=\"padding:4px 10px;border-bottom:1px solid #ddd;text-align:right\">7 B</td></tr>"), "{}", rows[0]);
        assert!(html.contains(">1 more device</th>"), "{html}");
        for l in html.lines() {
            assert!(!l.chars().any(char::is_control), "{l:?}");
        }
    }
}
