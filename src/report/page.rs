//! The dashboard page (`/cgi-bin/netmon`, see `cmd::cgi`): the meters
//! (today, this billing month, since the last report, total), a 30-day
//! chart per meter, the devices (rates between the last two updates,
//! today and this month, name, MAC, addresses), a 30-day chart for each
//! of the largest devices, the quotas (used, limit, left) and the devices
//! cut off now. Also the small page a refused or failed request gets
//! (`error_page`).
//!
//! It shares the mail report's renderer (`report::html`): the same
//! tables, escaping and SVG chart. Invariants are the mail's: no script,
//! no event attribute, no external resource, every name from outside the
//! code escaped. The page adds what a browser wants and a mail client
//! drops: a viewport for phones and one `<style>` element (the page is
//! served with `style-src 'unsafe-inline'` and nothing else allowed).
//!
//! Pure: the caller passes the state as last saved, the config's quotas,
//! the calendar and the time; the page says when the state was saved.

use super::html::{
    chart, device_name_cell, escape, h3, mac_cell, more_row, size_cells, size_cells_open,
    table_head, CELL, HEAD,
};
use super::{day_rows, device_day_rows, devices, meter_names};
use crate::calendar::Calendar;
use crate::device::{Mac, Offload};
use crate::quota::Quota;
use crate::state::{Cut, State, Tally};
use crate::text::{num, write_html_escaped, Buf};
use crate::units::write_human;

/// A cell of text (the shared `CELL` is for numbers).
const TEXT: &str = "padding:4px 10px;border-bottom:1px solid #ddd;text-align:left";

/// Days in each chart (the headings say "last 30 days").
pub const CHART_DAYS: u8 = 30;
/// Most devices listed; the rest are summed in one row.
pub const PAGE_DEVICES: usize = 50;
/// The largest devices (this month) that get a chart of their own.
pub const DEVICE_CHARTS: usize = 3;

/// Phones first: the tables scroll sideways in their box, charts shrink.
const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;color:#222;margin:8px;\
max-width:60em}h1{font-size:1.4em;margin:0 0 4px 0}.s{overflow-x:auto}\
svg{max-width:100%;height:auto}td{white-space:nowrap}th{overflow-wrap:break-word}";

/// What the page shows.
pub struct Page<'a> {
    /// The state as the last update saved it.
    pub st: &'a State,
    /// The configured meters, config order (retired ones are added).
    pub configured: &'a [&'a str],
    pub quotas: &'a [Quota],
    pub cal: &'a Calendar,
    /// The time of the request: which day is today.
    pub now: i64,
    pub offload: Offload,
}

/// The start of a document titled `title` (plain text), up to `<body>`.
fn head(b: &mut Buf, title: &str) {
    b.fill(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        &[title, STYLE],
    );
}

fn tail(b: &mut Buf) {
    b.push_bytes(b"</body>\n</html>\n");
}

/// A small page for a request netmon refuses or cannot answer: `title`
/// (plain text from the code) and `message` (escaped: it may quote the
/// request or a path).
pub fn error_page(b: &mut Buf, title: &str, message: &str) {
    head(b, title);
    b.fill("<h1>{}</h1>\n<p>", &[title]);
    write_html_escaped(b, message.as_bytes(), usize::MAX);
    b.push_bytes(b"</p>\n");
    tail(b);
}

/// The whole dashboard.
pub fn render(p: &Page<'_>, b: &mut Buf) {
    head(b, "Network usage");
    b.push_bytes(b"<h1>Network usage</h1>\n");
    intro(p, b);
    // A configured meter the state does not hold yet has nothing to show.
    let mut names = meter_names(p.st, p.configured);
    names.retain(|n| p.st.meter(n).is_some());
    meters(p, &names, b);
    devices_section(p, b);
    quotas(p, b);
    blocked(p, b);
    tail(b);
}

