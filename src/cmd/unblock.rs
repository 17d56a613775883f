//! `netmon unblock DEVICE`: lift the admin's block now.

use super::ctx::{current, device_label, resolve_device, Ctx};
use crate::error::{Error, Result};
use crate::text::Buf;

pub fn run(cx: &mut Ctx, word: &str, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    let mut s = current(cx, warn)?;
    let mac = resolve_device(cx, &s.st, word)?;
    if !s.st.unblock(mac) {
        let mut who = Buf::new();
        device_label(&s.st, mac, &mut who);
        let quota =
            s.st.cuts(&cx.cfg.quotas, &cx.cal, cx.now)
                .iter()
                .any(|c| c.0 == mac)
                || !s.control.cut_by(mac).is_empty();
        let why = match quota {
            true => " (a used-up quota cuts it: that lifts when the quota's period ends, or raise the limit)",
            false => " (netmon blocked lists the blocked devices)",
        };
        return Err(Error::usage(crate::text::fill(
            "{} is not blocked{}",
            &[who.as_str(), why],
        )));
    }
    s.commit(cx, false, warn)?;
    s.enforce(cx, warn)?;
    out.push_bytes(b"unblocked ");
    device_label(&s.st, mac, out);
    out.push_bytes(b"\n");
    Ok(())
}
