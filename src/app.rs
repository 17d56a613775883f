//! Running a validated command: the I/O edge that ties config, firewall,
//! state files and reports together. The clock and the environment are
//! read here and passed into the pure parts.

use crate::cli::{Action, Command, DailyFormat, ReportFormat, DEFAULT_STATE_DIR};
use crate::config::{self, BackendChoice, Config, Source};
use crate::error::{Error, Result};
use crate::firewall::{run::Runner, Backend, Observed};
use crate::out::Buf;
use crate::report::{self, Report};
use crate::state::{Generation, Reading, State};
use crate::{store, sys};

/// How long a second netmon waits for the first to finish.
pub const LOCK_WAIT_MS: u32 = 30_000;

/// Everything a command needs, resolved once.
pub struct Ctx {
    pub cfg: Config,
    pub backend: Backend,
    pub state_dir: String,
    pub runner: Runner,
    pub now: i64,
}

/// Runs `cmd`; returns what goes to stdout.
pub fn run(cmd: &Command) -> Result<Buf> {
    let mut cx = context(cmd)?;
    let mut out = Buf::new();
    match cmd.action {
        Action::Daily(fmt) => daily(&cx, fmt, &mut out)?,
        Action::Status => status(&mut cx, &mut out)?,
        Action::Start | Action::Update => {
            let names = update(&mut cx)?;
            if cmd.action == Action::Start && !cx.runner.dry_run {
                let _ = ufmt::uwrite!(
                    out,
                    "netmon: counting {} meters with {}\n",
                    names,
                    cx.backend.as_str()
                );
            }
        }
        Action::Stop => stop(&mut cx, &mut out)?,
        Action::Report(fmt) => report(&mut cx, fmt, &mut out)?,
    }
    if cx.runner.dry_run {
        return Ok(core::mem::take(&mut cx.runner.printed));
    }
    Ok(out)
}

fn context(cmd: &Command) -> Result<Ctx> {
    let cfg = load_config(&cmd.config)?;
    let choice = cmd.backend.or(cfg.backend).unwrap_or(BackendChoice::Auto);
    let path = std::env::var("PATH").unwrap_or_default();
    let backend = Backend::resolve(choice, &path)?;
    let state_dir = cmd
        .state_dir
        .clone()
        .or_else(|| cfg.state_dir.clone())
        .unwrap_or_else(|| DEFAULT_STATE_DIR.into());
    Ok(Ctx {
        cfg,
        backend,
        state_dir,
        runner: Runner::new(cmd.dry_run),
        now: sys::now(),
    })
}

/// The config file, or the embedded default when it does not exist.
pub fn load_config(path: &str) -> Result<Config> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = core::str::from_utf8(&bytes).map_err(|_| {
                let mut s = String::from("cannot read ");
                s.push_str(path);
                s.push_str(": not UTF-8 text");
                Error::config(s)
            })?;
            config::parse(text, path).map_err(|e| Error::config(e.sentence()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let route = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
            let route6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
            config::default_config(&route, &route6).map_err(|e| Error::config(e.sentence()))
        }
        Err(e) => Err(Error::io("read", path, &e)),
    }
}

fn names(cfg: &Config) -> heapless::Vec<&str, { crate::meter::MAX_METERS }> {
    cfg.meters.iter().map(|m| m.name.as_str()).collect()
}

/// Takes the state lock, loads the state (or starts one).
fn open_state(cx: &Ctx) -> Result<(sys::Lock, State)> {
    store::ensure_dir(&cx.state_dir)?;
    let path = store::lock_path(&cx.state_dir);
    let lock = match sys::lock(&path, LOCK_WAIT_MS) {
        Ok(Ok(l)) => l,
        Ok(Err(pid)) => {
            let mut b = Buf::new();
            let _ = ufmt::uwrite!(
                b,
                "another netmon (pid {}) holds {}; it did not finish within {} s, try again later",
                pid,
                path.as_str(),
                LOCK_WAIT_MS / 1000
            );
            return Err(Error::runtime(b.as_str()));
        }
        Err(e) => return Err(Error::io("lock", &path, &e)),
    };
    let st = store::load_state(&cx.state_dir)?.unwrap_or_else(|| State::new(cx.now));
    Ok((lock, st))
}

fn reading(cx: &Ctx, obs: &Observed, reinstalled: bool) -> Reading {
    Reading {
        time: cx.now,
        counts: obs.counts.clone(),
        generation: Generation {
            boot_id: sys::boot_id().unwrap_or_default(),
            handle: obs.handle,
        },
        reinstalled,
    }
}

/// Reads, repairs and folds; returns the number of meters. In dry-run,
/// only prints the commands.
fn update(cx: &mut Ctx) -> Result<usize> {
    if cx.runner.dry_run {
        let _ = cx.backend.read(&cx.cfg.meters, &mut cx.runner)?;
        cx.backend.install(&cx.cfg.meters, &mut cx.runner)?;
        return Ok(cx.cfg.meters.len());
    }
    let (_lock, mut st) = open_state(cx)?;
    let before = st.clone();
    fold_current(cx, &mut st)?;
    save_and_log(cx, &before, &st)?;
    Ok(cx.cfg.meters.len())
}

