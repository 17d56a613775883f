//! What every command shares: the resolved settings (`Ctx`), and the
//! locked state a command works on (`Locked`): take the lock, load the
//! state, fold the current reading in, commit (RAM copy, flash when due,
//! log line). A command is a file of its own over these pieces.
//!
//! This is the I/O edge that reads the clock, the environment and the
//! kernel's facts once and passes them into the pure parts.

use crate::cli::Command;
use crate::config::{self, BackendChoice, Config, Source};
use crate::device::{Lan, Mac, MAX_PORTS};
use crate::error::{Error, Result};
use crate::firewall::{run::Runner, Backend, Observed};
use crate::mail::config::MailConfig;
use crate::mail::deliver::Mailer;
use crate::meter::MAX_METERS;
use crate::parse::route::default_wan;
use crate::report::metrics;
use crate::state::{
    Calendar, Cut, DeviceReading, Generation, Reading, State, Use, MAX_STATE_METERS,
};
use crate::text::{fill, num, Buf};
use crate::tz::Zone;
use crate::{store, sys};
use core::net::IpAddr;

/// How long a second netmon waits for the first to finish.
pub const LOCK_WAIT_MS: u32 = 30_000;
/// Where `sync` keeps the durable copy unless configured otherwise.
pub const DEFAULT_PERSIST_DIR: &str = "/etc/netmon";
/// Where the working state lives unless configured otherwise (RAM).
pub const DEFAULT_STATE_DIR: &str = "/tmp/netmon";
/// Default time between two writes to persistent storage.
pub const DEFAULT_SYNC_INTERVAL: u32 = 12 * 3600;
/// Earliest sane clock: the build time (see build.rs).
pub const BUILD_EPOCH: &str = env!("NETMON_BUILD_EPOCH");
/// `BUILD_EPOCH` in seconds, worked out by the compiler (0 if it were
/// not a number that fits).
const MIN_SANE: i64 = seconds(BUILD_EPOCH.as_bytes());

const fn seconds(b: &[u8]) -> i64 {
    if b.is_empty() {
        return 0;
    }
    let (mut v, mut i) = (0i64, 0);
    while i < b.len() {
        let d = b[i];
        if !d.is_ascii_digit() {
            return 0;
        }
        v = match v.checked_mul(10) {
            Some(x) => match x.checked_add((d - b'0') as i64) {
                Some(y) => y,
                None => return 0,
            },
            None => return 0,
        };
        i += 1;
    }
    v
}

/// Everything a command needs, resolved once.
pub struct Ctx {
    pub cfg: Box<Config>,
    pub backend: Backend,
    pub state_dir: String,
    pub persist_dir: String,
    pub sync_interval: i64,
    pub cal: Calendar,
    pub runner: Runner,
    pub now: i64,
    pub force: bool,
    /// The LAN side, when devices are counted and the bridge exists.
    pub lan: Option<Lan>,
    /// This command is an update (`update`, `sync`): its reading closes
    /// the devices' rate window.
    pub closes_rates: bool,
}

impl Ctx {
    /// Reads the config and resolves the backend, directories and calendar.
    pub fn new(cmd: &Command, warn: &mut Buf) -> Result<Ctx> {
        let parsed = read_config(&cmd.config, cmd.config_given)?;
        let state_dir = cmd
            .state_dir
            .clone()
            .or_else(|| parsed.as_ref().and_then(|c| c.state_dir.clone()))
            .unwrap_or_else(|| DEFAULT_STATE_DIR.into());
        let mut cfg = with_meters(parsed, &cmd.config, &state_dir)?;
        links_on_ethernet(&mut cfg, warn);
        let choice = cmd.backend.or(cfg.backend).unwrap_or(BackendChoice::Auto);
        let path = sys::getenv(c"PATH").unwrap_or_default();
        let backend = Backend::resolve(choice, &path)?;
        if backend == Backend::Iptables {
            // No link hooks: status and every command see where they count.
            let meters = crate::firewall::on_firewall_hooks(&cfg.meters);
            cfg.meters = meters.into_iter().collect();
        }
        let persist_dir = cmd
            .persist_dir
            .clone()
            .or_else(|| cfg.persist_dir.clone())
            .unwrap_or_else(|| DEFAULT_PERSIST_DIR.into());
        let lan = find_lan(&cfg, warn);
        if lan.is_none() && !cfg.quotas.is_empty() {
            warn.push_bytes(
                b"the quotas are not enforced: they need per-device accounting (config devices \
                  'devices' with enabled '1' and a LAN bridge)\n",
            );
        }
        let cal = Calendar {
            zone: zone(warn),
            billing_day: cfg.billing_day.unwrap_or(1),
            min_sane: MIN_SANE,
        };
        Ok(Ctx {
            sync_interval: i64::from(cfg.sync_interval.unwrap_or(DEFAULT_SYNC_INTERVAL)),
            cfg,
            backend,
            state_dir,
            persist_dir,
            cal,
            runner: Runner::new(cmd.dry_run),
            now: sys::now(),
            force: cmd.force,
            lan,
            closes_rates: false,
        })
    }

