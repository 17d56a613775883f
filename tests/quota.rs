//! Quotas, black box: the netmon binary in the lab's router namespace, a
//! TCP download from the WAN host to a LAN device, and a real aiosmtpd
//! (tests/helpers/smtpd.py) in the router namespace for the warning.
//!
//! - nft: the kernel cuts the device when its download quota is used up,
//!   with no update in between. The device's counted use then stays at or
//!   below the limit, by no more than the Ethernet headers the egress
//!   quota counts (README: "used up slightly early, never late").
//! - iptables: the cut comes at the first update that sees the quota used
//!   up; from then on a new download gets nothing.
//! - Both: the warning mail arrives once, not at every update; `netmon
//!   quota` says the device is cut; the router itself stays reachable.
//!
//! Root and the backend's tools are needed, and aiosmtpd (SKIPPED
//! otherwise, a failure under CI).

mod aiosmtpd;
mod common;

use common::smtpd::*;
use common::stream::*;
use common::*;

/// The download quota, bytes.
const LIMIT: u64 = 300_000;

fn config() -> String {
    format!(
        "{DEVICES_CONFIG}
config quota 'cap'
\tlist device '{P_MAC}'
\toption period 'day'
\toption limit '{LIMIT}'
\toption direction 'down'
\toption action 'block mail'

config mail 'mail'
\toption server '127.0.0.1'
\toption port '{PORT}'
\toption from 'netmon@gw.test'
\tlist to 'admin@example.org'
\toption auth 'plain'
\toption username '{USER}'
\toption password '{PASSWORD}'
\toption timeout '5'
"
    )
}

/// The device's download today, as `netmon devices --format json` says.
fn down_today(nm: &Netmon) -> u64 {
    let json = nm.ok(&["devices", "--days", "1", "--format", "json"]);
    let at = json
        .find(P_MAC)
        .unwrap_or_else(|| panic!("{P_MAC} in {json}"));
    let rest = &json[at..];
    let key = "\"download_bytes\":";
    let from = rest.find(key).expect("down") + key.len();
    let digits: String = rest[from..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a number")
}

fn a_used_up_quota_cuts_the_device_and_warns_once(test: &str, backend: Backend) {
    let mut tools = backend.tools().to_vec();
    if backend != Backend::Nft {
        tools.push("ipset");
    }
    if !require_root_tools(test, &tools) {
        return;
    }
    let Some(py) = aiosmtpd::aiosmtpd_python() else {
        return;
    };
    let lab = Lab::new(false);
    if backend != Backend::Nft {
        br_netfilter_on(&lab.r);
    }
    let (r, p, o) = (&lab.r, &lab.p, &lab.o);
    let tmp = TempDir::new("nmt-quota");
    let smtpd = Smtpd::start(&py, &r.name, &tmp.path().join("mail"));
    let nm = Netmon::new(r, backend, Some(&config()));
    nm.ok(&["start"]);
    nm.ok(&["update"]);
    // Twice the quota, as fast as it goes.
    let dl = Stream::start(
        (o, "10.99.0.2"),
        (p, "192.168.1.10"),
        5501,
        2 * LIMIT,
        0,
        tmp.path(),
    );
    let (_, got) = dl.finish();
    let got: u64 = got.trim_start_matches("got ").parse().expect("got N");
    nm.ok(&["update"]);
    let used = down_today(&nm);
    match backend {
        Backend::Nft => {
            // Cut by the kernel, mid-transfer: never past the limit, and
            // early by at most the Ethernet headers of the packets counted.
            assert!(got < 2 * LIMIT, "the download was not cut: {got}");
            let packets = used / 1000 + 1;
            assert!(used <= LIMIT, "overshoot: used {used} of {LIMIT}");
            assert!(
                used + packets * ETH_HDR >= LIMIT - 1500,
                "cut too early: used {used} of {LIMIT}"
            );
            eprintln!(
                "{test}: quota {LIMIT} B, counted {used} B, overshoot {} B",
                used as i64 - LIMIT as i64
            );
        }
        _ => {
            // Cut at the update: the whole download passed before it.
            assert_eq!(got, 2 * LIMIT, "nothing cuts between updates on iptables");
            assert!(used > LIMIT, "used {used}");
            let again = Stream::start(
                (o, "10.99.0.2"),
                (p, "192.168.1.10"),
                5502,
                100_000,
                0,
                tmp.path(),
            );
            assert_eq!(again.finish().1, "got 0", "cut after the update");
        }
    }
    let quota = nm.ok(&["quota", "--format", "json"]);
    assert!(quota.contains("\"cut\":true"), "{quota}");
    assert!(
        p.run(&["ping", "-c", "1", "-W", "1", "192.168.1.1"])
            .status
            .success(),
        "the router stays reachable"
    );
    // The warning: once, however many updates follow.
    nm.ok(&["update"]);
    nm.ok(&["update"]);
    assert_eq!(smtpd.count(), 1, "one warning mail");
    let mail = smtpd.parse(&smtpd.messages()[0]);
    assert!(
        mail.one("Subject").contains("quota cap used up by"),
        "{}",
        mail.headers
    );
    assert!(mail.text.contains(P_MAC), "{}", mail.text);
}

per_backend!(a_used_up_quota_cuts_the_device_and_warns_once: quota_cuts_nft, quota_cuts_iptables_nft, quota_cuts_iptables_legacy);
