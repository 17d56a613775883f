//! netmon: parse the arguments, run, map errors to exit codes.
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(_) => return fail(&netmon::error::Error::usage("arguments must be UTF-8 text")),
        }
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let cmd = match netmon::cli::parse(&argv) {
        Ok(netmon::cli::Parsed::Run(c)) => c,
        Ok(netmon::cli::Parsed::Help(h)) => {
            let _ = std::io::stdout().write_all(h.as_bytes());
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&e),
    };
    let mut warn = netmon::out::Buf::new();
    let result = netmon::app::run(&cmd, &mut warn);
    for line in warn.as_str().lines() {
        let mut b = netmon::out::Buf::new();
        b.push_bytes(b"netmon: warning: ");
        b.push_bytes(line.as_bytes());
        b.push_bytes(b"\n");
        let _ = std::io::stderr().write_all(b.as_bytes());
    }
    match result {
        Ok(out) => {
            let mut so = std::io::stdout().lock();
            if so
                .write_all(out.as_bytes())
                .and_then(|_| so.flush())
                .is_err()
            {
                return ExitCode::from(netmon::error::EXIT_RUNTIME);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(e: &netmon::error::Error) -> ExitCode {
    let mut b = netmon::out::Buf::new();
    b.push_bytes(b"netmon: ");
    b.push_bytes(e.message().as_bytes());
    b.push_bytes(b"\n");
    let _ = std::io::stderr().write_all(b.as_bytes());
    ExitCode::from(e.exit_code())
}
