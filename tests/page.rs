//! The CGI page, black box: netmon counts devices in the lab's router
//! namespace (one named `<img src=x onerror=alert(1)>` by a `config host`
//! section of /etc/config/dhcp, overlaid in a private mount namespace),
//! with a quota and a blocked device; then busybox httpd serves it as
//! `/cgi-bin/netmon` (a wrapper script giving the test's directories) and
//! headless Chromium loads it.
//!
//! - The DOM has the meter and device tables and SVG charts; the hostile
//!   name is text (`&lt;img` in the serialized DOM), and no `<img>`
//!   element exists; the quota and the block are shown; a device's rate
//!   is the bytes sent to it between the last two updates over the
//!   window the page names, as `netmon devices` gave it.
//! - POST gets 405 with `Allow: GET`; a malformed or unknown query gets
//!   400; every answer has the security headers.
//! - `?format=json` is the JSON report with the numbers of
//!   `netmon report --format json`.
//! - The page writes nothing: the state files are the same bytes after.
//! - A screenshot at a phone's width is left in target/page.png.
//!
//! Root, nft, busybox and chromium are needed (SKIPPED otherwise, a
//! failure under CI).

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const Q_MAC: &str = "02:00:00:00:20:20";
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn config() -> String {
    format!(
        "{DEVICES_CONFIG}
config quota 'cap'
\tlist device '{P_MAC}'
\toption period 'month'
\toption limit '10M'
\toption direction 'total'
\toption action 'block'
"
    )
}

/// busybox httpd on 127.0.0.1 serving `docroot`, killed on drop.
struct Httpd {
    child: Child,
    port: u16,
}

