//! A small message with at most one file descriptor attached (`SCM_RIGHTS`), over a Unix
//! seqpacket socket: how the memfd mechanisms hand a memory object to their peer.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// A connected pair of Unix seqpacket sockets: whole messages, each with its descriptors.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::SEQPACKET,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?)
}

/// Sends `header` as one message, with `fd` attached when given.
pub fn send(socket: impl AsFd, header: &[u8], fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
    let fds = fd.as_slice();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other(
            "no room for a descriptor in the control buffer",
        ));
    }
    loop {
        match rustix::net::sendmsg(
            &socket,
            &[io::IoSlice::new(header)],
            &mut control,
            SendFlags::empty(),
        ) {
            Ok(n) if n == header.len() => return Ok(()),
            Ok(n) => {
                return Err(io::Error::other(format!(
                    "sent {n} of a {}-byte header",
                    header.len()
                )))
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one message into `header`, which it must fill exactly, and the descriptor attached
/// to it, if any. A peer that attaches more than one descriptor, or sends a message of another
/// length, is an error (the descriptors it sent are closed).
pub fn recv(socket: impl AsFd, header: &mut [u8]) -> io::Result<Option<OwnedFd>> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let expected = header.len();
    let received = loop {
        match rustix::net::recvmsg(
            &socket,
            &mut [io::IoSliceMut::new(header)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(received) => break received,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    // The first descriptor is kept, any more only counted (and closed): no allocation on a
    // message's path.
    let (mut fd, mut fds) = (None, 0usize);
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(attached) = message {
            for received in attached {
                fds += 1;
                fd.get_or_insert(received);
            }
        }
    }
    if received.bytes == 0 && expected != 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer closed the channel mid-run",
        ));
    }
    if received
        .flags
        .intersects(ReturnFlags::CTRUNC | ReturnFlags::TRUNC)
    {
        return Err(io::Error::other(
            "a message or its descriptors did not fit: the peer sent more than the protocol's",
        ));
    }
    super::check_len(received.bytes, expected)?;
    if fds > 1 {
        return Err(io::Error::other(format!(
            "{fds} descriptors came with one message, where at most one is sent"
        )));
    }
    Ok(fd)
}
