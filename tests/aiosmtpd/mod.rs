//! The Python that runs tests/helpers/smtpd.py (aiosmtpd, a real SMTP
//! server on 127.0.0.1), shared by the mail tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// `NETMON_TEST_PYTHON`, else the venv `.ci/run` creates, else `python3`.
pub fn python() -> String {
    if let Ok(p) = std::env::var("NETMON_TEST_PYTHON") {
        return p;
    }
    let venv =
        Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/netmon-venv/bin/python");
    if venv.exists() {
        return venv.to_string_lossy().into_owned();
    }
    "python3".into()
}

/// The Python that can import aiosmtpd, or None after printing
/// `SKIPPED <test>: <why>`; under CI a missing aiosmtpd fails the test.
pub fn aiosmtpd_python() -> Option<String> {
    // libtest runs each test in a thread named after it.
    let current = std::thread::current();
    let test = current.name().unwrap_or("test");
    let py = python();
    let ok = Command::new(&py)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    let why = format!(
        "{py} cannot import aiosmtpd (set NETMON_TEST_PYTHON or create ~/.cache/netmon-venv)"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why}");
    }
    // Straight to fd 2: libtest captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
    None
}
