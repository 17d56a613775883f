//! `netmon forget METER`: drop a retired meter (no longer in the config)
//! with its totals and history. A meter still configured is refused: its
//! rules count it, and the next update would bring it back at zero.

use super::ctx::Ctx;
use crate::error::{Error, Result};
use crate::text::{fill, join, num, Buf};

pub fn run(cx: &mut Ctx, name: &str, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    if cx.names().contains(&name) {
        return Err(Error::usage(fill(
            "meter '{}' is still in the config ({}): remove its section there first; netmon forget drops only retired meters",
            &[name, cx.cfg.source.path()],
        )));
    }
    if cx.runner.dry_run {
        return Ok(());
    }
    let mut s = cx.lock(warn)?;
    let names = cx.names();
    let Some(m) = s.st.meter(name) else {
        let retired: Vec<&str> = s.st.retired(&names).map(|m| m.name.as_str()).collect();
        let mut b = Buf::new();
        if retired.is_empty() {
            b.push_bytes(b"there are no retired meters");
        } else {
            b.push_bytes(b"the retired meters are ");
            join(&mut b, &retired, ", ");
        }
        return Err(Error::usage(fill(
            "no meter '{}' in the state ({})",
            &[name, b.as_str()],
        )));
    };
    let total = num(m.total.bytes);
    let since = s.st.created;
    s.st.forget(name);
    s.commit(cx, true, warn)?;
    out.fill(
        "netmon: forgot meter {} and its {} bytes counted since ",
        &[name, total.as_str()],
    );
    let _ = cx.cal.zone.write_human(out, since);
    out.push_bytes(b"\n");
    Ok(())
}
