//! The spool: messages that could not be delivered yet, one file each in
//! `<state_dir>/spool/`, retried oldest first at the next update/report.
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
//! Invariants: every file is written whole or not at all (temp file in
//! the same directory, fsync, rename, fsync of the directory), so a crash
//! leaves either the old or the new entry, never half of one; names are
//! `<first attempt, 12 digits>-<4 digits>.msg`, so name order is age
//! order; at most `MAX_SPOOL` entries (the oldest goes to `failed/` to
//! make room, with a warning) and `MAX_FAILED` in `failed/` (the oldest
//! is deleted); an entry is removed only after the server accepted the
//! message. Delivery is exactly once except in one window: a crash (or a
//! failed unlink) after the server's 250 and before the file is gone
//! sends the message again on the next run (at least once; RFC 5321
//! section 6.1 accepts duplicates over loss). Likewise a connection lost
//! after the final `.` but before the reply leaves the client unable to
//! know (RFC 1047), and it retries.
//!
//! The caller holds netmon's lock (`state_dir/lock`): two processes never
//! work on the spool at once.

use std::fs;

use crate::error::{Error, Result};
use crate::mail::smtp::{Outcome, MAX_REASON};
use crate::mail::{cat, push_all};
use crate::text::num;
use crate::text::parse_int;
use crate::text::Buf;

/// Most messages waiting; the 51st pushes the oldest into `failed/`.
pub const MAX_SPOOL: usize = 50;
/// Most messages kept in `failed/` for a human to look at.
pub const MAX_FAILED: usize = 20;
/// Permanent refusals (5xx) after which a message is given up.
pub const MAX_PERMANENT_ATTEMPTS: u32 = 5;
/// Largest entry file read back; a report is tens of KiB.
pub const MAX_ENTRY_BYTES: u64 = 4 << 20;
/// Sub-directory of given-up messages.
pub const FAILED_DIR: &str = "failed";

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
    pub attempts: u32,
    /// How many of the attempts ended in a permanent (5xx) refusal.
    pub refusals: u32,
    pub first: i64,
    pub last: i64,
    /// Why the last attempt failed (one line, printable).
    pub reason: String,
    pub from: String,
    pub to: Vec<String>,
}

