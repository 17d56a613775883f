//! One writer at a time: an exclusive flock(2) on a file that names its
//! holder (the state lock, and the mail spool's delivery lock).
#![allow(unsafe_code)]

use super::cvt;
use super::fs::{open, read_all, Fd};
use super::process::pid;
use std::io;

/// An exclusive advisory lock (flock) held until dropped.
pub struct Lock {
    _file: Fd,
}

/// Takes the exclusive lock on `path`, waiting at most `wait_ms` (0: one
/// try, no wait). On success the file holds our pid (so a waiting process
/// can name the holder). On timeout returns the holder's pid as read from
/// the file.
pub fn lock(path: &str, wait_ms: u32) -> io::Result<Result<Lock, u32>> {
    let mut f = open(path, libc::O_RDWR | libc::O_CREAT, 0o644)?;
    let mut waited = 0u32;
    loop {
        // SAFETY: the fd is owned by `f`, open for the whole call.
        let rc = unsafe { libc::flock(f.0, libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) && e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        if waited >= wait_ms {
            // Unreadable or not UTF-8 reads as no pid (0).
            let s = read_all(&mut f).unwrap_or_default();
            let s = core::str::from_utf8(&s).unwrap_or("");
            return Ok(Err(s.trim_ascii().parse().unwrap_or(0)));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited = waited.saturating_add(50);
    }
    let mut b = heapless::String::<12>::new();
    let _ = ufmt::uwrite!(b, "{}\n", pid());
    // SAFETY: ftruncate/lseek on the descriptor `f` owns.
    cvt(unsafe { libc::ftruncate(f.0, 0) })?;
    // SAFETY: as above.
    if unsafe { libc::lseek(f.0, 0, libc::SEEK_SET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    f.write_all(b.as_bytes())?;
    Ok(Ok(Lock { _file: f }))
}
