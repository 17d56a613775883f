//! `netmon quota`: update, then each quota's use per device: used, limit,
//! remaining, days left in the period and what that allows per day.

use super::ctx::{current, device_label, Ctx};
use crate::error::Result;
use crate::text::{num, write_json_string, Buf};
use crate::units::write_human;

pub fn run(cx: &mut Ctx, json: bool, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    let mut s = current(cx, warn)?;
    s.commit(cx, false, warn)?;
    let quotas = &cx.cfg.quotas;
    if quotas.is_empty() && !json {
        out.push_bytes(
            b"no quota is configured (config quota; see README: Blocking a device and quotas)\n",
        );
        return Ok(());
    }
    // A listed name that is no device's (yet): said, not silently empty.
    for q in quotas {
        for word in q.devices.iter().filter(|w| s.st.resolve(w).is_empty()) {
            let mut w = Buf::new();
            crate::text::write_terminal_safe(&mut w, word.as_bytes(), 63);
            warn.fill(
                "quota {}: no device is named '{}' yet (netmon devices lists the names)\n",
                &[&q.name, w.as_str()],
            );
        }
    }
    if json {
        out.push_bytes(b"{\"quotas\":[");
    }
    let uses = s.st.quota_uses(quotas, &cx.cal, cx.now);
    for (n, u) in uses.iter().enumerate() {
        let Some(q) = quotas.get(u.quota) else {
            continue;
        };
        let end = q.period.end(&cx.cal, cx.now);
        let left = q.limit.saturating_sub(u.used);
        // Days left, today included.
        let days = ((end - cx.now).max(1) as u64).div_ceil(86_400);
        let per_day = left / days.max(1);
        let cut = s.quota_cut(cx, u);
        if json {
            out.push_bytes(if n > 0 { b"," } else { b"" });
            out.push_bytes(b"{\"quota\":");
            write_json_string(out, q.name.as_bytes());
            out.push_bytes(b",\"mac\":\"");
            let _ = u.mac.write(out);
            out.push_bytes(b"\",\"name\":");
            let name = s.st.device(u.mac).map(|d| d.name.as_slice()).unwrap_or(b"");
            write_json_string(out, name);
            out.fill(
                ",\"period\":\"{}\",\"direction\":\"{}\",\"limit\":{},\"used\":{},",
                &[
                    q.period.as_str(),
                    q.direction.as_str(),
                    num(q.limit).as_str(),
                    num(u.used).as_str(),
                ],
            );
            out.fill(
                "\"remaining\":{},\"days_left\":{},\"per_day\":{},\"period_end\":{},\"cut\":{}}",
                &[
                    num(left).as_str(),
                    num(days).as_str(),
                    num(per_day).as_str(),
                    num(end.max(0) as u64).as_str(),
                    if cut { "true" } else { "false" },
                ],
            );
            continue;
        }
        out.fill(
            "{} ({} {}) ",
            &[&q.name, q.direction.as_str(), q.period.as_str()],
        );
        device_label(&s.st, u.mac, out);
        out.push_bytes(b": ");
        let _ = write_human(out, u.used);
        out.push_bytes(b" of ");
        let _ = write_human(out, q.limit);
        out.push_bytes(b", ");
        let _ = write_human(out, left);
        out.fill(" left for {} days (", &[num(days).as_str()]);
        let _ = write_human(out, per_day);
        out.push_bytes(b" a day)");
        if cut {
            out.push_bytes(b", cut off until ");
            let _ = cx.cal.zone.write_human(out, end);
        }
        out.push_bytes(b"\n");
    }
    if json {
        out.push_bytes(b"]}\n");
    }
    Ok(())
}
