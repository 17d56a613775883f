//! The one error type. Its text is the sentence the user reads, after
//! `netmon: `; its exit code says whose fault it was.

use crate::out::Buf;

/// Exit code for a runtime failure (a tool failed, a file could not be written).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code for a usage or configuration error (the user can fix the input).
pub const EXIT_USAGE: u8 = 2;

#[derive(PartialEq, Eq)]
pub struct Error {
    code: u8,
    msg: String,
}

impl Error {
    /// Bad command line; exit 2.
    pub fn usage(msg: impl Into<String>) -> Error {
        Error {
            code: EXIT_USAGE,
            msg: msg.into(),
        }
    }
    /// Bad configuration file or value; exit 2.
    pub fn config(msg: impl Into<String>) -> Error {
        Error {
            code: EXIT_USAGE,
            msg: msg.into(),
        }
    }
    /// Something failed at run time; exit 1.
    pub fn runtime(msg: impl Into<String>) -> Error {
        Error {
            code: EXIT_RUNTIME,
            msg: msg.into(),
        }
    }
    /// `cannot ACTION PATH: REASON` for a failed system call; exit 1.
    pub fn io(action: &str, path: &str, e: &std::io::Error) -> Error {
        let mut b = Buf::new();
        let _ = ufmt::uwrite!(b, "cannot {} {}: ", action, path);
        crate::sys::write_io_error(&mut b, e);
        Error::runtime(b.as_str())
    }
    pub fn exit_code(&self) -> u8 {
        self.code
    }
    pub fn message(&self) -> &str {
        &self.msg
    }
}

impl core::fmt::Debug for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl ufmt::uDisplay for Error {
    fn fmt<W: ufmt::uWrite + ?Sized>(
        &self,
        f: &mut ufmt::Formatter<'_, W>,
    ) -> core::result::Result<(), W::Error> {
        f.write_str(&self.msg)
    }
}

pub type Result<T> = core::result::Result<T, Error>;
