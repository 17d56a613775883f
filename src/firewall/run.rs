//! Running firewall tools: argv only (never a shell), stdout streamed to a
//! parser through a `BufRead`, stderr and the exit status checked after.
//! In dry-run mode every command is printed, one argv per line, and none runs.

use crate::error::{Error, Result};
use crate::out::Buf;
use crate::parse::ParseError;
use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

/// Most stderr text kept for an error message; the rest is drained.
pub const MAX_STDERR: usize = 1024;

/// How a read command ended (when it ran).
pub struct Ended {
    pub ok: bool,
    pub stderr: String,
}

pub struct Runner {
    pub dry_run: bool,
    /// Dry-run output: the commands that would have run.
    pub printed: Buf,
}

impl Runner {
    pub fn new(dry_run: bool) -> Runner {
        Runner {
            dry_run,
            printed: Buf::new(),
        }
    }

    fn print(&mut self, argv: &[&str]) {
        for (i, a) in argv.iter().enumerate() {
            if i > 0 {
                self.printed.push_bytes(b" ");
            }
            quote(&mut self.printed, a);
        }
        self.printed.push_bytes(b"\n");
    }

    /// Runs a command that changes the firewall; a non-zero exit is an error
    /// carrying the tool's stderr.
    pub fn change(&mut self, argv: &[&str]) -> Result<()> {
        match self.try_change(argv)? {
            None => Ok(()),
            Some(stderr) => Err(failed(argv, &stderr)),
        }
    }

    /// Like `change`, but a non-zero exit returns the stderr text for the
    /// caller to judge (`Some`), e.g. "no such chain" when removing.
    pub fn try_change(&mut self, argv: &[&str]) -> Result<Option<String>> {
        if self.dry_run {
            self.print(argv);
            return Ok(None);
        }
        let out = command(argv)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| spawn_error(argv[0], &e))?;
        if out.status.success() {
            return Ok(None);
        }
        let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
        if s.trim().is_empty() {
            s = String::from_utf8_lossy(&out.stdout).into_owned();
        }
        s.truncate(floor_char(&s, MAX_STDERR));
        Ok(Some(s))
    }

    /// Runs a read command and hands its stdout to `parse`. In dry-run the
    /// command is printed and `None` is returned.
    pub fn read<T>(
        &mut self,
        argv: &[&str],
        parse: impl FnOnce(&mut dyn BufRead) -> core::result::Result<T, ParseError>,
    ) -> Result<Option<(core::result::Result<T, ParseError>, Ended)>> {
        if self.dry_run {
            self.print(argv);
            return Ok(None);
        }
        let mut child = command(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error(argv[0], &e))?;
        let parsed = match child.stdout.take() {
            Some(out) => {
                let mut r = BufReader::with_capacity(8192, out);
                let v = parse(&mut r);
                // Drain so the child never blocks on a full pipe.
                let _ = io::copy(&mut r, &mut io::sink());
                v
            }
            // Text-less: only the kind is ever shown (`sys::write_io_error`), and
            // a boxed message would link its `Debug` impl (core::fmt, unicode
            // tables).
            None => Err(ParseError::Io(io::ErrorKind::Other.into())),
        };
        let ended = finish(argv[0], &mut child)?;
        Ok(Some((parsed, ended)))
    }
}

fn command(argv: &[&str]) -> Command {
    let mut c = Command::new(argv[0]);
    c.args(&argv[1..]).env("LC_ALL", "C");
    c
}

fn finish(tool: &str, child: &mut Child) -> Result<Ended> {
    let mut stderr = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = (&mut e).take(MAX_STDERR as u64).read_to_end(&mut stderr);
        let _ = io::copy(&mut e, &mut io::sink());
    }
    let status = child.wait().map_err(|e| Error::io("wait for", tool, &e))?;
    Ok(Ended {
        ok: status.success(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

fn floor_char(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `cannot run nft: not found in PATH (...)`.
pub fn spawn_error(tool: &str, e: &io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        let mut b = Buf::new();
        let _ = ufmt::uwrite!(
            b,
            "cannot run {}: not found in PATH (install it, or choose another --backend)",
            tool
        );
        return Error::runtime(b.as_str());
    }
    Error::io("run", tool, e)
}

/// `nft add rule ... failed: <first line of stderr>`.
pub fn failed(argv: &[&str], stderr: &str) -> Error {
    let mut b = Buf::new();
    for (i, a) in argv.iter().take(6).enumerate() {
        if i > 0 {
            b.push_bytes(b" ");
        }
        b.push_bytes(a.as_bytes());
    }
    if argv.len() > 6 {
        b.push_bytes(b" ...");
    }
    b.push_bytes(b" failed: ");
    b.push_bytes(first_line(stderr).as_bytes());
    Error::runtime(b.as_str())
}

/// The first non-empty stderr line, control characters dropped.
pub fn first_line(s: &str) -> String {
    let l = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(no message)");
    l.chars().filter(|c| !c.is_control()).collect()
}

/// Shell-style single quoting, only where needed, for printing argv.
fn quote(b: &mut Buf, a: &str) {
    let plain = !a.is_empty()
        && a.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_./:=,@+%".contains(&c));
    if plain {
        b.push_bytes(a.as_bytes());
        return;
    }
    b.push_bytes(b"'");
    for part in a.split('\'').enumerate() {
        if part.0 > 0 {
            b.push_bytes(b"'\\''");
        }
        b.push_bytes(part.1.as_bytes());
    }
    b.push_bytes(b"'");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_prints_quoted_argv_and_runs_nothing() {
        let mut r = Runner::new(true);
        r.change(&["/nonexistent/tool", "-A", "a b", "it's"])
            .unwrap();
        assert_eq!(
            r.printed.as_str(),
            "/nonexistent/tool -A 'a b' 'it'\\''s'\n"
        );
    }

    #[test]
    fn missing_tool_is_one_sentence() {
        let mut r = Runner::new(false);
        let e = r.change(&["/nonexistent/nft-xyz", "list"]).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e
            .message()
            .starts_with("cannot run /nonexistent/nft-xyz: not found"));
    }

    #[test]
    fn failing_tool_surfaces_stderr_and_streams_stdout() {
        let mut r = Runner::new(false);
        let (parsed, ended) = r
            .read(&["ls", "/nonexistent-dir-xyz"], |rd| {
                let mut s = String::new();
                rd.read_to_string(&mut s).map_err(ParseError::Io)?;
                Ok(s)
            })
            .unwrap()
            .unwrap();
        assert!(!ended.ok);
        assert!(ended.stderr.contains("nonexistent-dir-xyz"));
        assert_eq!(parsed.unwrap(), "");
    }
}