    /// The configured meters' names, in config order.
    pub fn names(&self) -> heapless::Vec<&str, MAX_METERS> {
        self.cfg.meters.iter().map(|m| m.name.as_str()).collect()
    }

    /// The mail settings, when a `config mail` section is enabled.
    pub fn mail(&self) -> Option<&MailConfig> {
        self.cfg.mail.as_ref().filter(|m| m.enabled)
    }

    /// `state_dir/spool`: reports waiting to be mailed.
    pub fn spool_dir(&self) -> String {
        spool_dir(&self.state_dir)
    }

    /// Reads netmon's counters (and checks its rules).
    pub fn observe(&mut self) -> Result<Observed> {
        self.backend.read(
            &self.cfg.meters,
            self.lan.as_ref(),
            &self.cfg.quotas,
            &mut self.runner,
        )
    }

    /// Reads netmon's counters only, without checking its rules, as cheaply
    /// as the backend can (`Backend::read_counters`): for `top`.
    pub fn counters(&mut self) -> Result<Observed> {
        self.backend
            .read_counters(&self.cfg.meters, self.lan.as_ref(), &mut self.runner)
    }

    /// A reading of what `obs` found, taken now.
    fn reading(&self, obs: &Observed, reinstalled: bool) -> Reading {
        Reading {
            time: self.now,
            uptime: sys::uptime(),
            counts: obs.counts.clone(),
            devices: DeviceReading {
                max_devices: self.lan.as_ref().map_or(0, |l| l.max as usize),
                ..obs.devices.clone()
            },
            generation: Generation {
                boot_id: sys::boot_id().unwrap_or_default(),
                handle: obs.handle,
            },
            reinstalled,
            closes_rates: self.closes_rates,
        }
    }

    /// Whether the persistent copy is due: `sync_interval` passed, or the
    /// last sync time lies implausibly far in the future (a clock that
    /// was wrong).
    fn sync_due(&self, st: &State) -> bool {
        let next = st.synced.saturating_add(self.sync_interval);
        self.now >= next || st.synced > self.now.saturating_add(self.sync_interval)
    }

    /// Takes the state lock and loads the state (RAM, else flash, else
    /// new). The clock is read again once the lock is held: a reading
    /// made under the lock is never older than the last one saved by
    /// another netmon that held it before. Boxed: the state is a few
    /// kilobytes.
    pub fn lock(&mut self, warn: &mut Buf) -> Result<Box<Locked>> {
        store::ensure_dir(&self.state_dir)?;
        let path = store::lock_path(&self.state_dir);
        let lock = match sys::lock(&path, LOCK_WAIT_MS) {
            Ok(Ok(l)) => l,
            Ok(Err(pid)) => {
                return Err(Error::runtime(fill(
                    "another netmon (pid {}) holds {}; it did not finish within {} s, try again later",
                    &[
                        num(u64::from(pid)).as_str(),
                        &path,
                        num(u64::from(LOCK_WAIT_MS / 1000)).as_str(),
                    ],
                )));
            }
            Err(e) => return Err(Error::io("lock", &path, &e)),
        };
        self.now = sys::now();
        let st = store::open_state(
            &self.state_dir,
            &self.persist_dir,
            self.now,
            self.force,
            warn,
        )?;
        // After a reboot the RAM spool is gone: bring back what was synced.
        let (ram, flash) = (spool_dir(&self.state_dir), spool_dir(&self.persist_dir));
        if std::fs::metadata(&ram).is_err() && std::fs::metadata(&flash).is_ok() {
            store::mirror_dir(&flash, &ram)?;
        }
        let totals = self
            .cfg
            .meters
            .iter()
            .map(|m| st.meter(&m.name).map_or(0, |m| m.total.bytes))
            .collect();
        Ok(Box::new(Locked {
            _lock: lock,
            prev: (st.updated, totals),
            st,
            idle: false,
            control: Default::default(),
        }))
    }
}

