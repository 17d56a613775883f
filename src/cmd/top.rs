//! `netmon top`: live download and upload rates per LAN device and per
//! meter. Read-only by design: every `interval` seconds it reads the
//! kernel's counters (`Ctx::counters`: on nft over netlink, a reading a
//! second costs too much through `nft`) and nothing else that changes; it
//! takes no lock and writes no file, so cron's `update` runs beside it as
//! always; and it installs nothing: without netmon's rules it says so and
//! ends. Names come from the state `update` kept and from the name sources,
//! read again every `NAMES_EVERY_MS`, not at every reading: the sources are
//! files and an `ip neigh` child, and a router's CPU is small.
//!
//! On a terminal, without `--count`, it draws in place on the alternate
//! screen and puts the terminal back at the end, after Ctrl-C, SIGTERM or a
//! hang-up too (the handler only sets a flag; the sleep wakes up for it).
//! Otherwise it prints a block of plain text per interval.

use super::ctx::Ctx;
use crate::cli::TopView;
use crate::error::{Error, Result};
use crate::report::top::{self, Names, Sample, View};
use crate::text::Buf;
use crate::{hosts, store, sys};

/// How often the names are read again.
const NAMES_EVERY_MS: u64 = 30_000;
/// The terminal's height when it does not say (a serial console).
const DEFAULT_ROWS: u16 = 24;
/// What `top` says without netmon's rules (it installs nothing).
const NOT_INSTALLED: &str =
    "netmon's rules are not installed, so there are no counters to show: run netmon start";

pub fn run(cx: &mut Ctx, v: TopView) -> Result<()> {
    if cx.runner.dry_run {
        let _ = cx.observe()?;
        return Ok(());
    }
    let first = read(cx)?;
    sys::signal::catch_stop_signals().map_err(|e| Error::io("catch", "SIGINT", &e))?;
    let tty = v.count.is_none() && sys::term::stdout_is_tty();
    // Dropped on every way out of `run`: the terminal is put back.
    let _screen = tty.then(Screen::enter);
    if tty {
        emit(&waiting(cx, v))?;
    }
    watch(cx, v, tty, first)
}

/// A frame per interval after `prev`, until `--count` frames, a stop
/// signal, or the reader going away.
fn watch(cx: &mut Ctx, v: TopView, tty: bool, mut prev: Sample) -> Result<()> {
    let mut names = NameCache::load(cx, prev.at_ms);
    let (every, mut next, mut shown) = (u64::from(v.interval) * 1000, prev.at_ms, 0);
    while v.count.is_none_or(|n| shown < n) {
        next = next_deadline(next, every, sys::monotonic_ms());
        if !sleep_until(next) {
            break;
        }
        let cur = match read(cx) {
            Ok(s) => s,
            // Ctrl-C reaches an `nft` child too: its failure is the stop.
            Err(_) if sys::signal::stop_requested() => break,
            Err(e) => return Err(e),
        };
        names.refresh(cx, cur.at_ms);
        if !emit(&frame(cx, v, tty, (&prev, &cur), &names.names))? {
            break;
        }
        (prev, shown) = (cur, shown + 1);
    }
    Ok(())
}

/// Reads the counters, as a sample timed when the read ended. Without
/// netmon's rules (never installed, stopped, or flushed while `top` ran)
/// that is the end.
fn read(cx: &mut Ctx) -> Result<Sample> {
    let obs = cx.counters()?;
    if !obs.present && !obs.devices_present {
        return Err(Error::runtime(NOT_INSTALLED));
    }
    let at = sys::monotonic_ms();
    Ok(Sample::new(at, obs.handle, &obs.counts, &obs.devices))
}

/// The deadline after `last`: one interval on, so the readings keep their
/// rhythm; one interval from `now` when a slow read already passed it.
fn next_deadline(last: u64, every: u64, now: u64) -> u64 {
    let next = last.saturating_add(every);
    if next > now {
        next
    } else {
        now.saturating_add(every)
    }
}