/// One reading folded into `st`, reinstalling the rules first if they are
/// missing or stale (what was still readable is folded before that).
fn fold_current(cx: &mut Ctx, st: &mut State) -> Result<()> {
    let meters = &cx.cfg.meters;
    let names = names(&cx.cfg);
    let obs = cx.backend.read(meters, &mut cx.runner)?;
    if obs.installed {
        st.fold(&names, &reading(cx, &obs, false));
        return Ok(());
    }
    if obs.present {
        st.fold(&names, &reading(cx, &obs, false));
    }
    cx.backend.install(meters, &mut cx.runner)?;
    let fresh = cx.backend.read(meters, &mut cx.runner)?;
    st.fold(&names, &reading(cx, &fresh, true));
    Ok(())
}

fn save_and_log(cx: &Ctx, before: &State, st: &State) -> Result<()> {
    store::save_state(&cx.state_dir, st)?;
    let names = names(&cx.cfg);
    let prev: Vec<u64> = names
        .iter()
        .map(|n| before.meter(n).map_or(0, |m| m.total.bytes))
        .collect();
    let now: Vec<u64> = st.meters.iter().map(|m| m.total.bytes).collect();
    store::append_log(
        &cx.state_dir,
        &names,
        (before.updated, &prev),
        (cx.now, &now),
    )
}

fn stop(cx: &mut Ctx, out: &mut Buf) -> Result<()> {
    if cx.runner.dry_run {
        let _ = cx.backend.read(&cx.cfg.meters, &mut cx.runner)?;
        return cx.backend.remove(&cx.cfg.meters, &mut cx.runner);
    }
    let (_lock, mut st) = open_state(cx)?;
    let before = st.clone();
    let obs = cx.backend.read(&cx.cfg.meters, &mut cx.runner)?;
    if obs.present {
        let names = names(&cx.cfg);
        st.fold(&names, &reading(cx, &obs, false));
    }
    cx.backend.remove(&cx.cfg.meters, &mut cx.runner)?;
    st.mark_stopped();
    save_and_log(cx, &before, &st)?;
    let _ = ufmt::uwrite!(
        out,
        "netmon: rules removed ({}); totals kept in {}\n",
        cx.backend.as_str(),
        cx.state_dir.as_str()
    );
    Ok(())
}

fn report(cx: &mut Ctx, fmt: ReportFormat, out: &mut Buf) -> Result<()> {
    if cx.runner.dry_run {
        update(cx)?;
        return Ok(());
    }
    let (_lock, mut st) = open_state(cx)?;
    let before = st.clone();
    fold_current(cx, &mut st)?;
    let r = Report::of(&st, cx.now);
    match fmt {
        ReportFormat::Text => report::text::render(&r, out),
        ReportFormat::Json => report::json::render(&r, out),
    }
    st.mark_reported(cx.now);
    save_and_log(cx, &before, &st)
}

fn daily(cx: &Ctx, fmt: DailyFormat, out: &mut Buf) -> Result<()> {
    let path = store::log_path(&cx.state_dir);
    let r = match std::fs::File::open(&path) {
        Ok(f) => report::daily::render(std::io::BufReader::new(f), fmt, out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report::daily::render(&b""[..], fmt, out)
        }
        Err(e) => return Err(Error::io("read", &path, &e)),
    };
    r.map(|_| ()).map_err(|e| Error::io("read", &path, &e))
}

fn status(cx: &mut Ctx, out: &mut Buf) -> Result<()> {
    let obs = cx.backend.read(&cx.cfg.meters, &mut cx.runner)?;
    if cx.runner.dry_run {
        return Ok(());
    }
    let _ = ufmt::uwrite!(out, "backend:  {}\nrules:    ", cx.backend.as_str());
    out.push_bytes(match (obs.installed, obs.present) {
        (true, _) => b"installed\n",
        (false, true) => b"stale or incomplete (run netmon start to repair)\n",
        (false, false) => b"not installed (run netmon start)\n",
    });
    out.push_bytes(b"config:   ");
    match &cx.cfg.source {
        Source::File(p) => out.push_bytes(p.as_bytes()),
        Source::Default { wan } => {
            let _ = ufmt::uwrite!(
                out,
                "embedded default (no config file), WAN interface {}",
                wan.as_str()
            );
        }
    }
    let _ = ufmt::uwrite!(out, "\nstate:    {}\nmeters:  ", cx.state_dir.as_str());
    for m in &cx.cfg.meters {
        let _ = ufmt::uwrite!(out, " {}", m.name.as_str());
    }
    out.push_bytes(b"\n");
    if let Ok(Some(st)) = store::load_state(&cx.state_dir) {
        out.push_bytes(b"updated:  ");
        let _ = crate::time::write_human(out, st.updated);
        out.push_bytes(b"\nreported: ");
        let _ = crate::time::write_human(out, st.reported);
        out.push_bytes(b"\n");
    }
    if offloading_enabled() {
        out.push_bytes(b"warning:  flow offloading is on in /etc/config/firewall: offloaded connections bypass the firewall and are not counted\n");
    }
    Ok(())
}

/// OpenWrt's `option flow_offloading '1'` in the firewall defaults.
fn offloading_enabled() -> bool {
    let Ok(text) = std::fs::read_to_string("/etc/config/firewall") else {
        return false;
    };
    text.lines().map(str::trim).any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some("option")
            && w.next() == Some("flow_offloading")
            && matches!(w.next(), Some("1" | "'1'" | "\"1\""))
    })
}