/// A state held under the lock, and what the log needs of it as loaded.
pub struct Locked {
    _lock: sys::Lock,
    pub st: Box<State>,
    /// The time and running total bytes per configured meter (0 for a
    /// new one) before this run: the log's baseline line.
    prev: (i64, Vec<u64>),
    /// `fold_current` found netmon stopped and had nothing to record: an
    /// update need not write anything.
    pub idle: bool,
    /// What the firewall cuts, as last read or enforced.
    pub control: crate::firewall::Control,
}

impl Locked {
    /// Folds the current reading in, reinstalling the rules first if they
    /// are missing or stale. What was still readable is folded and saved
    /// before the reinstall, which then restarts the counters as planned
    /// (a config edit is no reset); rules that vanished behind netmon's
    /// back (a firewall flush) are a reset. While the admin has netmon
    /// stopped, nothing is read or installed: the first update after the
    /// stop says so (once).
    pub fn fold_current(&mut self, cx: &mut Ctx, warn: &mut Buf) -> Result<()> {
        if self.st.stopped {
            self.idle = self.st.stop_noted;
            if !self.st.stop_noted {
                warn.push_bytes(STOPPED.as_bytes());
                warn.push_bytes(b"\n");
                self.st.stop_noted = true;
            }
            return Ok(());
        }
        let obs = cx.observe()?;
        if obs.installed || obs.present {
            self.fold(cx, &obs, false, warn);
        }
        if obs.installed && obs.devices_installed {
            self.prune(cx, &obs)?;
            self.control = obs.control;
            self.enforce_or_warn(cx, warn);
            return Ok(());
        }
        // Both tables are made again together, so every counter starts
        // again at once (one restart for the fold), after what was there
        // was read and saved.
        if obs.present || obs.devices_present {
            self.st.expect_restart();
            store::save_state(&cx.state_dir, &self.st)?;
        }
        cx.backend.install(&cx.cfg.meters, &mut cx.runner)?;
        if let Err(e) = cx.backend.install_netdev(
            cx.lan.as_ref(),
            &cx.cfg.meters,
            &cx.cfg.quotas,
            &mut cx.runner,
        ) {
            let hint = match cx.backend {
                Backend::Nft => {
                    " (devices and link meters need the kernel's netdev family with the \
                     egress hook: install kmod-nft-netdev); link meters count on the firewall \
                     hooks instead"
                }
                Backend::Iptables => "",
            };
            warn.fill("devices are not counted: {}{}\n", &[e.message(), hint]);
            cx.lan = None;
            let meters = crate::firewall::on_firewall_hooks(&cx.cfg.meters);
            cx.cfg.meters = meters.into_iter().collect();
            cx.backend.install(&cx.cfg.meters, &mut cx.runner)?;
        }
        self.st.devices_restarted();
        let fresh = cx.observe()?;
        self.fold(cx, &fresh, true, warn);
        self.control = fresh.control;
        self.enforce_or_warn(cx, warn);
        Ok(())
    }

    /// `enforce` for a reading: a failure is said, and the counting goes
    /// on (the next update tries again).
    fn enforce_or_warn(&mut self, cx: &mut Ctx, warn: &mut Buf) {
        if let Err(e) = self.enforce(cx, warn) {
            warn.fill(
                "blocks and quotas are not in place (the next update tries again): {}\n",
                &[e.message()],
            );
        }
    }

    /// Makes the firewall cut what the state says (the admin's blocks,
    /// used-up quotas) and keep the kernel quotas, after lifting the
    /// timed blocks that are over.
    pub fn enforce(&mut self, cx: &mut Ctx, warn: &mut Buf) -> Result<()> {
        self.st.lift_expired(cx.now);
        let Some(lan) = cx.lan.as_ref().filter(|_| !self.st.stopped) else {
            return Ok(());
        };
        let quotas = &cx.cfg.quotas;
        let macs = self.st.blocked_now(quotas, &cx.cal, cx.now);
        let blocked = match cx.backend {
            Backend::Nft => macs.into_iter().map(|m| (m, Vec::new())).collect(),
            Backend::Iptables => self.addresses(macs, lan, &mut cx.runner),
        };
        let want = self.st.kernel_quotas(quotas, &cx.cal, cx.now);
        let want = crate::firewall::Wanted {
            blocked: &blocked,
            quotas,
            kernel: &want,
        };
        self.control = cx
            .backend
            .enforce(&want, &self.control, lan, &mut cx.runner, warn)?;
        Ok(())
    }