/// When the numbers are from, and what the reader must know about them.
fn intro(p: &Page<'_>, b: &mut Buf) {
    let zone = &p.cal.zone;
    b.push_bytes(b"<p>As of the last update, ");
    let _ = zone.write_human(b, p.st.updated);
    b.push_bytes(b" (cron runs <code>netmon update</code>; this page only reads what it saved). Counting since ");
    let _ = zone.write_human(b, p.st.created);
    b.push_bytes(b".</p>\n");
    if p.st.stopped {
        b.push_bytes(b"<p><b>netmon is stopped</b> (netmon stop): nothing is counted until netmon start.</p>\n");
    }
    if p.st.reset_pending {
        b.push_bytes(
            b"<p style=\"color:#b00020;font-weight:bold;\">RESET DETECTED: the counters \
            restarted since the last report; usage is counted from the new counters.</p>\n",
        );
    }
    if p.offload != Offload::Off {
        b.fill("<p><b>Note:</b> {}.</p>\n", &[p.offload.sentence()]);
    }
}

/// The meters' table, then a chart per meter.
fn meters(p: &Page<'_>, names: &[&str], b: &mut Buf) {
    h3(b, "Meters");
    if names.is_empty() {
        b.push_bytes(b"<p>No meter has counted anything yet.</p>\n");
        return;
    }
    let (today, period) = (p.cal.day(p.now), p.cal.period(p.cal.day(p.now)));
    b.push_bytes(b"<div class=\"s\">\n");
    table_head(
        b,
        &["Meter", "Today", "This month", "Since report", "Total"],
    );
    for name in names {
        let Some(m) = p.st.meter(name) else {
            continue;
        };
        let _ = ufmt::uwrite!(b, "<tr><th style=\"{}\">", HEAD);
        escape(b, name);
        b.push_bytes(b"</th>");
        let values = [
            m.day(today).bytes,
            m.month(period).bytes,
            p.st.period(m).bytes,
            m.total.bytes,
        ];
        size_cells(b, &values);
    }
    b.push_bytes(b"</table>\n</div>\n");
    for name in names {
        let t = day_rows(p.st, &[name], p.cal, p.now, CHART_DAYS);
        let mut title = Buf::new();
        escape(&mut title, name);
        title.push_bytes(b", last 30 days");
        h3(b, title.as_str());
        chart(&t.rows, &[name], b);
    }
}

/// The devices with traffic this month (today's too), largest first; then
/// a chart for each of the largest.
fn devices_section(p: &Page<'_>, b: &mut Buf) {
    let month = devices::rows(
        p.st,
        p.cal,
        p.now,
        devices::Span::Month,
        devices::Sort::Total,
    );
    if month.is_empty() && p.st.devices.is_empty() {
        return; // devices are not counted
    }
    h3(b, "Devices this month");
    if month.is_empty() {
        b.push_bytes(b"<p>No device traffic this month.</p>\n");
        return;
    }
    let today = p.cal.day(p.now);
    rate_window(p.st, &p.cal.zone, b);
    b.push_bytes(b"<div class=\"s\">\n");
    table_head(
        b,
        &[
            "Device",
            "Rate down",
            "Rate up",
            "Today down",
            "Today up",
            "Month down",
            "Month up",
            "MAC",
            "Addresses",
        ],
    );
    let shown = month.len().min(PAGE_DEVICES);
    for r in &month[..shown] {
        device_name_cell(b, r.dev);
        rate_cells(b, r.rate);
        let (down, up) = r.dev.day(today);
        size_cells_open(b, &[down, up, r.down, r.up]);
        mac_cell(b, r.dev.mac);
        let _ = ufmt::uwrite!(b, "<td style=\"{}\">", TEXT);
        devices::ip_text(b, r.dev);
        b.push_bytes(b"</td></tr>\n");
    }
    let rest = &month[shown..];
    if !rest.is_empty() {
        let sum = |f: &dyn Fn(&devices::Row<'_>) -> u64| {
            rest.iter().fold(0u64, |a, r| a.saturating_add(f(r)))
        };
        more_row(b, rest.len(), 0);
        let rates: Option<Vec<(u64, u64)>> = rest.iter().map(|r| r.rate).collect();
        rate_cells(b, rates.map(|v| v.into_iter().fold((0, 0), Tally::plus)));
        let today_down = sum(&|r| r.dev.day(today).0);
        let today_up = sum(&|r| r.dev.day(today).1);
        size_cells(b, &[today_down, today_up, sum(&|r| r.down), sum(&|r| r.up)]);
    }
    b.push_bytes(b"</table>\n</div>\n");
    for r in month.iter().filter(|r| !r.is_other()).take(DEVICE_CHARTS) {
        let mut title = Buf::new();
        device_title(&mut title, r.dev.mac, &r.dev.name);
        title.push_bytes(b", last 30 days");
        h3(b, title.as_str());
        let t = device_day_rows(r.dev, p.cal, p.now, CHART_DAYS);
        chart(&t.rows, &["download", "upload"], b);
    }
}

