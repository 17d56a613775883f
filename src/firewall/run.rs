//! Running firewall tools: argv only (never a shell), stdout streamed to a
//! parser through a [`Stdout`] reader that drains stderr as it goes, the
//! exit status checked after.
//! In dry-run mode every command is printed, one argv per line, and none runs.

use crate::error::{Error, Result};
use crate::parse::ParseError;
use crate::sys::{self, Child, Pump};
use crate::text::Buf;
use std::io::{self, BufReader, Read};

/// A read command's stdout as the parsers see it.
pub type Stdout = BufReader<ToolOutput>;

/// Most stderr text kept for an error message; the rest is drained.
pub const MAX_STDERR: usize = 1024;

/// A child's stdout, read while its stderr is drained: every `read`
/// polls both pipes, keeps the first `MAX_STDERR` bytes of stderr (the
/// rest is read and dropped) and returns stdout data once there is some.
/// A tool that writes more than a pipe holds to stderr before it ends
/// its stdout therefore never blocks, and all of stdout is not buffered
/// either: the parser streams it.
pub struct ToolOutput {
    out: Option<sys::Fd>,
    err: Option<sys::Fd>,
    stderr: Vec<u8>,
}

impl ToolOutput {
    fn new(out: Option<sys::Fd>, err: Option<sys::Fd>) -> ToolOutput {
        ToolOutput {
            out,
            err,
            stderr: Vec::new(),
        }
    }

    /// Waits until stdout or stderr can be read and takes what stderr
    /// has; true when stdout is ready.
    fn wait_stdout(&mut self) -> io::Result<bool> {
        let [out, err] = sys::readable([self.out.as_ref(), self.err.as_ref()], -1)?;
        if err {
            sys::take(&mut self.err, &mut self.stderr, MAX_STDERR);
        }
        Ok(out)
    }

    /// Reads both pipes to their end (or a poll error), dropping what is
    /// left of stdout, so the child can finish; returns the stderr kept.
    fn drain(mut self) -> Vec<u8> {
        while self.out.is_some() || self.err.is_some() {
            match self.wait_stdout() {
                Ok(true) => sys::take(&mut self.out, &mut Vec::new(), 0),
                Ok(false) => {}
                Err(_) => break,
            }
        }
        self.stderr
    }
}

impl Read for ToolOutput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.out.is_some() {
            if !self.wait_stdout()? {
                continue;
            }
            let Some(out) = self.out.as_mut() else { break };
            let n = out.read(buf)?;
            if n == 0 {
                self.out = None;
            }
            return Ok(n);
        }
        Ok(0)
    }
}

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
        let mut child = spawn(argv)?;
        // Both pipes at once (poll): a tool filling one cannot block us
        // reading the other.
        let mut p = Pump::new(
            None,
            Vec::new(),
            child.stdout.take(),
            child.stderr.take(),
            MAX_STDERR,
        );
        while !p.reads_done() {
            p.step(-1);
        }
        if wait(argv[0], &mut child)?.success() {
            return Ok(None);
        }
        // Tools run in the C locale: their blanks are ASCII.
        let blank = p.err.trim_ascii().is_empty();
        let raw = if blank { &p.out } else { &p.err };
        let mut s = crate::text::lossy(raw);
        s.truncate(floor_char(&s, MAX_STDERR));
        Ok(Some(s))
    }

    /// Runs a read command and hands its stdout to `parse`. In dry-run the
    /// command is printed and `None` is returned.
    pub fn read<T>(
        &mut self,
        argv: &[&str],
        parse: impl FnOnce(&mut Stdout) -> core::result::Result<T, ParseError>,
    ) -> Result<Option<(core::result::Result<T, ParseError>, Ended)>> {
        let (mut parse, mut got) = (Some(parse), None);
        let res = self.read_raw(argv, &mut |rd| {
            if let Some(p) = parse.take() {
                got = Some(p(rd));
            }
            Ok(())
        })?;
        Ok(res.map(|(raw, ended)| {
            let parsed = match (got, raw) {
                (Some(v), _) => v,
                (None, Err(e)) => Err(e),
                (None, Ok(())) => Err(io::Error::from(io::ErrorKind::Other).into()),
            };
            (parsed, ended)
        }))
    }

    /// `read` for the backends, with the checks they share: a failed exit
    /// is an error carrying stderr, unless stderr contains `absent` (then
    /// `Absent`: what was parsed is to be ignored); a parse error is
    /// "cannot understand the output of TOOL". Not generic: one copy of
    /// the spawn/stream/drain code however many parsers use it.
    pub fn read_checked(
        &mut self,
        argv: &[&str],
        absent: Option<&str>,
        parse: &mut dyn FnMut(&mut Stdout) -> core::result::Result<(), ParseError>,
    ) -> Result<Outcome> {
        let Some((parsed, ended)) = self.read_raw(argv, parse)? else {
            return Ok(Outcome::DryRun);
        };
        if !ended.ok {
            if absent.is_some_and(|a| crate::text::contains(&ended.stderr, a)) {
                return Ok(Outcome::Absent);
            }
            return Err(failed(argv, &ended.stderr));
        }
        parsed.map_err(|e| super::parse_failed(argv[0], e))?;
        Ok(Outcome::Done)
    }

    fn read_raw(
        &mut self,
        argv: &[&str],
        parse: &mut dyn FnMut(&mut Stdout) -> core::result::Result<(), ParseError>,
    ) -> Result<Option<(core::result::Result<(), ParseError>, Ended)>> {
        if self.dry_run {
            self.print(argv);
            return Ok(None);
        }
        let mut child = spawn(argv)?;
        let out = ToolOutput::new(child.stdout.take(), child.stderr.take());
        let mut r = BufReader::with_capacity(8192, out);
        let parsed = if r.get_ref().out.is_some() {
            parse(&mut r)
        } else {
            // Text-less: only the kind is ever shown (`sys::write_io_error`), and
            // a boxed message would link its `Debug` impl (core::fmt, unicode
            // tables).
            Err(io::Error::from(io::ErrorKind::Other).into())
        };
        // Drain so the child never blocks on a full pipe (what the parser
        // left buffered is dropped with `r`).
        let stderr = r.into_inner().drain();
        let ok = wait(argv[0], &mut child)?.success();
        Ok(Some((
            parsed,
            Ended {
                ok,
                stderr: crate::text::lossy(&stderr),
            },
        )))
    }
}

