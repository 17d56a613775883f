//! Bad input and broken environments: exit codes (2 usage/config, 1 runtime)
//! and one `netmon: ` line on stderr that says what is wrong.
//!
//! Most tests need no root. When run as root, every netmon invocation still
//! goes into a throwaway network namespace, so a netmon that wrongly carried
//! on could never reach the host's firewall.
//!
//! Run: `cargo test --test cli_errors`.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// Runs netmon with `args` and `PATH=path_env`: inside a fresh namespace when
/// root (and namespaces work), directly otherwise (unprivileged netmon cannot
/// change any firewall).
fn netmon(args: &[&str], path_env: &str) -> Output {
    // Never the host's default /etc/netmon.
    let persist = TempDir::new("nmt-cli-persist");
    let sandbox = is_root_with_netns().then(|| Netns::new(&unique("nmt-cli")));
    let mut cmd = match &sandbox {
        Some(ns) => {
            let mut c = Command::new(ip());
            c.args(["netns", "exec", &ns.name, NETMON]);
            c
        }
        None => Command::new(NETMON),
    };
    cmd.arg("--persist-dir")
        .arg(persist.path())
        .args(args)
        .env("PATH", path_env);
    run_timeout(cmd)
}

fn is_root_with_netns() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        && which("ip").is_some()
}

/// Exit code `code` and exactly one stderr line starting `netmon: `; returns it.
fn expect_error(out: &Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(
        err.starts_with("netmon: "),
        "stderr must start with `netmon: `: {err:?}"
    );
    assert!(
        err.ends_with('\n') && err.lines().count() == 1,
        "exactly one line: {err:?}"
    );
    err
}

fn real_path() -> String {
    std::env::var("PATH").unwrap_or_default()
}

/// A state dir and a config dir; args that keep netmon away from defaults.
struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: TempDir::new("nmt-cli"),
        }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
    fn config(&self, text: &str) -> String {
        let p = self.path("netmon.conf");
        std::fs::write(&p, text).unwrap();
        p
    }
    fn state_dir(&self) -> String {
        let p = self.path("state");
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}

#[test]
fn unknown_option_is_a_usage_error() {
    let e = Env::new();
    let out = netmon(
        &["--state-dir", &e.state_dir(), "--bogus", "report"],
        &real_path(),
    );
    expect_error(&out, 2);
}

#[test]
fn unknown_command_is_a_usage_error() {
    let e = Env::new();
    let out = netmon(&["--state-dir", &e.state_dir(), "frobnicate"], &real_path());
    expect_error(&out, 2);
}

#[test]
fn unknown_backend_is_a_usage_error() {
    let e = Env::new();
    let out = netmon(
        &["--state-dir", &e.state_dir(), "--backend", "pf", "update"],
        &real_path(),
    );
    let err = expect_error(&out, 2);
    assert!(err.contains("pf"), "names the bad value: {err}");
}

#[test]
fn bad_cidr_names_file_and_line() {
    let e = Env::new();
    // The bad value is on line 7.
    let cfg = e.config(
        "config netmon 'main'\n\toption backend 'nft'\n\nconfig meter 'proxy'\n\toption hook 'input'\n\n\toption src '192.168.1.300/24'\n",
    );
    let out = netmon(
        &["--config", &cfg, "--state-dir", &e.state_dir(), "start"],
        &real_path(),
    );
    let err = expect_error(&out, 2);
    assert!(err.contains(&cfg), "names the file: {err}");
    assert!(
        err.contains(":7") || err.contains("line 7"),
        "names line 7: {err}"
    );
    assert!(
        !Path::new(&e.path("state/state")).exists(),
        "no state written for a bad config"
    );
}

