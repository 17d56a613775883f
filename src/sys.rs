//! The only module that talks to libc directly: clock, errno text, flock,
//! syslog, and child processes (`spawn`, `Child`, `Pump`).
#![allow(unsafe_code)]

use std::io;

/// Seconds since the Unix epoch, from the real-time clock. The one place
/// netmon reads the clock; everything else takes `now` as an argument.
pub fn now() -> i64 {
    // SAFETY: an all-zero timespec is a valid out-buffer.
    let mut ts: libc::timespec = unsafe { core::mem::zeroed() };
    // SAFETY: ts is a valid out-buffer; CLOCK_REALTIME always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    // Whole seconds toward zero, as SystemTime's distance from the epoch
    // gave them (before 1970 too).
    let s = ts.tv_sec as i64;
    if s < 0 && ts.tv_nsec > 0 {
        s + 1
    } else {
        s
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
    crate::out::lossy(buf.get(..end).unwrap_or_default())
}

/// The kernel's boot id (a new random UUID at every boot), trimmed.
pub fn boot_id() -> Option<heapless::String<40>> {
    let s = read_text("/proc/sys/kernel/random/boot_id").ok()?;
    heapless::String::try_from(s.trim_ascii()).ok()
}

/// An exclusive advisory lock (flock) held until dropped.
pub struct Lock {
    _file: Fd,
}

/// Takes the exclusive lock on `path`, waiting at most `wait_ms`. On
/// success the file holds our pid (so a waiting process can name the
/// holder). On timeout returns the holder's pid as read from the file.
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
            let pid = crate::parse::parse_u64(s.trim_ascii()).unwrap_or(0);
            return Ok(Err(u32::try_from(pid).unwrap_or(0)));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited = waited.saturating_add(50);
    }
    let mut b = crate::out::Buf::new();
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
    let line = syslog_line(prio | libc::LOG_DAEMON, now(), pid(), msg);
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
        let n = retry(|| unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) })?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        b = b.get(n..).unwrap_or_default();
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
    read_text("/proc/sys/kernel/hostname")
        .map(|s| s.trim_ascii().into())
        .unwrap_or_default()
}

/// Our end of a pipe to a child (or any owned descriptor), closed on
/// drop. Reads and writes retry when a signal interrupts them.
#[derive(Debug)]
pub struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours alone and closed exactly once.
        unsafe { libc::close(self.0) };
    }
}

/// Runs a read(2)/write(2)-like call until no signal interrupts it.
fn retry(mut f: impl FnMut() -> isize) -> io::Result<usize> {
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

impl Fd {
    /// Writes all of `b` (see `write_fd`).
    pub fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        write_fd(self.0, b)
    }

    /// fsync(2): the file's data and metadata reach the disk.
    pub fn sync_all(&self) -> io::Result<()> {
        // SAFETY: fsync on the descriptor we own.
        cvt(unsafe { libc::fsync(self.0) }).map(|_| ())
    }

    /// Reads until `buf` is full or the end of input; returns the bytes read.
    pub fn read_full(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while let Some(rest @ [_, ..]) = buf.get_mut(n..) {
            match io::Read::read(self, rest)? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }
}

/// Everything left to read from `f`.
fn read_all(f: &mut Fd) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match io::Read::read(f, &mut chunk)? {
            0 => return Ok(v),
            n => v.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

impl io::Read for Fd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of buf.len() bytes.
        retry(|| unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) })
    }
}

impl io::Write for Fd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for reads of buf.len() bytes.
        retry(|| unsafe { libc::write(self.0, buf.as_ptr().cast(), buf.len()) })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// This process's id.
pub fn pid() -> u32 {
    // SAFETY: getpid cannot fail and takes no pointers.
    unsafe { libc::getpid() as u32 }
}

/// An environment variable as UTF-8 text; None when unset or not UTF-8
/// (what `std::env::var(..).ok()` gives, without std's environment
/// lock: netmon never changes its environment).
pub fn getenv(name: &std::ffi::CStr) -> Option<String> {
    // SAFETY: `name` is NUL-terminated; a non-NULL result points to a
    // NUL-terminated string in the environment, which nothing changes
    // while it is copied here.
    unsafe {
        let p = libc::getenv(name.as_ptr());
        if p.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(p).to_str().ok().map(String::from)
    }
}

/// How a child ended: a raw waitpid(2) status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(libc::c_int);

impl Status {
    /// Exited with status 0.
    pub fn success(self) -> bool {
        self.code() == Some(0)
    }

    /// The exit status, or None when a signal ended it.
    pub fn code(self) -> Option<i32> {
        if libc::WIFEXITED(self.0) {
            Some(libc::WEXITSTATUS(self.0))
        } else {
            None
        }
    }
}

