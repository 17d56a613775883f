//! The spool: messages waiting for delivery, one file each in
//! `<state_dir>/spool/`, delivered oldest first after every update and
//! report.
//!
//! An entry file is a small text header, a blank line, then the message
//! exactly as it was built (CRLF line ends):
//!
//! ```text
//! netmon-spool 1
//! attempts 2
//! refusals 0
//! first 1779305040
//! last 1779308640
//! from netmon@router.lan
//! to me@example.org
//! reason connect: 192.0.2.25:25: Connection refused
//!
//! Date: ...
//! ```
//!
//! `attempts 0` is a report just queued and not tried yet; `first` is
//! when it was queued, `last` the time of the last attempt.
//!
//! Invariants: every file is written whole or not at all (temp file in
//! the same directory, fsync, rename, fsync of the directory), so a crash
//! leaves either the old or the new entry, never half of one; names are
//! `<time queued, 12 digits>-<4 digits>.msg`, so name order is age order;
//! at most `MAX_SPOOL` entries (the oldest goes to `failed/` to make
//! room, with a warning) and `MAX_FAILED` in `failed/` (the oldest is
//! deleted); an entry is removed only after the server accepted the
//! message for every recipient that was not refused for good: recipients
//! the server deferred (a 4xx to RCPT while others were accepted) stay in
//! the entry, as its only recipients, so each gets exactly one copy.
//! Delivery is exactly once except in one window: a crash (or a failed
//! unlink) after the server's 250 and before the file is gone sends the
//! message again on the next run (at least once; RFC 5321 section 6.1
//! accepts duplicates over loss). Likewise a connection lost after the
//! final `.` but before the reply leaves the client unable to know
//! (RFC 1047), and it retries.
//!
//! Locking: a report is queued (`queue`) under netmon's state lock, a
//! local file write. The network is used later, by `retry`, after the
//! state lock is released, under the spool's own lock (`spool/.lock`),
//! which nobody waits for: while another netmon delivers, `retry` returns
//! that netmon's pid and does nothing (the next run delivers). Whatever
//! moves entries between the spool and `failed/` holds that lock: `retry`,
//! `requeue`, and `queue` when it makes room in a full spool (only if the
//! lock is free: otherwise the spool exceeds `MAX_SPOOL` until the next
//! report, by the reports queued during one delivery run). `queue` only
//! creates new names, and `retry` only rewrites or removes names it
//! listed under the lock, so the two never write the same file.

use std::fs;

use crate::error::{Error, Result};
use crate::mail::smtp::{Outcome, Rejection, MAX_REASON};
use crate::mail::{cat, push_all};
use crate::sys::Lock;
use crate::text::num;
use crate::text::parse_int;
use crate::text::Buf;

/// Most messages waiting; queueing the 51st pushes the oldest into
/// `failed/` (unless a delivery is under way, see the module doc).
pub const MAX_SPOOL: usize = 50;
/// Most messages kept in `failed/` for a human to look at.
pub const MAX_FAILED: usize = 20;
/// Refusals of the message itself (a 5xx to MAIL, RCPT or DATA, or after
/// the data) after which it is given up. Failures of the server as a
/// whole (connect, greeting, EHLO, AUTH) are never counted: a wrong
/// password must not cost the reports waiting behind it.
pub const MAX_PERMANENT_ATTEMPTS: u32 = 5;
/// Largest entry file read back; a report is tens of KiB.
pub const MAX_ENTRY_BYTES: u64 = 4 << 20;
/// Sub-directory of given-up messages.
pub const FAILED_DIR: &str = "failed";
/// The delivery lock inside the spool (hidden: never an entry, never
/// copied to flash).
pub const LOCK_FILE: &str = ".lock";

const MAGIC: &str = "netmon-spool 1";
/// The header's keys, in the order `Entry::encode` writes them.
const KEYS: [&str; 7] = [
    "attempts", "refusals", "first", "last", "from", "to", "reason",
];
const SUFFIX: &str = ".msg";

/// One waiting message, as `list` reads it (the message itself stays on
/// disk until `retry` needs it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// File name inside the spool directory.
    pub name: String,
    /// Delivery attempts so far (0: queued, not tried yet).
    pub attempts: u32,
    /// How many of the attempts ended in a refusal of the message (5xx).
    pub refusals: u32,
    /// When it was queued.
    pub first: i64,
    pub last: i64,
    /// Why the last attempt failed (one line, printable; empty before
    /// the first attempt).
    pub reason: String,
    pub from: String,
    pub to: Vec<String>,
}

fn path(dir: &str, name: &str) -> String {
    crate::store::join(dir, name)
}

/// `<dir>/failed`: messages given up.
pub fn failed_dir(dir: &str) -> String {
    path(dir, FAILED_DIR)
}

/// Creates the directory (and parents) if needed.
pub fn ensure_dir(dir: &str) -> Result<()> {
    crate::sys::create_dirs(dir).map_err(|e| Error::io("create", dir, &e))
}

