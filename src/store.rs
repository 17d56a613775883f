//! Files in the state directory: the state (replaced atomically), the
//! TSV log (appended), and the lock that keeps one writer at a time.
//!
//! Atomic replace: write a temp file in the same directory, fsync it,
//! rename it over the old one, fsync the directory — so after a crash the
//! file is either the old or the new version, never a torn mix.

use crate::error::{Error, Result};
use crate::state::{DecodeError, State};
use crate::sys::{self, fs::OpenAs};
use crate::text::Buf;
use std::fs;
use std::io;

pub const STATE_FILE: &str = "state";
pub const LOG_FILE: &str = "log.tsv";
pub const LOCK_FILE: &str = "lock";
/// The WAN device of the default meters at the last update (RAM only: a
/// boot starts over from the default route).
pub const WAN_FILE: &str = "wan";

/// `dir/name`, with `dir`'s trailing slashes dropped.
pub fn join(dir: &str, name: &str) -> String {
    let mut p = String::with_capacity(dir.len() + name.len() + 1);
    p.push_str(dir.trim_end_matches('/'));
    p.push('/');
    p.push_str(name);
    p
}

/// Creates the state directory (mode 0700 by umask of root's cron) if missing.
pub fn ensure_dir(dir: &str) -> Result<()> {
    sys::create_dirs(dir).map_err(|e| Error::io("create state directory", dir, &e))
}

/// What one copy of the state holds (boxed: a `Result` of a word or two
/// is cheap to pass through `?`).
enum Copy {
    Missing,
    Good(Box<State>),
    Damaged(DecodeError),
}

fn read_copy(dir: &str) -> Result<Copy> {
    let path = join(dir, STATE_FILE);
    match sys::read_file(&path) {
        Ok(b) => Ok(match State::decode(&b) {
            Ok(st) => Copy::Good(Box::new(st)),
            Err(e) => Copy::Damaged(e),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Copy::Missing),
        Err(e) => Err(Error::io("read", &path, &e)),
    }
}

/// Renames a damaged `dir/state` to `dir/state.bad-<now>[.N]` (kept, not
/// deleted: never over an earlier one) and returns the new name.
fn move_aside(dir: &str, now: i64) -> Result<String> {
    let from = join(dir, STATE_FILE);
    for n in 0..100u32 {
        let mut b = Buf::new();
        let _ = ufmt::uwrite!(b, "{}.bad-{}", from.as_str(), now);
        if n > 0 {
            let _ = ufmt::uwrite!(b, ".{}", n);
        }
        if !sys::lexists(b.as_str()) {
            fs::rename(&from, b.as_str()).map_err(|e| Error::io("move aside", &from, &e))?;
            return Ok(b.as_str().into());
        }
    }
    Err(Error::runtime(
        "too many damaged state files are kept; delete old state.bad-* files",
    ))
}

fn damaged(b: &mut Buf, dir: &str, e: DecodeError) {
    b.fill(
        "{}/{} is damaged ({})",
        &[dir.trim_end_matches('/'), STATE_FILE, e.as_str()],
    );
}

/// Loads the working state: the RAM copy, else the persistent copy (after
/// a reboot, or when the RAM copy is damaged), else a new state. A damaged
/// copy is moved aside only when another good copy replaces it, or when
/// `force` is given; otherwise it is left in place and the error says how
/// to recover. Warnings (one sentence each) are appended to `warn`.
pub fn open_state(
    ram: &str,
    flash: &str,
    now: i64,
    force: bool,
    warn: &mut Buf,
) -> Result<Box<State>> {
    let r = read_copy(ram)?;
    if let Copy::Good(st) = r {
        return Ok(st);
    }
    let f = read_copy(flash)?;
    match (r, f) {
        (Copy::Damaged(e), Copy::Good(st)) => {
            let to = move_aside(ram, now)?;
            let mut b = Buf::new();
            damaged(&mut b, ram, e);
            b.fill(
                "; moved it to {} and continued from the copy in {}\n",
                &[&to, flash],
            );
            warn.push_bytes(b.as_bytes());
            Ok(st)
        }
        (_, Copy::Good(st)) => Ok(st),
        (Copy::Missing, Copy::Missing) => Ok(new_state(now)),
        (r, f) => recover(ram, flash, r, f, now, force, warn),
    }
}

/// The state as a read-only command sees it (RAM copy, else persistent
/// copy), without taking the lock or moving anything.
pub fn peek_state(ram: &str, flash: &str) -> Option<Box<State>> {
    for dir in [ram, flash] {
        if let Ok(Copy::Good(st)) = read_copy(dir) {
            return Some(st);
        }
    }
    None
}

fn recover(
    ram: &str,
    flash: &str,
    r: Copy,
    f: Copy,
    now: i64,
    force: bool,
    warn: &mut Buf,
) -> Result<Box<State>> {
    let mut b = Buf::new();
    for (dir, c) in [(ram, &r), (flash, &f)] {
        if let Copy::Damaged(e) = c {
            if !b.as_bytes().is_empty() {
                b.push_bytes(b" and ");
            }
            damaged(&mut b, dir, *e);
        }
    }
    if !force {
        b.push_bytes(b" and there is no good copy; it was left as it is: run the command again with --force to move it aside and start counting afresh");
        return Err(Error::runtime(b.as_str()));
    }
    for (dir, c) in [(ram, &r), (flash, &f)] {
        if let Copy::Damaged(_) = c {
            let to = move_aside(dir, now)?;
            b.fill("; kept it as {}", &[&to]);
        }
    }
    b.push_bytes(b"; starting afresh (--force)\n");
    warn.push_bytes(b.as_bytes());
    Ok(new_state(now))
}

/// A state that starts counting at `now`.
pub fn new_state(now: i64) -> Box<State> {
    Box::new(State::new(now))
}

/// Writes `bytes` to `dir/name` atomically (temp, fsync, rename, fsync dir).
pub fn replace_file(dir: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let path = join(dir, name);
    let mut tmp = join(dir, ".");
    tmp.push_str(name);
    tmp.push_str(".tmp");
    let write = || -> io::Result<()> {
        let mut f = sys::open_as(&tmp, OpenAs::Replace)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io("write", &tmp, &e));
    }
    if let Err(e) = fs::rename(&tmp, &path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io("replace", &path, &e));
    }
    sync_dir(dir)
}

