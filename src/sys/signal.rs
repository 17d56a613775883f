//! Stopping on a signal. `top` runs until Ctrl-C (SIGINT), SIGTERM or a
//! hang-up (SIGHUP) and must then put the terminal back, so it catches
//! them. The handler only sets a flag (about all a handler may safely
//! do); the loop looks at the flag, and `sleep_ms` wakes up for it.
//!
//! Installed without SA_RESTART, so a blocking call the signal interrupts
//! fails with EINTR. Every reader and writer in `sys` retries on EINTR, so
//! that only ends waits that have nothing else to do (the sleep).
#![allow(unsafe_code)]

use super::cvt;
use core::sync::atomic::{AtomicBool, Ordering};
use std::io;

/// Set by the handler; never cleared (a stop is for good).
static STOP: AtomicBool = AtomicBool::new(false);

/// What ends `top`: Ctrl-C, `kill`, the terminal going away.
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(_: libc::c_int) {
    // An atomic store is async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Catches SIGINT, SIGTERM and SIGHUP for `stop_requested`. Children
/// spawned later get the default actions back (exec resets handlers).
pub fn catch_stop_signals() -> io::Result<()> {
    let handler = on_signal as extern "C" fn(libc::c_int);
    for sig in SIGNALS {
        // SAFETY: an all-zero sigaction is plain storage; the mask is set
        // up by sigemptyset below and the flags stay 0 (no SA_RESTART).
        let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
        sa.sa_sigaction = handler as libc::sighandler_t;
        // SAFETY: sa_mask is valid storage for a signal set.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: `sa` is initialised and outlives the call; the old
        // action is not wanted (NULL is allowed).
        cvt(unsafe { libc::sigaction(sig, &sa, core::ptr::null_mut()) })?;
    }
    Ok(())
}

/// A stop signal has arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Sleeps `ms` milliseconds (at most a day), or less: it returns at once
/// when a stop signal arrives or has arrived. Without a race: the signals
/// are blocked while the flag is looked at, and ppoll(2) unblocks them
/// atomically as it starts to wait, so a signal between the look and the
/// wait ends the wait instead of being slept through (for up to an hour).
pub fn sleep_ms(ms: u64) {
    let ms = ms.min(86_400_000);
    // SAFETY: all-zero sigset_t and timespec are plain storage, filled in
    // below (sigemptyset, pthread_sigmask, the field writes).
    let (mut set, mut old, mut ts): (libc::sigset_t, libc::sigset_t, libc::timespec) = unsafe {
        (
            core::mem::zeroed(),
            core::mem::zeroed(),
            core::mem::zeroed(),
        )
    };
    // At most a day in seconds: fits any time_t.
    ts.tv_sec = (ms / 1000) as _;
    ts.tv_nsec = ((ms % 1000) * 1_000_000) as _;
    // SAFETY: every pointer is to a local that outlives the calls; ppoll
    // with no descriptors (NULL, 0) only waits; the old mask is restored.
    unsafe {
        libc::sigemptyset(&mut set);
        for sig in SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        if !stop_requested() {
            // 0 when the time is up, -1 (EINTR) when a handler ran.
            libc::ppoll(core::ptr::null_mut(), 0, &ts, &old);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The whole story in one test (the flag is process-wide and never
    /// cleared): a plain sleep lasts, a signal during a long one ends it.
    #[test]
    fn a_stop_signal_ends_the_sleep() {
        catch_stop_signals().unwrap();
        assert!(!stop_requested());
        let t = Instant::now();
        sleep_ms(30);
        assert!(t.elapsed() >= Duration::from_millis(30));
        // SIGTERM to this thread alone, 100 ms into an hour's sleep: the
        // harness's other threads are not disturbed, the handler runs here.
        // SAFETY: pthread_self has no preconditions.
        // As a number: on musl `pthread_t` is a pointer, which is not Send.
        let me = unsafe { libc::pthread_self() } as usize;
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: `me` is alive (it waits in `sleep_ms` until this
            // signal ends the wait), and SIGTERM is caught.
            unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGTERM) };
        });
        let t = Instant::now();
        sleep_ms(3_600_000);
        assert!(stop_requested());
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        killer.join().unwrap();
        // Once stopped, a sleep returns at once.
        let t = Instant::now();
        sleep_ms(3_600_000);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
