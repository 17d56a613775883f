//! Ordinary admin actions lose nothing and are not undone behind the
//! admin's back (issue 10): a stop sticks until start; a meter that leaves
//! the config keeps its history and continues when it comes back; stop
//! saves before it removes; a fresh state over an old table, a planned
//! restart and a clean reboot raise no reset alarm while a flush behind
//! netmon's back does; a clock that ran ahead does not freeze the days.
//! Real nft/iptables in network namespaces, real packets, byte-exact.
//!
//! Run: `cargo test --test admin_actions -- --test-threads=2` (as root).

mod common;

use common::*;
use netmon::state::State;
use std::path::Path;
use Host::*;

const R4: (Host, &str) = (Router, "192.168.1.1");
const R4_WAN: (Host, &str) = (Router, "10.99.0.1");
const P4: (Host, &str) = (Proxy, "192.168.1.10");
const O4: (Host, &str) = (Outside, "10.99.0.2");

/// The blog's config without `offnet`.
const PROXY_ONLY: &str = "config meter 'proxy'
\toption hook 'input'
\toption src '192.168.1.10'
";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `args`; it must exit 0. Returns stderr.
fn ok_stderr(nm: &Netmon, args: &[&str]) -> String {
    let out = nm.run(args);
    assert!(
        out.status.success(),
        "netmon {} exited {:?}: {}",
        args.join(" "),
        out.status.code(),
        stderr(&out)
    );
    stderr(&out)
}

fn status(nm: &Netmon) -> String {
    nm.ok(&["status"])
}

