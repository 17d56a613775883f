//! netmon: parse the arguments, run, map errors to exit codes.
use netmon::error::{Error, EXIT_RUNTIME};
use netmon::logging;
use netmon::sys::{self, syslog::Level};
use netmon::text::Buf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Leaked: the arguments live as long as the process, and one Vec of
    // `&str` costs less code than a Vec<String> plus a second one borrowing it.
    let mut argv: Vec<&'static str> = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => argv.push(s.leak()),
            Err(_) => return fail(&Error::usage("arguments must be UTF-8 text")),
        }
    }
    let cmd = match netmon::cli::parse(&argv) {
        Ok(netmon::cli::Parsed::Run(c)) => c,
        Ok(netmon::cli::Parsed::Help(h)) => return stdout(h.as_bytes()),
        Err(e) => return fail(&e),
    };
    let mut warn = Buf::new();
    let result = netmon::cmd::run(&cmd, &mut warn);
    let to_syslog = !sys::stderr_is_tty();
    for line in warn.as_str().lines() {
        if to_syslog {
            logging::syslog(Level::Warning, line);
        }
        stderr("netmon: warning: ", line);
    }
    match result {
        Ok(out) => stdout(out.as_bytes()),
        Err(e) => fail(&e),
    }
}

/// The command's output; a failed write (a closed pipe, a full disk when
/// redirected) is a runtime failure.
fn stdout(b: &[u8]) -> ExitCode {
    match sys::write_fd(1, b) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_RUNTIME),
    }
}

/// One line on stderr, written in one go.
fn stderr(prefix: &str, msg: &str) {
    let mut b = Buf::new();
    b.push_bytes(prefix.as_bytes());
    b.push_bytes(msg.as_bytes());
    b.push_bytes(b"\n");
    let _ = sys::write_fd(2, b.as_bytes());
}

fn fail(e: &Error) -> ExitCode {
    if !sys::stderr_is_tty() {
        logging::syslog(Level::Err, e.message());
    }
    stderr("netmon: ", e.message());
    ExitCode::from(e.exit_code())
}
