//! Syslog over `/dev/log`, where OpenWrt's `logread` shows it.
#![allow(unsafe_code)]

use std::io;

/// Severity of a syslog message (RFC 5424 section 6.2.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    Err,
    Warning,
    Info,
}

/// The priority of a message of `level` from a daemon (facility
/// `LOG_DAEMON`), as the datagram's `<pri>` carries it.
pub fn priority(level: Level) -> i32 {
    let severity = match level {
        Level::Err => libc::LOG_ERR,
        Level::Warning => libc::LOG_WARNING,
        Level::Info => libc::LOG_INFO,
    };
    severity | libc::LOG_DAEMON
}

/// musl's `log_addr`: a `short` family and `char[9]` path, 12 bytes with
/// padding, passed whole as the address length.
fn log_addr() -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in a.sun_path.iter_mut().zip(b"/dev/log") {
        *d = *s as libc::c_char;
    }
    (a, 12)
}

/// Sends one datagram (a whole syslog line) to /dev/log over one socket opened at the first message
/// and kept; like musl, a lost connection (syslogd restarted) is
/// reconnected once, any other failure is silent.
pub fn send(line: &[u8]) {
    use std::sync::atomic::{AtomicI32, Ordering};
    static FD: AtomicI32 = AtomicI32::new(-1);
    let (addr, len) = log_addr();
    let addr_ptr = (&addr as *const libc::sockaddr_un).cast::<libc::sockaddr>();
    let mut fd = FD.load(Ordering::Relaxed);
    if fd < 0 {
        // SAFETY: socket takes no pointers; connect reads `len` (12 <=
        // size_of sockaddr_un) bytes of `addr`, which lives on this frame.
        unsafe {
            fd = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if fd >= 0 {
                libc::connect(fd, addr_ptr, len);
            }
        }
        FD.store(fd, Ordering::Relaxed);
    }
    // SAFETY: `line` is valid for line.len() bytes; `addr` as above.
    unsafe {
        let send = || libc::send(fd, line.as_ptr().cast(), line.len(), 0);
        if send() < 0 {
            let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            let lost = [
                libc::ECONNREFUSED,
                libc::ECONNRESET,
                libc::ENOTCONN,
                libc::EPIPE,
            ];
            if lost.contains(&e) && libc::connect(fd, addr_ptr, len) == 0 {
                send();
            }
        }
    }
}