/// A running child process with our ends of the pipes asked for.
/// Dropping it without `wait` leaves a zombie until netmon exits.
pub struct Child {
    pid: libc::pid_t,
    status: Option<Status>,
    pub stdin: Option<Fd>,
    pub stdout: Option<Fd>,
    pub stderr: Option<Fd>,
}

/// `C` locale for every tool: parsers and messages expect its output.
const LC_ALL_C: &[u8] = b"LC_ALL=C\0";

extern "C" {
    /// The process environment (POSIX), NULL-terminated.
    static environ: *const *const libc::c_char;
}

extern "C" {
    /// POSIX inet_pton(3) (the `libc` crate does not bind it).
    fn inet_pton(af: libc::c_int, src: *const libc::c_char, dst: *mut libc::c_void) -> libc::c_int;
}

/// argv[0] is looked up in PATH (posix_spawnp); stdin, stdout, stderr
/// (`pipes[0..3]`) are each a pipe to us or /dev/null. The child's
/// environment is ours with `LC_ALL=C` replacing any `LC_ALL` when
/// `c_locale`. Our pipe ends are close-on-exec, so no other child
/// inherits them. An argument holding a NUL is `InvalidInput`; a
/// missing program is `NotFound` (ENOENT from posix_spawnp, which
/// reports the child's exec failure).
pub fn spawn(argv: &[&str], pipes: [bool; 3], c_locale: bool) -> io::Result<Child> {
    let strings = c_strings(argv)?;
    let args = pointers(&strings);
    let env = if c_locale { child_env() } else { Vec::new() };
    let mut ours = [None, None, None];
    // Child ends: closed here (on drop) once the child has its copies.
    let mut theirs = [None, None, None];
    let mut actions = Actions::new()?;
    for (i, pipe) in pipes.into_iter().enumerate() {
        let fd = i as libc::c_int;
        if pipe {
            let (r, w) = pipe_pair()?;
            let (mine, child) = if i == 0 { (w, r) } else { (r, w) };
            actions.dup2(&child, fd)?;
            ours[i] = Some(mine);
            theirs[i] = Some(child);
        } else {
            actions.dev_null(fd, i > 0)?;
        }
    }
    let attr = Attr::new()?;
    let mut pid: libc::pid_t = 0;
    // SAFETY: `args` and `env` are NULL-terminated arrays of pointers to
    // NUL-terminated strings (in `strings`, `environ` and LC_ALL_C) that
    // outlive the call; args[0] is non-NULL (c_strings refuses an empty
    // argv); the actions and attributes are initialised.
    let rc = unsafe {
        // SAFETY (environ): read here, not written; netmon never changes
        // its environment.
        let envp = if c_locale { env.as_ptr() } else { environ };
        libc::posix_spawnp(
            &mut pid,
            args.first().copied().unwrap_or(std::ptr::null()),
            &actions.0,
            &attr.0,
            args.as_ptr().cast(),
            envp.cast(),
        )
    };
    drop(theirs);
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let [stdin, stdout, stderr] = ours;
    Ok(Child {
        pid,
        status: None,
        stdin,
        stdout,
        stderr,
    })
}

/// The strings NUL-terminated, back to back.
fn c_strings(argv: &[&str]) -> io::Result<Vec<u8>> {
    if argv.is_empty() || argv.iter().any(|a| a.as_bytes().contains(&0)) {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let mut b = Vec::new();
    for a in argv {
        b.extend_from_slice(a.as_bytes());
        b.push(0);
    }
    Ok(b)
}

/// Pointers to each string in `c_strings`' buffer, then NULL.
fn pointers(b: &[u8]) -> Vec<*const libc::c_char> {
    let mut v = Vec::new();
    let mut start = true;
    for (i, &c) in b.iter().enumerate() {
        if start {
            v.push(b.as_ptr().wrapping_add(i).cast());
        }
        start = c == 0;
    }
    v.push(std::ptr::null());
    v
}

/// `environ` without its `LC_ALL` entries, plus `LC_ALL=C`, then NULL.
fn child_env() -> Vec<*const libc::c_char> {
    let mut v = Vec::new();
    // SAFETY: environ is NULL or a NULL-terminated array of pointers to
    // NUL-terminated strings; strncmp stops at the first NUL.
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            if libc::strncmp(*p, LC_ALL_C.as_ptr().cast(), 7) != 0 {
                v.push(*p);
            }
            p = p.add(1);
        }
    }
    v.push(LC_ALL_C.as_ptr().cast());
    v.push(std::ptr::null());
    v
}

/// A pipe (read end, write end), both close-on-exec.
fn pipe_pair() -> io::Result<(Fd, Fd)> {
    let mut p = [0; 2];
    // SAFETY: `p` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((Fd(p[0]), Fd(p[1])))
}

