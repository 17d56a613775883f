//! The socket edge: resolve, connect with a timeout, and run a `Session`
//! over the TCP stream with read and write timeouts set, so no single
//! read, write or connect waits longer than the configured timeout.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::envelope::{Credentials, Envelope};
use super::session::{push_io_error, Failure, Outcome, Session, Stage};
use crate::error::write_io_error;
use crate::text::{write_ip, Buf};

/// Shortest timeout used; zero would mean "no timeout" to the socket.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);

/// A connected socket: reads buffered, writes straight through (the
/// session already hands over whole commands and body chunks).
pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl BufRead for Connection {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.reader.consume(n)
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.reader.get_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.reader.get_mut().flush()
    }
}

/// Resolves `host` (name, IPv4 or IPv6 literal) and connects to the first
/// address that answers, each attempt bounded by `timeout`. Failures are
/// transient: the network or the server may be back at the next run.
///
/// Name resolution goes through the C library (`getaddrinfo`), which has
/// its own timeouts (resolv.conf) that this one does not bound.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Connection, Failure> {
    let timeout = timeout.max(MIN_TIMEOUT);
    // The last failure: the address and why. A socket that connected
    // but cannot be configured ends the search (as a failure).
    let mut last = None;
    let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    let addrs = crate::sys::resolve(host, port);
    for addr in &addrs {
        let r = crate::sys::connect_tcp(addr, ms);
        let connected = r.is_ok();
        match r.and_then(|s| configure(s, timeout)) {
            Ok(c) => return Ok(c),
            Err(e) => last = Some((addr, e)),
        }
        if connected {
            break;
        }
    }
    Err(match last {
        Some((addr, e)) => connect_failure(addr, &e),
        None => unresolved(host),
    })
}

fn configure(s: TcpStream, timeout: Duration) -> io::Result<Connection> {
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    // Commands are small and lock-step: do not let Nagle hold them back.
    s.set_nodelay(true)?;
    Ok(Connection {
        reader: BufReader::new(s),
    })
}

/// Connects and delivers `message`: the whole job for one attempt.
pub fn send<T: AsRef<str>>(
    host: &str,
    port: u16,
    timeout: Duration,
    env: &Envelope<'_, T>,
    auth: Option<&Credentials>,
    message: &[u8],
) -> Outcome {
    match connect(host, port, timeout) {
        Ok(conn) => Session::new(conn)
            .with_io_text(write_io_error::<Buf>)
            .send(env, auth, message),
        Err(f) => Outcome::Transient(f),
    }
}

fn unresolved(host: &str) -> Failure {
    let mut r = String::from("connect: cannot resolve '");
    // `host` comes from the validated config; keep it printable anyway.
    r.extend(host.chars().filter(|c| !c.is_control()).take(255));
    r.push('\'');
    Failure {
        stage: Stage::Connect,
        code: None,
        reason: r,
    }
}

fn connect_failure(addr: &SocketAddr, e: &io::Error) -> Failure {
    let mut b = Buf::new();
    let v6 = addr.is_ipv6();
    b.push_bytes(if v6 { b"connect: [" } else { b"connect: " });
    let _ = write_ip(&mut b, &addr.ip());
    if v6 {
        b.push_bytes(b"]");
    }
    let _ = ufmt::uwrite!(b, ":{}: ", addr.port());
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => b.push_bytes(b"timed out"),
        _ => push_io_error(&mut b, e, write_io_error::<Buf>),
    }
    Failure {
        stage: Stage::Connect,
        code: None,
        reason: b.into_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_failure_reasons() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let v6: SocketAddr = "[::1]:587".parse().unwrap();
        let f = connect_failure(&v6, &refused);
        assert_eq!(f.reason, "connect: [::1]:587: Connection refused");
        let v4: SocketAddr = "192.0.2.1:25".parse().unwrap();
        let timeout = io::Error::from(io::ErrorKind::TimedOut);
        let f = connect_failure(&v4, &timeout);
        assert_eq!(
            (f.stage, f.reason.as_str()),
            (Stage::Connect, "connect: 192.0.2.1:25: timed out")
        );
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        let f = connect_failure(&v4, &reset);
        assert_eq!(
            f.reason,
            "connect: 192.0.2.1:25: connection closed by the server"
        );
        assert_eq!(
            unresolved("no\nsuch").reason,
            "connect: cannot resolve 'nosuch'"
        );
    }
}