    /// Each of `macs` with the addresses it has now (iptables blocks by
    /// address): those the state knows, and the LAN's neighbour tables'.
    fn addresses(&self, macs: Vec<Mac>, lan: &Lan, r: &mut Runner) -> Vec<(Mac, Vec<IpAddr>)> {
        if macs.is_empty() {
            return Vec::new();
        }
        let neigh = crate::firewall::neigh::read(r, Some(lan));
        macs.into_iter()
            .map(|mac| {
                let mut ips: Vec<IpAddr> = Vec::new();
                if let Some(d) = self.st.device(mac) {
                    ips.extend(d.ip4.map(IpAddr::from));
                    ips.extend(d.ip6.map(IpAddr::from));
                }
                ips.extend(
                    self.st
                        .addrs
                        .iter()
                        .filter(|a| a.owner == mac)
                        .map(|a| a.ip),
                );
                ips.extend(neigh.iter().filter(|n| n.mac == mac).map(|n| n.ip));
                ips.sort_unstable();
                ips.dedup();
                (mac, ips)
            })
            .collect()
    }

    /// Deletes the kernel elements of devices the state let go, and of
    /// idle ones when the sets fill up, so the sets keep room for the
    /// devices in use. Their counts were just folded; the state then reads
    /// their next element, if any, from zero.
    fn prune(&mut self, cx: &mut Ctx, obs: &Observed) -> Result<()> {
        if cx.lan.is_none() {
            return Ok(());
        }
        let mut macs: Vec<Mac> = self.st.devices_to_prune(&obs.devices);
        macs.sort_unstable();
        if macs.is_empty() {
            return Ok(());
        }
        let sets: Vec<(Mac, bool, bool)> = obs
            .device_sets
            .iter()
            .filter(|e| macs.binary_search(&e.0).is_ok())
            .copied()
            .collect();
        cx.backend.prune(&sets, &mut cx.runner)?;
        self.st.pruned(&macs);
        Ok(())
    }

    /// Folds what `obs` found (taken just now; `reinstalled`: right after
    /// netmon installed its rules) into the state; what needs the admin's
    /// attention goes to `warn`.
    pub fn fold(&mut self, cx: &Ctx, obs: &Observed, reinstalled: bool, warn: &mut Buf) {
        let before = self.st.updated;
        let f = self
            .st
            .fold(&cx.names(), &cx.reading(obs, reinstalled), &cx.cal);
        if f.full {
            warn.fill(
                "a new meter has no room in the state, which keeps at most {} meters with the \
                 retired ones: run netmon forget on a retired meter (netmon status lists them); \
                 its counter keeps counting until then\n",
                &[num(MAX_STATE_METERS as u64).as_str()],
            );
        }
        if f.recovered {
            let mut b = Buf::new();
            b.push_bytes(b"the clock is behind the last reading (");
            let _ = cx.cal.zone.write_human(&mut b, before);
            b.push_bytes(
                b"); netmon takes the clock as right and counts the usage it had put on later \
                  days to today\n",
            );
            warn.push_bytes(b.as_bytes());
        }
    }