/// No default route (PPPoE not up yet) when the meters are the default WAN
/// ones: one sentence that says so and what to do, exit 1 (the config is
/// fine), nothing written. A fresh namespace has no default route.
fn no_default_route(test: &str, config: Option<&str>, want: &str) {
    if !require_root_tools(test, &["nft"]) {
        return;
    }
    let e = Env::new();
    // Only the default path may be missing (an explicit --config that
    // does not exist is an error of its own, see below).
    let cfg = match config {
        Some(text) => e.config(text),
        None => {
            let default = "/etc/config/netmon";
            assert!(
                !Path::new(default).exists(),
                "{test} needs a machine without {default}"
            );
            default.to_string()
        }
    };
    let want = want.replace("CFG", &cfg);
    let state = e.state_dir();
    for cmd in ["update", "status"] {
        let mut args = vec!["--state-dir", state.as_str(), "--backend", "nft", cmd];
        if config.is_some() {
            args.splice(0..0, ["--config", cfg.as_str()]);
        }
        let err = expect_error(&netmon(&args, &real_path()), 1);
        assert_eq!(err, format!("netmon: {want}\n"), "{cmd}");
    }
    assert!(
        !Path::new(&e.path("state/state")).exists(),
        "no state written without meters"
    );
}

#[test]
fn no_default_route_with_a_file_without_meters() {
    no_default_route(
        "no_default_route_with_a_file_without_meters",
        Some("# settings only\nconfig netmon 'main'\n\toption billing_day '5'\n"),
        "there is no default route, and CFG defines no meter, so netmon has no WAN interface \
         to count: run it again once the WAN is up (ip route show default), or add config meter \
         sections with option iif or oif to CFG",
    );
}

#[test]
fn no_default_route_without_a_config_file() {
    no_default_route(
        "no_default_route_without_a_config_file",
        None,
        "there is no default route and no config file CFG, so netmon has no WAN interface to \
         count: run it again once the WAN is up (ip route show default), or create CFG with \
         config meter sections",
    );
}

/// Issue 10, defect 5: a typo in `--config` used to count the default WAN
/// meters silently (exit 0). Only the default path may be missing.
#[test]
fn explicit_config_that_does_not_exist_is_a_usage_error() {
    let e = Env::new();
    let typo = e.path("netmon.cnof");
    let state = e.state_dir();
    for cmd in ["update", "status", "report", "start"] {
        let args = ["--config", &typo, "--state-dir", &state, cmd];
        let err = expect_error(&netmon(&args, &real_path()), 2);
        assert_eq!(
            err,
            format!(
                "netmon: cannot read the config file {typo} given with --config: it does not \
                 exist (check the path; without --config netmon reads /etc/config/netmon or uses \
                 the default WAN meters)\n"
            ),
            "{cmd}"
        );
    }
    assert!(
        !Path::new(&e.path("state/state")).exists(),
        "nothing written for a config that is not there"
    );
}

#[test]
fn nft_missing_from_path() {
    let e = Env::new();
    let cfg = e.config(BLOG_CONFIG);
    let empty = TempDir::new("nmt-emptypath");
    let out = netmon(
        &[
            "--config",
            &cfg,
            "--state-dir",
            &e.state_dir(),
            "--backend",
            "nft",
            "start",
        ],
        empty.path().to_str().unwrap(),
    );
    let err = expect_error(&out, 1);
    let low = err.to_lowercase();
    assert!(low.contains("nft"), "names nft: {err}");
    assert!(
        low.contains("not found") || low.contains("missing") || low.contains("no such file"),
        "says it is missing: {err}"
    );
}

