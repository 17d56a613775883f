//! Files and descriptors through open(2), read(2), write(2): an owned `Fd`,
//! whole-file reads, directory listings, atomic-rename helpers' building
//! blocks.
#![allow(unsafe_code)]

use super::{cvt, retry};
use std::io;

/// Writes all of `b` to file descriptor `fd` (1 = stdout, 2 = stderr),
/// retrying after signals and short writes. Unbuffered on purpose: netmon
/// renders its whole output into one buffer first and writes it in one go.
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

/// The router's host name (for HELO, Message-ID and subjects) as the
/// kernel holds it, ASCII blanks at the ends trimmed (the file ends with
/// a newline); empty when it cannot be read. Bytes, not text: the kernel
/// takes any, and the caller says what is wrong with them.
pub fn hostname() -> Vec<u8> {
    read_file("/proc/sys/kernel/hostname")
        .map(|b| b.trim_ascii().to_vec())
        .unwrap_or_default()
}

/// Our end of a pipe to a child (or any owned descriptor), closed on
/// drop. Reads and writes retry when a signal interrupts them.
#[derive(Debug)]
pub struct Fd(pub(super) libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours alone and closed exactly once.
        unsafe { libc::close(self.0) };
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
pub(super) fn read_all(f: &mut Fd) -> io::Result<Vec<u8>> {
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

/// Opens `path` with open(2) `flags` (O_CLOEXEC added, so no tool netmon
/// runs inherits it) and `mode` for a new file.
pub fn open(path: &str, flags: libc::c_int, mode: libc::mode_t) -> io::Result<Fd> {
    let c = cpath(path)?;
    // SAFETY: c is NUL-terminated; open takes the mode as a variadic uint.
    let fd = retry(|| unsafe {
        libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) as isize
    })?;
    // fd is an int from open, so in range, and a new descriptor.
    Ok(Fd(fd as libc::c_int))
}

/// How `open_as` opens a file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OpenAs {
    /// Read only.
    Read,
    /// A directory, for `Fd::sync_all`.
    Dir,
    /// Write, created (mode 0644 less the umask) or truncated.
    Replace,
    /// Write at the end, created if missing (mode 0644 less the umask).
    Append,
}

/// Opens `path` the way `how` says (see `open`).
pub fn open_as(path: &str, how: OpenAs) -> io::Result<Fd> {
    let (flags, mode) = match how {
        OpenAs::Read => (libc::O_RDONLY, 0),
        OpenAs::Dir => (libc::O_RDONLY | libc::O_DIRECTORY, 0),
        OpenAs::Replace => (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644),
        OpenAs::Append => (libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND, 0o644),
    };
    open(path, flags, mode)
}

/// `mkdir -p`: creates `dir` and its missing parents; a file in the way
/// is `ENOTDIR`.
pub fn create_dirs(dir: &str) -> io::Result<()> {
    let ends = dir.match_indices('/').map(|(i, _)| i).chain([dir.len()]);
    for end in ends.filter(|&i| i > 0) {
        match mkdir(&dir[..end]) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
        Err(e) => Err(e),
    }
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
    lstat_mode(path).is_some()
}

/// Whether `path` is a directory itself (not a symlink to one).
pub fn is_dir(path: &str) -> bool {
    lstat_mode(path).is_some_and(|m| m & libc::S_IFMT == libc::S_IFDIR)
}

/// `st_mode` of `path` as lstat(2) gives it (symlinks not followed).
fn lstat_mode(path: &str) -> Option<libc::mode_t> {
    let c = cpath(path).ok()?;
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: c is NUL-terminated, st a valid out-buffer.
    (unsafe { libc::lstat(c.as_ptr(), &mut st) } == 0).then_some(st.st_mode)
}

/// The whole content of file `path`.
pub fn read_file(path: &str) -> io::Result<Vec<u8>> {
    read_all(&mut open(path, libc::O_RDONLY, 0)?)
}

/// The UTF-8 names in directory `path` (not `.` and `..`), in directory
/// order; with `files_only`, only regular files (`d_type`, or lstat where
/// the file system leaves it unknown, as `DirEntry::file_type` does).
/// A read error ends the list, as it ends std's `ReadDir`.
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

#[cfg(test)]
mod tests {
    use super::create_dirs;

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

    fn scratch(name: &str) -> String {
        let d = std::env::temp_dir().join(format!("netmon-fs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.to_str().unwrap().to_string()
    }

    #[test]
    fn create_dirs_makes_parents_and_is_idempotent() {
        let top = scratch("mkdirs");
        let deep = format!("{top}/a/b//c/");
        create_dirs(&deep).unwrap();
        assert!(std::fs::metadata(format!("{top}/a/b/c")).unwrap().is_dir());
        create_dirs(&deep).unwrap(); // already there: fine
        std::fs::remove_dir_all(&top).unwrap();
    }

    #[test]
    fn create_dirs_refuses_a_file_in_the_way() {
        let top = scratch("file-in-way");
        create_dirs(&top).unwrap();
        let file = format!("{top}/f");
        std::fs::write(&file, b"x").unwrap();
        let e = create_dirs(&file).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR), "{e}");
        let e = create_dirs(&format!("{file}/sub")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR), "{e}");
        assert_eq!(std::fs::read(&file).unwrap(), b"x", "the file is untouched");
        std::fs::remove_dir_all(&top).unwrap();
    }
}
