//! `netmon top` against the real kernel: a router with a LAN bridge and
//! two devices (tests/common's `Lab`), NAT-free routing to a WAN host.
//!
//! - On a real terminal (tmux): the rate shown for a device driven at a
//!   known rate is within 10 %, the frame is redrawn in place, a hostile
//!   name shows escaped, and Ctrl-C gives the shell its screen back.
//! - Piped: exactly N plain blocks, no escape byte, exit 0.
//! - Read-only: nothing in the state directories changes, and an `update`
//!   runs while `top` does (no lock held); without netmon's rules it says
//!   so and installs nothing.
//! - The counters read over netlink are the counters `nft` prints.
//!
//! Run: `cargo test --test top -- --test-threads=2` (as root).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const UDP4: u64 = IPV4_HDR + UDP_HDR;
/// The device's lease name: an ANSI colour and markup, as anyone on the
/// LAN may choose (dnsmasq keeps it as sent).
const HOSTILE: &str = "\x1b[31mevil<script>";
/// How `top` must show it: every control character visible.
const HOSTILE_SHOWN: &str = "\\x1b[31mevil<script>";

fn setup(test: &str, backend: Backend, extra: &[&str]) -> Option<(Lab, Netmon)> {
    let mut tools = backend.tools().to_vec();
    tools.extend_from_slice(extra);
    if !require_root_tools(test, &tools) {
        return None;
    }
    let lab = Lab::new(false);
    let mut nm = Netmon::new(&lab.r, backend, Some(DEVICES_CONFIG));
    // Outside /tmp, which the terminal test overlays.
    nm.state = TempDir::new_in(Path::new("/dev/shm"), "nmt-state");
    nm.persist = TempDir::new_in(Path::new("/dev/shm"), "nmt-persist");
    Some((lab, nm))
}

/// `1.50 MiB/s`, `100.39 KiB/s`, `0 B/s` as bytes per second.
fn rate(text: &str) -> Option<f64> {
    let (n, unit) = text.trim().strip_suffix("/s")?.split_once(' ')?;
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n.parse::<f64>().ok()? * scale)
}

/// The download and upload rates of the device row that contains `what`.
fn row_rates(frame: &str, what: &str) -> Option<(Option<f64>, Option<f64>)> {
    let line = frame.lines().find(|l| l.contains(what))?;
    let (down, up) = (line.get(..13)?, line.get(14..27)?);
    Some((rate(down), rate(up)))
}

fn headers(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("netmon top: "))
        .count()
}