/// What the rate columns cover: the time between the last two updates,
/// or why there are no rates.
fn rate_window(st: &State, zone: &crate::tz::Zone, b: &mut Buf) {
    let Some(secs) = st.rates_secs() else {
        b.push_bytes(
            b"<p>Rates: none yet. They are per second between two updates in a row \
            with the devices counted and the clock set.</p>\n",
        );
        return;
    };
    let (n, unit) = match secs % 60 {
        0 => (num(secs / 60), "min"),
        _ => (num(secs), "s"),
    };
    b.fill(
        "<p>Rates are per second over the {} {} between the last two updates, to ",
        &[n.as_str(), unit],
    );
    let _ = zone.write_human(b, st.rates_to);
    b.push_bytes(b".</p>\n");
}

/// A device's rate cells, down then up: `1.50 KiB/s`, or `-` without one.
fn rate_cells(b: &mut Buf, rate: Option<(u64, u64)>) {
    for v in [rate.map(|r| r.0), rate.map(|r| r.1)] {
        let _ = ufmt::uwrite!(b, "<td style=\"{}\">", CELL);
        match v {
            Some(v) => {
                let _ = write_human(b, v);
                b.push_bytes(b"/s");
            }
            None => b.push_bytes(b"-"),
        }
        b.push_bytes(b"</td>");
    }
}

/// A device as a heading: its name (escaped), else its MAC.
fn device_title(b: &mut Buf, mac: Mac, name: &[u8]) {
    if name.is_empty() {
        let _ = mac.write(b);
    } else {
        write_html_escaped(b, name, super::html::MAX_NAME_CHARS);
    }
}

/// The start of a row with a device's name, by MAC (it may have left the
/// state: then its MAC).
fn device_by_mac(p: &Page<'_>, mac: Mac, b: &mut Buf) {
    match p.st.device(mac) {
        Some(d) => device_name_cell(b, d),
        None => device_name_cell(b, &crate::state::DeviceState::new(mac)),
    }
}

/// Each quota's use per device: used, limit, left, and whether it cut.
fn quotas(p: &Page<'_>, b: &mut Buf) {
    if p.quotas.is_empty() {
        return;
    }
    h3(b, "Quotas");
    let uses = p.st.quota_uses(p.quotas, p.cal, p.now);
    if uses.is_empty() {
        b.push_bytes(b"<p>No device has a quota yet.</p>\n");
        return;
    }
    b.push_bytes(b"<div class=\"s\">\n");
    table_head(
        b,
        &["Device", "Quota", "Used", "Limit", "Left", "State", "MAC"],
    );
    for u in &uses {
        let Some(q) = p.quotas.get(u.quota) else {
            continue;
        };
        device_by_mac(p, u.mac, b);
        let _ = ufmt::uwrite!(b, "<td style=\"{}\">", TEXT);
        escape(b, &q.name);
        b.fill(" ({}, {})</td>", &[q.direction.as_str(), q.period.as_str()]);
        size_cells_open(b, &[u.used, q.limit, q.limit.saturating_sub(u.used)]);
        let state = match (u.used >= q.limit, q.block) {
            (true, true) => "used up: cut off",
            (true, false) => "used up",
            (false, _) => "",
        };
        let _ = ufmt::uwrite!(b, "<td style=\"{}\">{}</td>", TEXT, state);
        mac_cell(b, u.mac);
        b.push_bytes(b"</tr>\n");
    }
    b.push_bytes(b"</table>\n</div>\n");
}