    /// Writes the state: to persistent storage first when a sync is due
    /// (or `sync`), then the RAM copy (always), then the log line. A
    /// failed sync is reported after the RAM copy is safe.
    pub fn commit(&mut self, cx: &Ctx, sync: bool, warn: &mut Buf) -> Result<()> {
        let st = &mut self.st;
        let (ram_spool, flash_spool) = (spool_dir(&cx.state_dir), spool_dir(&cx.persist_dir));
        let mut flash_err = None;
        if sync || cx.sync_due(st) {
            let old = st.synced;
            st.synced = cx.now;
            let synced = store::sync_state(&cx.persist_dir, st, cx.now, warn)
                .and_then(|_| store::mirror_dir(&ram_spool, &flash_spool));
            if let Err(e) = synced {
                st.synced = old;
                flash_err = Some(e);
            }
        } else if let Err(e) = store::forget_removed(&ram_spool, &flash_spool) {
            flash_err = Some(e);
        }
        store::save_state(&cx.state_dir, st)?;
        if let Source::Default { wan } | Source::FileDefault { wan, .. } = &cx.cfg.source {
            store::remember_wan(&cx.state_dir, wan)?;
        }
        let names = cx.names();
        let now: Vec<u64> = names
            .iter()
            .map(|n| st.meter(n).map_or(0, |m| m.total.bytes))
            .collect();
        store::append_log(
            &cx.state_dir,
            &names,
            (self.prev.0, &self.prev.1),
            (cx.now, &now),
        )?;
        self.write_metrics(cx, warn);
        match flash_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Locked {
    /// What cuts each device off now, by MAC: the state's blocks and
    /// used-up quotas, and the quotas the kernel enforced before the
    /// state's numbers (read at updates) reached the limit.
    pub fn cuts(&self, cx: &Ctx) -> Vec<(Mac, Cut)> {
        let quotas = &cx.cfg.quotas;
        let mut cuts = self.st.cuts(quotas, &cx.cal, cx.now);
        for d in &self.st.devices {
            for i in self.control.cut_by(d.mac) {
                let end = quotas.get(i).map_or(0, |q| q.period.end(&cx.cal, cx.now));
                if !cuts.contains(&(d.mac, Cut::Quota(i, end))) {
                    cuts.push((d.mac, Cut::Quota(i, end)));
                }
            }
        }
        cuts.sort_by_key(|c| c.0);
        cuts
    }

    /// Whether quota use `u` cuts its device now (used up with the block
    /// action, or cut by the kernel already).
    pub fn quota_cut(&self, cx: &Ctx, u: &Use) -> bool {
        let used_up = cx
            .cfg
            .quotas
            .get(u.quota)
            .is_some_and(|q| q.block && u.used >= q.limit);
        used_up || self.control.cut_by(u.mac).contains(&u.quota)
    }

    /// The Prometheus metrics of the state as it is now.
    pub fn metrics(&self, cx: &Ctx) -> Buf {
        let quotas = &cx.cfg.quotas;
        let name = |i: usize| quotas.get(i).map_or("", |q| q.name.as_str());
        let uses = self.st.quota_uses(quotas, &cx.cal, cx.now);
        let quota_rows = uses.iter().map(|u| metrics::QuotaRow {
            quota: name(u.quota),
            mac: u.mac,
            used: u.used,
            limit: quotas.get(u.quota).map_or(0, |q| q.limit),
            cut: self.quota_cut(cx, u),
        });
        let mut blocked: Vec<metrics::Blocked<'_>> = Vec::new();
        for (mac, cut) in self.cuts(cx) {
            let quota = match cut {
                Cut::Block(_) => None,
                Cut::Quota(i, _) => Some(name(i)),
            };
            // One sample per device and reason (a device may be cut twice).
            let b = metrics::Blocked { mac, quota };
            if !blocked.contains(&b) {
                blocked.push(b);
            }
        }
        let meters = cx.names();
        let m = metrics::Metrics {
            st: &self.st,
            meters: &meters,
            quotas: quota_rows.collect(),
            blocked,
        };
        let mut out = Buf::new();
        metrics::render(&m, &mut out);
        out
    }

    /// Writes the metrics to `option metrics_file` when it is set:
    /// atomically (temp file in the same directory, then rename), the
    /// directory made if missing. A failure is a warning: the state is
    /// saved already, and the next commit tries again.
    fn write_metrics(&self, cx: &Ctx, warn: &mut Buf) {
        let Some(path) = cx.cfg.metrics_file.as_deref() else {
            return;
        };
        // The config took an absolute path naming a file.
        let (dir, file) = match path.rsplit_once('/') {
            Some(("", file)) => ("/", file),
            Some(split) => split,
            None => return,
        };
        let written = sys::create_dirs(dir)
            .map_err(|e| Error::io("create directory", dir, &e))
            .and_then(|_| store::replace_file(dir, file, self.metrics(cx).as_bytes()));
        if let Err(e) = written {
            warn.fill(
                "the metrics file is not written (the counts are saved; the next update tries \
                 again): {}\n",
                &[e.message()],
            );
        }
    }
}

/// What an update says, once, while the admin has netmon stopped.
pub const STOPPED: &str =
    "netmon is stopped (netmon stop): its rules stay removed and nothing is counted until netmon start";

/// The locked state with the current reading folded in.
pub fn current(cx: &mut Ctx, warn: &mut Buf) -> Result<Box<Locked>> {
    let mut s = cx.lock(warn)?;
    s.fold_current(cx, warn)?;
    if let Some(lan) = cx.lan.as_ref().filter(|_| !s.idle) {
        s.st.name_devices(&crate::hosts::load(lan, &mut cx.runner));
    }
    if !s.idle {
        queue_quota_warnings(cx, &mut s, warn);
    }
    Ok(s)
}

/// Delivers the mail spool, oldest first; each event is one warning line.
/// Called after the command dropped its `Locked`: network I/O never
/// happens under the state lock (a stuck server would hold every other
/// netmon up). The spool has its own lock, never waited for: while
/// another netmon delivers, this does nothing (the next run delivers),
/// and names `queued`, the entry a report just put into the spool. Then
/// the copies of entries delivered or given up are removed from
/// `persist_dir/spool` (deletions only, no flash write), so a reboot
/// cannot send them again.
pub fn deliver_mail(cx: &Ctx, queued: Option<&str>, warn: &mut Buf) {
    let Some(m) = cx.mail() else { return };
    let (ram, flash) = (spool_dir(&cx.state_dir), spool_dir(&cx.persist_dir));
    // Until `lock` brought the spool back after a reboot, touch neither copy.
    if !std::fs::metadata(&ram).is_ok_and(|d| d.is_dir()) {
        return;
    }
    let host = m.host_name(&sys::hostname());
    match Mailer::new(m, &host.text, &ram).deliver_spool(cx.now, queued) {
        Ok(events) => {
            for ev in events {
                warn.push_bytes(ev.as_bytes());
                warn.push_bytes(b"\n");
            }
        }
        Err(pid) => {
            if let Some(entry) = queued {
                warn.fill(
                    "report mail kept as {}/{}: another netmon (pid {}) is delivering the spool; it goes out at the next update\n",
                    &[&ram, entry, num(u64::from(pid)).as_str()],
                );
            }
        }
    }
    if let Err(e) = store::forget_removed(&ram, &flash) {
        warn.push_bytes(e.message().as_bytes());
        warn.push_bytes(b"\n");
    }
}

fn spool_dir(dir: &str) -> String {
    store::join(dir, "spool")
}

/// The router's zone: `TZ`, else /etc/TZ (OpenWrt writes the POSIX string
/// there), else UTC. An unreadable string is UTC with a warning.
fn zone(warn: &mut Buf) -> Zone {
    let tz = sys::getenv(c"TZ")
        .or_else(|| sys::read_text("/etc/TZ").ok())
        .unwrap_or_default();
    let tz = tz.trim_ascii();
    if tz.is_empty() {
        return Zone::UTC;
    }
    Zone::parse(tz).unwrap_or_else(|| {
        let clean: String = tz.chars().filter(|c| !c.is_control()).take(64).collect();
        warn.fill(
            "TZ '{}' is not a POSIX TZ string (like CET-1CEST,M3.5.0,M10.5.0/3); days are counted in UTC\n",
            &[&clean],
        );
        Zone::UTC
    })
}

/// The config file (`None` when the default one does not exist), as
/// written: a file without meter sections has no meters yet (see
/// `with_meters`). A file named with `--config` (`explicit`) must exist.
pub fn read_config(path: &str, explicit: bool) -> Result<Option<Box<Config>>> {
    match sys::read_file(path) {
        Ok(bytes) => {
            let text = core::str::from_utf8(&bytes)
                .map_err(|_| Error::config(fill("cannot read {}: not UTF-8 text", &[path])))?;
            config::parse(text, path)
                .map(Some)
                .map_err(|e| Error::config(e.sentence()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit => Err(Error::config(fill(
            "cannot read the config file {} given with --config: it does not exist (check \
                 the path; without --config netmon reads {} or uses the default WAN meters)",
            &[path, config::DEFAULT_PATH],
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, &e)),
    }
}

/// The meters of `parsed` (config file `path`, `None` if missing); when it
/// has none, the default WAN meters on the default route's device, read
/// now, at every run (a WAN failover moves it). Without a default route
/// (PPPoE down, or going down at shutdown) they stay on the device the last
/// update used, remembered in `state_dir` (`store::WAN_FILE`), so `update`
/// and `stop` still read the counters and remove the rules netmon
/// installed. With neither it is a runtime error (exit 1): the config is
/// fine, the WAN is down.
/// The LAN side of `cfg`'s devices settings as the kernel has it now: the
/// bridge (`option bridge`, else `br-lan`, else the device of
/// `network.lan`), its lower devices and its MAC. `None` when devices are
/// off, or the bridge does not exist (said in `warn` when it was named).
fn find_lan(cfg: &Config, warn: &mut Buf) -> Option<Lan> {
    let d = cfg.devices_on()?;
    let named = d.bridge.is_some();
    let bridge = match d.bridge {
        Some(b) => b,
        None if sys::lexists("/sys/class/net/br-lan") => "br-lan".try_into().ok()?,
        None => {
            let network = sys::read_text("/etc/config/network").unwrap_or_default();
            config::lan_device(&network)?.as_str().try_into().ok()?
        }
    };
    let dir = store::join("/sys/class/net", &bridge);
    let address = sys::read_text(&store::join(&dir, "address"));
    let Some(mac) = address.ok().and_then(|a| Mac::parse(a.trim_ascii())) else {
        if named {
            warn.fill(
                "devices are not counted: the LAN bridge {} (option bridge in the devices \
                 section) does not exist; check the name with ip link\n",
                &[&bridge],
            );
        }
        return None;
    };
    // A bridge's ports; a plain device is its own only port.
    let mut ports: heapless::Vec<_, MAX_PORTS> =
        match sys::read_dir(&store::join(&dir, "brif"), false) {
            Ok(names) => names
                .iter()
                .filter_map(|n| n.as_str().try_into().ok())
                .take(MAX_PORTS)
                .collect(),
            Err(_) => core::iter::once(bridge.clone()).collect(),
        };
    ports.sort_unstable();
    let max = d.max_devices;
    Some(Lan {
        bridge,
        ports,
        mac,
        max,
    })
}

fn with_meters(parsed: Option<Box<Config>>, path: &str, state_dir: &str) -> Result<Box<Config>> {
    let parsed = match parsed {
        Some(c) if !c.meters.is_empty() => return Ok(c),
        p => p,
    };
    let route = sys::read_text("/proc/net/route").unwrap_or_default();
    let route6 = sys::read_text("/proc/net/ipv6_route").unwrap_or_default();
    // The remembered device is read only when the route gives none.
    let wan: Option<String> = match default_wan(&route, &route6) {
        Some(dev) => Some(dev.as_str().into()),
        None => store::read_wan(state_dir),
    };
    let wan = wan.as_deref();
    let mut cfg = match parsed {
        Some(c) => config::with_default_meters(c, wan),
        None => config::default_config(wan, path),
    }
    .map_err(Error::runtime)?;
    // On the link when the WAN is Ethernet (`links_on_ethernet` decides).
    config::wan_meters_on_link(&mut cfg);
    Ok(cfg)
}

/// Link meters whose device is not (or not yet) an Ethernet device count
/// on the firewall hooks instead; said when the device exists and the
/// meter is the file's (the default WAN meters go there silently on a
/// PPPoE or other non-Ethernet WAN).
fn links_on_ethernet(cfg: &mut Config, warn: &mut Buf) {
    let from_file = matches!(cfg.source, Source::File(_));
    for m in cfg.meters.iter_mut() {
        let Some(dev) = m.link_device() else { continue };
        if is_ethernet(dev) {
            continue;
        }
        if from_file && sys::lexists(&store::join("/sys/class/net", dev)) {
            warn.fill(
                "meter {} counts on hook {} of {}, which is not an Ethernet device: it counts \
                 on the firewall hooks instead\n",
                &[&m.name, m.link.map_or("", |l| l.as_str()), dev],
            );
        }
        *m = m.on_firewall_hooks();
    }
}

/// Whether `dev` is an Ethernet device (ARPHRD_ETHER in sysfs): the link
/// hooks' byte accounting takes its 14-byte header into account.
fn is_ethernet(dev: &str) -> bool {
    let path = store::join(&store::join("/sys/class/net", dev), "type");
    sys::read_text(&path).is_ok_and(|t| t.trim_ascii() == "1")
}

/// The device `word` names for `block`/`unblock`: a MAC, an IP address
/// (a device's in the state, or the LAN's neighbour tables), or a device
/// name. The router's own MAC, group addresses, unknown names and names
/// shared by several devices are refused with what to do instead.
pub fn resolve_device(cx: &mut Ctx, st: &State, word: &str) -> Result<Mac> {
    if let Some(mac) = Mac::parse(word) {
        if !mac.is_device() {
            return Err(Error::usage(fill(
                "{} is a multicast, broadcast or zero address, not a device's",
                &[word],
            )));
        }
        if cx.lan.as_ref().is_some_and(|l| l.mac == mac) {
            return Err(Error::usage(fill(
                "{} is the router's own MAC (the LAN bridge's): blocking it would cut every device",
                &[word],
            )));
        }
        return Ok(mac);
    }
    if let Ok(ip) = word.parse::<core::net::IpAddr>() {
        let known = st.devices.iter().find(|d| {
            d.ip4.map(core::net::IpAddr::from) == Some(ip)
                || d.ip6.map(core::net::IpAddr::from) == Some(ip)
        });
        if let Some(d) = known {
            return Ok(d.mac);
        }
        if let Some(a) = st.addrs.iter().find(|a| a.ip == ip) {
            return Ok(a.owner);
        }
        let neigh = crate::firewall::neigh::read(&mut cx.runner, cx.lan.as_ref());
        return match neigh.iter().find(|n| n.ip == ip) {
            Some(n) => Ok(n.mac),
            None => Err(Error::usage(fill(
                "no LAN device has the address {} now (netmon devices lists the devices; give its MAC)",
                &[word],
            ))),
        };
    }
    let macs = st.resolve(word);
    match macs.as_slice() {
        [mac] => Ok(*mac),
        [] => Err(Error::usage(fill(
            "no device is named '{}' (netmon devices lists the names; a MAC or IP address works too)",
            &[word],
        ))),
        more => {
            let mut list = Buf::new();
            for (i, m) in more.iter().enumerate() {
                list.push_bytes(if i > 0 { b", " } else { b"" });
                let _ = m.write(&mut list);
            }
            Err(Error::usage(fill(
                "{} devices are named '{}' ({}): give the MAC of the one you mean",
                &[num(more.len() as u64).as_str(), word, list.as_str()],
            )))
        }
    }
}

/// A device for the admin to read: its name (terminal-safe) and MAC.
pub fn device_label(st: &State, mac: Mac, out: &mut Buf) {
    let name = st.device(mac).map(|d| d.name.as_slice()).unwrap_or(b"");
    if !name.is_empty() {
        crate::text::write_terminal_safe(out, name, crate::device::MAX_DEVICE_NAME);
        out.push_bytes(b" (");
    }
    let _ = mac.write(out);
    if !name.is_empty() {
        out.push_bytes(b")");
    }
}

/// Puts a warning for each quota newly used up (with the mail action)
/// into the mail spool, once per device and period; without an enabled
/// mail section, says so on `warn` instead.
pub fn queue_quota_warnings(cx: &Ctx, s: &mut Locked, warn: &mut Buf) {
    let kernel: Vec<(usize, Mac)> =
        s.st.devices
            .iter()
            .flat_map(|d| s.control.cut_by(d.mac).into_iter().map(move |i| (i, d.mac)))
            .collect();
    let due = s.st.warnings_due(&cx.cfg.quotas, &cx.cal, cx.now, &kernel);
    for u in due {
        let Some(q) = cx.cfg.quotas.get(u.quota) else {
            continue;
        };
        let mut who = Buf::new();
        let name = s.st.device(u.mac).map(|d| d.name.as_slice()).unwrap_or(b"");
        crate::text::write_header_safe(&mut who, name, crate::device::MAX_DEVICE_NAME);
        who.push_bytes(if name.is_empty() { b"" } else { b" " });
        let _ = u.mac.write(&mut who);
        let mut text = Buf::new();
        text.fill("Quota '{}' is used up by {}: ", &[&q.name, who.as_str()]);
        let _ = crate::units::write_human(&mut text, u.used);
        text.push_bytes(b" of ");
        let _ = crate::units::write_human(&mut text, q.limit);
        text.fill(
            " ({}, this {}).\n",
            &[q.direction.as_str(), q.period.as_str()],
        );
        if q.block {
            text.push_bytes(b"Its traffic through the router is cut until the period ends (");
            let _ = cx
                .cal
                .zone
                .write_human(&mut text, q.period.end(&cx.cal, cx.now));
            text.push_bytes(b").\n");
        }
        let Some(m) = cx.mail() else {
            warn.fill(
                "{} (not mailed: no enabled mail section)\n",
                &[text.as_str().trim_end()],
            );
            continue;
        };
        let host = m.host_name(&sys::hostname());
        let subject = fill(
            "netmon on {}: quota {} used up by {}",
            &[&host.text, &q.name, who.as_str()],
        );
        let queued = crate::mail::deliver::build_text_message(
            m,
            &subject,
            text.as_str(),
            &host.text,
            cx.now,
        )
        .and_then(|msg| Mailer::new(m, &host.text, &cx.spool_dir()).queue(&msg, cx.now));
        if let Err(e) = queued {
            warn.fill("quota warning not mailed: {}\n", &[e.message()]);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_epoch_seconds() {
        assert_eq!(super::seconds(b"1764000000"), 1_764_000_000);
        assert_eq!(super::seconds(b"9223372036854775807"), i64::MAX);
        for bad in [&b""[..], b"9223372036854775808", b"12a", b"+1", b" 1"] {
            assert_eq!(super::seconds(bad), 0, "{bad:?}");
        }
        assert_eq!(
            super::MIN_SANE,
            super::BUILD_EPOCH.parse::<i64>().unwrap_or(0)
        );
    }
}
