//! `netmon block DEVICE [--for DURATION]`: update, record the block in the
//! state and make the firewall drop the device's forwarded traffic now.

use super::ctx::{current, device_label, resolve_device, Ctx};
use crate::error::{Error, Result};
use crate::text::Buf;

pub fn run(
    cx: &mut Ctx,
    word: &str,
    secs: Option<u32>,
    out: &mut Buf,
    warn: &mut Buf,
) -> Result<()> {
    if cx.lan.is_none() {
        return Err(Error::config(
            "blocking needs per-device accounting: enable config devices 'devices' (option enabled '1') with a LAN bridge",
        ));
    }
    let mut s = current(cx, warn)?;
    if s.idle || s.st.stopped {
        return Err(Error::runtime(
            "netmon is stopped (netmon stop): run netmon start first, so the block can be put in place",
        ));
    }
    let mac = resolve_device(cx, &s.st, word)?;
    let until = secs.map(|n| cx.now.saturating_add(i64::from(n)));
    s.st.block(mac, cx.now, until).map_err(|_| {
        Error::runtime(crate::text::fill_n(
            "netmon keeps at most {} blocks: unblock a device first (netmon blocked lists them)",
            &[],
            crate::state::MAX_BLOCKS,
        ))
    })?;
    // The state first: a block the firewall did not take is retried by
    // every update.
    s.commit(cx, false, warn)?;
    s.enforce(cx, warn)?;
    out.push_bytes(b"blocked ");
    device_label(&s.st, mac, out);
    match until {
        Some(t) => {
            out.push_bytes(b" until ");
            let _ = cx.cal.zone.write_human(out, t);
        }
        None => out.push_bytes(b" until netmon unblock"),
    }
    out.push_bytes(b"\n");
    Ok(())
}
