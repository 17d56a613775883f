//! A real SMTP server for the mail tests: tests/helpers/smtpd.py
//! (aiosmtpd) inside a namespace, on its own loopback.

use super::ip;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const SMTPD_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helpers/smtpd.py");
pub const PORT: u16 = 2525;
pub const USER: &str = "router";
/// Distinctive, so that a leak cannot be a coincidence.
pub const PASSWORD: &str = "Pw-7f3a-secret-91";
/// Longest wait for the server to print its port.
pub const SERVER_START: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// The SMTP server inside a namespace.

/// aiosmtpd on the namespace's 127.0.0.1:`PORT`, requiring AUTH with
/// `USER`/`PASSWORD` and logging every connection. Killed on drop; it
/// also exits by itself after 120 s.
pub struct Smtpd {
    pub child: Child,
    pub maildir: PathBuf,
    pub py: String,
}

impl Smtpd {
    pub fn start(py: &str, ns: &str, maildir: &Path) -> Smtpd {
        Smtpd::start_with(py, ns, maildir, &[])
    }

    /// `extra`: more smtpd.py options (`--reject-rcpt ...`).
    pub fn start_with(py: &str, ns: &str, maildir: &Path, extra: &[&str]) -> Smtpd {
        std::fs::create_dir_all(maildir).unwrap();
        let log = std::fs::File::create(maildir.join("server.log")).unwrap();
        let mut child = Command::new(ip())
            .args(["netns", "exec", ns, py, SMTPD_PY])
            .args(["--port", &PORT.to_string(), "--lifetime", "120"])
            .args(["--user", USER, "--password", PASSWORD])
            .args(["--auth-required", "--log-connections", "--maildir"])
            .arg(maildir)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn smtpd.py");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(SERVER_START).unwrap_or_default();
        let server = Smtpd {
            child,
            maildir: maildir.to_path_buf(),
            py: py.into(),
        };
        if line.trim() != PORT.to_string() {
            let log = std::fs::read_to_string(maildir.join("server.log")).unwrap_or_default();
            panic!("smtpd.py did not start on port {PORT}: {line:?}\n{log}");
        }
        server
    }

    /// The saved messages, oldest first.
    pub fn messages(&self) -> Vec<PathBuf> {
        files_ending(&self.maildir, ".eml")
    }

    pub fn count(&self) -> usize {
        self.messages().len()
    }

    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.maildir.join(name)).unwrap_or_default()
    }

    pub fn connections(&self) -> usize {
        self.file("connections.log").lines().count()
    }

    /// Parses message `eml` with Python's email package (smtpd.py parse).
    pub fn parse(&self, eml: &Path) -> Parsed {
        let st = Command::new(&self.py)
            .arg(SMTPD_PY)
            .arg("parse")
            .arg(eml)
            .status()
            .expect("smtpd.py parse");
        assert!(st.success(), "smtpd.py parse {eml:?}");
        let read = |suffix: &str| {
            let mut p = eml.as_os_str().to_owned();
            p.push(suffix);
            std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"))
        };
        Parsed {
            headers: read(".headers"),
            parts: read(".parts"),
            text: read(".part0"),
            // A test message is text only.
            html: std::fs::read_to_string(eml.with_extension("eml.part1")).unwrap_or_default(),
        }
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect(),
        Err(_) => vec![],
    };
    v.sort();
    v
}

/// A delivered message as Python's email package read it.
pub struct Parsed {
    pub headers: String,
    pub parts: String,
    pub text: String,
    pub html: String,
}

impl Parsed {
    /// Every value of header `name`.
    pub fn header(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{name}: ");
        self.headers
            .lines()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .collect()
    }

    pub fn one(&self, name: &str) -> &str {
        let v = self.header(name);
        assert_eq!(v.len(), 1, "{name} once in:\n{}", self.headers);
        v[0]
    }
}
