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
    heapless::String::try_from(s.trim_ascii()).ok()
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
            let pid = crate::parse::parse_u64(s.trim_ascii()).unwrap_or(0);
            return Ok(Err(u32::try_from(pid).unwrap_or(0)));
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

/// Severity of a syslog message (RFC 5424 section 6.2.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Level {
    Err,
    Warning,
    Info,
}

/// Sends one message to syslog as `netmon[PID]` (facility daemon), where
/// OpenWrt's `logread` shows it: cron has no terminal, so failures of
/// cron runs must land there. NUL bytes (which would cut the line)
/// become spaces.
///
/// This is what musl's `openlog("netmon", LOG_PID, LOG_DAEMON)` +
/// `syslog(prio, "%s", msg)` sends, byte for byte (`syslog_line`), done
/// here because musl's syslog drags in its printf engine (with float
/// formatting) and strftime: about 25 KB of the mips binary.
pub fn syslog(level: Level, msg: &str) {
    let prio = match level {
        Level::Err => libc::LOG_ERR,
        Level::Warning => libc::LOG_WARNING,
        Level::Info => libc::LOG_INFO,
    };
    let line = syslog_line(prio | libc::LOG_DAEMON, now(), std::process::id(), msg);
    send_log(&line);
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
    let mut b = crate::out::Buf::new();
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

/// Sends to /dev/log over one datagram socket opened at the first message
/// and kept; like musl, a lost connection (syslogd restarted) is
/// reconnected once, any other failure is silent.
fn send_log(line: &[u8]) {
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

/// Writes all of `b` to file descriptor `fd` (1 = stdout, 2 = stderr),
/// retrying after signals and short writes. Unbuffered on purpose: netmon
/// renders its whole output into one buffer first, and std's stdout/stderr
/// (locks, line buffering, flush at exit) cost ~3 KB on mips.
pub fn write_fd(fd: i32, mut b: &[u8]) -> io::Result<()> {
    while !b.is_empty() {
        // SAFETY: b is valid for b.len() bytes; write does not keep it.
        let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        b = b.get(n as usize..).unwrap_or_default();
    }
    Ok(())
}

/// Whether stderr is a terminal: when it is not (cron, procd), problems
/// also go to syslog so `logread` shows them.
pub fn stderr_is_tty() -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(2) == 1 }
}

/// The router's host name (for HELO, Message-ID and subjects).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim_ascii().into())
        .unwrap_or_default()
}

/// Feeds a child's stdin and drains its stderr from one thread, with
/// poll(2): neither pipe can block the caller, and no thread is spawned
/// (std's threads and channels cost ~20 KB on mips). stdin is closed once
/// `input` is written (the child sees EOF) or the child stops reading;
/// stderr is kept up to `cap` bytes and read on to its end.
pub struct Pump {
    stdin: Option<std::process::ChildStdin>,
    input: Vec<u8>,
    written: usize,
    stderr: Option<std::process::ChildStderr>,
    cap: usize,
    /// The first `cap` bytes of stderr read so far.
    pub err: Vec<u8>,
}

impl Pump {
    pub fn new(
        stdin: Option<std::process::ChildStdin>,
        input: Vec<u8>,
        stderr: Option<std::process::ChildStderr>,
        cap: usize,
    ) -> Pump {
        use std::os::unix::io::AsRawFd;
        if let Some(s) = &stdin {
            // SAFETY: fcntl on a descriptor `s` owns; only our end of the
            // pipe becomes non-blocking (the child's end is another open
            // file description).
            unsafe {
                let fl = libc::fcntl(s.as_raw_fd(), libc::F_GETFL);
                if fl >= 0 {
                    libc::fcntl(s.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
                }
            }
        }
        let mut p = Pump {
            stdin,
            input,
            written: 0,
            stderr,
            cap,
            err: Vec::new(),
        };
        p.close_stdin_when_done();
        p
    }

    /// Whether stderr has ended (EOF or a read error).
    pub fn stderr_done(&self) -> bool {
        self.stderr.is_none()
    }

    /// Stops writing: the rest of the input is not wanted any more.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn close_stdin_when_done(&mut self) {
        if self.written >= self.input.len() {
            self.stdin = None;
        }
    }

    /// Waits up to `ms` for a pipe to be ready and moves what it can.
    pub fn step(&mut self, ms: u32) {
        use std::io::{Read, Write};
        use std::os::unix::io::AsRawFd;
        let fd = |r: Option<i32>, events| libc::pollfd {
            fd: r.unwrap_or(-1),
            events,
            revents: 0,
        };
        let mut fds = [
            fd(self.stdin.as_ref().map(|s| s.as_raw_fd()), libc::POLLOUT),
            fd(self.stderr.as_ref().map(|s| s.as_raw_fd()), libc::POLLIN),
        ];
        // SAFETY: `fds` is a valid array of fds.len() pollfd; a negative
        // fd is ignored by poll.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms as i32) };
        if n <= 0 {
            return;
        }
        let [inp, errp] = fds;
        if inp.revents != 0 {
            if let Some(s) = self.stdin.as_mut() {
                let rest = self.input.get(self.written..).unwrap_or_default();
                match s.write(rest) {
                    Ok(k) => self.written = self.written.saturating_add(k),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // EPIPE: the child exited early; its status tells why.
                    Err(_) => self.written = self.input.len(),
                }
            }
            self.close_stdin_when_done();
        }
        if errp.revents != 0 {
            let mut buf = [0u8; 512];
            let r = match self.stderr.as_mut() {
                Some(s) => s.read(&mut buf),
                None => return,
            };
            match r {
                Ok(k) if k > 0 => {
                    let room = self.cap.saturating_sub(self.err.len());
                    self.err
                        .extend_from_slice(buf.get(..k.min(room)).unwrap_or_default());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => self.stderr = None,
            }
        }
    }
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