// ---------------------------------------------------------------------------
// A terminal: a private tmux server (its own socket, no config file).

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A `cols` x `rows` session running a shell whose prompt is `nmt$ `.
    fn new(cols: u16, rows: u16) -> Tmux {
        let t = Tmux {
            socket: unique("nmt-tmux"),
        };
        let (x, y) = (cols.to_string(), rows.to_string());
        t.ok(&[
            "new-session",
            "-d",
            "-x",
            &x,
            "-y",
            &y,
            "-s",
            "top",
            "env PS1='nmt$ ' sh",
        ]);
        t.wait_for("the shell's prompt", |t| t.screen().contains("nmt$"));
        t
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `line` and Enter.
    fn type_line(&self, line: &str) {
        self.ok(&["send-keys", "-t", "top", "-l", line]);
        self.ok(&["send-keys", "-t", "top", "Enter"]);
    }

    /// What the pane shows, as text (`escapes`: with its colours and
    /// attributes as escape sequences).
    fn capture(&self, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-t", "top"];
        if escapes {
            args.push("-e");
        }
        self.ok(&args)
    }

    fn screen(&self) -> String {
        self.capture(false)
    }

    /// A pane variable (`alternate_on`, `cursor_flag`, ...).
    fn var(&self, name: &str) -> String {
        let f = format!("#{{{name}}}");
        self.ok(&["display", "-p", "-t", "top", &f])
            .trim()
            .to_string()
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&Tmux) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !ok(self) {
            assert!(Instant::now() < deadline, "no {what}:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// A script that runs `top --interval 1` in the router's namespace with
/// `/tmp/dhcp.leases` naming the proxy `HOSTILE`: a private mount
/// namespace overlays /etc and /tmp (as tests/devices.rs does), so the
/// machine's own files are not touched.
fn top_script(nm: &Netmon, dir: &Path) -> PathBuf {
    let lease = dir.join("leases");
    let line = format!("1767225600 {P_MAC} 192.168.1.10 {HOSTILE} *\n");
    std::fs::write(&lease, line).unwrap();
    let mut overlay = String::from("set -e\n");
    for top in ["etc", "tmp"] {
        let (up, work) = (dir.join(top), dir.join(format!("{top}.work")));
        std::fs::create_dir_all(&up).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        overlay.push_str(&format!(
            "mount -t overlay overlay -o lowerdir=/{top},upperdir={},workdir={} /{top}\n",
            up.display(),
            work.display()
        ));
    }
    overlay.push_str(&format!(
        "cp {} /tmp/dhcp.leases\nexec \"$@\"\n",
        lease.display()
    ));
    let cmd = nm.command(&["top", "--interval", "1"]);
    let argv: Vec<String> = cmd
        .get_args()
        .skip(3) // `netns exec NS`
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let script = format!(
        "export PATH='{}'\nexec ip netns exec {} unshare -m --propagation private sh -c '{}' sh {}\n",
        nm.path_env,
        nm.ns,
        overlay,
        argv.join(" ")
    );
    let path = dir.join("run-top.sh");
    std::fs::write(&path, script).unwrap();
    path
}

/// On a terminal: the live rate of a device sent 100 datagrams of 1000
/// bytes a second is that within 10 %, drawn in place on the alternate
/// screen with its hostile name escaped; Ctrl-C ends `top` with exit 0 and
/// the shell's screen back as it was, cursor shown.
#[test]
fn top_on_a_terminal_shows_live_rates_and_gives_the_screen_back_nft() {
    let test = "top_on_a_terminal_shows_live_rates_and_gives_the_screen_back_nft";
    let Some((lab, nm)) = setup(test, Backend::Nft, &["tmux", "unshare"]) else {
        return;
    };
    nm.ok(&["start"]);
    let dir = TempDir::new_in(Path::new("/dev/shm"), "nmt-top");
    let script = top_script(&nm, dir.path());
    let tmux = Tmux::new(120, 40);
    tmux.type_line(&format!(
        "echo before-top; sh {}; echo top-exit=$?",
        script.display()
    ));
    tmux.wait_for("top on the alternate screen", |t| {
        t.var("alternate_on") == "1" && headers(&t.screen()) == 1
    });
    assert_eq!(tmux.var("cursor_flag"), "0", "the cursor is hidden");
    let (rate_per_s, size) = (100, 1000);
    let traffic = udp_paced(
        &lab.p,
        "192.168.1.10",
        &lab.o,
        "10.99.0.2",
        size,
        rate_per_s,
        6,
    );
    // The frame shown 3.5 s in covers a whole second of the traffic.
    std::thread::sleep(Duration::from_millis(3500));
    let screen = tmux.screen();
    let coloured = tmux.capture(true);
    traffic.finish();
    let driven = (rate_per_s * (size + UDP4)) as f64;
    let (_, up) = row_rates(&screen, HOSTILE_SHOWN).unwrap_or_else(|| panic!("{screen}"));
    let up = up.unwrap_or_else(|| panic!("no upload rate: {screen}"));
    assert!(
        (up - driven).abs() <= driven * 0.1,
        "upload {up} B/s, driven {driven} B/s:\n{screen}"
    );
    assert_eq!(
        headers(&screen),
        1,
        "redrawn in place, not scrolled:\n{screen}"
    );
    assert!(screen.contains(P_MAC), "{screen}");
    assert!(
        !coloured.contains("\x1b[31m"),
        "the name turned the terminal red: {coloured:?}"
    );
    tmux.ok(&["send-keys", "-t", "top", "C-c"]);
    tmux.wait_for("the shell after top", |t| t.screen().contains("top-exit="));
    let after = tmux.screen();
    assert!(after.contains("top-exit=0"), "{after}");
    assert!(
        after.contains("before-top") && after.contains("nmt$"),
        "{after}"
    );
    assert_eq!(
        headers(&after),
        0,
        "top's frame left on the shell's screen:\n{after}"
    );
    assert_eq!(tmux.var("alternate_on"), "0");
    assert_eq!(tmux.var("cursor_flag"), "1", "the cursor is shown again");
}

/// Piped: exactly `--count` blocks of plain text, a header each, no
/// escape byte, exit 0; the device sending shows its upload.
fn top_piped_prints_plain_blocks(test: &str, backend: Backend) {
    let Some((lab, nm)) = setup(test, backend, &[]) else {
        return;
    };
    nm.ok(&["start"]);
    let traffic = udp_paced(&lab.p, "192.168.1.10", &lab.o, "10.99.0.2", 500, 50, 4);
    std::thread::sleep(Duration::from_millis(300));
    let out = nm.run(&["top", "--count", "2", "--interval", "1"]);
    traffic.finish();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(headers(&text), 2, "{text}");
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(text.contains(", every 1 s, by download\n"), "{text}");
    let second = text.split("netmon top: ").nth(2).unwrap_or_default();
    let (_, up) = row_rates(second, P_MAC).unwrap_or_else(|| panic!("{text}"));
    assert!(up.is_some_and(|r| r > 0.0), "{text}");
    assert!(
        text.ends_with("\n\n"),
        "each block ends with a blank line: {text:?}"
    );
}

per_backend!(top_piped_prints_plain_blocks: top_piped_prints_plain_blocks_nft, top_piped_prints_plain_blocks_iptables_nft, top_piped_prints_plain_blocks_iptables_legacy);

/// Every file under `dirs` with its length and modification time.
fn files(dirs: &[&Path]) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut todo: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let meta = e.metadata().unwrap();
            out.insert(e.path(), (meta.len(), meta.modified().unwrap()));
            if meta.is_dir() {
                todo.push(e.path());
            }
        }
    }
    out
}