/// fsync of the directory makes a rename in it durable (POSIX leaves that
/// to the file system otherwise).
pub fn sync_dir(dir: &str) -> Result<()> {
    sys::open_as(dir, OpenAs::Dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", dir, &e))
}

pub fn save_state(dir: &str, st: &State) -> Result<()> {
    replace_file(dir, STATE_FILE, &st.encode())
}

/// Writes the persistent copy (flash or USB), creating its directory. A
/// damaged copy found there is kept aside and reported first: failing
/// flash should be noticed, not silently overwritten.
pub fn sync_state(flash: &str, st: &State, now: i64, warn: &mut Buf) -> Result<()> {
    sys::create_dirs(flash).map_err(|e| Error::io("create", flash, &e))?;
    if let Copy::Damaged(e) = read_copy(flash)? {
        let to = move_aside(flash, now)?;
        let mut b = Buf::new();
        damaged(&mut b, flash, e);
        b.fill("; kept it as {} and wrote a new copy\n", &[&to]);
        warn.push_bytes(b.as_bytes());
    }
    replace_file(flash, STATE_FILE, &st.encode())
}

/// Makes directory `to` hold exactly the regular files of `from` and of
/// its sub-directories, one level down (the mail spool and its `failed/`:
/// at most a few dozen small files). Used to keep the spool with the
/// persistent state, and to bring it back after a reboot. Each file is
/// copied atomically, and only when `to` lacks it or holds other bytes
/// (flash is written for what changed). A missing `from` means an empty
/// one; a file that vanishes from `from` while this runs (delivered by
/// a netmon that holds the spool's lock, not the state lock) is left out.
pub fn mirror_dir(from: &str, to: &str) -> Result<()> {
    mirror(from, to, true)
}

fn mirror(from: &str, to: &str, subs: bool) -> Result<()> {
    let want = file_names(from);
    let dirs = if subs { sub_dirs(from) } else { Vec::new() };
    if want.is_empty() && dirs.is_empty() && fs::metadata(to).is_err() {
        return Ok(());
    }
    sys::create_dirs(to).map_err(|e| Error::io("create", to, &e))?;
    let mut copied = Vec::new();
    for n in want {
        let src = join(from, &n);
        let bytes = match sys::read_file(&src) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("read", &src, &e)),
        };
        if sys::read_file(&join(to, &n)).ok().as_deref() != Some(&bytes[..]) {
            replace_file(to, &n, &bytes)?;
        }
        copied.push(n);
    }
    prune_dir(&copied, to)?;
    for d in sub_dirs(to).iter().filter(|d| !dirs.contains(d)) {
        prune_dir(&[], &join(to, d))?;
    }
    for d in &dirs {
        mirror(&join(from, d), &join(to, d), false)?;
    }
    Ok(())
}

