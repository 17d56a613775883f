//! `netmon devices`: update, then usage per LAN device.

use super::ctx::{current, Ctx};
use crate::cli::DevicesView;
use crate::error::Result;
use crate::report::devices::{self, Span};
use crate::text::{num, Buf};

pub fn run(cx: &mut Ctx, v: DevicesView, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    if cx.runner.dry_run {
        let _ = cx.observe()?;
        return Ok(());
    }
    let mut s = current(cx, warn)?;
    s.commit(cx, false, warn)?;
    if cx.lan.is_none() {
        warn.push_bytes(
            b"devices are not counted now (no devices section with enabled '1', or no LAN \
              bridge): the list shows what was counted before\n",
        );
    }
    let rows = devices::rows(&s.st, &cx.cal, cx.now, v.span, v.sort);
    let mut title = Buf::new();
    match v.span {
        Span::Month => {
            title.push_bytes(b"this billing month, since ");
            let first = cx.cal.period_start(cx.cal.period(cx.cal.day(cx.now)));
            let _ = crate::time::write_date(&mut title, first);
        }
        Span::Days(n) => title.fill("the last {} days", &[num(u64::from(n)).as_str()]),
    }
    devices::render(&rows, v.format, title.as_str(), out);
    Ok(())
}
