//! netmon: parse the arguments, run, map errors to exit codes.
use netmon::cmd::cgi::Request;
use netmon::error::{Error, EXIT_RUNTIME};
use netmon::logging;
use netmon::sys::{self, syslog::Level};
use netmon::text::Buf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before the arguments: a web server gets an answer, whatever they are.
    if let Some(req) = cgi_request() {
        let argv: Vec<String> = (std::env::args_os().skip(1))
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return cgi(&argv.iter().map(String::as_str).collect::<Vec<_>>(), &req);
    }
    let mut argv: Vec<String> = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => argv.push(s),
            Err(_) => return fail(&Error::usage("arguments must be UTF-8 text"), false),
        }
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let cmd = match netmon::cli::parse(&argv) {
        Ok(netmon::cli::Parsed::Run(c)) => c,
        Ok(netmon::cli::Parsed::Help(h)) => return stdout(h.as_bytes()),
        Err(e) => return fail(&e, false),
    };
    let mut warn = Buf::new();
    let result = netmon::cmd::run(&cmd, &mut warn);
    for line in warn.as_str().lines() {
        if to_syslog(cmd.syslog) {
            logging::syslog(Level::Warning, line);
        }
        stderr("netmon: warning: ", line);
    }
    match result {
        Ok(out) => stdout(out.as_bytes()),
        Err(e) => fail(&e, cmd.syslog),
    }
}

/// The request, when a web server runs netmon as a CGI program
/// (`GATEWAY_INTERFACE` is `CGI/1.1`; the program's name says nothing:
/// the cgi-bin link is named netmon too). The environment is read here,
/// once.
fn cgi_request() -> Option<Request> {
    let gateway = sys::getenv(c"GATEWAY_INTERFACE")?;
    gateway.starts_with("CGI/").then(|| Request {
        method: sys::getenv(c"REQUEST_METHOD").unwrap_or_default(),
        query: sys::getenv(c"QUERY_STRING").unwrap_or_default(),
    })
}

/// Answers a CGI request: always a whole answer on stdout (errors are
/// pages with a status), warnings to the server's log and syslog.
fn cgi(argv: &[&str], req: &Request) -> ExitCode {
    let mut warn = Buf::new();
    let out = netmon::cmd::cgi::respond(argv, req, &mut warn);
    for line in warn.as_str().lines() {
        logging::syslog(Level::Warning, line);
        stderr("netmon: warning: ", line);
    }
    stdout(out.as_bytes())
}

/// Whether problems also go to syslog: asked for (`--syslog`), or no
/// terminal to read them (cron, procd), where `logread` is the place.
fn to_syslog(asked: bool) -> bool {
    asked || !sys::stderr_is_tty()
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

fn fail(e: &Error, syslog: bool) -> ExitCode {
    if to_syslog(syslog) {
        logging::syslog(Level::Err, e.message());
    }
    stderr("netmon: ", e.message());
    ExitCode::from(e.exit_code())
}
