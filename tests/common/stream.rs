//! Bounded TCP transfers between namespaces, watched from the receiving
//! side: a transfer that is running when a block lands (tests/helpers/stream.py).

use super::{ip, python, Netns};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

pub const STREAM_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helpers/stream.py");

/// A Python helper running in a namespace; killed on drop if still alive.
pub struct Bg {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Bg {
    /// Starts `script args` in `ns`; with `ready`, waits for its `READY`.
    pub fn spawn(ns: &Netns, script: &str, args: &[&str], ready: bool) -> Bg {
        let mut cmd = Command::new(ip());
        cmd.args(["netns", "exec", &ns.name])
            .arg(python())
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn helper");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut bg = Bg { child, out };
        if ready {
            assert_eq!(bg.line(), "READY", "{script} {args:?} did not start");
        }
        bg
    }

    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.out.read_line(&mut l).expect("helper output");
        l.trim().to_string()
    }

    /// Its result line, once it has ended (each helper ends by itself).
    pub fn finish(mut self) -> String {
        let l = self.line();
        let _ = self.child.wait();
        l
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A TCP download: `serve` at one end, `fetch` at the other, the bytes
/// received so far readable at any time.
pub struct Stream {
    server: Bg,
    client: Bg,
    file: PathBuf,
}

impl Stream {
    /// `bytes` from `(ns, addr)` of the server to the client's, spread over
    /// `secs` (0: at once); the client gives up after 3 idle seconds.
    pub fn start(
        server: (&Netns, &str),
        client: (&Netns, &str),
        port: u16,
        bytes: u64,
        secs: u32,
        dir: &Path,
    ) -> Stream {
        let file = dir.join(format!("got-{port}"));
        let (port, bytes, secs) = (port.to_string(), bytes.to_string(), secs.to_string());
        let serve = ["serve", server.1, &port, &bytes, &secs];
        let fetch = [
            "fetch",
            client.1,
            server.1,
            &port,
            "3",
            file.to_str().unwrap(),
        ];
        Stream {
            server: Bg::spawn(server.0, STREAM_PY, &serve, true),
            client: Bg::spawn(client.0, STREAM_PY, &fetch, false),
            file,
        }
    }

    pub fn got(&self) -> u64 {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.trim().parse().unwrap_or(0)
    }

    /// (server's line, client's line) once both ended.
    pub fn finish(self) -> (String, String) {
        (self.server.finish(), self.client.finish())
    }
}

/// Waits until every stream has delivered something.
pub fn wait_flowing(streams: &[&Stream]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while streams.iter().any(|s| s.got() == 0) {
        assert!(Instant::now() < deadline, "a transfer never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn bytes_of(streams: &[&Stream]) -> Vec<u64> {
    streams.iter().map(|s| s.got()).collect()
}