/// Regular, non-hidden files of a directory (none when it does not exist).
fn file_names(dir: &str) -> Vec<String> {
    let mut names = sys::read_dir(dir, true).unwrap_or_default();
    names.retain(|n| !n.starts_with('.'));
    names
}

/// Non-hidden sub-directories of a directory (not through symlinks).
fn sub_dirs(dir: &str) -> Vec<String> {
    let mut names = sys::read_dir(dir, false).unwrap_or_default();
    names.retain(|n| !n.starts_with('.') && sys::is_dir(&join(dir, n)));
    names
}

fn prune_dir(keep: &[String], dir: &str) -> Result<()> {
    for n in file_names(dir).iter().filter(|n| !keep.contains(n)) {
        let p = join(dir, n);
        fs::remove_file(&p).map_err(|e| Error::io("remove", &p, &e))?;
    }
    Ok(())
}

/// Removes from `to` (and its sub-directories, one level down) the files
/// no longer in `from`: a spooled report delivered, or given up, since
/// the last sync must not come back after a reboot. Only deletions, so
/// no flash write between syncs. `from` must be there (after a reboot,
/// restored first): a missing one would empty `to`.
pub fn forget_removed(from: &str, to: &str) -> Result<()> {
    if fs::metadata(to).is_err() {
        return Ok(());
    }
    prune_dir(&file_names(from), to)?;
    for d in sub_dirs(to) {
        prune_dir(&file_names(&join(from, &d)), &join(to, &d))?;
    }
    Ok(())
}

/// Size at which the log is moved to `log.tsv.1` (replacing the previous
/// one) and a new log begins: about 20 days of 5-minute updates with two
/// meters. History for reports lives in the state's buckets, not here.
pub const MAX_LOG_BYTES: u64 = 256 * 1024;

/// Appends one log line (timestamp, then running total bytes per meter).
/// A log whose header names other meters, or that reached `MAX_LOG_BYTES`,
/// is moved to `log.tsv.1` and a new
/// one begins with a header and a baseline line (`prev`), so `daily` never
/// attributes history to the first day of a new log.
pub fn append_log(
    dir: &str,
    names: &[&str],
    prev: (i64, &[u64]),
    now: (i64, &[u64]),
) -> Result<()> {
    let path = join(dir, LOG_FILE);
    let mut header = Buf::new();
    header.push_bytes(b"time");
    for n in names {
        header.push_bytes(b"\t");
        header.push_bytes(n.as_bytes());
    }
    header.push_bytes(b"\n");
    let mut b = Buf::new();
    let too_big = fs::metadata(&path).is_ok_and(|m| m.len() >= MAX_LOG_BYTES);
    if too_big || !log_header_matches(&path, header.as_bytes()) {
        if fs::metadata(&path).is_ok() {
            let old = join(dir, "log.tsv.1");
            fs::rename(&path, &old).map_err(|e| Error::io("rotate", &path, &e))?;
        }
        b.push_bytes(header.as_bytes());
        log_line(&mut b, prev.0, prev.1);
    }
    log_line(&mut b, now.0, now.1);
    let mut f = sys::open_as(&path, OpenAs::Append).map_err(|e| Error::io("open", &path, &e))?;
    f.write_all(b.as_bytes())
        .map_err(|e| Error::io("append to", &path, &e))
}

fn log_line(b: &mut Buf, t: i64, totals: &[u64]) {
    let _ = crate::time::write_log_stamp(b, t);
    for v in totals {
        let _ = ufmt::uwrite!(b, "\t{}", *v);
    }
    b.push_bytes(b"\n");
}