/// `top` writes nothing (the state directories are as they were, down to
/// the modification times) and holds no lock: an `update` started while
/// it runs finishes at once; SIGTERM ends `top` with exit 0.
#[test]
fn top_writes_nothing_and_holds_no_lock_nft() {
    let Some((lab, nm)) = setup(
        "top_writes_nothing_and_holds_no_lock_nft",
        Backend::Nft,
        &[],
    ) else {
        return;
    };
    nm.ok(&["start"]);
    udp_between(&lab.p, "192.168.1.10", &lab.o, "10.99.0.2", 100, 3);
    nm.ok(&["update"]);
    let dirs = [nm.state.path(), nm.persist.path()];
    let before = files(&dirs);
    assert!(before.keys().any(|p| p.ends_with("state")), "{before:?}");
    nm.ok(&["top", "--count", "2", "--interval", "1"]);
    assert_eq!(files(&dirs), before, "top changed the state directories");
    let mut top = nm.command(&["top", "--interval", "1"]);
    let top = top
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let t = Instant::now();
    nm.ok(&["update"]);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "update waited {:?}",
        t.elapsed()
    );
    // `ip netns exec` execs netmon: the child is netmon itself.
    let pid = top.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = top.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        headers(&String::from_utf8_lossy(&out.stdout)) >= 1,
        "{out:?}"
    );
}

/// Without netmon's rules: one sentence, exit 1, and nothing installed.
fn top_without_rules_says_so(test: &str, backend: Backend) {
    let Some((_lab, nm)) = setup(test, backend, &[]) else {
        return;
    };
    let out = nm.run(&["top", "--count", "1", "--interval", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "netmon: netmon's rules are not installed, so there are no counters to show: run \
         netmon start\n"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(!nm.rules_present(), "top installed rules");
}

per_backend!(top_without_rules_says_so: top_without_rules_says_so_nft, top_without_rules_says_so_iptables_nft, top_without_rules_says_so_iptables_legacy);

/// Runs `f` on a thread inside network namespace `ns` (a thread's
/// namespace is its own; children it spawns inherit it).
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
            // SAFETY: setns on this thread with an open namespace file.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap()
    })
}