/// Keeps a reason to one printable line of at most `MAX_REASON` bytes.
fn one_line(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().map(|c| if c.is_control() { ' ' } else { c }) {
        if out.len() + c.len_utf8() > MAX_REASON {
            break;
        }
        out.push(c);
    }
    out
}
impl Entry {
    fn encode(&self, msg: &[u8]) -> Vec<u8> {
        let mut b = Buf::new();
        let _ = ufmt::uwrite!(
            b,
            "{}\nattempts {}\nrefusals {}\nfirst {}\nlast {}\nfrom {}\n",
            MAGIC,
            self.attempts,
            self.refusals,
            self.first,
            self.last,
            self.from.as_str()
        );
        for t in &self.to {
            let _ = ufmt::uwrite!(b, "to {}\n", t.as_str());
        }
        let _ = ufmt::uwrite!(b, "reason {}\n\n", one_line(&self.reason).as_str());
        b.push_bytes(msg);
        b.0
    }

    /// An entry named `name` with nothing known yet.
    fn blank(name: String) -> Entry {
        Entry {
            name,
            attempts: 0,
            refusals: 0,
            first: 0,
            last: 0,
            reason: String::new(),
            from: String::new(),
            to: Vec::new(),
        }
    }

    /// Fills a `blank` entry from the header of an entry file; returns
    /// the offset of the message, or None (the entry then holds part of
    /// a damaged header: throw it away). The entry is filled in place,
    /// not returned: moving it costs code on every level.
    fn decode(&mut self, data: &[u8]) -> Option<usize> {
        let e = self;
        let end = data.windows(2).position(|w| w == b"\n\n")?;
        let head = core::str::from_utf8(data.get(..end)?).ok()?;
        let mut lines = head.split('\n');
        if lines.next()? != MAGIC {
            return None;
        }
        for line in lines {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            match KEYS.iter().position(|&x| x == k)? {
                i @ (0 | 1) => {
                    let n = u32::try_from(parse_int(v, false)?).ok()?;
                    *if i == 0 {
                        &mut e.attempts
                    } else {
                        &mut e.refusals
                    } = n;
                }
                i @ (2 | 3) => {
                    let n = parse_int(v, true)?;
                    *if i == 2 { &mut e.first } else { &mut e.last } = n;
                }
                4 => e.from = v.into(),
                5 => e.to.push(v.into()),
                _ => e.reason = v.into(),
            }
        }
        (!e.from.is_empty() && !e.to.is_empty()).then_some(end + 2)
    }
}

/// Reads the file of the `blank` entry `e` into it; returns the message.
fn read_entry(dir: &str, e: &mut Entry) -> Result<Vec<u8>> {
    let p = path(dir, &e.name);
    let corrupt = || Error::runtime(corrupt_msg(&p));
    let meta = fs::metadata(&p).map_err(|e| Error::io("read", &p, &e))?;
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(corrupt());
    }
    let data = crate::sys::read_file(&p).map_err(|e| Error::io("read", &p, &e))?;
    let at = e.decode(&data).ok_or_else(corrupt)?;
    Ok(data.get(at..).unwrap_or(&[]).to_vec())
}

fn corrupt_msg(p: &str) -> String {
    cat(&[
        "spool entry ",
        p,
        " is not a netmon spool file (or is damaged)",
    ])
}

/// Names of the entries, oldest first (missing directory = empty).
fn names(dir: &str) -> Result<Vec<String>> {
    let all = match crate::sys::read_dir(dir, false) {
        Ok(v) => v,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", dir, &e)),
    };
    let mut v = Vec::new();
    for n in all {
        if n.ends_with(SUFFIX) && !n.starts_with('.') {
            // Kept sorted as it grows: a binary search and an insert are
            // far less code than `sort` (a merge sort over `String`), and
            // a spool holds a few dozen names at most.
            let at = v.partition_point(|x: &String| x.as_str() <= n.as_str());
            v.insert(at, n);
        }
    }
    Ok(v)
}

/// The waiting messages, oldest first (for `status`). An unreadable
/// entry is listed with its problem as the reason.
pub fn list(dir: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for n in names(dir)? {
        let mut e = Entry::blank(n);
        if let Err(err) = read_entry(dir, &mut e) {
            e = Entry::blank(core::mem::take(&mut e.name));
            e.reason = err.message().into();
        }
        out.push(e);
    }
    Ok(out)
}

/// A fresh name: the time it is queued, then the first free number.
fn new_name(dir: &str, now: i64) -> Result<String> {
    let taken = names(dir)?;
    // `<12 digits>-<4 digits>` and `SUFFIX`.
    let mut b = *b"000000000000-0000.msg";
    digits(&mut b[..12], now.clamp(0, 999_999_999_999) as u64);
    for seq in 0u16..10_000 {
        digits(&mut b[13..17], u64::from(seq));
        if !taken.iter().any(|n| n.as_bytes() == b) {
            return Ok(core::str::from_utf8(&b).unwrap_or("").into());
        }
    }
    Err(Error::runtime("too many spool entries with the same time"))
}

