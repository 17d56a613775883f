//! Child processes: `spawn` (posix_spawnp with argv, never a shell), `Child`,
//! and `Pump`, which feeds and drains a child's pipes from one thread.
#![allow(unsafe_code)]

use super::fs::Fd;
use std::io;

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
/// spawned. stdin is
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
#[cfg(test)]
mod tests {
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
}
