//! Clocks and boot identity: the wall clock (the one place netmon reads
//! it; everything else takes `now` as an argument) and the kernel's boot id.
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
}
