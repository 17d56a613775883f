//! `netmon daily`: usage per local day or billing month from the saved
//! buckets, or (`--log FILE`) from a log file, like the blog's graph
//! script. Reads the state without the lock and writes nothing. Retired
//! meters get a column while the table shows usage of theirs.

use super::ctx::Ctx;
use crate::cli::Daily;
use crate::error::{Error, Result};
use crate::report::{self, daily};
use crate::store;
use crate::sys::{self, fs::OpenAs};
use crate::text::Buf;

pub fn run(cx: &Ctx, d: &Daily, out: &mut Buf) -> Result<()> {
    if let Some(path) = &d.log {
        let f = sys::open_as(path, OpenAs::Read).map_err(|e| Error::io("read", path, &e))?;
        return daily::render(std::io::BufReader::new(f), d.format, out)
            .map(|_| ())
            .map_err(|e| Error::io("read", path, &e));
    }
    let st = store::peek_state(&cx.state_dir, &cx.persist_dir)
        .unwrap_or_else(|| store::new_state(cx.now));
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
