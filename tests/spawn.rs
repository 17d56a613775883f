//! `netmon::sys::spawn` seen from outside the process: the child's
//! environment when netmon's own has an `LC_ALL`, the descriptors a
//! child inherits, and descriptors left open in netmon after children
//! ran or failed to start. No root needed.
//!
//! These tests change the process environment and count open
//! descriptors, so they run one at a time (`LOCK`), each in its own
//! test binary (this file) so no other test opens files meanwhile.
//!
//! Run: `cargo test --test spawn`.

use netmon::firewall::run::Runner;
use netmon::sys::{self, Child, Pump};
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn stdout_of(mut c: Child) -> String {
    let mut s = String::new();
    c.stdout.take().unwrap().read_to_string(&mut s).unwrap();
    assert!(c.wait().unwrap().success());
    s
}

fn lc_all_lines(env: &str) -> Vec<&str> {
    env.lines().filter(|l| l.starts_with("LC_ALL=")).collect()
}

#[test]
fn tools_get_exactly_one_lc_all_c_whatever_netmon_has() {
    let _g = lock();
    std::env::set_var("LC_ALL", "de_DE.UTF-8");
    std::env::set_var("NETMON_SPAWN_TEST", "kept");
    let c = sys::spawn(&["env"], [false, true, false], true).unwrap();
    let env = stdout_of(c);
    assert_eq!(lc_all_lines(&env), ["LC_ALL=C"], "{env}");
    assert!(env.lines().any(|l| l == "NETMON_SPAWN_TEST=kept"));
    // Without c_locale (sendmail) the environment is passed on as is.
    let c = sys::spawn(&["env"], [false, true, false], false).unwrap();
    let env = stdout_of(c);
    assert_eq!(lc_all_lines(&env), ["LC_ALL=de_DE.UTF-8"], "{env}");
    // None set: one is added.
    std::env::remove_var("LC_ALL");
    let c = sys::spawn(&["env"], [false, true, false], true).unwrap();
    assert_eq!(lc_all_lines(&stdout_of(c)), ["LC_ALL=C"]);
    std::env::remove_var("NETMON_SPAWN_TEST");
}

/// netmon's descriptors that any child inherits anyway (not
/// close-on-exec: whatever started the test passed them on).
fn inheritable_fds() -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap() {
        let fd = e.unwrap().file_name().into_string().unwrap();
        let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue; // read_dir's own descriptor, gone by now
        };
        let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap();
        let flags = u32::from_str_radix(flags.trim(), 8).unwrap();
        if flags & 0o2000000 == 0 {
            v.push(fd);
        }
    }
    v
}

#[test]
fn child_inherits_no_pipe_ends() {
    let _g = lock();
    // Another child's pipes are open in netmon meanwhile.
    let mut other = sys::spawn(&["sleep", "10"], [true, true, true], true).unwrap();
    let c = sys::spawn(&["ls", "/proc/self/fd"], [true, true, true], true).unwrap();
    let fds = stdout_of(c);
    other.kill();
    other.wait().unwrap();
    let inherited = inheritable_fds();
    let extra: Vec<&str> = fds
        .lines()
        .filter(|fd| !["0", "1", "2"].contains(fd) && !inherited.iter().any(|i| i == fd))
        .collect();
    // Only ls's own handle on the directory it lists.
    assert_eq!(
        extra.len(),
        1,
        "child had {fds:?}; inheritable {inherited:?}"
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn no_descriptor_leaks_on_any_path() {
    let _g = lock();
    let before = open_fds();
    for _ in 0..20 {
        // Started, all pipes, waited for.
        let mut c = sys::spawn(&["true"], [true, true, true], true).unwrap();
        c.wait().unwrap();
        drop(c);
        // Started, pipes served by a Pump, then killed.
        let mut c = sys::spawn(&["cat"], [true, true, true], true).unwrap();
        let (i, o, e) = (c.stdin.take(), c.stdout.take(), c.stderr.take());
        let mut p = Pump::new(i, b"x".repeat(100_000), o, e, 10);
        p.step(50);
        c.kill();
        c.wait().unwrap();
        drop(p);
        // Not started: every pipe opened for it must be closed again.
        assert!(sys::spawn(&["/nonexistent/tool"], [true, true, true], true).is_err());
        assert!(sys::spawn(&["nonexistent-tool-xyz"], [false, true, true], true).is_err());
        assert!(sys::spawn(&["ls", "a\0b"], [true, true, true], true).is_err());
        // The callers.
        let mut r = Runner::new(false);
        let _ = r.try_change(&["ls", "/nonexistent-netmon-xyz"]).unwrap();
        let _ = r.read(&["ls", "/"], |_| Ok(())).unwrap();
        assert!(r.change(&["/nonexistent/nft", "list"]).is_err());
        let _ = netmon::mail::deliver::sendmail("/bin/false", b"x\r\n", Duration::from_secs(5));
        let _ = netmon::mail::deliver::sendmail("/nonexistent/sm", b"x", Duration::from_secs(5));
    }
    assert_eq!(open_fds(), before);
}
