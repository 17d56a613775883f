//! The only module that talks to libc directly, split by concern: the
//! clocks and boot identity (`clock`), files and descriptors (`fs`), child
//! processes (`process`), name resolution and TCP (`net`), netfilter's
//! netlink socket (`netlink`), syslog (`syslog`), the state lock (`lock`),
//! stop signals (`signal`) and the terminal (`term`). Every `unsafe` block
//! lives here, each with a `// SAFETY:` line.
//!
//! A leaf: imports nothing from the crate. Callers format what they
//! send and read what they receive; nothing here knows netmon's types.
#![allow(unsafe_code)]

pub mod clock;
pub mod fs;
pub mod lock;
pub mod net;
pub mod netlink;
pub mod process;
pub mod signal;
pub mod syslog;
pub mod term;

pub use clock::{boot_id, monotonic_ms, now, uptime};
pub use fs::{
    create_dirs, hostname, is_dir, lexists, mkdir, open, open_as, read_dir, read_file, read_text,
    stderr_is_tty, write_fd, Fd,
};
pub use lock::{lock, Lock};
pub use net::{connect_tcp, resolve};
pub use process::{getenv, pid, readable, spawn, take, Child, Pump, Status};

use std::io;

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
    // The C library's messages are ASCII in the C locale netmon runs in.
    String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).into_owned()
}

/// Runs a read(2)/write(2)-like call until no signal interrupts it.
pub(crate) fn retry(mut f: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        let n = f();
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A libc return value: negative is the errno error.
pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}