/// Turns a posix_spawn* return value (an errno, 0 for success) into a
/// Result.
fn nz(rc: libc::c_int) -> io::Result<()> {
    match rc {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// posix_spawn file actions, destroyed on drop.
struct Actions(libc::posix_spawn_file_actions_t);

impl Actions {
    fn new() -> io::Result<Actions> {
        // SAFETY: the all-zero value is only storage; init fills it in.
        let mut a = Actions(unsafe { std::mem::zeroed() });
        // SAFETY: `a.0` is valid storage for the object.
        nz(unsafe { libc::posix_spawn_file_actions_init(&mut a.0) })?;
        Ok(a)
    }

    /// In the child: `to` becomes a copy of `from` (without close-on-exec).
    fn dup2(&mut self, from: &Fd, to: libc::c_int) -> io::Result<()> {
        // SAFETY: the actions are initialised; `from` stays open until
        // the spawn is done.
        nz(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, from.0, to) })
    }

    /// In the child: `to` is /dev/null, opened for writing or reading.
    fn dev_null(&mut self, to: libc::c_int, write: bool) -> io::Result<()> {
        let mode = if write {
            libc::O_WRONLY
        } else {
            libc::O_RDONLY
        };
        // SAFETY: the actions are initialised; the path is NUL-terminated
        // (and copied by the C library).
        nz(unsafe {
            libc::posix_spawn_file_actions_addopen(&mut self.0, to, c"/dev/null".as_ptr(), mode, 0)
        })
    }
}

impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// posix_spawn attributes: SIGPIPE back to its default action in the
/// child, as std's Command does (Rust ignores SIGPIPE in netmon, and an
/// ignored signal stays ignored across exec).
struct Attr(libc::posix_spawnattr_t);

