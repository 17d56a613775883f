//! `netmon status`: the backend, whether the rules are in place, where
//! the meters come from, the state's times, waiting mail and mail given
//! up.

use super::ctx::Ctx;
use crate::config::{self, Source};
use crate::device::Offload;
use crate::error::Result;
use crate::firewall::Observed;
use crate::state::State;
use crate::text::{num, Buf};
use crate::tz::Zone;
use crate::{mail, store, sys};

pub fn run(cx: &mut Ctx, out: &mut Buf) -> Result<()> {
    let obs = cx.observe()?;
    if cx.runner.dry_run {
        return Ok(());
    }
    let st = store::peek_state(&cx.state_dir, &cx.persist_dir);
    let stopped = st.as_ref().is_some_and(|s| s.stopped);
    let rules = match (obs.installed, obs.present, stopped) {
        (_, false, true) => "stopped (netmon stop): removed, nothing is counted until netmon start",
        (_, true, true) => {
            "stopped (netmon stop), but rules are still there (run netmon stop again to remove them, or netmon start)"
        }
        (true, _, _) => "installed",
        (false, true, _) => "stale or incomplete (run netmon start to repair)",
        (false, false, _) => "not installed (run netmon start)",
    };
    out.fill(
        "backend:  {}\nrules:    {}\nconfig:   ",
        &[cx.backend.as_str(), rules],
    );
    let (t, a, b) = match &cx.cfg.source {
        Source::File(p) => ("{}", p, ""),
        Source::FileDefault { file, wan } => (
            "{} (no meters: default WAN meters on {})",
            file,
            wan.as_str(),
        ),
        Source::Default { wan } => (
            "embedded default (no config file), WAN interface {}",
            wan,
            "",
        ),
    };
    out.fill(t, &[a, b]);
    out.fill(
        "\nstate:    {} (persistent copy in {})\nmeters:  ",
        &[&cx.state_dir, &cx.persist_dir],
    );
    for m in &cx.cfg.meters {
        out.push_bytes(b" ");
        out.push_bytes(m.name.as_bytes());
        // Where a meter on the link counts (offloading cannot bypass it).
        if let (Some(link), Some(dev)) = (m.link, m.link_device()) {
            out.fill(" ({} {})", &[link.as_str(), dev]);
        }
    }
    out.push_bytes(b"\n");
    if let Some(st) = &st {
        let names = cx.names();
        for m in st.retired(&names) {
            out.fill(
                "retired:  {} ({} bytes counted; no longer in the config: netmon forget {} drops it)\n",
                &[&m.name, num(m.total.bytes).as_str(), &m.name],
            );
        }
        for (label, t) in [
            ("updated:  ", st.updated),
            ("reported: ", st.reported),
            ("synced:   ", st.synced),
        ] {
            out.push_bytes(label.as_bytes());
            if t == 0 {
                out.push_bytes(b"never");
            } else {
                let _ = cx.cal.zone.write_human(out, t);
            }
            out.push_bytes(b"\n");
        }
    }
    mail_lines(&cx.spool_dir(), &cx.cal.zone, out);
    devices_line(cx, &obs, st.as_deref(), out);
    control_line(cx, &obs, st.as_deref(), out);
    let firewall = sys::read_text("/etc/config/firewall").unwrap_or_default();
    let offload = config::offload(&firewall);
    if offload != Offload::Off {
        out.fill("offload:  {}\n", &[offload.sentence()]);
    }
    Ok(())
}

/// Where devices are counted, how many the state and the kernel hold.
fn devices_line(cx: &Ctx, obs: &Observed, st: Option<&State>, out: &mut Buf) {
    let kept = st.map_or(0, |s| s.devices.len());
    let Some(lan) = &cx.lan else {
        if kept > 0 {
            out.fill(
                "devices:  not counted now (devices off, or no LAN bridge); {} kept with their history\n",
                &[num(kept as u64).as_str()],
            );
        }
        return;
    };
    let ports: Vec<&str> = lan.ports.iter().map(|p| p.as_str()).collect();
    let rules = if obs.devices_installed {
        "installed"
    } else {
        "not installed (run netmon start)"
    };
    out.fill(
        "devices:  {} kept, {} in the kernel sets (at most {}); on {} (ports {}), rules {}\n",
        &[
            num(kept as u64).as_str(),
            num(obs.devices.elems.len() as u64).as_str(),
            num(u64::from(lan.max)).as_str(),
            &lan.bridge,
            &ports.join(" "),
            rules,
        ],
    );
}
/// The blocks and quotas, when there are any.
fn control_line(cx: &Ctx, obs: &Observed, st: Option<&State>, out: &mut Buf) {
    let blocks = st.map_or(0, |s| s.blocks.len()) as u64;
    let quotas = cx.cfg.quotas.len() as u64;
    if blocks == 0 && quotas == 0 {
        return;
    }
    let cut = obs
        .control
        .nft
        .blocked
        .len()
        .max(obs.control.ipt.macs.len()) as u64;
    out.fill(
        "control:  {} blocked by the admin, {} quotas, {} devices on the firewall's block list \
         (netmon blocked, netmon quota)\n",
        &[
            num(blocks).as_str(),
            num(quotas).as_str(),
            num(cut).as_str(),
        ],
    );
}

/// What waits in the mail spool, and what was given up (`failed/`).
fn mail_lines(dir: &str, zone: &Zone, out: &mut Buf) {
    if let Ok(entries) = mail::spool::list(dir) {
        if let Some(first) = entries.first() {
            out.fill(
                "mail:     {} report(s) waiting in the spool; oldest from ",
                &[num(entries.len() as u64).as_str()],
            );
            let _ = zone.write_human(out, first.first);
            if first.attempts == 0 {
                out.push_bytes(b" (not tried yet)\n");
            } else {
                out.fill(" (last error: {})\n", &[&first.reason]);
            }
        }
    }
    let failed = mail::spool::failed_dir(dir);
    let Ok(given_up) = mail::spool::list(&failed) else {
        return;
    };
    let (Some(oldest), Some(latest)) = (given_up.first(), given_up.iter().max_by_key(|e| e.last))
    else {
        return;
    };
    out.fill(
        "failed:   {} report(s) given up after repeated refusals, in {}; oldest {} from ",
        &[num(given_up.len() as u64).as_str(), &failed, &oldest.name],
    );
    let _ = zone.write_human(out, oldest.first);
    out.fill(
        "; last error: {}; netmon mail-requeue NAME or --all sends them again\n",
        &[&latest.reason],
    );
}
