//! The one error type. Its text is the sentence the user reads, after
//! `netmon: `; its exit code says whose fault it was.

use crate::sys;
use crate::text::{io_kind_words, Buf};
use std::io;

/// Exit code for a runtime failure (a tool failed, a file could not be written).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code for a usage or configuration error (the user can fix the input).
pub const EXIT_USAGE: u8 = 2;

/// Boxed: one pointer, so every `Result<_, Error>` stays small.
#[derive(PartialEq, Eq)]
pub struct Error(Box<Inner>);

#[derive(PartialEq, Eq)]
struct Inner {
    code: u8,
    msg: String,
}

impl Error {
    fn new(code: u8, msg: String) -> Error {
        Error(Box::new(Inner { code, msg }))
    }
    /// Bad command line; exit 2.
    pub fn usage(msg: impl Into<String>) -> Error {
        Error::new(EXIT_USAGE, msg.into())
    }
    /// Bad configuration file or value; exit 2.
    pub fn config(msg: impl Into<String>) -> Error {
        Error::new(EXIT_USAGE, msg.into())
    }
    /// Something failed at run time; exit 1.
    pub fn runtime(msg: impl Into<String>) -> Error {
        Error::new(EXIT_RUNTIME, msg.into())
    }
    /// `cannot ACTION PATH: REASON` for a failed system call; exit 1.
    pub fn io(action: &str, path: &str, e: &io::Error) -> Error {
        let mut b = Buf::new();
        b.fill("cannot {} {}: ", &[action, path]);
        write_io_error(&mut b, e);
        Error::runtime(b.as_str())
    }
    pub fn exit_code(&self) -> u8 {
        self.0.code
    }
    pub fn message(&self) -> &str {
        &self.0.msg
    }
}

impl core::fmt::Debug for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0.msg)
    }
}

impl ufmt::uDisplay for Error {
    fn fmt<W: ufmt::uWrite + ?Sized>(
        &self,
        f: &mut ufmt::Formatter<'_, W>,
    ) -> core::result::Result<(), W::Error> {
        f.write_str(&self.0.msg)
    }
}

/// Writes the reason of an I/O error as the C library states it
/// (`No space left on device`); an error without an errno by its kind.
pub fn write_io_error<W: ufmt::uWrite + ?Sized>(w: &mut W, e: &io::Error) {
    let _ = match e.raw_os_error() {
        Some(errno) => w.write_str(&sys::strerror(errno)),
        None => w.write_str(io_kind_words(e.kind())),
    };
}

pub type Result<T> = core::result::Result<T, Error>;