/// The devices cut off now: by the admin (until when) or by a quota.
fn blocked(p: &Page<'_>, b: &mut Buf) {
    let mut cuts = p.st.cuts(p.quotas, p.cal, p.now);
    if cuts.is_empty() && p.quotas.is_empty() && p.st.blocks.is_empty() {
        return;
    }
    h3(b, "Blocked devices");
    if cuts.is_empty() {
        b.push_bytes(b"<p>No device is blocked.</p>\n");
        return;
    }
    cuts.sort_by_key(|c| c.0);
    b.push_bytes(b"<div class=\"s\">\n");
    table_head(b, &["Device", "Why", "Until", "MAC"]);
    for (mac, cut) in &cuts {
        device_by_mac(p, *mac, b);
        let _ = ufmt::uwrite!(b, "<td style=\"{}\">", TEXT);
        let until = match cut {
            Cut::Block(k) => {
                b.push_bytes(b"blocked by the admin");
                k.until
            }
            Cut::Quota(i, end) => {
                b.push_bytes(b"quota ");
                escape(b, p.quotas.get(*i).map_or("", |q| q.name.as_str()));
                b.push_bytes(b" used up");
                Some(*end)
            }
        };
        let _ = ufmt::uwrite!(b, "</td><td style=\"{}\">", TEXT);
        match until {
            Some(t) => {
                let _ = p.cal.zone.write_human(b, t);
            }
            None => b.push_bytes(b"netmon unblock"),
        }
        b.push_bytes(b"</td>");
        mac_cell(b, *mac);
        b.push_bytes(b"</tr>\n");
    }
    b.push_bytes(b"</table>\n</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{Direction, Period};
    use crate::report::fixture::{device, hostile_state};
    use crate::report::html::CELL;
    use crate::state::{Count, DeviceReading, Generation, Reading};

    /// 2026-12-02 12:00 UTC.
    const NOW: i64 = 1_796_212_800;
    const CAL: Calendar = Calendar::UTC;

    /// The hostile devices, a meter that counted 1000 bytes yesterday and
    /// 5000 today, a quota on the first device and a block on the second.
    fn state() -> State {
        let mut st = State::new(NOW - 2 * 86_400);
        for (t, bytes) in [(NOW - 2 * 86_400, 0), (NOW - 86_400, 1000), (NOW, 6000)] {
            let r = Reading {
                time: t,
                uptime: 0,
                counts: [("wan_down".try_into().unwrap(), Count::new(1, bytes))]
                    .into_iter()
                    .collect(),
                generation: Generation::default(),
                reinstalled: false,
                closes_rates: false,
                devices: DeviceReading::default(),
            };
            st.fold(&["wan_down"], &r, &CAL);
        }
        let mut devs = hostile_state().devices;
        for d in &mut devs {
            let key = CAL.day(NOW) as i32;
            let slot = key.rem_euclid(d.days.len() as i32) as usize;
            d.days[slot] = crate::state::Bucket {
                key,
                count: (3000, 70),
            };
            let p = CAL.period(CAL.day(NOW));
            let slot = p.rem_euclid(d.months.len() as i32) as usize;
            d.months[slot] = crate::state::Bucket {
                key: p,
                count: (9000, 700),
            };
        }
        st.devices = devs;
        // The last update's window: 5 minutes, 1 KiB/s down and 10 B/s up
        // for the first device.
        (st.rates_from, st.rates_to) = (NOW - 300, NOW);
        st.devices[0].rate_bytes = (307_200, 3_000);
        let _ = st.block(st.devices[1].mac, NOW - 60, None);
        st
    }

    fn quota() -> Quota {
        Quota {
            name: "cap<b>".into(),
            devices: vec!["02:00:00:00:00:01".into()],
            period: Period::Month,
            limit: 9000,
            direction: Direction::Down,
            block: true,
            mail: false,
        }
    }

    /// The texts of a row's cells.
    fn cells(row: &str) -> Vec<&str> {
        let texts = row.split('>').map(|t| t.split('<').next().unwrap_or(""));
        texts.filter(|t| !t.is_empty()).collect()
    }

    fn page(st: &State, quotas: &[Quota]) -> String {
        let p = Page {
            st,
            configured: &["wan_down"],
            quotas,
            cal: &CAL,
            now: NOW,
            offload: Offload::Off,
        };
        let mut b = Buf::new();
        render(&p, &mut b);
        b.into_string()
    }

    #[test]
    fn a_whole_document_for_a_phone_with_no_script_and_nothing_external() {
        let st = state();
        let html = page(&st, &[quota()]);
        assert!(html.starts_with(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        ));
        assert!(html
            .contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
        assert!(html.ends_with("</body>\n</html>\n"));
        assert_eq!(html.matches("<style>").count(), 1);
        let lower = html.to_ascii_lowercase();
        let outside_ns = lower.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for bad in [
            "<script",
            "http:",
            "https:",
            "<link",
            "<img",
            "url(",
            "<iframe",
            "<form",
            "javascript:",
        ] {
            assert!(!outside_ns.contains(bad), "{bad} in {html}");
        }
        for (i, _) in lower.match_indices(" on") {
            let word: String = lower[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            assert!(!lower[i + 1 + word.len()..].starts_with('='), "{word}");
        }
        // A chart per meter and per largest device.
        assert_eq!(html.matches("<svg ").count(), 1 + DEVICE_CHARTS);
        for l in html.lines() {
            assert!(!l.chars().any(char::is_control), "{l:?}");
        }
    }

    #[test]
    fn meters_today_this_month_since_the_report_and_total() {
        let html = page(&state(), &[]);
        let row = html
            .lines()
            .find(|l| l.contains(">wan_down</th>"))
            .expect("the meter's row");
        let cells = &cells(row)[1..];
        // Today 5000, this month 6000 (yesterday too), since the report
        // (made when the state began) 6000, total 6000.
        assert_eq!(
            cells,
            ["4.88 KiB", "5.86 KiB", "5.86 KiB", "5.86 KiB"],
            "{row}"
        );
        assert!(html.contains(">wan_down, last 30 days</h3>"), "{html}");
        assert!(
            html.contains("<p>As of the last update, 2026-12-02 12:00:00 UTC"),
            "{html}"
        );
    }

    #[test]
    fn hostile_names_are_text_everywhere() {
        let html = page(&state(), &[quota()]);
        assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        let name = "&lt;script&gt;alert(1)&lt;/script&gt;";
        // Devices table, its chart's heading, the quota's row and the
        // quota's cut.
        assert_eq!(html.matches(name).count(), 4, "{html}");
        assert!(
            html.contains(&format!(">{name}, last 30 days</h3>")),
            "{html}"
        );
        assert!(html.contains(">cap&lt;b&gt; (down, month)</td>"), "{html}");
        assert!(html.contains("?[31mred?[0m"), "{html}");
    }

    #[test]
    fn devices_rates_today_and_month_quota_and_block() {
        let html = page(&state(), &[quota()]);
        let row = |start: &str| {
            let l = html.lines().find(|l| l.contains(start));
            cells(l.unwrap_or_else(|| panic!("{start} in {html}")))
        };
        let name = "&lt;script&gt;alert(1)&lt;/script&gt;";
        // Rates, today, this month, MAC, no address.
        assert!(
            html.contains(
                "<p>Rates are per second over the 5 min between the last two updates, \
                 to 2026-12-02 12:00:00 UTC.</p>"
            ),
            "{html}"
        );
        assert_eq!(
            row(&format!("{name}</th><td style=\"{CELL}\">1.00 KiB/s")),
            [
                name,
                "1.00 KiB/s",
                "10 B/s",
                "2.93 KiB",
                "70 B",
                "8.79 KiB",
                "700 B",
                "02:00:00:00:00:01",
                "-"
            ]
        );
        // Quota: 9000 of 9000 used, none left, cut.
        assert_eq!(
            row(">cap&lt;b&gt; (down, month)<"),
            [
                name,
                "cap&lt;b&gt; (down, month)",
                "8.79 KiB",
                "8.79 KiB",
                "0 B",
                "used up: cut off",
                "02:00:00:00:00:01"
            ]
        );
        // Blocked: the admin's block (until unblocked) and the quota's cut.
        assert!(html.contains(">blocked by the admin</td>"), "{html}");
        assert!(html.contains(">netmon unblock</td>"), "{html}");
        assert!(html.contains(">quota cap&lt;b&gt; used up</td>"), "{html}");
        assert!(html.contains(">2027-01-01 00:00:00 UTC</td>"), "{html}");
    }

    #[test]
    fn many_devices_are_cut_and_summed() {
        let mut st = state();
        let key = CAL.period(CAL.day(NOW));
        st.devices = (0..PAGE_DEVICES as u8 + 2)
            .map(|i| {
                let mut d = device(i + 1, b"d", 0, 0);
                let slot = key.rem_euclid(d.months.len() as i32) as usize;
                d.months[slot] = crate::state::Bucket {
                    key,
                    count: (100, 1),
                };
                d
            })
            .collect();
        // The two left out move 2 and 1 bytes a second: summed, 3.
        st.devices[PAGE_DEVICES].rate_bytes = (600, 0);
        st.devices[PAGE_DEVICES + 1].rate_bytes = (300, 30);
        let html = page(&st, &[]);
        let more = html.lines().find(|l| l.contains(">2 more devices</th>"));
        let more = cells(more.unwrap_or_else(|| panic!("{html}")));
        assert_eq!(more[..3], ["2 more devices", "3 B/s", "0 B/s"], "{html}");
        assert!(!html.contains(">Quotas</h3>"), "no quota configured");
        // Without a window (the clock was not set, say): no rates.
        st.rates_from = 0;
        let html = page(&st, &[]);
        assert!(html.contains("<p>Rates: none yet"), "{html}");
        let first = html.lines().find(|l| l.contains("02:00:00:00:00:01"));
        let first = cells(first.unwrap_or_else(|| panic!("{html}")));
        assert_eq!(first[1..3], ["-", "-"], "{html}");
    }

    #[test]
    fn an_empty_state_says_so() {
        let html = page(&State::new(NOW), &[]);
        assert!(
            html.contains("<p>No meter has counted anything yet.</p>"),
            "{html}"
        );
        assert!(!html.contains("<svg"));
        assert!(!html.contains("Devices this month"));
    }

    #[test]
    fn error_pages_escape_the_message() {
        let mut b = Buf::new();
        error_page(&mut b, "400 Bad Request", "unknown key '<x>'");
        let html = b.into_string();
        assert!(
            html.contains("<h1>400 Bad Request</h1>\n<p>unknown key &#39;&lt;x&gt;&#39;</p>"),
            "{html}"
        );
        assert!(html.ends_with("</html>\n"));
    }
}