impl Attr {
    fn new() -> io::Result<Attr> {
        // SAFETY: the all-zero values are only storage that init and
        // sigemptyset fill in; every pointer is to a local.
        unsafe {
            let mut a = Attr(std::mem::zeroed());
            nz(libc::posix_spawnattr_init(&mut a.0))?;
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            nz(libc::posix_spawnattr_setsigdefault(&mut a.0, &set))?;
            nz(libc::posix_spawnattr_setflags(
                &mut a.0,
                libc::POSIX_SPAWN_SETSIGDEF as libc::c_short,
            ))?;
            Ok(a)
        }
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

impl Child {
    /// Waits for the child to end (closing our end of its stdin first,
    /// so a child reading it sees EOF).
    pub fn wait(&mut self) -> io::Result<Status> {
        self.stdin = None;
        loop {
            if let Some(s) = self.reap(0)? {
                return Ok(s);
            }
        }
    }

    /// The status if the child has ended, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<Status>> {
        self.reap(libc::WNOHANG)
    }

    /// SIGKILL, unless it was already reaped (its pid may be reused).
    pub fn kill(&mut self) {
        if self.status.is_none() {
            // SAFETY: kill takes no pointers; `pid` is our unreaped child.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }

    fn reap(&mut self, flags: libc::c_int) -> io::Result<Option<Status>> {
        while self.status.is_none() {
            let mut st = 0;
            // SAFETY: `st` is a valid place for the status.
            let r = unsafe { libc::waitpid(self.pid, &mut st, flags) };
            if r > 0 {
                self.status = Some(Status(st));
            } else if r == 0 {
                return Ok(None);
            } else {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
        Ok(self.status)
    }
}

/// Feeds a child's stdin and drains its stdout and stderr from one
/// thread, with poll(2): no pipe can block the caller, and no thread is
/// spawned (std's threads and channels cost ~20 KB on mips). stdin is
/// closed once `input` is written (the child sees EOF) or the child
/// stops reading; stdout and stderr are each kept up to `cap` bytes and
/// read on to their end.
pub struct Pump {
    stdin: Option<Fd>,
    input: Vec<u8>,
    written: usize,
    stdout: Option<Fd>,
    stderr: Option<Fd>,
    cap: usize,
    /// The first `cap` bytes of stdout read so far.
    pub out: Vec<u8>,
    /// The first `cap` bytes of stderr read so far.
    pub err: Vec<u8>,
}

impl Pump {
    pub fn new(
        stdin: Option<Fd>,
        input: Vec<u8>,
        stdout: Option<Fd>,
        stderr: Option<Fd>,
        cap: usize,
    ) -> Pump {
        if let Some(s) = &stdin {
            // SAFETY: fcntl on a descriptor `s` owns; only our end of the
            // pipe becomes non-blocking (the child's end is another open
            // file description).
            unsafe {
                let fl = libc::fcntl(s.0, libc::F_GETFL);
                if fl >= 0 {
                    libc::fcntl(s.0, libc::F_SETFL, fl | libc::O_NONBLOCK);
                }
            }
        }
        let mut p = Pump {
            stdin,
            input,
            written: 0,
            stdout,
            stderr,
            cap,
            out: Vec::new(),
            err: Vec::new(),
        };
        p.close_stdin_when_done();
        p
    }

    /// Whether stdout and stderr have ended (EOF or a read error).
    pub fn reads_done(&self) -> bool {
        self.stdout.is_none() && self.stderr.is_none()
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

    /// Waits up to `ms` (-1: until one is ready) for a pipe to be ready
    /// and moves what it can.
    pub fn step(&mut self, ms: i32) {
        use std::io::Write;
        let fd = |f: &Option<Fd>, events| libc::pollfd {
            fd: f.as_ref().map_or(-1, |f| f.0),
            events,
            revents: 0,
        };
        let mut fds = [
            fd(&self.stdin, libc::POLLOUT),
            fd(&self.stdout, libc::POLLIN),
            fd(&self.stderr, libc::POLLIN),
        ];
        // SAFETY: `fds` is a valid array of fds.len() pollfd; a negative
        // fd is ignored by poll.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n <= 0 {
            return;
        }
        let [inp, outp, errp] = fds;
        if inp.revents != 0 {
            if let Some(s) = self.stdin.as_mut() {
                let rest = self.input.get(self.written..).unwrap_or_default();
                match s.write(rest) {
                    Ok(k) => self.written = self.written.saturating_add(k),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // EPIPE: the child exited early; its status tells why.
                    Err(_) => self.written = self.input.len(),
                }
            }
            self.close_stdin_when_done();
        }
        if outp.revents != 0 {
            take(&mut self.stdout, &mut self.out, self.cap);
        }
        if errp.revents != 0 {
            take(&mut self.stderr, &mut self.err, self.cap);
        }
    }
}

/// One read from a ready pipe into `kept` (up to `cap` bytes in all);
/// at EOF or on an error the pipe is closed.
pub fn take(src: &mut Option<Fd>, kept: &mut Vec<u8>, cap: usize) {
    use std::io::Read;
    let mut buf = [0u8; 512];
    let Some(f) = src.as_mut() else { return };
    match f.read(&mut buf) {
        Ok(k) if k > 0 => {
            let room = cap.saturating_sub(kept.len());
            kept.extend_from_slice(buf.get(..k.min(room)).unwrap_or_default());
        }
        _ => *src = None,
    }
}

/// poll(2) for input: which of `fds` can be read without blocking (data,
/// EOF or an error), waiting up to `ms` (-1: until one can). `None`
/// entries are not watched. A signal ends the wait with none ready.
pub fn readable<const N: usize>(fds: [Option<&Fd>; N], ms: i32) -> io::Result<[bool; N]> {
    let mut p = fds.map(|f| libc::pollfd {
        fd: f.map_or(-1, |f| f.0),
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: `p` is a valid array of p.len() pollfd; a negative fd is
    // ignored by poll.
    let n = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        return Ok([false; N]);
    }
    Ok(p.map(|p| p.revents != 0))
}

/// Opens `path` with open(2) `flags` (O_CLOEXEC added) and `mode` for a
/// new file. (std's `File::open`/`OpenOptions` carry boxed error strings
/// and their `Debug` machinery: ~3 KB on mips; a plain `Fd`, not a
/// `File`, links only the few calls netmon makes.)
pub fn open(path: &str, flags: libc::c_int, mode: libc::mode_t) -> io::Result<Fd> {
    let c = cpath(path)?;
    // SAFETY: c is NUL-terminated; open takes the mode as a variadic uint.
    let fd = retry(|| unsafe {
        libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) as isize
    })?;
    // fd is an int from open, so in range, and a new descriptor.
    Ok(Fd(fd as libc::c_int))
}

/// `path` as a C string; an inner NUL is `InvalidInput`.
fn cpath(path: &str) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(path).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// mkdir(2) with mode 0777 (less the umask), as `fs::create_dir` does.
pub fn mkdir(path: &str) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: c is NUL-terminated.
    cvt(unsafe { libc::mkdir(c.as_ptr(), 0o777) }).map(|_| ())
}

/// Whether anything (even a dangling symlink) is at `path`: lstat(2)
/// succeeds.
pub fn lexists(path: &str) -> bool {
    let Ok(c) = cpath(path) else { return false };
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: c is NUL-terminated, st a valid out-buffer.
    unsafe { libc::lstat(c.as_ptr(), &mut st) == 0 }
}

/// The whole content of file `path`.
pub fn read_file(path: &str) -> io::Result<Vec<u8>> {
    read_all(&mut open(path, libc::O_RDONLY, 0)?)
}

/// The UTF-8 names in directory `path` (not `.` and `..`), in directory
/// order; with `files_only`, only regular files (`d_type`, or lstat where
/// the file system leaves it unknown, as `DirEntry::file_type` does).
/// A read error ends the list, as it ends std's `ReadDir`. (std's
/// `read_dir` is an `Arc`-shared iterator of `DirEntry`s: ~1.2 KB on mips.)
pub fn read_dir(path: &str, files_only: bool) -> io::Result<Vec<String>> {
    let c = cpath(path)?;
    // SAFETY: c is NUL-terminated; a non-NULL DIR is closed below.
    let d = unsafe { libc::opendir(c.as_ptr()) };
    if d.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut names = Vec::new();
    loop {
        // SAFETY: d is an open DIR; the entry stays valid until the next
        // readdir/closedir, and is copied out before either.
        let e = unsafe { libc::readdir(d) };
        if e.is_null() {
            break;
        }
        // SAFETY: e points to a valid dirent whose d_name is NUL-terminated.
        let (name, ty) = unsafe { (std::ffi::CStr::from_ptr((*e).d_name.as_ptr()), (*e).d_type) };
        let Ok(n) = name.to_str() else { continue };
        if n == "." || n == ".." || (files_only && !is_file(d, name, ty)) {
            continue;
        }
        names.push(n.into());
    }
    // SAFETY: d is open and not used after this.
    unsafe { libc::closedir(d) };
    Ok(names)
}

/// Whether entry `name` of open directory `d` with `d_type` `ty` is a
/// regular file (not following a symlink).
fn is_file(d: *mut libc::DIR, name: &std::ffi::CStr, ty: u8) -> bool {
    if ty != libc::DT_UNKNOWN {
        return ty == libc::DT_REG;
    }
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: d is an open DIR, name NUL-terminated, st a valid out-buffer.
    let rc = unsafe {
        libc::fstatat(
            libc::dirfd(d),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    rc == 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// The whole content of text file `path`; not UTF-8 is `InvalidData`.
pub fn read_text(path: &str) -> io::Result<String> {
    String::from_utf8(read_file(path)?).map_err(|_| io::ErrorKind::InvalidData.into())
}

/// The addresses of `host` (a name, or an IPv4/IPv6 literal) for a TCP
/// connection to `port`, in the C library's order (`getaddrinfo`: the hosts
/// file, then the resolvers of resolv.conf, RFC 6724 sorting). Empty when
/// it cannot be resolved. (std's `ToSocketAddrs` does the same through a
/// `format!`-built error and its own iterator: ~2 KB more on mips.)
pub fn resolve(host: &str, port: u16) -> Vec<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    let mut out = Vec::new();
    let Ok(name) = std::ffi::CString::new(host) else {
        return out;
    };
    // SAFETY: an all-zero addrinfo is the documented "no hints" value.
    let mut hints: libc::addrinfo = unsafe { core::mem::zeroed() };
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut list: *mut libc::addrinfo = core::ptr::null_mut();
    // SAFETY: name is NUL-terminated; hints and list are valid; the list
    // getaddrinfo allocates is freed below.
    if unsafe { libc::getaddrinfo(name.as_ptr(), core::ptr::null(), &hints, &mut list) } != 0 {
        return out;
    }
    let mut p = list;
    while !p.is_null() {
        // SAFETY: p is a node of the list getaddrinfo returned; ai_addr
        // points to a sockaddr of the size its family implies.
        let (ai, next) = unsafe { (&*p, (*p).ai_next) };
        if ai.ai_family == libc::AF_INET && !ai.ai_addr.is_null() {
            // SAFETY: family AF_INET: a sockaddr_in.
            let a = unsafe { &*ai.ai_addr.cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            out.push(SocketAddr::V4(SocketAddrV4::new(ip, port)));
        } else if ai.ai_family == libc::AF_INET6 && !ai.ai_addr.is_null() {
            // SAFETY: family AF_INET6: a sockaddr_in6.
            let a = unsafe { &*ai.ai_addr.cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let v6 = SocketAddrV6::new(ip, port, a.sin6_flowinfo, a.sin6_scope_id);
            out.push(SocketAddr::V6(v6));
        }
        p = next;
    }
    // SAFETY: list came from getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    out
}

/// An IPv4 (dotted quad) or IPv6 (RFC 4291 text, IPv4 tail allowed)
/// address, as inet_pton(3) reads it: four decimal parts without leading
/// zeros, or hex groups with at most one `::`; no zone, prefix or blanks.
/// (core's `IpAddr::from_str` accepts the same forms but is ~1.5 KB on
/// mips, and the C library's inet_pton is linked for getaddrinfo anyway.)
pub fn parse_ip(s: &str) -> Option<std::net::IpAddr> {
    // 45 bytes is the longest address text (six groups and a dotted quad).
    let mut c = [0u8; 46];
    if s.len() >= c.len() || s.bytes().any(|b| b == 0) {
        return None;
    }
    c.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
    let mut out = [0u8; 16];
    let v6 = s.bytes().any(|b| b == b':');
    let af = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: c is NUL-terminated (s has no NUL and is shorter than c);
    // out has room for an in6_addr (16 bytes), more than an in_addr.
    let ok = unsafe { inet_pton(af, c.as_ptr().cast(), out.as_mut_ptr().cast()) } == 1;
    match (ok, v6) {
        (false, _) => None,
        (true, true) => Some(std::net::Ipv6Addr::from(out).into()),
        (true, false) => {
            let [a, b, c, d, ..] = out;
            Some(std::net::Ipv4Addr::new(a, b, c, d).into())
        }
    }
}

/// A TCP connection to `addr`, waiting at most `timeout_ms` for it (a
/// non-blocking connect, then poll). A timeout is `ErrorKind::TimedOut`.
pub fn connect_tcp(
    addr: &std::net::SocketAddr,
    timeout_ms: u32,
) -> io::Result<std::net::TcpStream> {
    use std::net::SocketAddr;
    use std::os::fd::FromRawFd;
    // SAFETY: zeroed sockaddr_storage is a valid (unspecified) address.
    let mut ss: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    let (family, len) = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let s = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            s.sin_family = libc::AF_INET as libc::sa_family_t;
            s.sin_port = a.port().to_be();
            s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            (libc::AF_INET, core::mem::size_of::<libc::sockaddr_in>())
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let s = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            s.sin6_port = a.port().to_be();
            s.sin6_addr.s6_addr = a.ip().octets();
            s.sin6_flowinfo = a.flowinfo();
            s.sin6_scope_id = a.scope_id();
            (libc::AF_INET6, core::mem::size_of::<libc::sockaddr_in6>())
        }
    };
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: plain socket(2); the descriptor is owned by `fd` below.
    let fd = Fd(cvt(unsafe { libc::socket(family, ty, 0) })?);
    let sa = (&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr>();
    // SAFETY: sa points to an initialised address of `len` bytes.
    if unsafe { libc::connect(fd.0, sa, len as libc::socklen_t) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
        wait_connected(&fd, timeout_ms)?;
        // The outcome: a second connect returns 0/EISCONN once connected,
        // else the error that ended the attempt (as errno, which qemu-user
        // translates; SO_ERROR's value it passes through untranslated).
        // SAFETY: as above.
        if unsafe { libc::connect(fd.0, sa, len as libc::socklen_t) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EISCONN) {
                return Err(e);
            }
        }
    }
    // Back to blocking: the session uses read/write timeouts (SO_RCVTIMEO).
    // SAFETY: fcntl on a descriptor we own.
    let fl = cvt(unsafe { libc::fcntl(fd.0, libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd.0, libc::F_SETFL, fl & !libc::O_NONBLOCK) })?;
    let raw = fd.0;
    core::mem::forget(fd);
    // SAFETY: raw is a connected TCP socket nobody else owns.
    Ok(unsafe { std::net::TcpStream::from_raw_fd(raw) })
}

/// Waits at most `timeout_ms` for a non-blocking connect on `fd` to finish
/// (successfully or not).
fn wait_connected(fd: &Fd, timeout_ms: u32) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd: fd.0,
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = i32::try_from(timeout_ms).unwrap_or(i32::MAX);
    loop {
        // SAFETY: one valid pollfd. (A signal restarts the full wait: netmon
        // installs no handlers, so EINTR does not happen in practice.)
        match unsafe { libc::poll(&mut p, 1, ms) } {
            0 => return Err(io::ErrorKind::TimedOut.into()),
            n if n > 0 => break,
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// A libc return value: negative is the errno error.
fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_the_system_time() {
        let std_now = || {
            let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            d.unwrap().as_secs() as i64
        };
        let (a, n, b) = (std_now(), super::now(), std_now());
        assert!(a <= n && n <= b, "{a} {n} {b}");
    }

    #[test]
    fn parse_ip_agrees_with_std() {
        let cases = [
            "192.168.1.10",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1.2.3.",
            "1..2.3",
            "1.2.3.0x1",
            "+1.2.3.4",
            "",
            "::",
            "::1",
            "1::",
            ":::",
            "1:::2",
            "1::2::3",
            "fd00::",
            "FD00::A",
            "2001:db8::1:0:0:1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1::2:3:4:5:6:7",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
            "12345::",
            "0000:0000:0000:0000:0000:0000:0000:0001",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "1:2:3:4:5:1.2.3.4",
            "1::1.2.3.4",
            "::ffff:01.2.3.4",
            "::ffff:1.2.3",
            "fe80::1%eth0",
            "::1/128",
            ":1::",
            "1:",
            "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
            "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555",
            "1.2.3.4\0",
            "é::",
        ];
        for s in cases {
            assert_eq!(super::parse_ip(s), s.parse().ok(), "{s:?}");
        }
    }

    #[test]
    fn read_dir_lists_names_and_regular_files() {
        let d = std::env::temp_dir().join(format!("netmon-sys-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("a"), "x").unwrap();
        std::fs::write(d.join(".h"), "x").unwrap();
        std::os::unix::fs::symlink("a", d.join("link")).unwrap();
        let ds = d.to_str().unwrap();
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let all = sorted(super::read_dir(ds, false).unwrap());
        assert_eq!(all, [".h", "a", "link", "sub"]);
        assert_eq!(sorted(super::read_dir(ds, true).unwrap()), [".h", "a"]);
        let e = super::read_dir(d.join("missing").to_str().unwrap(), false).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn read_file_open_and_read_text() {
        let d = std::env::temp_dir().join(format!("netmon-sys-read-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("big");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let ps = p.to_str().unwrap();
        assert_eq!(
            super::read_file(ps).unwrap(),
            data,
            "more than one 4 KiB chunk"
        );
        assert_eq!(
            super::read_text(ps).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
        let missing = d.join("missing");
        let e = super::read_file(missing.to_str().unwrap()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert!(super::read_file("a\0b").is_err());
        let n = d.join("new");
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
        let f = super::open(n.to_str().unwrap(), flags, 0o600).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&n).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // SAFETY: fcntl on an open descriptor of ours.
        let fd_flags = unsafe { libc::fcntl(f.0, libc::F_GETFD) };
        assert_ne!(fd_flags & libc::FD_CLOEXEC, 0, "not inherited by tools");
        drop(f);
        let e = super::open(n.to_str().unwrap(), flags, 0o600).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        std::fs::write(&n, "eth0.2\n").unwrap();
        assert_eq!(super::read_text(n.to_str().unwrap()).unwrap(), "eth0.2\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn resolve_literals_and_the_hosts_file() {
        use std::net::SocketAddr;
        let v4: SocketAddr = "127.0.0.1:25".parse().unwrap();
        assert_eq!(super::resolve("127.0.0.1", 25), vec![v4]);
        let v6: SocketAddr = "[::1]:587".parse().unwrap();
        assert_eq!(super::resolve("::1", 587), vec![v6]);
        let local = super::resolve("localhost", 2525);
        assert!(
            local
                .iter()
                .any(|a| a.ip().is_loopback() && a.port() == 2525),
            "{local:?}"
        );
        assert!(super::resolve("bad\0host", 25).is_empty());
        assert!(super::resolve("", 25).is_empty());
    }

    #[test]
    fn connect_tcp_connects_and_reports_refusal() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut c = super::connect_tcp(&addr, 5000).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(b"EHLO x\r\n").unwrap();
        let mut got = [0u8; 8];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"EHLO x\r\n");
        // Blocking again after the non-blocking connect: a read waits.
        s.write_all(b"250 ok").unwrap();
        let mut r = [0u8; 6];
        c.read_exact(&mut r).unwrap();
        assert_eq!(&r, b"250 ok");
        drop((c, s, l));
        // A port nothing listens on: reserved as UDP (TCP's port space is
        // separate). Not the closed listener's port: a child being spawned
        // by a parallel test may still hold that socket until its exec.
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let e = super::connect_tcp(&udp.local_addr().unwrap(), 5000).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
        if let Ok(l6) = std::net::TcpListener::bind("[::1]:0") {
            let c6 = super::connect_tcp(&l6.local_addr().unwrap(), 5000).unwrap();
            assert!(c6.peer_addr().unwrap().is_ipv6());
        } else {
            eprintln!("no IPv6 loopback here: [::1] connect not checked");
        }
    }

    use super::*;

    /// Runs `f` on a thread and fails if it takes longer than 60 s: a
    /// pipe deadlock must fail the test, not hang it.
    fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("deadlock: child I/O did not finish in 60 s")
    }

    fn status(argv: &[&str]) -> Status {
        spawn(argv, [false; 3], true).unwrap().wait().unwrap()
    }

    #[test]
    fn exit_status_of_tools() {
        assert!(status(&["true"]).success());
        let s = status(&["false"]);
        assert!(!s.success());
        assert_eq!(s.code(), Some(1));
        // stderr is /dev/null here: nothing shows in the test output.
        assert_eq!(status(&["ls", "/nonexistent-netmon-xyz"]).code(), Some(2));
        assert_eq!(status(&["sh", "-c", "exit 75"]).code(), Some(75));
    }

    #[test]
    fn killed_child_has_no_exit_code_and_is_reaped_once() {
        let mut c = spawn(&["sleep", "30"], [false; 3], true).unwrap();
        assert_eq!(c.try_wait().unwrap(), None);
        c.kill();
        let s = c.wait().unwrap();
        assert_eq!(s.code(), None);
        assert!(!s.success());
        c.kill(); // reaped: no signal may go to a reused pid
        assert_eq!(c.try_wait().unwrap(), Some(s));
        assert_eq!(c.wait().unwrap(), s);
    }

    #[test]
    fn missing_program_and_bad_argv_are_errors() {
        for argv in [
            &["/nonexistent/tool-xyz"][..],
            &["nonexistent-tool-xyz", "-a"],
        ] {
            let e = spawn(argv, [true; 3], true).err().unwrap();
            assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{argv:?}");
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
        }
        let e = spawn(&["/etc/passwd"], [false; 3], true).err().unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
        for argv in [&[][..], &["ls", "a\0b"]] {
            let e = spawn(argv, [false; 3], true).err().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn large_stdout_is_read_in_full_while_stderr_is_written() {
        use std::io::{BufRead, Read};
        // 1.3 MB on stdout (20 pipe buffers), then a line on stderr.
        let (lines, bytes, err, st) = bounded(|| {
            let argv = ["sh", "-c", "seq 1 200000; echo oops >&2"];
            let mut c = spawn(&argv, [false, true, true], true).unwrap();
            let mut r = std::io::BufReader::new(c.stdout.take().unwrap());
            let (mut lines, mut bytes, mut line) = (0, 0, String::new());
            while r.read_line(&mut line).unwrap() > 0 {
                lines += 1;
                bytes += line.len();
                line.clear();
            }
            let mut err = Vec::new();
            c.stderr.take().unwrap().read_to_end(&mut err).unwrap();
            (lines, bytes, err, c.wait().unwrap())
        });
        assert_eq!(lines, 200_000);
        let want: usize = (1..=200_000).map(|i: u32| i.to_string().len() + 1).sum();
        assert_eq!(bytes, want);
        assert_eq!(bytes, 1_288_895);
        assert_eq!(err, b"oops\n");
        assert!(st.success());
    }

    #[test]
    fn pump_moves_stdin_stdout_and_stderr_at_once() {
        // `cat - missing`: all of stdin back on stdout (more than a pipe
        // holds, both ways), then a complaint on stderr and exit 1.
        let input: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let want = input.clone();
        let (p, st) = bounded(move || {
            let argv = ["cat", "-", "/nonexistent-netmon-xyz"];
            let mut c = spawn(&argv, [true, true, true], true).unwrap();
            let (i, o, e) = (c.stdin.take(), c.stdout.take(), c.stderr.take());
            let mut p = Pump::new(i, input, o, e, usize::MAX);
            while !p.reads_done() {
                p.step(-1);
            }
            (p, c.wait().unwrap())
        });
        assert!(p.out == want, "stdout: {} bytes", p.out.len());
        let err = String::from_utf8(p.err).unwrap();
        assert!(err.contains("/nonexistent-netmon-xyz"), "{err}");
        assert_eq!(st.code(), Some(1));
    }

    #[test]
    fn pump_keeps_at_most_cap_bytes_and_reads_on() {
        let (p, st) = bounded(|| {
            let mut c = spawn(&["seq", "1", "100000"], [false, true, false], true).unwrap();
            let mut p = Pump::new(None, Vec::new(), c.stdout.take(), None, 10);
            while !p.reads_done() {
                p.step(-1);
            }
            (p, c.wait().unwrap())
        });
        assert_eq!(p.out, b"1\n2\n3\n4\n5\n");
        assert!(p.err.is_empty());
        // seq wrote everything: nothing blocked or broke its pipe.
        assert!(st.success());
    }

    #[test]
    fn child_runs_in_c_locale_with_sigpipe_default() {
        let mut c = spawn(&["env"], [false, true, false], true).unwrap();
        let mut s = String::new();
        io::Read::read_to_string(c.stdout.as_mut().unwrap(), &mut s).unwrap();
        assert!(c.wait().unwrap().success());
        let lc: Vec<&str> = s.lines().filter(|l| l.starts_with("LC_ALL=")).collect();
        assert_eq!(lc, ["LC_ALL=C"]);
        // Everything else is inherited.
        let path = getenv(c"PATH").unwrap();
        assert!(s.lines().any(|l| l.strip_prefix("PATH=") == Some(&path)));

        // Rust ignores SIGPIPE; the child must get the default back.
        let mut c = spawn(&["cat", "/proc/self/status"], [false, true, false], true).unwrap();
        let mut s = String::new();
        io::Read::read_to_string(c.stdout.as_mut().unwrap(), &mut s).unwrap();
        c.wait().unwrap();
        let ign = s.lines().find_map(|l| l.strip_prefix("SigIgn:")).unwrap();
        let mask = u64::from_str_radix(ign.trim(), 16).unwrap();
        assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "SigIgn {ign}");
    }

    #[test]
    fn pid_and_getenv() {
        assert_eq!(pid(), std::process::id());
        assert_eq!(getenv(c"PATH"), std::env::var("PATH").ok());
        assert_eq!(getenv(c"NETMON_SURELY_UNSET_XYZ"), None);
    }

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
