//! Y2038: timestamps after 2038-01-19T03:14:07Z must survive every libc call
//! on the 32-bit router targets (mips, mipsel, armv7 with musl).
//!
//! musl >= 1.2 has a 64-bit `time_t` on every arch, but keeps the old 32-bit
//! symbols for binaries linked against older musl; the `libc` crate binds those
//! time32 symbols by default. The router builds set `--cfg
//! libc_unstable_musl_v1_2` (for netmon's `libc`) and
//! `RUST_LIBC_UNSTABLE_MUSL_V1_2_3=1` (for the `libc` inside std, built from
//! source), see .cargo/config.toml. If either were missing, these tests fail
//! under `cross/test-qemu.sh mips-unknown-linux-musl`: `time_t` would be 4
//! bytes, or a 2040 mtime would come back truncated or as EOVERFLOW.
//!
//! On the host (64-bit) they pass trivially; they matter on the 32-bit targets.

use std::fs::{File, FileTimes};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2040-01-01T00:00:00Z, 0x8_3A6C_8980 > i32::MAX.
const T2040: u64 = 2_208_988_800;
/// 2038-01-19T03:14:07Z, the last second a signed 32-bit time_t holds.
const T32_MAX: u64 = i32::MAX as u64;

#[test]
fn time_t_and_timespec_are_64_bit() {
    assert_eq!(std::mem::size_of::<libc::time_t>(), 8);
    // tv_sec is a time_t; the struct must be at least two 64-bit-aligned words.
    assert!(std::mem::size_of::<libc::timespec>() >= 16);
}

#[test]
fn system_time_after_2038_compares_and_subtracts() {
    let last32 = UNIX_EPOCH + Duration::from_secs(T32_MAX);
    let later = UNIX_EPOCH + Duration::from_secs(T2040);
    assert!(later > last32);
    assert_eq!(
        later.duration_since(last32).unwrap(),
        Duration::from_secs(T2040 - T32_MAX)
    );
    assert_eq!(
        later.duration_since(UNIX_EPOCH).unwrap().as_secs(),
        2_208_988_800
    );
}

/// musl's gmtime_r through netmon's `libc` binding (`__gmtime64_r` when the
/// binding is time64) breaks 2040-01-01 into its calendar fields.
#[test]
fn libc_gmtime_r_formats_2040() {
    let t: libc::time_t = T2040.try_into().expect("time_t holds a 2040 timestamp");
    // SAFETY: `tm` is plain old data; all-zero is a valid value for it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call and gmtime_r is reentrant.
    let r = unsafe { libc::gmtime_r(&t, &mut tm) };
    assert!(!r.is_null(), "gmtime_r failed for 2040-01-01");
    let mut buf = [0u8; 32];
    let fmt = b"%Y-%m-%dT%H:%M:%SZ\0";
    // SAFETY: buf is writable for buf.len() bytes, fmt is NUL-terminated,
    // tm was filled in by gmtime_r above.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr().cast(), &tm) };
    assert_eq!(
        std::str::from_utf8(&buf[..n]).unwrap(),
        "2040-01-01T00:00:00Z"
    );
    assert_eq!(
        (tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_wday),
        (140, 0, 1, 0)
    );
}

/// A file's mtime set to 2040 (utimensat) and read back (statx/stat) through
/// std, and through netmon's `libc::stat`: both sides of the kernel ABI
/// must carry the 64-bit seconds.
#[test]
fn file_mtime_in_2040_round_trips() {
    let path = std::env::temp_dir().join(format!("netmon-y2038-{}", std::process::id()));
    let f = File::create(&path).unwrap();
    let when = UNIX_EPOCH + Duration::new(T2040, 500_000_000);
    f.set_times(FileTimes::new().set_modified(when)).unwrap();
    drop(f);
    let got: SystemTime = std::fs::metadata(&path).unwrap().modified().unwrap();

    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `stat` is plain old data; all-zero is a valid value for it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is NUL-terminated, st is writable.
    let rc = unsafe { libc::stat(c_path.as_ptr(), &mut st) };
    let errno = std::io::Error::last_os_error();
    std::fs::remove_file(&path).unwrap();

    assert_eq!(got, when, "std: mtime after 2038 did not round-trip");
    assert_eq!(rc, 0, "libc::stat failed: {errno}");
    // `from`, not a direct comparison: with a time32 binding time_t is i32
    // and this must still compile, for the assertion to fail.
    #[allow(clippy::useless_conversion)]
    let mtime = i64::from(st.st_mtime);
    assert_eq!(mtime, 2_208_988_800);
    assert_eq!(st.st_mtime_nsec, 500_000_000);
}
