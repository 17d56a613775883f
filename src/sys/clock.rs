//! Clocks and boot identity: the wall clock (the one place netmon reads
//! it; everything else takes `now` as an argument), a monotonic clock for
//! measuring intervals, and the kernel's boot id.
#![allow(unsafe_code)]

use super::fs::read_text;

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

/// Seconds since the kernel booted, counting time suspended
/// (CLOCK_BOOTTIME): steps of the wall clock do not move it.
pub fn uptime() -> i64 {
    // SAFETY: an all-zero timespec is a valid out-buffer.
    let mut ts: libc::timespec = unsafe { core::mem::zeroed() };
    // SAFETY: ts is a valid out-buffer; CLOCK_BOOTTIME exists on Linux
    // since 2.6.39.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as i64
}

/// Milliseconds on CLOCK_MONOTONIC (since some point at boot): for
/// intervals. NTP steps of the wall clock, and a router that sets its clock
/// late, do not move it, so a rate over an interval is never off by a step.
pub fn monotonic_ms() -> u64 {
    // SAFETY: an all-zero timespec is a valid out-buffer.
    let mut ts: libc::timespec = unsafe { core::mem::zeroed() };
    // SAFETY: ts is a valid out-buffer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // Never negative on Linux; a nonsense value reads as 0.
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let ms = u64::try_from(ts.tv_nsec / 1_000_000).unwrap_or(0);
    secs.saturating_mul(1000).saturating_add(ms)
}

/// The kernel's boot id (a new random UUID at every boot), trimmed.
pub fn boot_id() -> Option<heapless::String<40>> {
    let s = read_text("/proc/sys/kernel/random/boot_id").ok()?;
    heapless::String::try_from(s.trim_ascii()).ok()
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
    fn monotonic_moves_forward_with_sleeps() {
        let a = super::monotonic_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = super::monotonic_ms();
        assert!(b >= a + 20 && b < a + 5_000, "{a} {b}");
    }
}
