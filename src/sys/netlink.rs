//! A netlink socket to the kernel's netfilter subsystem
//! (NETLINK_NETFILTER): nftables' own interface, the one `nft` speaks.
//! This only moves datagrams; the messages are built and read by
//! `parse::nfnetlink`.
#![allow(unsafe_code)]

use super::fs::Fd;
use super::{cvt, retry};
use std::io;

/// How long a reply may take before the read fails (the kernel answers a
/// dump at once; this only keeps a wedged socket from hanging netmon).
const RECV_TIMEOUT_S: i32 = 5;

/// An open NETLINK_NETFILTER socket, closed on drop.
pub struct Netlink(Fd);

impl Netlink {
    /// Opens the socket (close-on-exec). Reading nftables over it needs
    /// CAP_NET_ADMIN, as `nft list` does.
    pub fn netfilter() -> io::Result<Netlink> {
        let kind = libc::SOCK_RAW | libc::SOCK_CLOEXEC;
        // SAFETY: socket takes no pointers.
        let fd = cvt(unsafe { libc::socket(libc::AF_NETLINK, kind, libc::NETLINK_NETFILTER) })?;
        let nl = Netlink(Fd(fd));
        // SAFETY: an all-zero timeval is plain storage; tv_sec is set.
        let mut tv: libc::timeval = unsafe { core::mem::zeroed() };
        tv.tv_sec = RECV_TIMEOUT_S.into();
        let size = core::mem::size_of::<libc::timeval>() as libc::socklen_t;
        // SAFETY: `tv` is a timeval that outlives the call, `size` its size.
        cvt(unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const tv).cast(),
                size,
            )
        })?;
        Ok(nl)
    }

    /// Sends one request to the kernel (port 0).
    pub fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: an all-zero sockaddr_nl is the kernel's address once the
        // family is set.
        let mut to: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
        to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let size = core::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `msg` is valid for msg.len() bytes and `to` for `size`;
        // sendto keeps neither.
        let n = retry(|| unsafe {
            libc::sendto(
                self.0 .0,
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&raw const to).cast(),
                size,
            )
        })?;
        if n != msg.len() {
            return Err(io::ErrorKind::WriteZero.into());
        }
        Ok(())
    }

    /// Receives one datagram into `buf`; returns its length. A datagram
    /// longer than `buf` is an error (InvalidData), never cut silently.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of buf.len() bytes; MSG_TRUNC
        // makes recv return the datagram's full length.
        let n = retry(|| unsafe {
            libc::recv(
                self.0 .0,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
            )
        })?;
        if n > buf.len() {
            return Err(io::ErrorKind::InvalidData.into());
        }
        Ok(n)
    }
}