fn path(dir: &str, name: &str) -> String {
    crate::store::join(dir, name)
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

/// A fresh name: the first attempt's time, then the first free number.
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

/// Spools `msg` after its first failed attempt (`reason`, permanent or
/// not). Returns the entry's file name and, when the spool was full,
/// the warning sentence about the oldest entry moved to `failed/`.
pub fn add(
    dir: &str,
    from: &str,
    to: &[String],
    msg: &[u8],
    now: i64,
    reason: &str,
    permanent: bool,
) -> Result<(String, Option<String>)> {
    ensure_dir(dir)?;
    let mut warning = None;
    let existing = names(dir)?;
    if existing.len() >= MAX_SPOOL {
        if let Some(oldest) = existing.first() {
            give_up(dir, oldest)?;
            warning = Some(cat(&[
                "mail spool full (",
                num(MAX_SPOOL as u64).as_str(),
                " messages): gave up on the oldest, moved to ",
                &path(&path(dir, FAILED_DIR), oldest),
            ]));
        }
    }
    let e = Entry {
        name: new_name(dir, now)?,
        attempts: 1,
        refusals: u32::from(permanent),
        first: now,
        last: now,
        reason: one_line(reason),
        from: from.into(),
        to: to.to_vec(),
    };
    crate::store::replace_file(dir, &e.name, &e.encode(msg))?;
    Ok((e.name, warning))
}

/// Moves an entry to `failed/`, then deletes the oldest failed ones
/// beyond `MAX_FAILED`.
fn give_up(dir: &str, name: &str) -> Result<()> {
    let failed = path(dir, FAILED_DIR);
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

/// Retries every entry, oldest first, through `deliver` (one attempt
/// each), and returns one sentence per event for stderr/syslog:
/// - delivered: the entry is removed (refused recipients are reported,
///   not retried: the others already have the message);
/// - transient failure: kept, `attempts` + 1, and the run stops there:
///   the server is down or busy, and trying the rest would wait one
///   timeout each (a run waits at most one timeout);
/// - permanent refusal: kept with the reason, given up (moved to
///   `failed/`) at the `MAX_PERMANENT_ATTEMPTS`th refusal;
/// - unreadable entry: moved to `failed/`.
pub fn retry(
    dir: &str,
    now: i64,
    mut deliver: impl FnMut(&Entry, &[u8]) -> Outcome,
) -> Vec<String> {
    let mut events = Vec::new();
    let list = match names(dir) {
        Ok(l) => l,
        Err(e) => return vec![e.message().into()],
    };
    for name in &list {
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
        let stop = match deliver(&entry, &msg) {
            Outcome::Delivered { rejected } => {
                delivered(dir, &entry, &rejected, &mut events);
                false
            }
            Outcome::Transient(f) => {
                entry.reason = one_line(&f.reason);
                keep(dir, &entry, &msg, &mut events, "still waiting");
                true
            }
            Outcome::Permanent(f) => {
                entry.reason = one_line(&f.reason);
                entry.refusals = entry.refusals.saturating_add(1);
                refused(dir, &entry, &msg, &mut events);
                false
            }
        };
        if stop {
            break;
        }
    }
    events
}

/// `spooled mail NAME: WHAT (attempt N)TAIL...`
fn sentence(entry: &Entry, what: &str, tail: &[&str]) -> String {
    let mut s = cat(&[
        "spooled mail ",
        &entry.name,
        ": ",
        what,
        " (attempt ",
        num(u64::from(entry.attempts)).as_str(),
        ")",
    ]);
    push_all(&mut s, tail);
    s
}

fn delivered(
    dir: &str,
    entry: &Entry,
    rejected: &[crate::mail::smtp::Rejection],
    events: &mut Vec<String>,
) {
    let p = path(dir, &entry.name);
    let s = match fs::remove_file(&p) {
        Err(e) => {
            let e = Error::io("remove", &p, &e);
            let tail = [", but ", e.message(), ": it will be sent again"];
            sentence(entry, "delivered", &tail)
        }
        Ok(()) => {
            let _ = crate::store::sync_dir(dir);
            sentence(entry, "delivered", &[])
        }
    };
    events.push(s);
    for r in rejected {
        events.push(sentence(entry, "recipient refused: ", &[&r.reason]));
    }
}

fn keep(dir: &str, entry: &Entry, msg: &[u8], events: &mut Vec<String>, what: &str) {
    let r = crate::store::replace_file(dir, &entry.name, &entry.encode(msg));
    // One sentence call; the spool trouble, if any, as its last pieces.
    let (open, why, close) = match &r {
        Ok(()) => ("", "", ""),
        Err(e) => (" (and cannot update the spool: ", e.message(), ")"),
    };
    events.push(sentence(
        entry,
        what,
        &[": ", &entry.reason, open, why, close],
    ));
}

fn refused(dir: &str, entry: &Entry, msg: &[u8], events: &mut Vec<String>) {
    if entry.refusals < MAX_PERMANENT_ATTEMPTS {
        let what = cat(&[
            "refused by the server, refusal ",
            num(u64::from(entry.refusals)).as_str(),
            " of ",
            num(u64::from(MAX_PERMANENT_ATTEMPTS)).as_str(),
        ]);
        return keep(dir, entry, msg, events, &what);
    }
    // Record the last reason before moving it, for the human who looks.
    let r = crate::store::replace_file(dir, &entry.name, &entry.encode(msg))
        .and_then(|_| give_up(dir, &entry.name));
    let kept;
    let (open, why) = match &r {
        Ok(()) => {
            kept = path(&path(dir, FAILED_DIR), &entry.name);
            (" (kept in ", kept.as_str())
        }
        Err(e) => (" (", e.message()),
    };
    let tail = [": ", &entry.reason, open, why, ")"];
    events.push(sentence(entry, "refused too often, given up", &tail));
}

fn unreadable(dir: &str, name: &str, e: &Error) -> String {
    match give_up(dir, name) {
        Ok(()) => cat(&[e.message(), "; moved to failed/"]),
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

    fn fail(reason: &str) -> Failure {
        Failure {
            stage: Stage::RcptTo,
            code: Some(550),
            reason: reason.into(),
        }
    }

    fn to() -> Vec<String> {
        vec!["a@example.org".into(), "b@example.org".into()]
    }

    #[test]
    fn names_are_sorted_and_filtered() {
        let d = tmp("names");
        fs::create_dir_all(&d).unwrap();
        let made = [
            "3.msg", "1.msg", ".0.msg", "2.msg", "10.msg", "x.tmp", "0.msg",
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
        let (e, w) = add(
            &d,
            "n@r.lan",
            &to(),
            msg,
            1_779_305_040,
            "connect: refused\r\nX",
            false,
        )
        .unwrap();
        assert!(w.is_none());
        assert_eq!(e, "001779305040-0000.msg");
        let text = fs::read(path(&d, &e)).unwrap();
        let expect = b"netmon-spool 1\nattempts 1\nrefusals 0\nfirst 1779305040\nlast 1779305040\n\
from n@r.lan\nto a@example.org\nto b@example.org\nreason connect: refused  X\n\n";
        assert_eq!(&text[..expect.len()], &expect[..]);
        assert_eq!(&text[expect.len()..], &msg[..]);
        let mut back = Entry::blank(e.clone());
        let m = read_entry(&d, &mut back).unwrap();
        assert_eq!(
            (back, m.as_slice()),
            (list(&d).unwrap().remove(0), &msg[..])
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn list_is_oldest_first_and_same_second_gets_next_number() {
        let d = tmp("order");
        add(&d, "n@r", &to(), b"3", 300, "r", false).unwrap();
        add(&d, "n@r", &to(), b"1", 100, "r", false).unwrap();
        add(&d, "n@r", &to(), b"1b", 100, "r", false).unwrap();
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
    fn full_spool_moves_the_oldest_to_failed() {
        let d = tmp("full");
        for i in 0..MAX_SPOOL as i64 {
            assert!(add(&d, "n@r", &to(), b"m", 1000 + i, "r", false)
                .unwrap()
                .1
                .is_none());
        }
        let (_, w) = add(&d, "n@r", &to(), b"m", 5000, "r", false).unwrap();
        let w = w.expect("warning");
        assert!(w.starts_with("mail spool full (50 messages)"), "{w}");
        assert!(w.ends_with("/failed/000000001000-0000.msg"), "{w}");
        let l = list(&d).unwrap();
        assert_eq!(l.len(), MAX_SPOOL);
        assert_eq!(l[0].name, "000000001001-0000.msg");
        assert!(std::path::Path::new(&path(&d, "failed/000000001000-0000.msg")).exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn failed_dir_is_bounded() {
        let d = tmp("failedcap");
        for i in 0..(MAX_FAILED + 3) as i64 {
            let (e, _) = add(&d, "n@r", &to(), b"m", 10 + i, "r", true).unwrap();
            give_up(&d, &e).unwrap();
        }
        let f = names(&path(&d, FAILED_DIR)).unwrap();
        assert_eq!(f.len(), MAX_FAILED);
        assert_eq!(f[0], "000000000013-0000.msg", "the 3 oldest were deleted");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn retry_outcomes() {
        let d = tmp("retry");
        add(&d, "n@r", &to(), b"A", 1, "r", false).unwrap();
        add(&d, "n@r", &to(), b"B", 2, "r", false).unwrap();
        add(&d, "n@r", &to(), b"C", 3, "r", false).unwrap();
        // A delivered, B refused (kept), C transient: stops after C.
        let mut seen = Vec::new();
        let ev = retry(&d, 10, |_, m| {
            seen.push(m.to_vec());
            match m {
                b"A" => Outcome::Delivered { rejected: vec![] },
                b"B" => Outcome::Permanent(fail("RCPT TO: 550 no")),
                _ => Outcome::Transient(fail("DATA: 451 later")),
            }
        });
        assert_eq!(seen, [b"A".to_vec(), b"B".to_vec(), b"C".to_vec()]);
        assert_eq!(
            ev,
            [
                "spooled mail 000000000001-0000.msg: delivered (attempt 2)",
                "spooled mail 000000000002-0000.msg: refused by the server, refusal 1 of 5 (attempt 2): RCPT TO: 550 no",
                "spooled mail 000000000003-0000.msg: still waiting (attempt 2): DATA: 451 later",
            ]
        );
        let l = list(&d).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].attempts, l[0].refusals, l[0].last), (2, 1, 10));
        assert_eq!(l[0].reason, "RCPT TO: 550 no");
        // A transient failure on the oldest stops the run: C is not tried.
        let mut n = 0;
        retry(&d, 11, |_, _| {
            n += 1;
            Outcome::Transient(fail("connect: refused"))
        });
        assert_eq!(n, 1);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_spool_that_cannot_be_updated_is_reported() {
        let d = tmp("stuck");
        let (name, _) = add(&d, "n@r", &to(), b"A", 1, "r", false).unwrap();
        // The temp file's name taken by a non-empty directory: the
        // rewrite of the entry fails (even for root).
        let blocker = path(&d, &format!(".{name}.tmp"));
        fs::create_dir_all(path(&blocker, "x")).unwrap();
        let ev = retry(&d, 10, |_, _| Outcome::Transient(fail("DATA: 451 later")));
        let want = format!(
            "spooled mail {name}: still waiting (attempt 2): DATA: 451 later \
             (and cannot update the spool: cannot write {blocker}: Is a directory)"
        );
        assert_eq!(ev, [want]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn refused_five_times_is_given_up() {
        let d = tmp("perm");
        add(&d, "n@r", &to(), b"A", 1, "RCPT TO: 550 no", true).unwrap();
        let mut tries = 0;
        for t in 0..10 {
            retry(&d, 100 + t, |_, _| {
                tries += 1;
                Outcome::Permanent(fail("RCPT TO: 550 no"))
            });
        }
        // One refusal at add, four more on retry.
        assert_eq!(tries, MAX_PERMANENT_ATTEMPTS - 1);
        assert!(list(&d).unwrap().is_empty());
        let mut e = Entry::blank("000000000001-0000.msg".into());
        read_entry(&path(&d, FAILED_DIR), &mut e).unwrap();
        assert_eq!((e.attempts, e.refusals), (5, 5));
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
        add(&d, "n@r", &to(), b"B", 2, "r", false).unwrap();
        fs::write(path(&d, "000000000001-0000.msg"), b"garbage").unwrap();
        let ev = retry(&d, 5, |_, _| Outcome::Delivered { rejected: vec![] });
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(
            ev[0].contains("is not a netmon spool file") && ev[0].ends_with("moved to failed/")
        );
        assert!(list(&d).unwrap().is_empty());
        let _ = fs::remove_dir_all(&d);
    }
}
