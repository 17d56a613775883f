//! Messages for syslog, where `logread` shows them: cron and procd give
//! netmon no terminal, so its warnings and errors must land there too.
//!
//! netmon formats the datagram itself, byte for byte what musl's
//! `openlog("netmon", LOG_PID, LOG_DAEMON)` + `syslog(prio, "%s", msg)`
//! sends (`syslog_line`); musl's own syslog would link its printf engine
//! and strftime into every router binary for this one line.

use crate::sys::{self, syslog::Level};
use crate::text::Buf;

/// Sends `msg` to syslog as `netmon[PID]` (facility daemon). NUL bytes
/// (which would cut the line) become spaces. Failures are silent, as
/// musl's are: there is nowhere left to report them.
pub fn syslog(level: Level, msg: &str) {
    let pri = sys::syslog::priority(level);
    sys::syslog::send(&syslog_line(pri, sys::now(), sys::pid(), msg));
}

/// musl's datagram for `<pri>`: `<pri>Mmm dd hh:mm:ss netmon[pid]: msg`
/// with a UTC time stamp (musl uses gmtime), the day space-padded
/// (`%e`), cut to musl's 1024-byte buffer less its NUL, and a newline
/// added unless the line already ends in one.
pub fn syslog_line(pri: i32, now: i64, pid: u32, msg: &str) -> Vec<u8> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const MAX: usize = 1023;
    let c = crate::time::Civil::from_unix(now);
    let mon = MONTHS
        .get(usize::from(c.month).wrapping_sub(1))
        .unwrap_or(&"Jan");
    let mut b = Buf::new();
    let _ = ufmt::uwrite!(b, "<{}>{} ", pri, *mon);
    if c.day < 10 {
        b.push_bytes(b" ");
    }
    let _ = ufmt::uwrite!(b, "{} ", c.day);
    for (i, v) in [c.hour, c.min, c.sec].into_iter().enumerate() {
        if i > 0 {
            b.push_bytes(b":");
        }
        if v < 10 {
            b.push_bytes(b"0");
        }
        let _ = ufmt::uwrite!(b, "{}", v);
    }
    let _ = ufmt::uwrite!(b, " netmon[{}]: ", pid);
    let mut v = b.as_bytes().to_vec();
    v.extend(msg.bytes().map(|b| if b == 0 { b' ' } else { b }));
    v.truncate(MAX);
    if v.last() != Some(&b'\n') {
        v.push(b'\n');
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_line_is_musls() {
        // 2026-11-05 07:08:09 UTC; LOG_DAEMON|LOG_ERR = 27.
        let l = syslog_line(27, 1_793_862_489, 42, "boom");
        assert_eq!(l, b"<27>Nov  5 07:08:09 netmon[42]: boom\n");
        let l = syslog_line(28, 1_795_287_600, 7, "a\0b\n");
        assert_eq!(l, b"<28>Nov 21 19:00:00 netmon[7]: a b\n");
        assert_eq!(
            syslog_line(30, 0, 1, ""),
            b"<30>Jan  1 00:00:00 netmon[1]: \n"
        );
    }

    #[test]
    fn syslog_line_is_cut_like_musls_buffer() {
        let head = "<27>Jan  1 00:00:00 netmon[1]: ".len();
        for n in [1022 - head, 1023 - head, 1024 - head, 5000] {
            let l = syslog_line(27, 0, 1, &"x".repeat(n));
            let want = (head + n).min(1023) + 1;
            assert_eq!(l.len(), want, "{n}");
            assert_eq!(l.last(), Some(&b'\n'));
        }
        // A message ending in a newline at the cut gets none added.
        let l = syslog_line(27, 0, 1, &"\n".repeat(2000));
        assert_eq!(l.len(), 1023);
    }
}