impl Httpd {
    fn start(docroot: &Path) -> Httpd {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(which("busybox").expect("busybox"))
            .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
            .arg(docroot)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn busybox httpd");
        let h = Httpd { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "httpd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        h
    }

    fn url(&self, rest: &str) -> String {
        format!("http://127.0.0.1:{}/cgi-bin/netmon{rest}", self.port)
    }

    /// One HTTP/1.0 request: (status code, headers, body).
    fn request(&self, method: &str, target: &str) -> (u16, String, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(CMD_TIMEOUT)).expect("timeout");
        let req = format!(
            "{method} /cgi-bin/netmon{target} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("answer");
        let raw = String::from_utf8(raw).expect("utf8 answer");
        let (head, body) = raw.split_once("\r\n\r\n").expect("end of headers");
        let code = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("status line: {head}"));
        (code, head.to_string(), body.to_string())
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless Chromium on `url` with `args`; returns stdout.
fn chromium(url: &str, args: &[&str]) -> String {
    let profile = TempDir::new("nmt-chromium");
    let mut cmd = Command::new(which("chromium").expect("chromium"));
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url);
    let out = run_timeout(cmd);
    assert!(
        out.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file of `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let b = std::fs::read(&p).expect("read");
            (p, b)
        })
        .collect();
    v.sort();
    v
}

fn security_headers(head: &str) {
    for h in [
        "Cache-Control: no-store",
        "X-Content-Type-Options: nosniff",
        "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    ] {
        assert!(head.contains(h), "{h} in {head}");
    }
}

#[test]
fn the_page_shows_the_state_read_only_and_escaped() {
    let test = "the_page_shows_the_state_read_only_and_escaped";
    if !require_root_tools(test, &["nft", "busybox", "chromium", "unshare"]) {
        return;
    }
    let lab = Lab::new(false);
    let (r, p, q, o) = (&lab.r, &lab.p, &lab.q, &lab.o);
    let mut nm = Netmon::new(r, Backend::Nft, Some(&config()));
    // The state outside /tmp, which `with_files` overlays.
    nm.state = TempDir::new_in(Path::new("/dev/shm"), "nmt-state");
    nm.persist = TempDir::new_in(Path::new("/dev/shm"), "nmt-persist");
    nm.ok(&["start"]);
    udp_between(p, "192.168.1.10", o, "10.99.0.2", 1000, 5);
    udp_between(o, "10.99.0.2", p, "192.168.1.10", 1200, 4);
    udp_between(q, "192.168.1.20", o, "10.99.0.2", 500, 2);
    let dhcp = format!("config host\n\toption name '{HOSTILE}'\n\toption mac '{P_MAC}'\n");
    with_files(&nm, &[("/etc/config/dhcp", &dhcp)], &["update"]);
    nm.ok(&["block", Q_MAC]);
    // The rates: one datagram to P between two updates, each at least a
    // second after the one before (an update in the same second as the
    // last leaves the window open); `devices` (no update: it moves no
    // window) gives P's bytes before and after.
    let p_down = |json: &str| -> (u64, Option<u64>) {
        let j = Json::parse(json.trim()).expect("devices json");
        let devices = j.get("devices").and_then(Json::as_array).expect("devices");
        let d = devices
            .iter()
            .find(|d| d.get("mac") == Some(&Json::Str(P_MAC.into())))
            .unwrap_or_else(|| panic!("{P_MAC} in {json}"));
        let bytes = d.get("download_bytes").and_then(Json::as_u64);
        let rate = d.get("download_bytes_per_second").and_then(Json::as_u64);
        (bytes.expect("download_bytes"), rate)
    };
    std::thread::sleep(Duration::from_millis(1100));
    nm.ok(&["update"]);
    let (first, _) = p_down(&nm.ok(&["devices", "--format", "json"]));
    let clock = Instant::now();
    udp_between(o, "10.99.0.2", p, "192.168.1.10", 500, 1);
    std::thread::sleep(Duration::from_millis(1500));
    nm.ok(&["update"]);
    let (second, rate) = p_down(&nm.ok(&["devices", "--format", "json"]));
    let elapsed = clock.elapsed().as_secs();
    let step = second - first;
    assert!(step >= IPV4_HDR + UDP_HDR + 500, "{first} then {second}");

    // The cgi-bin: a wrapper giving the test's directories, run in the
    // router's namespace (where the LAN bridge is, as on a router).
    let www = TempDir::new("nmt-www");
    let cgi_bin = www.path().join("cgi-bin");
    std::fs::create_dir(&cgi_bin).expect("cgi-bin");
    let script = format!(
        "#!/bin/sh\nexec {} netns exec {} {NETMON} --config {} --state-dir {} --persist-dir {} --backend nft\n",
        ip().display(),
        r.name,
        nm.config.display(),
        nm.state.path().display(),
        nm.persist.path().display()
    );
    let wrapper = cgi_bin.join("netmon");
    std::fs::write(&wrapper, script).expect("wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let before = snapshot(nm.state.path());
    let httpd = Httpd::start(www.path());

    // Plain HTTP: the answers and their headers.
    let (code, head, body) = httpd.request("GET", "");
    assert_eq!(code, 200, "{head}\n{body}");
    assert!(
        head.contains("Content-Type: text/html; charset=utf-8"),
        "{head}"
    );
    security_headers(&head);
    assert!(!body.to_ascii_lowercase().contains("<script"), "{body}");
    assert!(!body.contains("<img"), "{body}");
    let (code, head, body) = httpd.request("POST", "");
    assert_eq!(code, 405, "{head}\n{body}");
    assert!(head.contains("Allow: GET"), "{head}");
    security_headers(&head);
    assert!(body.contains("<!DOCTYPE html>"), "{body}");
    for bad in ["?format=xml", "?x=1", "?format", "?format=json&format=json"] {
        let (code, head, body) = httpd.request("GET", bad);
        assert_eq!(code, 400, "{bad}: {head}\n{body}");
        security_headers(&head);
    }

    // The JSON: the report's numbers (no traffic since the update).
    let (code, head, body) = httpd.request("GET", "?format=json");
    assert_eq!(code, 200, "{head}\n{body}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    let served = Report::parse(&body);
    let page_json = Json::parse(body.trim()).expect("json");
    let cli_text = nm.ok(&["report", "--format", "json"]);
    let cli = Report::parse(&cli_text);
    assert_eq!(served.meters, cli.meters, "{body}\n{cli_text}");
    assert_eq!(served.from, cli.from);
    let cli_json = Json::parse(cli_text.trim()).expect("json");
    assert_eq!(page_json.get("devices"), cli_json.get("devices"), "{body}");
    let devices = page_json
        .get("devices")
        .and_then(Json::as_array)
        .expect("devices");
    assert!(devices.len() >= 2, "{body}");
    assert!(
        devices
            .iter()
            .any(|d| d.get("name") == Some(&Json::Str(HOSTILE.into()))),
        "{body}"
    );
    let wan_down = served.meter("wan_down");
    assert!(
        wan_down.total_bytes >= 4 * (IPV4_HDR + UDP_HDR + 1200),
        "{body}"
    );

    // The browser's view.
    let dom = chromium(&httpd.url(""), &["--dump-dom"]);
    for want in [
        "<th style=\"padding:4px 10px;border-bottom:2px solid #999;text-align:left\">Meter</th>",
        ">Devices this month</h3>",
        ">Quotas</h3>",
        ">Blocked devices</h3>",
        "&lt;img src=x onerror=alert(1)&gt;",
        P_MAC,
        Q_MAC,
        "192.168.1.10",
        "blocked by the admin",
        "As of the last update",
    ] {
        assert!(dom.contains(want), "{want} in {dom}");
    }
    assert!(
        dom.matches("<svg").count() >= 3,
        "a chart per meter and device: {dom}"
    );
    assert!(!dom.contains("<img"), "no element from the name: {dom}");
    // The rate: the datagram's bytes over the window the page names, as
    // `devices` said it, in P's row.
    let window: u64 = dom
        .split("Rates are per second over the ")
        .nth(1)
        .and_then(|t| t.split(" s between the last two updates").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the rates' window in {dom}"));
    assert!(
        (1..=elapsed + 1).contains(&window),
        "{window} s, {elapsed} s"
    );
    assert_eq!(rate, Some(step / window), "{step} B in {window} s");
    let p_row = dom
        .lines()
        .find(|l| l.contains(P_MAC) && l.contains("B/s<"))
        .unwrap_or_else(|| panic!("{P_MAC}'s row in {dom}"));
    assert!(
        p_row.contains(&format!(">{} B/s<", step / window)),
        "{p_row}"
    );
    assert!(!dom.contains("<script"), "{dom}");
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/page.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &httpd.url(""),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=412,900",
            "--hide-scrollbars",
        ],
    );
    let shot = std::fs::read(&png).expect("screenshot");
    assert!(shot.starts_with(b"\x89PNG"), "a PNG");

    // Read-only: the report above changed the state, the page did not.
    let after_report = snapshot(nm.state.path());
    httpd.request("GET", "");
    httpd.request("GET", "?format=json");
    assert_eq!(snapshot(nm.state.path()), after_report, "the page wrote");
    assert_ne!(
        before, after_report,
        "the report's own write shows the check works"
    );
}
