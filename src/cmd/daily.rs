//! `netmon daily`: usage per local day or billing month from the saved
//! buckets, or (`--log FILE`) from a log file, like the blog's graph
//! script. Reads the state without the lock and writes nothing. Retired
//! meters get a column while the table shows usage of theirs. With
//! `--device`, one device's download and upload instead.

use super::ctx::Ctx;
use crate::cli::Daily;
use crate::error::{Error, Result};
use crate::report::devices::{self, Lookup};
use crate::report::{self, daily};
use crate::state::State;
use crate::store;
use crate::sys::{self, fs::OpenAs};
use crate::text::{write_terminal_safe, Buf};

pub fn run(cx: &Ctx, d: &Daily, out: &mut Buf) -> Result<()> {
    if let Some(path) = &d.log {
        let f = sys::open_as(path, OpenAs::Read).map_err(|e| Error::io("read", path, &e))?;
        return daily::render(std::io::BufReader::new(f), d.format, out)
            .map(|_| ())
            .map_err(|e| Error::io("read", path, &e));
    }
    let st = store::peek_state(&cx.state_dir, &cx.persist_dir)
        .unwrap_or_else(|| store::new_state(cx.now));
    if let Some(name) = &d.device {
        return device(cx, &st, name, d, out);
    }
    let configured = cx.names();
    let all = report::meter_names(&st, &configured);
    let (mut t, first) = if d.months {
        (report::month_rows(&st, &all, &cx.cal, cx.now), "Start")
    } else {
        (report::day_rows(&st, &all, &cx.cal, cx.now, d.days), "Date")
    };
    let names = t.drop_empty(&all, |n| configured.contains(&n));
    daily::render_rows(&names, d.format, first, t.rows.into_iter(), out);
    Ok(())
}

/// The table of the device `name` names (see `devices::find`).
fn device(cx: &Ctx, st: &State, name: &str, d: &Daily, out: &mut Buf) -> Result<()> {
    let dev = devices::find(st, name).map_err(|e| not_found(name, e))?;
    let (t, first) = if d.months {
        (report::device_month_rows(dev, &cx.cal, cx.now), "Start")
    } else {
        (
            report::device_day_rows(dev, &cx.cal, cx.now, d.days),
            "Date",
        )
    };
    let cols = ["download", "upload"];
    daily::render_rows(&cols, d.format, first, t.rows.into_iter(), out);
    Ok(())
}

/// The usage error for a `--device` that names no single device.
fn not_found(name: &str, e: Lookup) -> Error {
    let mut shown = Buf::new();
    write_terminal_safe(&mut shown, name.as_bytes(), 64);
    let shown = shown.as_str();
    match e {
        Lookup::Unknown => Error::usage(crate::text::fill(
            "no device '{}' in the state (neither a MAC nor a device's name): netmon devices lists them",
            &[shown],
        )),
        Lookup::Ambiguous(macs) => {
            let mut list = Buf::new();
            for (i, m) in macs.iter().enumerate() {
                list.push_bytes(if i == 0 { b"" } else { b", " });
                let _ = m.write(&mut list);
            }
            let n = crate::text::num(macs.len() as u64);
            Error::usage(crate::text::fill(
                "{} devices are named '{}' ({}): give --device the MAC of the one you mean",
                &[n.as_str(), shown, list.as_str()],
            ))
        }
    }
}