fn log_header_matches(path: &str, header: &[u8]) -> bool {
    let mut buf = vec![0u8; header.len()];
    match sys::open_as(path, OpenAs::Read) {
        Ok(mut f) => f.read_full(&mut buf).is_ok_and(|n| n == buf.len()) && buf == header,
        Err(_) => false,
    }
}

/// The WAN device `remember_wan` kept in `dir`, if any.
pub fn read_wan(dir: &str) -> Option<String> {
    let s = sys::read_text(&join(dir, WAN_FILE)).ok()?;
    let s = s.trim_ascii();
    (!s.is_empty()).then(|| s.into())
}

/// Keeps `wan` in `dir` for runs that find no default route; written only
/// when it changed.
pub fn remember_wan(dir: &str, wan: &str) -> Result<()> {
    if read_wan(dir).as_deref() == Some(wan) {
        return Ok(());
    }
    let mut b = Buf::new();
    b.push_bytes(wan.as_bytes());
    b.push_bytes(b"\n");
    replace_file(dir, WAN_FILE, b.as_bytes())
}

pub fn log_path(dir: &str) -> String {
    join(dir, LOG_FILE)
}

pub fn lock_path(dir: &str) -> String {
    join(dir, LOCK_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn tmp(name: &str) -> String {
        let d = std::env::temp_dir().join(format!("netmon-store-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d.to_string_lossy().into_owned()
    }

    fn ino(p: &str) -> u64 {
        fs::metadata(p).unwrap().ino()
    }

    /// The spool and its `failed/` reach flash; an unchanged file is not
    /// written again; deletions follow, one level down; hidden files
    /// (the lock) and symlinked directories stay behind.
    #[test]
    fn mirror_covers_one_level_of_sub_directories() {
        let (ram, flash) = (tmp("ram"), tmp("flash"));
        let j = |d: &str, n: &str| join(d, n);
        fs::create_dir_all(j(&ram, "failed")).unwrap();
        fs::write(j(&ram, "a.msg"), "A").unwrap();
        fs::write(j(&ram, ".lock"), "1").unwrap();
        fs::write(j(&ram, "failed/f.msg"), "F").unwrap();
        let elsewhere = tmp("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        fs::write(j(&elsewhere, "x"), "X").unwrap();
        std::os::unix::fs::symlink(&elsewhere, j(&ram, "link")).unwrap();
        mirror_dir(&ram, &flash).unwrap();
        assert_eq!(fs::read(j(&flash, "a.msg")).unwrap(), b"A");
        assert_eq!(fs::read(j(&flash, "failed/f.msg")).unwrap(), b"F");
        assert!(!sys::lexists(&j(&flash, ".lock")) && !sys::lexists(&j(&flash, "link")));
        let before = (ino(&j(&flash, "a.msg")), ino(&j(&flash, "failed/f.msg")));
        fs::write(j(&ram, "b.msg"), "B").unwrap();
        mirror_dir(&ram, &flash).unwrap();
        let after = (ino(&j(&flash, "a.msg")), ino(&j(&flash, "failed/f.msg")));
        assert_eq!(before, after, "unchanged files are not rewritten");
        assert_eq!(fs::read(j(&flash, "b.msg")).unwrap(), b"B");
        fs::remove_file(j(&ram, "failed/f.msg")).unwrap();
        fs::remove_file(j(&ram, "a.msg")).unwrap();
        forget_removed(&ram, &flash).unwrap();
        assert!(!sys::lexists(&j(&flash, "a.msg")) && !sys::lexists(&j(&flash, "failed/f.msg")));
        assert!(sys::lexists(&j(&flash, "b.msg")));
        // Back after a reboot: failed/ comes back too.
        fs::write(j(&flash, "failed/g.msg"), "G").unwrap();
        let ram2 = tmp("ram2");
        mirror_dir(&flash, &ram2).unwrap();
        assert_eq!(fs::read(j(&ram2, "failed/g.msg")).unwrap(), b"G");
        // A sub-directory gone from `from` is emptied in `to`.
        fs::remove_dir_all(j(&ram, "failed")).unwrap();
        mirror_dir(&ram, &flash).unwrap();
        assert!(!sys::lexists(&j(&flash, "failed/g.msg")));
        for d in [ram, flash, ram2, elsewhere] {
            let _ = fs::remove_dir_all(d);
        }
    }
}
