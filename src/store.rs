//! Files in the state directory: the state (replaced atomically), the
//! TSV log (appended), and the lock that keeps one writer at a time.
//!
//! Atomic replace: write a temp file in the same directory, fsync it,
//! rename it over the old one, fsync the directory — so after a crash the
//! file is either the old or the new version, never a torn mix.

use crate::error::{Error, Result};
use crate::out::Buf;
use crate::state::State;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};

pub const STATE_FILE: &str = "state";
pub const LOG_FILE: &str = "log.tsv";
pub const LOCK_FILE: &str = "lock";

fn join(dir: &str, name: &str) -> String {
    let mut p = String::with_capacity(dir.len() + name.len() + 1);
    p.push_str(dir.trim_end_matches('/'));
    p.push('/');
    p.push_str(name);
    p
}

/// Creates the state directory (mode 0700 by umask of root's cron) if missing.
pub fn ensure_dir(dir: &str) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("create state directory", dir, &e))
}

/// Loads the state; `Ok(None)` when there is none yet. A file that does
/// not decode is an error and is left untouched for the user to inspect.
pub fn load_state(dir: &str) -> Result<Option<State>> {
    let path = join(dir, STATE_FILE);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &path, &e)),
    };
    let text = core::str::from_utf8(&text).unwrap_or("\u{0}");
    State::decode(text).map(Some).map_err(|d| {
        let mut b = Buf::new();
        let _ = ufmt::uwrite!(b, "state file {} is damaged", path.as_str());
        if d.line > 0 {
            let _ = ufmt::uwrite!(b, " (line {}: {})", d.line, d.what);
        } else {
            let _ = ufmt::uwrite!(b, " ({})", d.what);
        }
        b.push_bytes(b"; it was left as it is: move it away to start counting afresh");
        Error::runtime(b.as_str())
    })
}

/// Writes `bytes` to `dir/name` atomically (temp, fsync, rename, fsync dir).
pub fn replace_file(dir: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let path = join(dir, name);
    let mut tmp = join(dir, ".");
    tmp.push_str(name);
    tmp.push_str(".tmp");
    let write = || -> io::Result<()> {
        let mut f = File::create(&tmp)?;
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
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", dir, &e))
}

pub fn save_state(dir: &str, st: &State) -> Result<()> {
    let mut b = Buf::new();
    st.encode(&mut b);
    replace_file(dir, STATE_FILE, b.as_bytes())
}

/// Appends one log line (timestamp, then running total bytes per meter).
/// A log whose header names other meters is moved to `log.tsv.1` and a new
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
    if !log_header_matches(&path, header.as_bytes()) {
        if fs::metadata(&path).is_ok() {
            let old = join(dir, "log.tsv.1");
            fs::rename(&path, &old).map_err(|e| Error::io("rotate", &path, &e))?;
        }
        b.push_bytes(header.as_bytes());
        log_line(&mut b, prev.0, prev.1);
    }
    log_line(&mut b, now.0, now.1);
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io("open", &path, &e))?;
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
    use std::io::Read;
    let mut buf = vec![0u8; header.len()];
    match File::open(path) {
        Ok(mut f) => f.read_exact(&mut buf).is_ok() && buf == header,
        Err(_) => false,
    }
}

pub fn log_path(dir: &str) -> String {
    join(dir, LOG_FILE)
}

pub fn lock_path(dir: &str) -> String {
    join(dir, LOCK_FILE)
}