/// Sleeps until the monotonic `deadline`; false when a stop signal came
/// first.
fn sleep_until(deadline: u64) -> bool {
    loop {
        if sys::signal::stop_requested() {
            return false;
        }
        let now = sys::monotonic_ms();
        if now >= deadline {
            return true;
        }
        sys::signal::sleep_ms(deadline - now);
    }
}

/// How this frame is drawn: the local time now (written into `when`) and,
/// on a terminal, its height less one line (a newline on the last line
/// would scroll the frame up).
fn view<'a>(cx: &Ctx, v: TopView, tty: bool, when: &'a mut Buf) -> View<'a> {
    let _ = cx.cal.zone.write_human(when, sys::now());
    let rows = sys::term::window_size().map_or(DEFAULT_ROWS, |(r, _)| r);
    View {
        when: when.as_str(),
        interval: v.interval,
        sort: v.sort,
        lines: tty.then(|| usize::from(rows).saturating_sub(1)),
    }
}

/// The terminal's first frame, until the second reading gives rates.
fn waiting(cx: &Ctx, v: TopView) -> Buf {
    let (mut when, mut text) = (Buf::new(), Buf::new());
    top::render_waiting(&view(cx, v, true, &mut when), &mut text);
    on_screen(text, true)
}

/// The bytes for one interval: a frame drawn over the last one on a
/// terminal, else a block of text and a blank line.
fn frame(cx: &Ctx, v: TopView, tty: bool, s: (&Sample, &Sample), names: &Names) -> Buf {
    let mut when = Buf::new();
    let mut text = Buf::new();
    top::render(s.0, s.1, names, &view(cx, v, tty, &mut when), &mut text);
    on_screen(text, tty)
}

fn on_screen(text: Buf, tty: bool) -> Buf {
    let mut b = Buf::new();
    if tty {
        top::redraw(text.as_bytes(), &mut b);
    } else {
        b = text;
        b.push_bytes(b"\n");
    }
    b
}

/// Writes `b` to stdout; false when the reader went away (`netmon top |
/// head`): the end of the run, not an error.
fn emit(b: &Buf) -> Result<bool> {
    match sys::write_fd(1, b.as_bytes()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Error::io("write to", "stdout", &e)),
    }
}

/// The names, and when they were read.
struct NameCache {
    names: Names,
    at_ms: u64,
}

impl NameCache {
    /// The state's kept names (read without the lock: the file is only
    /// ever replaced whole, by rename) overlaid by the name sources'.
    fn load(cx: &mut Ctx, now_ms: u64) -> NameCache {
        let st = store::peek_state(&cx.state_dir, &cx.persist_dir);
        let sources = match cx.lan.as_ref() {
            Some(lan) => hosts::load(lan, &mut cx.runner),
            None => Vec::new(),
        };
        NameCache {
            names: Names::new(st.as_deref(), &sources),
            at_ms: now_ms,
        }
    }

    /// Reads the names again once `NAMES_EVERY_MS` have passed.
    fn refresh(&mut self, cx: &mut Ctx, now_ms: u64) {
        if now_ms.saturating_sub(self.at_ms) >= NAMES_EVERY_MS {
            *self = NameCache::load(cx, now_ms);
        }
    }
}

/// The terminal in `top`'s mode (alternate screen, no cursor, no line
/// wrap) while this lives; put back when it is dropped: at the normal end,
/// on an error, after a stop signal (every way out but SIGKILL).
struct Screen;

impl Screen {
    fn enter() -> Screen {
        let _ = sys::write_fd(1, top::SCREEN_ENTER.as_bytes());
        Screen
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = sys::write_fd(1, top::SCREEN_LEAVE.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn deadlines_keep_the_rhythm_unless_a_read_was_slow() {
        assert_eq!(super::next_deadline(1000, 2000, 1500), 3000);
        assert_eq!(super::next_deadline(1000, 2000, 2999), 3000);
        assert_eq!(super::next_deadline(1000, 2000, 3000), 5000);
        assert_eq!(super::next_deadline(1000, 2000, 9000), 11_000);
    }
}