/// The counters `top` reads over netlink are, to the byte, those `nft -a
/// list table` prints (the devices' sets with the egress header taken off,
/// the link and firewall-hook meters, `other`, the table handle), and the
/// read did go over netlink (it cannot see the rules, so it says nothing
/// is checked as installed).
#[test]
fn netlink_counters_are_the_nft_counters() {
    let Some((lab, nm)) = setup("netlink_counters_are_the_nft_counters", Backend::Nft, &[]) else {
        return;
    };
    let config = "config devices 'devices'\n\toption bridge 'br-lan'\n\toption max_devices '1'\n\n\
                  config meter 'wan_down'\n\toption hook 'ingress'\n\toption iif 'wan'\n\n\
                  config meter 'wan_up'\n\toption hook 'egress'\n\toption oif 'wan'\n\n\
                  config meter 'to_router'\n\toption hook 'input'\n";
    std::fs::write(&nm.config, config).unwrap();
    nm.ok(&["start"]);
    // Two devices, a set of one: the second goes to `other`.
    udp_between(&lab.p, "192.168.1.10", &lab.o, "10.99.0.2", 700, 3);
    udp_between(&lab.o, "10.99.0.2", &lab.p, "192.168.1.10", 900, 2);
    udp_between(&lab.q, "192.168.1.20", &lab.o, "10.99.0.2", 300, 4);
    udp_between(&lab.p, "192.168.1.10", &lab.r, "192.168.1.1", 100, 5);
    let cfg = netmon::config::parse(config, "test").unwrap();
    let lan = netmon::device::Lan {
        bridge: "br-lan".try_into().unwrap(),
        ports: ["lan1", "lan2"]
            .iter()
            .map(|p| (*p).try_into().unwrap())
            .collect(),
        mac: netmon::device::Mac([2, 0, 0, 0, 1, 1]),
        max: 1,
    };
    let (cli, netlink) = in_netns(&nm.ns, || {
        let mut r = netmon::firewall::run::Runner::new(false);
        let nft = netmon::firewall::Backend::Nft;
        let cli = nft.read(&cfg.meters, Some(&lan), &[], &mut r).unwrap();
        let netlink = nft.read_counters(&cfg.meters, Some(&lan), &mut r).unwrap();
        (cli, netlink)
    });
    assert!(cli.installed && cli.devices_installed, "{cli:?}");
    assert!(
        !netlink.installed && !netlink.devices_installed,
        "not over netlink: {netlink:?}"
    );
    assert_eq!(netlink.counts, cli.counts);
    assert_eq!(netlink.devices, cli.devices);
    assert_eq!(netlink.device_sets, cli.device_sets);
    assert_eq!(
        (netlink.handle, netlink.present, netlink.devices_present),
        (cli.handle, true, true)
    );
    // Non-trivial: the counts are the traffic sent.
    let p = netmon::device::Mac([2, 0, 0, 0, 0x10, 0x10]);
    let up = 3 * (UDP4 + 700) + 5 * (UDP4 + 100);
    let elem = cli
        .devices
        .elems
        .iter()
        .find(|e| e.0 == p)
        .expect("the proxy's element");
    assert_eq!((elem.1.bytes, elem.2.bytes), (2 * (UDP4 + 900), up));
    assert_eq!(cli.devices.other_up.bytes, 4 * (UDP4 + 300));
    let count = |n: &str| cli.counts.iter().find(|(m, _)| m == n).map(|c| c.1.bytes);
    assert_eq!(count("wan_up"), Some(3 * (UDP4 + 700) + 4 * (UDP4 + 300)));
    assert_eq!(count("to_router"), Some(5 * (UDP4 + 100)));
}
