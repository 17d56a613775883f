//! Name resolution (getaddrinfo) and a TCP connect with a deadline.
#![allow(unsafe_code)]

use super::cvt;
use super::fs::Fd;
use std::io;

/// The addresses of `host` (a name, or an IPv4/IPv6 literal) for a TCP
/// connection to `port`, in the C library's order (`getaddrinfo`: the hosts
/// file, then the resolvers of resolv.conf, RFC 6724 sorting). Empty when
/// it cannot be resolved.
pub fn resolve(host: &str, port: u16) -> Vec<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    let mut out = Vec::new();
    let Ok(name) = std::ffi::CString::new(host) else {
        return out;
    };
    // SAFETY: an all-zero addrinfo is the documented "no hints" value.
    let mut hints: libc::addrinfo = unsafe { core::mem::zeroed() };
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut list: *mut libc::addrinfo = core::ptr::null_mut();
    // SAFETY: name is NUL-terminated; hints and list are valid; the list
    // getaddrinfo allocates is freed below.
    if unsafe { libc::getaddrinfo(name.as_ptr(), core::ptr::null(), &hints, &mut list) } != 0 {
        return out;
    }
    let mut p = list;
    while !p.is_null() {
        // SAFETY: p is a node of the list getaddrinfo returned; ai_addr
        // points to a sockaddr of the size its family implies.
        let (ai, next) = unsafe { (&*p, (*p).ai_next) };
        if ai.ai_family == libc::AF_INET && !ai.ai_addr.is_null() {
            // SAFETY: family AF_INET: a sockaddr_in.
            let a = unsafe { &*ai.ai_addr.cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            out.push(SocketAddr::V4(SocketAddrV4::new(ip, port)));
        } else if ai.ai_family == libc::AF_INET6 && !ai.ai_addr.is_null() {
            // SAFETY: family AF_INET6: a sockaddr_in6.
            let a = unsafe { &*ai.ai_addr.cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let v6 = SocketAddrV6::new(ip, port, a.sin6_flowinfo, a.sin6_scope_id);
            out.push(SocketAddr::V6(v6));
        }
        p = next;
    }
    // SAFETY: list came from getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    out
}

/// A TCP connection to `addr`, waiting at most `timeout_ms` for it (a
/// non-blocking connect, then poll). A timeout is `ErrorKind::TimedOut`.
pub fn connect_tcp(
    addr: &std::net::SocketAddr,
    timeout_ms: u32,
) -> io::Result<std::net::TcpStream> {
    use std::net::SocketAddr;
    use std::os::fd::FromRawFd;
    // SAFETY: zeroed sockaddr_storage is a valid (unspecified) address.
    let mut ss: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    let (family, len) = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let s = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            s.sin_family = libc::AF_INET as libc::sa_family_t;
            s.sin_port = a.port().to_be();
            s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            (libc::AF_INET, core::mem::size_of::<libc::sockaddr_in>())
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let s = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            s.sin6_port = a.port().to_be();
            s.sin6_addr.s6_addr = a.ip().octets();
            s.sin6_flowinfo = a.flowinfo();
            s.sin6_scope_id = a.scope_id();
            (libc::AF_INET6, core::mem::size_of::<libc::sockaddr_in6>())
        }
    };
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: plain socket(2); the descriptor is owned by `fd` below.
    let fd = Fd(cvt(unsafe { libc::socket(family, ty, 0) })?);
    let sa = (&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr>();
    // SAFETY: sa points to an initialised address of `len` bytes.
    if unsafe { libc::connect(fd.0, sa, len as libc::socklen_t) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
        wait_connected(&fd, timeout_ms)?;
        // The outcome: a second connect returns 0/EISCONN once connected,
        // else the error that ended the attempt (as errno, which qemu-user
        // translates; SO_ERROR's value it passes through untranslated).
        // SAFETY: as above.
        if unsafe { libc::connect(fd.0, sa, len as libc::socklen_t) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EISCONN) {
                return Err(e);
            }
        }
    }
    // Back to blocking: the session uses read/write timeouts (SO_RCVTIMEO).
    // SAFETY: fcntl on a descriptor we own.
    let fl = cvt(unsafe { libc::fcntl(fd.0, libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd.0, libc::F_SETFL, fl & !libc::O_NONBLOCK) })?;
    let raw = fd.0;
    core::mem::forget(fd);
    // SAFETY: raw is a connected TCP socket nobody else owns.
    Ok(unsafe { std::net::TcpStream::from_raw_fd(raw) })
}

/// Waits at most `timeout_ms` for a non-blocking connect on `fd` to finish
/// (successfully or not).
fn wait_connected(fd: &Fd, timeout_ms: u32) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd: fd.0,
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = i32::try_from(timeout_ms).unwrap_or(i32::MAX);
    loop {
        // SAFETY: one valid pollfd. (A signal restarts the full wait: only
        // `top` installs handlers, and it connects nowhere.)
        match unsafe { libc::poll(&mut p, 1, ms) } {
            0 => return Err(io::ErrorKind::TimedOut.into()),
            n if n > 0 => break,
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn resolve_literals_and_the_hosts_file() {
        use std::net::SocketAddr;
        let v4: SocketAddr = "127.0.0.1:25".parse().unwrap();
        assert_eq!(super::resolve("127.0.0.1", 25), vec![v4]);
        let v6: SocketAddr = "[::1]:587".parse().unwrap();
        assert_eq!(super::resolve("::1", 587), vec![v6]);
        let local = super::resolve("localhost", 2525);
        assert!(
            local
                .iter()
                .any(|a| a.ip().is_loopback() && a.port() == 2525),
            "{local:?}"
        );
        assert!(super::resolve("bad\0host", 25).is_empty());
        assert!(super::resolve("", 25).is_empty());
    }

    #[test]
    fn connect_tcp_connects_and_reports_refusal() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut c = super::connect_tcp(&addr, 5000).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(b"EHLO x\r\n").unwrap();
        let mut got = [0u8; 8];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"EHLO x\r\n");
        // Blocking again after the non-blocking connect: a read waits.
        s.write_all(b"250 ok").unwrap();
        let mut r = [0u8; 6];
        c.read_exact(&mut r).unwrap();
        assert_eq!(&r, b"250 ok");
        drop((c, s, l));
        // A port nothing listens on: reserved as UDP (TCP's port space is
        // separate). Not the closed listener's port: a child being spawned
        // by a parallel test may still hold that socket until its exec.
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let e = super::connect_tcp(&udp.local_addr().unwrap(), 5000).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
        if let Ok(l6) = std::net::TcpListener::bind("[::1]:0") {
            let c6 = super::connect_tcp(&l6.local_addr().unwrap(), 5000).unwrap();
            assert!(c6.peer_addr().unwrap().is_ipv6());
        } else {
            eprintln!("no IPv6 loopback here: [::1] connect not checked");
        }
    }
}