/// How a checked read ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Dry-run: printed, not run.
    DryRun,
    /// The tool said what it reads does not exist.
    Absent,
    /// Ran, succeeded and parsed.
    Done,
}

/// `argv` with stdin from /dev/null, stdout and stderr piped to us, in
/// the C locale (the parsers read its output).
fn spawn(argv: &[&str]) -> Result<Child> {
    sys::spawn(argv, [false, true, true], true).map_err(|e| spawn_error(argv[0], &e))
}

fn wait(tool: &str, child: &mut Child) -> Result<sys::Status> {
    child.wait().map_err(|e| Error::io("wait for", tool, &e))
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
        .map(str::trim_ascii)
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
    use std::io::BufRead;

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
                rd.read_to_string(&mut s).map_err(ParseError::from)?;
                Ok(s)
            })
            .unwrap()
            .unwrap();
        assert!(!ended.ok);
        assert!(ended.stderr.contains("nonexistent-dir-xyz"));
        assert_eq!(parsed.unwrap(), "");
    }

    /// Fails instead of hanging when a pipe deadlocks.
    fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("deadlock: child I/O did not finish in 60 s")
    }

    #[test]
    fn read_streams_large_stdout_and_drains_what_the_parser_leaves() {
        let count = |rd: &mut Stdout| {
            let (mut n, mut line) = (0u64, String::new());
            while rd.read_line(&mut line).map_err(ParseError::from)? > 0 {
                n += line.len() as u64;
                line.clear();
            }
            Ok(n)
        };
        let (parsed, ended) = bounded(move || {
            let mut r = Runner::new(false);
            r.read(&["seq", "1", "200000"], count).unwrap().unwrap()
        });
        assert_eq!(parsed.unwrap(), 1_288_895);
        assert!(ended.ok && ended.stderr.is_empty());
        // A parser that stops after one line: the rest is drained, so
        // seq neither blocks nor dies of a broken pipe.
        let (parsed, ended) = bounded(|| {
            let mut r = Runner::new(false);
            r.read(&["seq", "1", "200000"], |rd| {
                let mut l = String::new();
                rd.read_line(&mut l).map_err(ParseError::from)?;
                Ok(l)
            })
            .unwrap()
            .unwrap()
        });
        assert_eq!(parsed.unwrap(), "1\n");
        assert!(ended.ok, "{}", ended.stderr);
    }

    #[test]
    fn read_drains_stderr_while_the_parser_streams_stdout() {
        // More than a pipe holds on stderr before any stdout: reading
        // stdout to its end before stderr would deadlock (defect 11).
        let script = "yes e | head -c 200000 >&2; yes line | head -c 200000; exit 3";
        let (parsed, ended) = bounded(move || {
            let mut r = Runner::new(false);
            r.read(&["sh", "-c", script], |rd| {
                let (mut lines, mut bytes, mut line) = (0u64, 0u64, String::new());
                while rd.read_line(&mut line).map_err(ParseError::from)? > 0 {
                    assert_eq!(line, "line\n");
                    lines += 1;
                    bytes += line.len() as u64;
                    line.clear();
                }
                Ok((lines, bytes))
            })
            .unwrap()
            .unwrap()
        });
        assert_eq!(parsed.unwrap(), (40_000, 200_000));
        assert!(!ended.ok, "exit 3 must be seen");
        assert_eq!(ended.stderr, "e\n".repeat(MAX_STDERR / 2));
    }

    #[test]
    fn try_change_reads_both_pipes_at_once() {
        // ls reports the missing names on stderr (140 KB) before it lists
        // the others on stdout (80 KB): reading one pipe to its end
        // first would deadlock.
        let s = bounded(|| {
            let mut argv = vec!["ls", "-d"];
            argv.extend(std::iter::repeat_n("/nonexistent-netmon-xyz", 2000));
            argv.extend(std::iter::repeat_n("/", 40_000));
            Runner::new(false).try_change(&argv).unwrap()
        });
        let s = s.expect("ls exits 2");
        assert_eq!(s.len(), MAX_STDERR);
        assert!(s.starts_with("ls: "), "{s}");
        assert!(s.contains("/nonexistent-netmon-xyz"));
        assert!(!s.contains("\n/\n"));
    }

    #[test]
    fn try_change_falls_back_to_stdout_and_runs_in_c_locale() {
        let mut r = Runner::new(false);
        assert_eq!(r.try_change(&["true"]).unwrap(), None);
        let argv = ["sh", "-c", "echo \"said $LC_ALL\"; echo '  ' >&2; exit 3"];
        assert_eq!(r.try_change(&argv).unwrap().as_deref(), Some("said C\n"));
        let argv = ["sh", "-c", "echo out; echo err >&2; exit 1"];
        assert_eq!(r.try_change(&argv).unwrap().as_deref(), Some("err\n"));
    }
}