/// A fake tool that fails: its own stderr must reach the user.
fn fake_tool(dir: &Path, name: &str, message: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\necho '{message}' >&2\nexit 1\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn failing_nft_stderr_is_reported() {
    let e = Env::new();
    let cfg = e.config(BLOG_CONFIG);
    let bin = TempDir::new("nmt-fakebin");
    fake_tool(bin.path(), "nft", "Error: fake nft refused 4242");
    let out = netmon(
        &[
            "--config",
            &cfg,
            "--state-dir",
            &e.state_dir(),
            "--backend",
            "nft",
            "start",
        ],
        bin.path().to_str().unwrap(),
    );
    let err = expect_error(&out, 1);
    assert!(
        err.contains("fake nft refused 4242"),
        "tool's stderr passed on: {err}"
    );
}

#[test]
fn failing_iptables_stderr_is_reported() {
    let e = Env::new();
    let cfg = e.config(BLOG_CONFIG);
    let bin = TempDir::new("nmt-fakebin");
    for t in IPT_TOOLS {
        fake_tool(bin.path(), t, "iptables v0: fake failure 4343");
    }
    let out = netmon(
        &[
            "--config",
            &cfg,
            "--state-dir",
            &e.state_dir(),
            "--backend",
            "iptables",
            "update",
        ],
        bin.path().to_str().unwrap(),
    );
    let err = expect_error(&out, 1);
    assert!(
        err.contains("fake failure 4343"),
        "tool's stderr passed on: {err}"
    );
}

/// The remaining tests need a working firewall to get past the first
/// reading, hence root and a namespace of their own.
struct Router {
    ns: Netns,
    env: Env,
    cfg: String,
}

impl Router {
    fn new(test: &str) -> Option<Router> {
        if !require_root_tools(test, &["nft"]) {
            return None;
        }
        let env = Env::new();
        let cfg = env.config(BLOG_CONFIG);
        Some(Router {
            ns: Netns::new(&unique("nmt-cli")),
            env,
            cfg,
        })
    }
    fn persist(&self) -> String {
        let p = self.env.path("persist");
        std::fs::create_dir_all(&p).unwrap();
        p
    }
    fn run(&self, state_dir: &str, args: &[&str]) -> Output {
        let mut c = Command::new(ip());
        c.args(["netns", "exec", &self.ns.name, NETMON])
            .args(["--config", &self.cfg, "--state-dir", state_dir])
            .args(["--persist-dir", &self.persist(), "--backend", "nft"])
            .args(args);
        run_timeout(c)
    }
    fn ok(&self, state_dir: &str, args: &[&str]) -> Output {
        let out = self.run(state_dir, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

const GARBAGE: &[u8] = b"\x00\xffnot a netmon state\n\x01\x02";

/// Files in `dir` other than `state` whose bytes are exactly `content`.
fn copies_of(dir: &str, content: &[u8]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name() != "state" && std::fs::read(e.path()).ok().as_deref() == Some(content)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Damaged RAM state and no good persistent copy: every command that needs
/// the state fails with one sentence and leaves the file byte for byte;
/// `--force` moves it aside whole (state.bad-*) and starts afresh.
#[test]
fn garbage_state_without_copy_is_kept_and_reported() {
    let Some(r) = Router::new("garbage_state_without_copy_is_kept_and_reported") else {
        return;
    };
    let dir = r.env.state_dir();
    r.ok(&dir, &["start"]);
    let state = format!("{dir}/state");
    let garbage = GARBAGE.repeat(7);
    std::fs::write(&state, &garbage).unwrap();
    for f in std::fs::read_dir(r.persist()).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    for cmd in ["update", "report", "stop"] {
        let out = r.run(&dir, &[cmd]);
        let err = expect_error(&out, 1);
        assert!(err.contains(&state), "{cmd}: names the damaged file: {err}");
        assert_eq!(
            std::fs::read(&state).unwrap(),
            garbage,
            "{cmd}: the damaged file was altered"
        );
        assert!(
            copies_of(&dir, &garbage).is_empty(),
            "{cmd}: nothing moved without --force"
        );
    }
    let out = r.ok(&dir, &["--force", "update"]);
    let warn = String::from_utf8_lossy(&out.stderr);
    assert!(
        warn.starts_with("netmon: ") && warn.lines().count() == 1,
        "one warning line: {warn:?}"
    );
    let moved = copies_of(&dir, &garbage);
    assert_eq!(moved.len(), 1, "moved aside whole, once: {moved:?}");
    assert!(moved[0].starts_with("state.bad-"), "{moved:?}");
    assert!(warn.contains(&moved[0]), "says where it went: {warn}");
    assert_ne!(
        std::fs::read(&state).unwrap(),
        garbage,
        "a fresh state replaced it"
    );
    r.ok(&dir, &["update"]);
    r.ok(&dir, &["stop"]);
}

/// Damaged RAM state with a good persistent copy: netmon warns, moves the
/// damaged file aside whole and carries on from the copy (exit 0).
#[test]
fn garbage_state_with_copy_is_moved_aside() {
    let Some(r) = Router::new("garbage_state_with_copy_is_moved_aside") else {
        return;
    };
    let dir = r.env.state_dir();
    r.ok(&dir, &["start"]);
    r.ok(&dir, &["sync"]);
    let state = format!("{dir}/state");
    let garbage = GARBAGE.repeat(3);
    std::fs::write(&state, &garbage).unwrap();
    let out = r.ok(&dir, &["update"]);
    let warn = String::from_utf8_lossy(&out.stderr);
    assert!(
        warn.starts_with("netmon: ") && warn.lines().count() == 1,
        "one warning line: {warn:?}"
    );
    assert!(warn.contains(&state), "names the damaged file: {warn}");
    let moved = copies_of(&dir, &garbage);
    assert_eq!(moved.len(), 1, "moved aside whole: {moved:?}");
    assert!(warn.contains(&moved[0]), "says where it went: {warn}");
    let out = r.ok(&dir, &["update"]);
    assert!(
        out.stderr.is_empty(),
        "state is good again: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    r.ok(&dir, &["stop"]);
}

#[test]
fn unwritable_state_dir_is_a_runtime_error() {
    let Some(r) = Router::new("unwritable_state_dir_is_a_runtime_error") else {
        return;
    };
    // Root ignores permission bits, so make the directory impossible instead:
    // its parent is a regular file (ENOTDIR), or it is a regular file itself.
    let file = r.env.path("plainfile");
    std::fs::write(&file, b"x").unwrap();
    for dir in [format!("{file}/state"), file.clone()] {
        for cmd in ["start", "update", "report"] {
            let out = r.run(&dir, &[cmd]);
            let err = expect_error(&out, 1);
            assert!(
                err.contains(&dir) || err.contains(&file),
                "{cmd} {dir}: names the path: {err}"
            );
        }
    }
}

/// `daily --device` that names no device: exit 2, one sentence that says
/// where the devices are listed; bad combinations are refused before any
/// state is read.
#[test]
fn daily_device_unknown_or_badly_combined_is_a_usage_error() {
    let e = Env::new();
    let cfg = e.config("config meter 'proxy'\n\toption hook 'input'\n");
    let base = [
        "--config",
        &cfg,
        "--state-dir",
        &e.state_dir(),
        "--backend",
        "nft",
        "daily",
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        netmon(&args, &real_path())
    };
    let err = expect_error(&run(&["--device", "tv"]), 2);
    assert_eq!(
        err,
        "netmon: no device 'tv' in the state (neither a MAC nor a device's name): \
         netmon devices lists them\n"
    );
    let err = expect_error(&run(&["--device", "tv", "--days", "40"]), 2);
    assert!(err.contains("from 1 to 31 with --device"), "{err}");
    let err = expect_error(&run(&["--device", "tv", "--log", "/nonexistent"]), 2);
    assert!(
        err.contains("--device and --log cannot be combined"),
        "{err}"
    );
}

/// `top` with an interval, count or order out of range: exit 2, one
/// sentence naming the value and what is expected, before anything runs
/// (no state directory is made, nothing is read).
#[test]
fn top_bad_arguments_are_usage_errors() {
    let e = Env::new();
    let state = e.path("never-made");
    for (args, want) in [
        (&["--interval", "0"][..], "invalid value '0' for --interval: expected a whole number of seconds from 1 to 3600"),
        (&["--interval", "3601"], "invalid value '3601' for --interval: expected a whole number of seconds from 1 to 3600"),
        (&["--interval", "0.5"], "invalid value '0.5' for --interval: expected a whole number of seconds from 1 to 3600"),
        (&["--interval", "-1"], "invalid value '-1' for --interval: expected a whole number of seconds from 1 to 3600"),
        (&["--count", "0"], "invalid value '0' for --count: expected a number from 1 to 100000"),
        (&["--count", "100001"], "invalid value '100001' for --count: expected a number from 1 to 100000"),
        (&["--sort", "total"], "invalid value 'total' for --sort: expected down or up"),
    ] {
        let mut argv = vec!["--state-dir", &state, "--backend", "nft", "top"];
        argv.extend_from_slice(args);
        let err = expect_error(&netmon(&argv, &real_path()), 2);
        assert_eq!(err, format!("netmon: {want}\n"), "{args:?}");
    }
    let err = expect_error(
        &netmon(&["--state-dir", &state, "top", "--interval"], &real_path()),
        2,
    );
    assert!(err.contains("--interval"), "{err}");
    assert!(!Path::new(&state).exists(), "top made its state directory");
}