/// Writes `n` into `out` in decimal, zero-padded to its whole width
/// (callers bound `n` to fit).
fn digits(out: &mut [u8], mut n: u64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// The spool's delivery lock, waiting at most `wait_ms` (0: never):
/// Ok(Err(pid)) when another netmon holds it.
fn lock(dir: &str, wait_ms: u32) -> Result<core::result::Result<Lock, u32>> {
    let p = path(dir, LOCK_FILE);
    crate::sys::lock(&p, wait_ms).map_err(|e| Error::io("lock", &p, &e))
}

/// Queues a new message for `retry` (a local write, no network): returns
/// the entry's file name and, when the spool was full, one warning
/// sentence per oldest entry moved to `failed/` to make room.
pub fn queue(
    dir: &str,
    from: &str,
    to: &[String],
    msg: &[u8],
    now: i64,
) -> Result<(String, Vec<String>)> {
    ensure_dir(dir)?;
    let warnings = make_room(dir)?;
    let e = Entry {
        name: new_name(dir, now)?,
        attempts: 0,
        refusals: 0,
        first: now,
        last: now,
        reason: String::new(),
        from: from.into(),
        to: to.to_vec(),
    };
    crate::store::replace_file(dir, &e.name, &e.encode(msg))?;
    Ok((e.name, warnings))
}

/// Moves the oldest entries to `failed/` until one more fits, when no
/// delivery is under way (it holds those entries; see the module doc).
fn make_room(dir: &str) -> Result<Vec<String>> {
    if names(dir)?.len() < MAX_SPOOL {
        return Ok(Vec::new());
    }
    let Ok(Ok(_lock)) = lock(dir, 0) else {
        return Ok(Vec::new());
    };
    let all = names(dir)?;
    let mut warnings = Vec::new();
    for oldest in all.iter().take((all.len() + 1).saturating_sub(MAX_SPOOL)) {
        give_up(dir, oldest)?;
        warnings.push(cat(&[
            "mail spool full (",
            num(MAX_SPOOL as u64).as_str(),
            " messages): gave up on the oldest, moved to ",
            &path(&failed_dir(dir), oldest),
        ]));
    }
    Ok(warnings)
}

/// Moves an entry to `failed/`, then deletes the oldest failed ones
/// beyond `MAX_FAILED`.
fn give_up(dir: &str, name: &str) -> Result<()> {
    let failed = failed_dir(dir);
    ensure_dir(&failed)?;
    let to = path(&failed, name);
    fs::rename(path(dir, name), &to).map_err(|e| Error::io("move", &to, &e))?;
    crate::store::sync_dir(&failed)?;
    crate::store::sync_dir(dir)?;
    let old = names(&failed)?;
    for n in old.iter().take(old.len().saturating_sub(MAX_FAILED)) {
        let _ = fs::remove_file(path(&failed, n));
    }
    Ok(())
}

/// Moves messages given up in `failed/` back into the spool with their
/// counters reset (attempts and refusals 0, as if just queued): the one
/// named `name` (with or without `.msg`), or all of them. Waits up to
/// `wait_ms` for a delivery under way. Returns the names moved, oldest
/// first; a name not in `failed/` is a usage error.
pub fn requeue(dir: &str, name: Option<&str>, wait_ms: u32) -> Result<Vec<String>> {
    let failed = failed_dir(dir);
    let pick = |all: Vec<String>| -> Result<Vec<String>> {
        let Some(n) = name else { return Ok(all) };
        let full = if n.ends_with(SUFFIX) {
            n.into()
        } else {
            cat(&[n, SUFFIX])
        };
        match all.into_iter().find(|x| *x == full) {
            Some(x) => Ok(vec![x]),
            None => Err(no_such(n, &failed)),
        }
    };
    if pick(names(&failed)?)?.is_empty() {
        return Ok(Vec::new());
    }
    let _lock = match lock(dir, wait_ms)? {
        Ok(l) => l,
        Err(pid) => return Err(busy(dir, pid)),
    };
    let want = pick(names(&failed)?)?;
    for n in &want {
        let mut e = Entry::blank(n.clone());
        let msg = read_entry(&failed, &mut e)?;
        let dst = path(dir, n);
        if crate::sys::lexists(&dst) {
            return Err(Error::runtime(cat(&[
                "cannot requeue ",
                n,
                ": ",
                &dst,
                " exists",
            ])));
        }
        (e.attempts, e.refusals) = (0, 0);
        e.reason.clear();
        crate::store::replace_file(dir, n, &e.encode(&msg))?;
        let src = path(&failed, n);
        fs::remove_file(&src).map_err(|err| Error::io("remove", &src, &err))?;
    }
    crate::store::sync_dir(&failed)?;
    Ok(want)
}

fn no_such(name: &str, failed: &str) -> Error {
    let shown: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
    Error::usage(cat(&[
        "no message '",
        &shown,
        "' in ",
        failed,
        " (netmon status counts them; the names are the files there)",
    ]))
}

fn busy(dir: &str, pid: u32) -> Error {
    Error::runtime(crate::text::fill(
        "another netmon (pid {}) is delivering the mail spool and holds {}; try again later",
        &[num(u64::from(pid)).as_str(), &path(dir, LOCK_FILE)],
    ))
}

/// Delivers every entry, oldest first, through `deliver` (one attempt
/// each), under the spool's lock; Err(pid) when another netmon holds it
/// (nothing is done). Returns one sentence per event for stderr/syslog:
/// - delivered: the entry is removed; recipients refused for good (5xx)
///   are reported, not retried (the others have the message); recipients
///   deferred (4xx) stay in the entry as its only recipients;
/// - a failure of the message (a 4xx or 5xx to MAIL, RCPT or DATA, or
///   after the data): kept, `attempts` + 1, and a 5xx counts as a
///   refusal, given up (moved to `failed/`) at the
///   `MAX_PERMANENT_ATTEMPTS`th; the run goes on with the next entry;
/// - a failure of the server as a whole (`Outcome::concerns_server`:
///   connect, greeting, EHLO, AUTH, 421, a timeout): kept, `attempts` + 1,
///   and the run stops there, the other entries untouched: each would
///   wait one timeout, or be one more failed login (a provider may lock
///   the account). `fresh`, the entry the caller just queued, is still
///   named, with the reason, when it was not tried;
/// - unreadable entry: moved to `failed/`.
///
/// The attempt on `fresh` reads as the report's own warning (and says
/// nothing when it went well); the others name the entry and count the
/// attempt.
pub fn retry(
    dir: &str,
    now: i64,
    fresh: Option<&str>,
    mut deliver: impl FnMut(&Entry, &[u8]) -> Outcome,
) -> core::result::Result<Vec<String>, u32> {
    let is_dir = fs::metadata(dir).is_ok_and(|m| m.is_dir());
    if !is_dir || names(dir).is_ok_and(|l| l.is_empty()) {
        return Ok(Vec::new());
    }
    let _lock = match lock(dir, 0) {
        Ok(Ok(l)) => l,
        Ok(Err(pid)) => return Err(pid),
        Err(e) => return Ok(vec![e.message().into()]),
    };
    let list = match names(dir) {
        Ok(l) => l,
        Err(e) => return Ok(vec![e.message().into()]),
    };
    let mut events = Vec::new();
    let mut stopped: Option<String> = None;
    for name in &list {
        let first = fresh == Some(name.as_str());
        if let Some(why) = &stopped {
            if first {
                events.push(not_delivered(dir, name, why, ""));
            }
            continue;
        }
        let mut entry = Entry::blank(name.clone());
        let msg = match read_entry(dir, &mut entry) {
            Ok(m) => m,
            Err(e) => {
                events.push(unreadable(dir, &entry.name, &e));
                continue;
            }
        };
        entry.attempts = entry.attempts.saturating_add(1);
        entry.last = now;
        let outcome = deliver(&entry, &msg);
        let server = outcome.concerns_server();
        match outcome {
            Outcome::Delivered { rejected } => {
                delivered(dir, &mut entry, &msg, (rejected, first), &mut events)
            }
            Outcome::Permanent(f) if !server => {
                entry.reason = one_line(&f.reason);
                entry.refusals = entry.refusals.saturating_add(1);
                refused(dir, &entry, &msg, first, &mut events);
            }
            Outcome::Transient(f) | Outcome::Permanent(f) => {
                entry.reason = one_line(&f.reason);
                keep(dir, &entry, &msg, (first, "still waiting"), &mut events);
                if server {
                    stopped = Some(entry.reason.clone());
                }
            }
        }
    }
    Ok(events)
}

/// `spooled mail NAME: WHAT (attempt N): REASON` (no reason: no colon).
fn sentence(entry: &Entry, what: &str, reason: &str) -> String {
    let mut s = cat(&[
        "spooled mail ",
        &entry.name,
        ": ",
        what,
        " (attempt ",
        num(u64::from(entry.attempts)).as_str(),
        ")",
    ]);
    if !reason.is_empty() {
        push_all(&mut s, &[": ", reason]);
    }
    s
}

/// The warning of a report whose first attempt failed (or that was not
/// tried: the server failed on an older message first).
fn not_delivered(dir: &str, name: &str, reason: &str, trouble: &str) -> String {
    cat(&[
        "report mail not delivered (",
        reason,
        "); kept as ",
        &path(dir, name),
        " and retried at the next update",
        trouble,
    ])
}

/// Writes the entry back; returns the words to append to its sentence
/// when that failed (empty when it worked).
fn rewrite(dir: &str, entry: &Entry, msg: &[u8]) -> String {
    match crate::store::replace_file(dir, &entry.name, &entry.encode(msg)) {
        Ok(()) => String::new(),
        Err(e) => cat(&[" (and cannot update the spool: ", e.message(), ")"]),
    }
}

/// `first`: the report just queued (see `retry`).
fn delivered(
    dir: &str,
    entry: &mut Entry,
    msg: &[u8],
    (rejected, first): (Vec<Rejection>, bool),
    events: &mut Vec<String>,
) {
    let (deferred, refused): (Vec<Rejection>, Vec<Rejection>) =
        rejected.into_iter().partition(|r| r.code / 100 == 4);
    if deferred.is_empty() {
        let p = path(dir, &entry.name);
        match fs::remove_file(&p) {
            Err(e) => {
                let e = Error::io("remove", &p, &e);
                let mut s = sentence(entry, "delivered", "");
                push_all(&mut s, &[", but ", e.message(), "; it will be sent again"]);
                events.push(s);
            }
            Ok(()) => {
                let _ = crate::store::sync_dir(dir);
                if !first {
                    events.push(sentence(entry, "delivered", ""));
                }
            }
        }
    } else {
        entry.to = deferred.iter().map(|r| r.recipient.clone()).collect();
        entry.reason = deferred
            .first()
            .map_or(String::new(), |r| one_line(&r.reason));
        let trouble = rewrite(dir, entry, msg);
        for r in &deferred {
            let mut s = if first {
                cat(&[
                    "report mail deferred for a recipient (",
                    &r.reason,
                    "); kept as ",
                    &path(dir, &entry.name),
                    " for that recipient and retried at the next update",
                ])
            } else {
                let what = "delivered to the other recipients, kept for a deferred one";
                sentence(entry, what, &r.reason)
            };
            s.push_str(&trouble);
            events.push(s);
        }
    }
    for r in &refused {
        events.push(if first {
            cat(&["the server refused a recipient: ", &r.reason])
        } else {
            sentence(entry, "recipient refused", &r.reason)
        });
    }
}

fn keep(
    dir: &str,
    entry: &Entry,
    msg: &[u8],
    (first, what): (bool, &str),
    events: &mut Vec<String>,
) {
    let trouble = rewrite(dir, entry, msg);
    events.push(if first {
        not_delivered(dir, &entry.name, &entry.reason, &trouble)
    } else {
        let mut s = sentence(entry, what, &entry.reason);
        s.push_str(&trouble);
        s
    });
}

fn refused(dir: &str, entry: &Entry, msg: &[u8], first: bool, events: &mut Vec<String>) {
    if entry.refusals < MAX_PERMANENT_ATTEMPTS {
        let what = cat(&[
            "refused by the server, refusal ",
            num(u64::from(entry.refusals)).as_str(),
            " of ",
            num(u64::from(MAX_PERMANENT_ATTEMPTS)).as_str(),
        ]);
        return keep(dir, entry, msg, (first, &what), events);
    }
    // Record the last reason before moving it, for the human who looks.
    let r = crate::store::replace_file(dir, &entry.name, &entry.encode(msg))
        .and_then(|_| give_up(dir, &entry.name));
    let tail = match &r {
        Ok(()) => cat(&[
            " (kept in ",
            &path(&failed_dir(dir), &entry.name),
            "; netmon mail-requeue sends it again)",
        ]),
        Err(e) => cat(&[" (", e.message(), ")"]),
    };
    let mut s = sentence(entry, "refused too often, given up", &entry.reason);
    s.push_str(&tail);
    events.push(s);
}

fn unreadable(dir: &str, name: &str, e: &Error) -> String {
    match give_up(dir, name) {
        Ok(()) => cat(&[e.message(), "; moved to ", &path(&failed_dir(dir), name)]),
        Err(e2) => cat(&[e.message(), "; ", e2.message()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::smtp::{Failure, Stage};

    fn tmp(name: &str) -> String {
        let d = std::env::temp_dir().join(format!("netmon-spool-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d.to_string_lossy().into_owned()
    }

    /// A reply to a stage of the dialogue.
    fn fail(stage: Stage, code: u16, reason: &str) -> Failure {
        Failure {
            stage,
            code: Some(code),
            reason: reason.into(),
        }
    }

    fn rcpt(code: u16, reason: &str) -> Failure {
        fail(Stage::RcptTo, code, reason)
    }

    fn to() -> Vec<String> {
        vec!["a@example.org".into(), "b@example.org".into()]
    }

    fn q(d: &str, msg: &[u8], now: i64) -> String {
        queue(d, "n@r", &to(), msg, now).unwrap().0
    }

    fn ok() -> Outcome {
        Outcome::Delivered { rejected: vec![] }
    }

    fn header(d: &str, name: &str) -> Entry {
        let mut e = Entry::blank(name.into());
        read_entry(d, &mut e).unwrap();
        e
    }

    #[test]
    fn names_are_sorted_and_filtered() {
        let d = tmp("names");
        fs::create_dir_all(&d).unwrap();
        let made = [
            "3.msg", "1.msg", ".0.msg", "2.msg", "10.msg", "x.tmp", "0.msg", ".lock",
        ];
        for n in made {
            fs::write(path(&d, n), "").unwrap();
        }
        assert_eq!(
            names(&d).unwrap(),
            ["0.msg", "1.msg", "10.msg", "2.msg", "3.msg"]
        );
        fs::remove_dir_all(&d).unwrap();
        assert!(names(&d).unwrap().is_empty());
    }

    #[test]
    fn entry_round_trips_byte_exact() {
        let d = tmp("rt");
        let msg = b"Subject: x\r\n\r\nline\r\n\r\n.dot\r\n";
        let (e, w) = queue(&d, "n@r.lan", &to(), msg, 1_779_305_040).unwrap();
        assert!(w.is_empty());
        assert_eq!(e, "001779305040-0000.msg");
        let text = fs::read(path(&d, &e)).unwrap();
        let expect = b"netmon-spool 1\nattempts 0\nrefusals 0\nfirst 1779305040\nlast 1779305040\n\
from n@r.lan\nto a@example.org\nto b@example.org\nreason \n\n";
        assert_eq!(&text[..expect.len()], &expect[..]);
        assert_eq!(&text[expect.len()..], &msg[..]);
        let mut back = Entry::blank(e.clone());
        let m = read_entry(&d, &mut back).unwrap();
        assert_eq!(
            (back, m.as_slice()),
            (list(&d).unwrap().remove(0), &msg[..])
        );
        // A reason is kept to one printable line.
        let ev = retry(&d, 1_779_305_100, None, |_, _| {
            Outcome::Transient(rcpt(451, "RCPT TO: 451 a\r\nb\tc"))
        })
        .unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(header(&d, &e).reason, "RCPT TO: 451 a  b c");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn list_is_oldest_first_and_same_second_gets_next_number() {
        let d = tmp("order");
        q(&d, b"3", 300);
        q(&d, b"1", 100);
        q(&d, b"1b", 100);
        let names: Vec<String> = list(&d).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            [
                "000000000100-0000.msg",
                "000000000100-0001.msg",
                "000000000300-0000.msg"
            ]
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn full_spool_moves_the_oldest_to_failed_unless_a_delivery_runs() {
        let d = tmp("full");
        for i in 0..MAX_SPOOL as i64 {
            assert!(queue(&d, "n@r", &to(), b"m", 1000 + i)
                .unwrap()
                .1
                .is_empty());
        }
        // A delivery under way holds the oldest entries: no room is made.
        let held = lock(&d, 0).unwrap().unwrap();
        let (_, w) = queue(&d, "n@r", &to(), b"m", 5000).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(list(&d).unwrap().len(), MAX_SPOOL + 1);
        drop(held);
        // The next report makes room for itself and the one over.
        let (_, w) = queue(&d, "n@r", &to(), b"m", 5001).unwrap();
        let failed = failed_dir(&d);
        assert_eq!(
            w,
            [
                format!("mail spool full (50 messages): gave up on the oldest, moved to {failed}/000000001000-0000.msg"),
                format!("mail spool full (50 messages): gave up on the oldest, moved to {failed}/000000001001-0000.msg"),
            ]
        );
        let l = list(&d).unwrap();
        assert_eq!(l.len(), MAX_SPOOL);
        assert_eq!(l[0].name, "000000001002-0000.msg");
        assert_eq!(list(&failed).unwrap().len(), 2);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn failed_dir_is_bounded() {
        let d = tmp("failedcap");
        for i in 0..(MAX_FAILED + 3) as i64 {
            let e = q(&d, b"m", 10 + i);
            give_up(&d, &e).unwrap();
        }
        let f = names(&failed_dir(&d)).unwrap();
        assert_eq!(f.len(), MAX_FAILED);
        assert_eq!(f[0], "000000000013-0000.msg", "the 3 oldest were deleted");
        let _ = fs::remove_dir_all(&d);
    }

    /// Every sentence a run can say, exactly: the attempt on the report
    /// just queued speaks of the report (and is silent when it went
    /// well); the others name the entry and count the attempt.
    #[test]
    fn retry_sentences_are_one_clean_sentence_each() {
        let d = tmp("sentences");
        let grey = "b@example.org: 450 4.2.0 greylisted";
        let nobody = "b@example.org: 550 5.1.1 no such user";
        let rej = |to: &str, code: u16, reason: &str| Rejection {
            recipient: to.into(),
            code,
            reason: reason.into(),
        };
        let partly = |r: Vec<Rejection>| Outcome::Delivered { rejected: r };
        let later_451 = || Outcome::Transient(fail(Stage::Data, 451, "DATA: 451 later"));
        let no = || Outcome::Permanent(rcpt(550, "RCPT TO: no"));
        let kept = |n: &str, why: &str| {
            format!(
                "report mail not delivered ({why}); kept as {d}/{n} and retried at the next update"
            )
        };
        let mut all = Vec::new();
        let mut check = |ev: Vec<String>, want: Vec<String>| {
            assert_eq!(ev, want);
            all.extend(ev);
        };

        let a = q(&d, b"A", 1);
        check(
            retry(&d, 10, Some(&a), |_, _| later_451()).unwrap(),
            vec![kept(&a, "DATA: 451 later")],
        );
        let b = q(&d, b"B", 2);
        let ev = retry(&d, 20, Some(&b), |e, _| match e.name == b {
            true => partly(vec![rej("b@example.org", 450, grey)]),
            false => ok(),
        });
        check(ev.unwrap(), vec![
            format!("spooled mail {a}: delivered (attempt 2)"),
            format!("report mail deferred for a recipient ({grey}); kept as {d}/{b} for that recipient and retried at the next update"),
        ]);
        assert_eq!(header(&d, &b).to, ["b@example.org"]);
        let c = q(&d, b"C", 3);
        let ev = retry(&d, 30, Some(&c), |e, _| match e.name == c {
            true => Outcome::Permanent(rcpt(550, "RCPT TO: every recipient refused: x")),
            false => Outcome::Transient(rcpt(450, "RCPT TO: again")),
        });
        check(
            ev.unwrap(),
            vec![
                format!("spooled mail {b}: still waiting (attempt 2): RCPT TO: again"),
                kept(&c, "RCPT TO: every recipient refused: x"),
            ],
        );
        let e = q(&d, b"E", 4);
        let ev = retry(&d, 40, Some(&e), |x, _| match x.name.as_str() {
            n if n == e => partly(vec![rej("b@example.org", 550, nobody)]),
            n if n == c => no(),
            _ => ok(),
        });
        check(ev.unwrap(), vec![
            format!("spooled mail {b}: delivered (attempt 3)"),
            format!("spooled mail {c}: refused by the server, refusal 2 of 5 (attempt 2): RCPT TO: no"),
            format!("the server refused a recipient: {nobody}"),
        ]);
        let f = queue(
            &d,
            "n@r",
            &["a@x".into(), "b@x".into(), "c@x".into()],
            b"F",
            50,
        )
        .unwrap()
        .0;
        let ev = retry(&d, 50, None, |x, _| match x.name == f {
            true => Outcome::Transient(fail(Stage::EndOfData, 451, "end of data: 451 later")),
            false => no(),
        });
        check(ev.unwrap(), vec![
            format!("spooled mail {c}: refused by the server, refusal 3 of 5 (attempt 3): RCPT TO: no"),
            format!("spooled mail {f}: still waiting (attempt 1): end of data: 451 later"),
        ]);
        let ev = retry(&d, 60, None, |x, _| match x.name == f {
            true => partly(vec![
                rej("b@x", 550, "b@x: 550 no"),
                rej("c@x", 451, "c@x: 451 later"),
            ]),
            false => no(),
        });
        check(ev.unwrap(), vec![
            format!("spooled mail {c}: refused by the server, refusal 4 of 5 (attempt 4): RCPT TO: no"),
            format!("spooled mail {f}: delivered to the other recipients, kept for a deferred one (attempt 2): c@x: 451 later"),
            format!("spooled mail {f}: recipient refused (attempt 2): b@x: 550 no"),
        ]);
        assert_eq!(header(&d, &f).to, ["c@x"]);
        let g = q(&d, b"G", 70);
        let ev = retry(&d, 70, None, |x, _| match x.name == c {
            true => no(),
            false => ok(),
        });
        let failed = failed_dir(&d);
        check(ev.unwrap(), vec![
            format!("spooled mail {c}: refused too often, given up (attempt 5): RCPT TO: no (kept in {failed}/{c}; netmon mail-requeue sends it again)"),
            format!("spooled mail {f}: delivered (attempt 3)"),
            format!("spooled mail {g}: delivered (attempt 1)"),
        ]);
        let h = q(&d, b"H", 80);
        check(retry(&d, 80, Some(&h), |_, _| ok()).unwrap(), vec![]);
        assert!(list(&d).unwrap().is_empty());
        for s in &all {
            assert!(
                !s.contains(":  ") && !s.contains(")s") && !s.contains('\n'),
                "{s}"
            );
        }
        let _ = fs::remove_dir_all(&d);
    }

    /// A message-level failure (4xx or 5xx to MAIL, RCPT, DATA, or after
    /// the data) does not hold the newer messages back; a failure of the
    /// server stops the run, the other entries untouched, and reports
    /// never tried are named with the reason.
    #[test]
    fn message_failures_go_on_server_failures_stop() {
        let d = tmp("stop");
        for (i, m) in [b"A", b"B", b"C"].iter().enumerate() {
            q(&d, *m, 1 + i as i64);
        }
        let mut seen = Vec::new();
        let ev = retry(&d, 10, None, |_, m| {
            seen.push(m.to_vec());
            match m {
                b"A" => Outcome::Transient(fail(Stage::EndOfData, 451, "end of data: 451 x")),
                b"B" => Outcome::Transient(fail(Stage::MailFrom, 452, "MAIL FROM: 452 x")),
                _ => ok(),
            }
        })
        .unwrap();
        assert_eq!(seen, [b"A".to_vec(), b"B".to_vec(), b"C".to_vec()]);
        assert_eq!(ev.len(), 3, "{ev:?}");
        let new = q(&d, b"D", 20);
        let auth = || Outcome::Permanent(fail(Stage::Auth, 535, "AUTH: 535 5.7.8 bad password"));
        // The run of the report that queued `new` names it; a later run
        // does not repeat that.
        for (now, fresh) in [(30, Some(new.as_str())), (40, None)] {
            let mut n = 0;
            let ev = retry(&d, now, fresh, |_, _| {
                n += 1;
                auth()
            })
            .unwrap();
            assert_eq!(n, 1, "one failed login per run");
            let mut want = vec![format!(
                "spooled mail 000000000001-0000.msg: still waiting (attempt {}): AUTH: 535 5.7.8 bad password",
                now / 10 - 1
            )];
            if fresh.is_some() {
                want.push(format!("report mail not delivered (AUTH: 535 5.7.8 bad password); kept as {d}/{new} and retried at the next update"));
            }
            assert_eq!(ev, want);
        }
        let l = list(&d).unwrap();
        let counts: Vec<(u32, u32)> = l.iter().map(|e| (e.attempts, e.refusals)).collect();
        // AUTH is never counted as a refusal; the others were not tried.
        assert_eq!(counts, [(3, 0), (1, 0), (0, 0)]);
        for (o, stops) in [
            (
                Outcome::Transient(fail(Stage::Connect, 0, "connect: refused")),
                true,
            ),
            (
                Outcome::Transient(fail(Stage::Greeting, 421, "greeting: 421")),
                true,
            ),
            (
                Outcome::Transient(fail(Stage::Hello, 451, "EHLO/HELO: 451")),
                true,
            ),
            (
                Outcome::Transient(fail(Stage::RcptTo, 421, "RCPT TO: 421")),
                true,
            ),
            (
                Outcome::Permanent(fail(Stage::Data, 554, "DATA: 554")),
                false,
            ),
        ] {
            let mut n = 0;
            retry(&d, 50, None, |_, _| {
                n += 1;
                o.clone()
            })
            .unwrap();
            assert_eq!(n == 1, stops, "{o:?}");
        }
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_delivery_under_way_is_not_waited_for() {
        let d = tmp("busy");
        let a = q(&d, b"A", 1);
        let held = lock(&d, 0).unwrap().unwrap();
        let r = retry(&d, 10, None, |_, _| {
            panic!("tried while another netmon delivers")
        });
        assert_eq!(r, Err(std::process::id()));
        drop(held);
        assert_eq!(retry(&d, 10, Some(&a), |_, _| ok()), Ok(vec![]));
        assert!(list(&d).unwrap().is_empty());
        // Nothing to deliver: no lock file is made, not even a directory.
        let none = tmp("busy-none");
        assert_eq!(retry(&none, 10, None, |_, _| ok()), Ok(vec![]));
        assert!(fs::metadata(&none).is_err());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_spool_that_cannot_be_updated_is_reported() {
        let d = tmp("stuck");
        let name = q(&d, b"A", 1);
        retry(&d, 5, None, |_, _| Outcome::Transient(rcpt(451, "x"))).unwrap();
        // The temp file's name taken by a non-empty directory: the
        // rewrite of the entry fails (even for root).
        let blocker = path(&d, &format!(".{name}.tmp"));
        fs::create_dir_all(path(&blocker, "x")).unwrap();
        let ev = retry(&d, 10, None, |_, _| {
            Outcome::Transient(fail(Stage::Data, 451, "DATA: 451 later"))
        })
        .unwrap();
        let want = format!(
            "spooled mail {name}: still waiting (attempt 2): DATA: 451 later \
             (and cannot update the spool: cannot write {blocker}: Is a directory)"
        );
        assert_eq!(ev, [want]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn refused_five_times_is_given_up_and_can_be_requeued() {
        let d = tmp("perm");
        let name = q(&d, b"A", 1);
        let mut tries = 0;
        for t in 0..10 {
            retry(&d, 100 + t, None, |_, _| {
                tries += 1;
                Outcome::Permanent(rcpt(550, "RCPT TO: 550 no"))
            })
            .unwrap();
        }
        assert_eq!(tries, MAX_PERMANENT_ATTEMPTS);
        assert!(list(&d).unwrap().is_empty());
        let failed = failed_dir(&d);
        let e = header(&failed, &name);
        assert_eq!((e.attempts, e.refusals), (5, 5));
        // A name that is not there: a usage error naming the directory.
        for bad in ["nope", "../x.msg", "a\nb"] {
            let err = requeue(&d, Some(bad), 0).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(!err.message().contains('\n'));
            assert!(err.message().starts_with("no message '"), "{err:?}");
            assert!(err.message().contains(&failed));
        }
        // By name without the suffix; counters reset; delivered once more.
        let stem = name.strip_suffix(".msg").unwrap();
        assert_eq!(
            requeue(&d, Some(stem), 0).unwrap(),
            std::slice::from_ref(&name)
        );
        assert!(list(&failed).unwrap().is_empty());
        let back = header(&d, &name);
        assert_eq!(
            (back.attempts, back.refusals, back.reason.as_str()),
            (0, 0, "")
        );
        assert_eq!((back.first, back.to), (1, to()));
        let again = format!("spooled mail {name}: delivered (attempt 1)");
        assert_eq!(retry(&d, 200, None, |_, _| ok()), Ok(vec![again]));
        assert!(list(&d).unwrap().is_empty());
        assert_eq!(requeue(&d, None, 0).unwrap(), Vec::<String>::new());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn requeue_all_moves_every_given_up_message_and_waits_for_no_one_forever() {
        let d = tmp("requeue-all");
        let (a, b) = (q(&d, b"A", 1), q(&d, b"B", 2));
        give_up(&d, &a).unwrap();
        give_up(&d, &b).unwrap();
        let held = lock(&d, 0).unwrap().unwrap();
        let err = requeue(&d, None, 100).unwrap_err();
        assert_eq!(
            err.message(),
            format!(
                "another netmon (pid {}) is delivering the mail spool and holds {d}/.lock; try again later",
                std::process::id()
            )
        );
        drop(held);
        assert_eq!(requeue(&d, None, 100).unwrap(), [a, b]);
        assert_eq!(list(&d).unwrap().len(), 2);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn decode_reads_every_key_and_refuses_bad_headers() {
        let head = "netmon-spool 1\nattempts 3\nrefusals 2\nfirst -5\nlast 9\n\
            from f@x\nto a@x\nto b@x\nreason r r\n\nMSG";
        let mut e = Entry::blank("n".into());
        assert_eq!(e.decode(head.as_bytes()), Some(head.len() - 3));
        assert_eq!((e.attempts, e.refusals, e.first, e.last), (3, 2, -5, 9));
        assert_eq!((e.from.as_str(), e.reason.as_str()), ("f@x", "r r"));
        assert_eq!(e.to, ["a@x", "b@x"]);
        for bad in [
            "attempts -1",
            "refusals x",
            "first 1.5",
            "last",
            "colour red",
        ] {
            let h = ["netmon-spool 1\nfrom f@x\nto a@x\n", bad, "\n\nM"].concat();
            let mut e = Entry::blank("n".into());
            assert_eq!(e.decode(h.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn damaged_entry_is_moved_aside_and_the_rest_still_goes() {
        let d = tmp("damaged");
        q(&d, b"B", 2);
        fs::write(path(&d, "000000000001-0000.msg"), b"garbage").unwrap();
        let ev = retry(&d, 5, None, |_, _| ok()).unwrap();
        assert_eq!(
            ev,
            [
                format!(
                "spool entry {d}/000000000001-0000.msg is not a netmon spool file (or is damaged); \
                 moved to {d}/failed/000000000001-0000.msg"
            ),
                "spooled mail 000000000002-0000.msg: delivered (attempt 1)".into()
            ]
        );
        assert!(list(&d).unwrap().is_empty());
        let _ = fs::remove_dir_all(&d);
    }
}
