//! `netmon blocked`: update, then the devices cut off now and why.

use super::ctx::{current, device_label, Ctx};
use crate::error::Result;
use crate::state::Cut;
use crate::text::{num, write_json_string, Buf};

pub fn run(cx: &mut Ctx, json: bool, out: &mut Buf, warn: &mut Buf) -> Result<()> {
    let mut s = current(cx, warn)?;
    s.commit(cx, false, warn)?;
    let quotas = &cx.cfg.quotas;
    let cuts = s.cuts(cx);
    if json {
        out.push_bytes(b"{\"blocked\":[");
    } else if cuts.is_empty() {
        out.push_bytes(b"no device is blocked\n");
    }
    for (i, (mac, cut)) in cuts.iter().enumerate() {
        let (reason, until, quota) = match cut {
            Cut::Block(b) => ("block", b.until, None),
            Cut::Quota(q, end) => ("quota", Some(*end), quotas.get(*q).map(|q| q.name.as_str())),
        };
        if json {
            out.push_bytes(if i > 0 { b"," } else { b"" });
            out.push_bytes(b"{\"mac\":\"");
            let _ = mac.write(out);
            out.push_bytes(b"\",\"name\":");
            let name = s.st.device(*mac).map(|d| d.name.as_slice()).unwrap_or(b"");
            write_json_string(out, name);
            out.fill(",\"reason\":\"{}\",\"quota\":", &[reason]);
            match quota {
                Some(q) => write_json_string(out, q.as_bytes()),
                None => out.push_bytes(b"null"),
            }
            out.push_bytes(b",\"until\":");
            match until {
                Some(t) => out.push_bytes(num(t.max(0) as u64).as_bytes()),
                None => out.push_bytes(b"null"),
            }
            out.push_bytes(b"}");
            continue;
        }
        device_label(&s.st, *mac, out);
        match quota {
            Some(q) => out.fill(": quota {} used up", &[q]),
            None => out.push_bytes(b": blocked"),
        }
        match until {
            Some(t) => {
                out.push_bytes(b" until ");
                let _ = cx.cal.zone.write_human(out, t);
            }
            None => out.push_bytes(b" until netmon unblock"),
        }
        out.push_bytes(b"\n");
    }
    if json {
        out.push_bytes(b"]}\n");
    }
    Ok(())
}