fn load(path: &Path) -> State {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    State::decode(&b).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

// ---------------------------------------------------------------------------
// Defect 1: `stop` sticks.

fn stop_sticks_until_start(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let nm = Netmon::new(&lab.r, backend, Some(BLOG_CONFIG));
    nm.ok(&["start"]);
    lab.mark();
    let a = lab.udp(P4, R4, 700, 3).fwd;
    nm.ok(&["stop"]);
    assert!(!nm.rules_present(), "stop removed netmon's rules");
    let before = nm.ruleset();
    assert_eq!(before, before.without_netmon());

    // Cron's update: no rules come back; it says so once, on stderr.
    let first = ok_stderr(&nm, &["update"]);
    assert_eq!(
        first,
        "netmon: warning: netmon is stopped (netmon stop): its rules stay removed and nothing \
         is counted until netmon start\n"
    );
    assert_eq!(
        nm.ruleset(),
        before,
        "update after stop reinstalled the rules"
    );
    assert!(!nm.rules_present());
    let log = nm.state.path().join("log.tsv");
    let files = || {
        let st = std::fs::read(nm.state.path().join("state")).unwrap();
        (st, std::fs::read_to_string(&log).unwrap())
    };
    let quiet = files();
    for _ in 0..2 {
        assert_eq!(
            ok_stderr(&nm, &["update"]),
            "",
            "said once, not at every update"
        );
    }
    assert!(files() == quiet, "updates while stopped write nothing");
    assert_eq!(nm.ruleset(), before);
    assert!(
        status(&nm).contains("\nrules:    stopped (netmon stop): removed"),
        "{}",
        status(&nm)
    );
    // Traffic while stopped is not counted; the totals are all there.
    lab.udp(P4, R4, 400, 2);
    lab.assert_silent();
    let r = nm.report();
    assert!(!r.reset_detected, "{}", r.raw);
    r.assert_first("proxy", a);
    assert!(
        !nm.rules_present(),
        "a report while stopped installs nothing"
    );

    // start ends the stop: rules back, counting on, no alarm.
    nm.ok(&["start"]);
    assert!(nm.rules_present());
    assert!(status(&nm).contains("\nrules:    installed\n"));
    let c = lab.udp(P4, R4, 300, 2).fwd;
    lab.assert_silent();
    let r = nm.report();
    assert!(!r.reset_detected, "stop then start is no reset: {}", r.raw);
    let p = r.meter("proxy");
    assert_eq!((p.period_packets, p.period_bytes), (c.pkts, c.bytes));
    let t = a + c;
    assert_eq!((p.total_packets, p.total_bytes), (t.pkts, t.bytes));
    nm.ok(&["stop"]);
}

per_backend!(stop_sticks_until_start: stop_sticks_until_start_nft, stop_sticks_until_start_iptables_nft, stop_sticks_until_start_iptables_legacy);

// ---------------------------------------------------------------------------
// Defect 2: a config edit keeps the history.

fn report_json(nm: &Netmon) -> Json {
    let raw = nm.ok(&["report", "--format", "json"]);
    Json::parse(raw.trim()).unwrap_or_else(|e| panic!("{e}: {raw}"))
}

/// `(retired flag, total bytes, total packets)` of `name` in a JSON report.
fn json_meter(j: &Json, name: &str) -> Option<(bool, u64, u64)> {
    let Some(Json::Arr(ms)) = j.get("meters") else {
        panic!("no meters: {j:?}")
    };
    let num = |m: &Json, k: &str| match m.get(k) {
        Some(Json::Num(n)) => n.parse::<u64>().unwrap(),
        other => panic!("{k}: {other:?}"),
    };
    ms.iter()
        .find(|m| m.get("name") == Some(&Json::Str(name.into())))
        .map(|m| {
            let retired = m.get("retired") == Some(&Json::Bool(true));
            (retired, num(m, "total_bytes"), num(m, "total_packets"))
        })
}

/// The sum of `name`'s column in `daily --format json`, if it has one.
fn daily_sum(nm: &Netmon, name: &str) -> Option<u64> {
    let raw = nm.ok(&["daily", "--format", "json", "--days", "2"]);
    let j = Json::parse(raw.trim()).unwrap_or_else(|e| panic!("{e}: {raw}"));
    let Some(Json::Arr(days)) = j.get("days") else {
        panic!("{raw}")
    };
    let mut sum = None;
    for d in days {
        if let Some(Json::Num(n)) = d.get("bytes").and_then(|b| b.get(name)) {
            *sum.get_or_insert(0) += n.parse::<u64>().unwrap();
        }
    }
    sum
}

fn config_edit_keeps_history(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let nm = Netmon::new(&lab.r, backend, Some(BLOG_CONFIG));
    nm.ok(&["start"]);
    lab.mark();
    let o1 = lab.udp(O4, R4_WAN, 500, 4).fwd;
    nm.ok(&["update"]);
    // offnet leaves the config. Its rule still counts until the update
    // that rebuilds the rules, which reads it one last time.
    std::fs::write(&nm.config, PROXY_ONLY).unwrap();
    let o2 = lab.udp(O4, R4_WAN, 300, 2).fwd;
    nm.ok(&["update"]);
    lab.udp(O4, R4_WAN, 100, 1); // no rule of offnet's any more
    let p = lab.udp(P4, R4, 200, 2).fwd;
    lab.assert_silent();
    let kept = o1 + o2;
    let st = status(&nm);
    assert!(
        st.contains(&format!(
            "\nretired:  offnet ({} bytes counted; no longer in the config: netmon forget \
             offnet drops it)\n",
            kept.bytes
        )),
        "{st}"
    );
    assert_eq!(
        daily_sum(&nm, "offnet"),
        Some(kept.bytes),
        "daily keeps its column"
    );
    let j = report_json(&nm);
    assert_eq!(
        json_meter(&j, "offnet"),
        Some((true, kept.bytes, kept.pkts)),
        "{j:?}"
    );
    assert_eq!(
        json_meter(&j, "proxy"),
        Some((false, p.bytes, p.pkts)),
        "{j:?}"
    );
    assert_eq!(j.get("reset_detected"), Some(&Json::Bool(false)));
    // Only retired meters can be forgotten.
    let out = nm.run(&["forget", "proxy"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("meter 'proxy' is still in the config"));

    // Back in the config: it continues where it was.
    std::fs::write(&nm.config, BLOG_CONFIG).unwrap();
    nm.ok(&["update"]);
    let o3 = lab.udp(O4, R4_WAN, 50, 3).fwd;
    lab.assert_silent();
    let j = report_json(&nm);
    let all = kept + o3;
    assert_eq!(
        json_meter(&j, "offnet"),
        Some((false, all.bytes, all.pkts)),
        "{j:?}"
    );
    assert_eq!(j.get("reset_detected"), Some(&Json::Bool(false)), "{j:?}");

    // Out again, then forgotten for good.
    std::fs::write(&nm.config, PROXY_ONLY).unwrap();
    nm.ok(&["update"]);
    assert!(status(&nm).contains("\nretired:  offnet ("));
    let out = nm.ok(&["forget", "offnet"]);
    assert!(
        out.starts_with(&format!(
            "netmon: forgot meter offnet and its {} bytes counted since ",
            all.bytes
        )),
        "{out}"
    );
    assert!(!status(&nm).contains("retired:"));
    assert_eq!(json_meter(&report_json(&nm), "offnet"), None);
    assert_eq!(daily_sum(&nm, "offnet"), None);
    let out = nm.run(&["forget", "offnet"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "netmon: no meter 'offnet' in the state (there are no retired meters)\n"
    );
    nm.ok(&["stop"]);
}

per_backend!(config_edit_keeps_history: config_edit_keeps_history_nft, config_edit_keeps_history_iptables_nft, config_edit_keeps_history_iptables_legacy);

// ---------------------------------------------------------------------------
// Defect 4: `stop` saves before it removes.

/// A `tool` in front of the real one (in the lab's PATH) that fails when
/// its arguments contain `when`, and runs the real tool otherwise.
fn failing_tool(nm: &mut Netmon, tool: &str, when: &str) {
    let real = nm
        .path_env
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} not in {}", nm.path_env));
    let bin = nm.dir.path().join("failing");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\ncase \"$*\" in *'{when}'*) echo 'simulated failure' >&2; exit 1 ;; esac\n\
         exec '{}' \"$@\"\n",
        real.display()
    );
    let path = bin.join(tool);
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    nm.path_env = format!("{}:{}", bin.display(), nm.path_env);
}

fn stop_saves_before_removing(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let mut nm = Netmon::new(&lab.r, backend, Some(BLOG_CONFIG));
    nm.ok(&["start"]);
    lab.mark();
    let a = lab.udp(P4, R4, 900, 4).fwd;
    lab.assert_silent();
    let path_env = nm.path_env.clone();
    match backend {
        Backend::Nft => failing_tool(&mut nm, "nft", "delete table"),
        _ => failing_tool(&mut nm, "iptables", "-F netmon"),
    }
    let out = nm.run(&["stop"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("simulated failure"),
        "{}",
        stderr(&out)
    );
    // The last reading reached flash (and RAM) although the removal failed.
    for dir in [nm.persist.path(), nm.state.path()] {
        let st = load(&dir.join("state"));
        let m = st.meter("proxy").expect("proxy");
        assert_eq!(
            (m.total.packets, m.total.bytes),
            (a.pkts, a.bytes),
            "{}",
            dir.display()
        );
    }
    // With the tool mended, stop finishes and nothing is counted twice.
    nm.path_env = path_env;
    nm.ok(&["stop"]);
    assert!(!nm.rules_present());
    nm.ok(&["start"]);
    let r = nm.report();
    r.assert_first("proxy", a);
    assert!(!r.reset_detected, "{}", r.raw);
    nm.ok(&["stop"]);
}

per_backend!(stop_saves_before_removing: stop_saves_before_removing_nft, stop_saves_before_removing_iptables_nft, stop_saves_before_removing_iptables_legacy);

// ---------------------------------------------------------------------------
// Defect 6: no false alarm.

fn no_false_alarm(test: &str, backend: Backend) {
    if !require_root_tools(test, backend.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let old = Netmon::new(&lab.r, backend, Some(BLOG_CONFIG));
    old.ok(&["start"]);
    lab.mark();
    let a = lab.udp(P4, R4, 600, 3).fwd;
    old.ok(&["update"]);

    // A fresh state (first install, or state removed) over the earlier
    // install's rules, with another config: no reset to report.
    let nm = Netmon::new(&lab.r, backend, Some(PROXY_ONLY));
    let r = nm.report();
    assert!(
        !r.reset_detected,
        "a fresh state has nothing to reset from: {}",
        r.raw
    );
    r.assert_first("proxy", a);

    // stop then start: planned.
    nm.ok(&["stop"]);
    nm.ok(&["start"]);
    let b = lab.udp(P4, R4, 100, 2).fwd;
    let r = nm.report();
    assert!(!r.reset_detected, "stop, start: {}", r.raw);
    r.assert_period("proxy", b);

    // A clean reboot: shutdown saves to flash; the reboot takes the rules
    // and the RAM copy; start at boot. No alarm, nothing lost.
    let c = lab.udp(P4, R4, 200, 2).fwd;
    nm.ok(&["shutdown"]);
    assert!(
        nm.rules_present(),
        "shutdown leaves the rules to the reboot"
    );
    nm.flush_firewall();
    std::fs::remove_dir_all(nm.state.path()).unwrap();
    nm.ok(&["start"]);
    let d = lab.udp(P4, R4, 300, 1).fwd;
    let r = nm.report();
    assert!(!r.reset_detected, "a clean reboot: {}", r.raw);
    r.assert_period("proxy", c + d);

    // The boot's start failed (say the WAN was down): cron's update still
    // continues after a shutdown, without an alarm.
    nm.ok(&["shutdown"]);
    nm.flush_firewall();
    std::fs::remove_dir_all(nm.state.path()).unwrap();
    lab.udp(P4, R4, 100, 1); // before netmon runs: nobody counts it
    nm.ok(&["update"]);
    assert!(nm.rules_present());
    let f = lab.udp(P4, R4, 120, 1).fwd;
    let r = nm.report();
    assert!(!r.reset_detected, "update after a shutdown: {}", r.raw);
    r.assert_period("proxy", f);

    // Behind netmon's back (a crash, a power cut, a firewall flush): an
    // alarm.
    nm.flush_firewall();
    nm.ok(&["update"]);
    let g = lab.udp(P4, R4, 80, 1).fwd;
    lab.assert_silent();
    let r = nm.report();
    assert!(r.reset_detected, "a flush behind netmon's back: {}", r.raw);
    r.assert_period("proxy", g);
    let m = r.meter("proxy");
    let t = a + b + c + d + f + g;
    assert_eq!(
        (m.total_packets, m.total_bytes),
        (t.pkts, t.bytes),
        "{}",
        r.raw
    );
    nm.ok(&["stop"]);
}

per_backend!(no_false_alarm: no_false_alarm_nft, no_false_alarm_iptables_nft, no_false_alarm_iptables_legacy);

// ---------------------------------------------------------------------------
// Defect 7: a clock in the future does not freeze the calendar.

/// The state as a router whose clock ran a year ahead once left it (same
/// boot as now): its last reading lies in the future. The next update
/// with the right clock puts today's traffic on today.
#[test]
fn a_reading_from_the_future_does_not_freeze_the_days() {
    let test = "a_reading_from_the_future_does_not_freeze_the_days";
    if !require_root_tools(test, Backend::Nft.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let nm = Netmon::new(&lab.r, Backend::Nft, Some(PROXY_ONLY));
    nm.ok(&["start"]);
    lab.mark();
    let a = lab.udp(P4, R4, 500, 2).fwd;
    nm.ok(&["update"]);
    // The clock jumps a year ahead for one reading (written as that
    // reading would have left the state), then is set right.
    let path = nm.state.path().join("state");
    let mut st = load(&path);
    let year = 365 * 86_400;
    st.updated += year;
    st.synced += year;
    std::fs::write(&path, st.encode()).unwrap();
    let b = lab.udp(P4, R4, 700, 3).fwd;
    lab.assert_silent();
    let err = ok_stderr(&nm, &["update"]);
    assert!(
        err.contains("the clock is behind the last reading"),
        "the recovery is said: {err}"
    );
    // Today holds everything (the test ran within one day, or its day
    // boundary fell between the readings: then two days do).
    let total = daily_sum(&nm, "proxy").unwrap();
    assert_eq!(total, (a + b).bytes, "every byte is on a day");
    let st = load(&path);
    assert!(
        st.updated <= st.created + 86_400,
        "the time is no longer in the future"
    );
    let c = lab.udp(P4, R4, 100, 1).fwd;
    nm.ok(&["update"]);
    assert_eq!(
        daily_sum(&nm, "proxy").unwrap(),
        (a + b + c).bytes,
        "days go on"
    );
    nm.ok(&["stop"]);
}

// ---------------------------------------------------------------------------
// Defect 12: times a person reads are local.

/// `report` and `status` show the router's local time (TZ, as OpenWrt
/// sets it from /etc/TZ) with the zone's abbreviation; JSON stays UTC.
#[test]
fn report_and_status_times_are_local() {
    let test = "report_and_status_times_are_local";
    if !require_root_tools(test, Backend::Nft.tools()) {
        return;
    }
    let lab = Lab::new(false);
    let nm = Netmon::new(&lab.r, Backend::Nft, Some(PROXY_ONLY));
    nm.ok(&["start"]);
    // A zone without DST and a non-round offset: the local time is the UTC
    // time shifted by exactly 5:30, whatever the date.
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(ip());
        cmd.args(["netns", "exec", &nm.ns, NETMON, "--config"])
            .arg(&nm.config)
            .arg("--state-dir")
            .arg(nm.state.path())
            .arg("--persist-dir")
            .arg(nm.persist.path())
            .args(["--backend", "nft"])
            .args(args)
            .env("PATH", &nm.path_env)
            .env("TZ", "<+0530>-5:30");
        let out = run_timeout(cmd);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let json = Report::parse(&run(&["report", "--format", "json", "--days", "1"]));
    let text = run(&["report"]);
    // The JSON's `to` (UTC) is the previous report; this report's `from`.
    let from = local(&json.to, 5 * 3600 + 1800);
    assert!(
        text.starts_with(&format!("Network usage between {from} +0530 and ")),
        "{text}"
    );
    assert!(text.contains(" +0530\n"), "{text}");
    assert!(!text.contains("UTC"), "{text}");
    let st = run(&["status"]);
    assert!(
        st.contains("\nupdated:  ") && st.contains(" +0530\n"),
        "{st}"
    );
    nm.ok(&["stop"]);
}

/// `2026-11-21T19:00:00Z` shifted by `offset` seconds, as
/// `2026-11-21 HH:MM:SS`.
fn local(rfc3339: &str, offset: i64) -> String {
    let n = |r: std::ops::Range<usize>| rfc3339[r].parse::<i64>().unwrap();
    let day = days_from_civil(n(0..4), n(5..7), n(8..10));
    let secs = n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    civil_time(day * 86_400 + secs + offset)
}
