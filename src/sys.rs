//! The only module that talks to libc directly: clock, errno text, and
//! (later) flock and fsync of directories.
#![allow(unsafe_code)]

use std::io;

/// Seconds since the Unix epoch, from the real-time clock. The one place
/// netmon reads the clock; everything else takes `now` as an argument.
pub fn now() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Writes the reason of an I/O error as the C library states it
/// (`No space left on device`), without going through `core::fmt`.
pub fn write_io_error<W: ufmt::uWrite + ?Sized>(w: &mut W, e: &io::Error) {
    if let Some(errno) = e.raw_os_error() {
        let _ = w.write_str(&strerror(errno));
        return;
    }
    let _ = w.write_str(match e.kind() {
        io::ErrorKind::NotFound => "not found",
        io::ErrorKind::PermissionDenied => "permission denied",
        io::ErrorKind::UnexpectedEof => "unexpected end of file",
        io::ErrorKind::InvalidData => "invalid data (not UTF-8?)",
        io::ErrorKind::TimedOut => "timed out",
        io::ErrorKind::WriteZero => "no space left",
        _ => "input/output error",
    });
}

/// `strerror_r` into an owned string.
pub fn strerror(errno: i32) -> String {
    let mut buf = [0u8; 128];
    // SAFETY: buf is valid for buf.len() bytes; the XSI/musl/glibc-in-XSI
    // variant `__xpg_strerror_r` is what the libc crate binds as
    // `strerror_r` on Linux and writes a NUL-terminated string.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::from("unknown error");
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The kernel's boot id (a new random UUID at every boot), trimmed.
pub fn boot_id() -> Option<heapless::String<40>> {
    let s = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    heapless::String::try_from(s.trim()).ok()
}

/// An exclusive advisory lock (flock) held until dropped.
pub struct Lock {
    _file: std::fs::File,
}

/// Takes the exclusive lock on `path`, waiting at most `wait_ms`. On
/// success the file holds our pid (so a waiting process can name the
/// holder). On timeout returns the holder's pid as read from the file.
pub fn lock(path: &str, wait_ms: u32) -> io::Result<Result<Lock, u32>> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::io::AsRawFd;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let mut waited = 0u32;
    loop {
        // SAFETY: the fd is owned by `f`, open for the whole call.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) && e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        if waited >= wait_ms {
            let mut s = String::new();
            let _ = f.read_to_string(&mut s);
            return Ok(Err(s.trim().parse().unwrap_or(0)));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited = waited.saturating_add(50);
    }
    let mut b = crate::out::Buf::new();
    let _ = ufmt::uwrite!(b, "{}\n", std::process::id());
    f.set_len(0)?;
    f.rewind()?;
    f.write_all(b.as_bytes())?;
    Ok(Ok(Lock { _file: f }))
}
