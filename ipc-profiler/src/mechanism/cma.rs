//! `cma`: cross-memory attach (`process_vm_writev(2)`), the single copy MPI libraries use for
//! large messages between processes of one host. A receiver posts where its next message goes
//! (an address and a length in its own memory) over a Unix seqpacket socket; the sender learns
//! the receiver's pid from the kernel (`SCM_CREDENTIALS`, never from the message), copies the
//! message straight into the posted buffer with one `process_vm_writev`, and says so with an
//! 8-byte message whose `recv` wakes the receiver. One copy, from user memory to user memory,
//! and a rendezvous: a send waits for the receiver's post, and no message is buffered anywhere.
//!
//! A fan-in reader cannot post the caller's buffer to every writer at once, so it posts a slot
//! of its own to each and copies a message out of its slot (two copies there). Writing into
//! another process needs ptrace access to it: same user, and under Yama's `ptrace_scope` 1 the
//! receiver allows its peers (`PR_SET_PTRACER_ANY`); `available` names the scopes that forbid it.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendFlags};

use super::endpoints::fd::{recv_datagram, send_datagram};
use super::endpoints::fd_passing::seqpacket_pair;
use super::endpoints::ready_set::ReadySet;
use super::endpoints::{check_len, wrong_way};
use super::{Channel, Endpoint, FanInChannel, Mechanism};

/// Messages copied by `process_vm_writev` into buffers the receivers post.
pub struct Cma;

/// Where Yama keeps its ptrace policy (absent without Yama).
const PTRACE_SCOPE: &str = "/proc/sys/kernel/yama/ptrace_scope";

impl Mechanism for Cma {
    fn name(&self) -> &'static str {
        "cma"
    }

    fn summary(&self) -> &'static str {
        "process_vm_writev into a buffer the receiver posts over a Unix socket; blocking recv"
    }

    fn available(&self) -> Result<(), String> {
        cross_memory_attach()?;
        let scope = std::fs::read_to_string(PTRACE_SCOPE)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        ptrace_allowed(scope, rustix::process::geteuid().is_root())
    }

    fn connect(&self, _size: usize) -> io::Result<Channel> {
        let (client_posts, server_writes) = pair()?;
        let (server_posts, client_writes) = pair()?;
        Ok(Channel::new(
            Box::new(CmaEnd {
                receiving: Some(Receiving::new(client_posts)),
                sending: Sending(client_writes),
            }),
            Box::new(CmaEnd {
                receiving: Some(Receiving::new(server_posts)),
                sending: Sending(server_writes),
            }),
        ))
    }

    fn connect_fan_in(&self, _size: usize, writers: usize) -> io::Result<FanInChannel> {
        let mut ends = Vec::with_capacity(writers);
        let mut posts = Vec::with_capacity(writers);
        for _ in 0..writers {
            let (post, write) = pair()?;
            ends.push(Box::new(CmaEnd {
                receiving: None,
                sending: Sending(write),
            }) as Box<dyn Endpoint>);
            posts.push(post);
        }
        Ok(FanInChannel::new(ends, Box::new(SlotsReader::new(posts)?)))
    }
}

/// A seqpacket pair for one direction: (the receiver's end, where it posts and learns a copy
/// is done; the sender's end, which is told the poster's pid with every post).
fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (receiver, sender) = seqpacket_pair()?;
    rustix::net::sockopt::set_socket_passcred(&sender, true)?;
    Ok((receiver, sender))
}

/// Whether this kernel has `process_vm_writev` (`CONFIG_CROSS_MEMORY_ATTACH`): a copy of
/// nothing from this process to itself.
fn cross_memory_attach() -> Result<(), String> {
    // SAFETY: no iovec is passed (count 0), so the kernel touches no memory.
    let done = unsafe {
        libc::process_vm_writev(libc::getpid(), std::ptr::null(), 0, std::ptr::null(), 0, 0)
    };
    if done < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
        return Err("this kernel has no process_vm_writev (CONFIG_CROSS_MEMORY_ATTACH)".into());
    }
    Ok(())
}

/// Whether Yama's `scope` (`None`: no Yama) lets a process write into its sibling's memory:
/// 0 and 1 do (at 1 the receiver allows it, `PR_SET_PTRACER_ANY`), 2 only with
/// `CAP_SYS_PTRACE` (`privileged`), 3 never.
fn ptrace_allowed(scope: Option<u8>, privileged: bool) -> Result<(), String> {
    match scope {
        None | Some(0 | 1) => Ok(()),
        Some(2) if privileged => Ok(()),
        Some(scope) => Err(format!(
            "Yama's ptrace_scope is {scope} ({PTRACE_SCOPE}): process_vm_writev into another \
             process needs {}",
            if scope == 2 {
                "CAP_SYS_PTRACE (run as root)"
            } else {
                "ptrace, which scope 3 forbids until reboot"
            }
        )),
    }
}

/// The 16 bytes of a post: where the next message goes, in the poster's memory.
fn post_bytes(buffer: &mut [u8]) -> [u8; 16] {
    let mut post = [0u8; 16];
    post[..8].copy_from_slice(&(buffer.as_mut_ptr().expose_provenance() as u64).to_le_bytes());
    post[8..].copy_from_slice(&(buffer.len() as u64).to_le_bytes());
    post
}

/// Sends one record, whole, without SIGPIPE when the peer has gone.
fn send_record(socket: impl AsFd, record: &[u8]) -> io::Result<()> {
    send_datagram(socket, record, SendFlags::NOSIGNAL)
}

/// Receives one record that must be `N` bytes: `None` at end of file (the peer finished).
///
/// A peer that closes its end with a post still unread (a fan-in writer whose last message the
/// reader answered with a new post) resets the connection; the kernel reports that once, ahead
/// of the records still queued, and clears it: reading on yields them, then end of file.
fn recv_record<const N: usize>(socket: impl AsFd) -> io::Result<Option<[u8; N]>> {
    let mut record = [0u8; N];
    let whole = loop {
        match recv_datagram(&socket, &mut record) {
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => continue,
            other => break other?,
        }
    };
    match whole {
        0 => Ok(None),
        n if n == N => Ok(Some(record)),
        n => Err(io::Error::other(format!(
            "a {n}-byte record where {N} bytes belong"
        ))),
    }
}

/// The receiving side of one direction: posts a buffer, then waits until it is filled.
struct Receiving {
    socket: OwnedFd,
    /// Whether this process has let its peers write into it (Yama's scope 1).
    opened: bool,
}

impl Receiving {
    fn new(socket: OwnedFd) -> Self {
        Self {
            socket,
            opened: false,
        }
    }

    /// Lets other processes write into this one where Yama would forbid it; once per process
    /// (the endpoint lives in one worker). Without Yama the call fails, and nothing is needed.
    fn open_to_peers(&mut self) {
        if !self.opened {
            // SAFETY: a prctl with integer arguments; it changes no memory of this process.
            let _ = unsafe { libc::prctl(libc::PR_SET_PTRACER, libc::PR_SET_PTRACER_ANY) };
            self.opened = true;
        }
    }

    /// Posts `buffer` and waits until the sender has copied a message of its length into it.
    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        self.open_to_peers();
        send_record(&self.socket, &post_bytes(buffer))?;
        let done = recv_record::<8>(&self.socket)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed the channel mid-run",
            )
        })?;
        check_len(u64::from_le_bytes(done) as usize, buffer.len())
    }
}

/// The sending side of one direction: waits for a post, copies into it, says it is done.
struct Sending(OwnedFd);

impl Sending {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let (pid, address, len) = self.next_post()?;
        if len != message.len() as u64 {
            return Err(io::Error::other(format!(
                "the receiver posted {len} bytes for a {}-byte message",
                message.len()
            )));
        }
        write_into(pid, address, message)?;
        send_record(&self.0, &len.to_le_bytes())
    }

    /// The next post: the poster's pid (from the kernel), the address and the length.
    fn next_post(&mut self) -> io::Result<(libc::pid_t, u64, u64)> {
        let mut post = [0u8; 16];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let received = loop {
            match rustix::net::recvmsg(
                &self.0,
                &mut [io::IoSliceMut::new(&mut post)],
                &mut control,
                RecvFlags::empty(),
            ) {
                Ok(received) => break received,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if received.bytes != post.len() {
            return Err(io::Error::other(format!(
                "a {}-byte post where 16 bytes belong (or the receiver went away)",
                received.bytes
            )));
        }
        let pid = control
            .drain()
            .find_map(|message| match message {
                RecvAncillaryMessage::ScmCredentials(credentials) => {
                    Some(credentials.pid.as_raw_nonzero().get())
                }
                _ => None,
            })
            .ok_or_else(|| io::Error::other("a post came without the poster's credentials"))?;
        let [address, len] = [&post[..8], &post[8..]]
            .map(|half| u64::from_le_bytes(half.try_into().expect("8 bytes")));
        Ok((pid, address, len))
    }
}

/// Copies `message` into process `pid` at `address`, whole, in one `process_vm_writev`.
fn write_into(pid: libc::pid_t, address: u64, message: &[u8]) -> io::Result<()> {
    let local = libc::iovec {
        iov_base: message.as_ptr().cast_mut().cast(),
        iov_len: message.len(),
    };
    let remote = libc::iovec {
        iov_base: std::ptr::with_exposed_provenance_mut(address as usize),
        iov_len: message.len(),
    };
    // SAFETY: `local` describes `message`, which the kernel only reads; `remote` is an address
    // in another process, which the kernel checks there (EFAULT): nothing of this process is
    // written.
    let copied = unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) };
    match copied {
        n if n == message.len() as isize => Ok(()),
        n if n >= 0 => Err(io::Error::other(format!(
            "process_vm_writev copied {n} of {} bytes",
            message.len()
        ))),
        _ => {
            let error = io::Error::last_os_error();
            Err(match error.raw_os_error() {
                Some(libc::EPERM) => io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "process_vm_writev into process {pid} was refused: it needs ptrace \
                         access to the receiver ({error})"
                    ),
                ),
                _ => error,
            })
        }
    }
}

/// One side of a pair, or a fan-in writer (which does not receive).
struct CmaEnd {
    receiving: Option<Receiving>,
    sending: Sending,
}

impl Endpoint for CmaEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        self.sending.send(message)
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        self.receiving
            .as_mut()
            .ok_or_else(|| wrong_way("a fan-in writer does not receive"))?
            .recv(buffer)
    }
}

/// A fan-in reader: a slot of its own posted to each writer, a message copied out of the slot
/// its writer reports done, the slot posted again.
struct SlotsReader {
    /// One connection per writer; `None` once its writer has finished.
    connections: Vec<Option<Receiving>>,
    ready: ReadySet,
    /// One slot per writer, each a message long; empty until the first `recv`, which posts them
    /// (from the reader's own process: a post carries the poster's pid).
    slots: Vec<Vec<u8>>,
}

impl SlotsReader {
    fn new(connections: Vec<OwnedFd>) -> io::Result<Self> {
        Ok(Self {
            ready: ReadySet::new(&connections)?,
            connections: connections
                .into_iter()
                .map(|c| Some(Receiving::new(c)))
                .collect(),
            slots: Vec::new(),
        })
    }

    /// Posts slot `i` to its writer; a writer that has finished is not an error (its end of
    /// file retires it).
    fn post(&mut self, i: usize) -> io::Result<()> {
        let Some(connection) = &mut self.connections[i] else {
            return Ok(());
        };
        connection.open_to_peers();
        match send_record(&connection.socket, &post_bytes(&mut self.slots[i])) {
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => Ok(()),
            other => other,
        }
    }
}

impl Endpoint for SlotsReader {
    fn send(&mut self, _message: &[u8]) -> io::Result<()> {
        Err(wrong_way("a fan-in reader does not send"))
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        if self.slots.is_empty() {
            self.slots = vec![vec![0u8; buffer.len()]; self.connections.len()];
            for i in 0..self.slots.len() {
                self.post(i)?;
            }
        }
        loop {
            let i = self.ready.ready()?;
            let Some(connection) = &self.connections[i] else {
                continue;
            };
            let Some(done) = recv_record::<8>(&connection.socket)? else {
                self.ready.retire(&connection.socket)?;
                self.connections[i] = None;
                continue;
            };
            check_len(u64::from_le_bytes(done) as usize, buffer.len())?;
            buffer.copy_from_slice(&self.slots[i]);
            return self.post(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_copied_into_the_buffer_the_receiver_posted() {
        let (client_posts, server_writes) = pair().unwrap();
        let (server_posts, client_writes) = pair().unwrap();
        let end = |posts, writes| CmaEnd {
            receiving: Some(Receiving::new(posts)),
            sending: Sending(writes),
        };
        let (mut client, mut server) = (
            end(client_posts, client_writes),
            end(server_posts, server_writes),
        );
        let message: Vec<u8> = (0..5_000).map(|i| (i % 251) as u8).collect();
        let echo = std::thread::spawn(move || {
            let mut got = vec![0u8; 5_000];
            server.recv(&mut got).unwrap();
            server.send(&got).unwrap();
        });
        client.send(&message).unwrap();
        let mut back = vec![0u8; 5_000];
        client.recv(&mut back).unwrap();
        echo.join().unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn a_post_of_another_length_or_an_unmapped_address_is_refused() {
        let (post, write) = pair().unwrap();
        let receiving = Receiving::new(post);
        let mut buffer = vec![7u8; 100];
        send_record(&receiving.socket, &post_bytes(&mut buffer)).unwrap();
        let error = Sending(write).send(&[1u8; 64]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("posted 100 bytes for a 64-byte message"),
            "{error}"
        );
        assert_eq!(buffer, vec![7u8; 100]);
        // A post of an address the poster has not mapped: the copy fails there (EFAULT), and
        // the sender says so; nothing of its own is touched.
        let (post, write) = pair().unwrap();
        let mut unmapped = [0u8; 16];
        unmapped[..8].copy_from_slice(&8u64.to_le_bytes());
        unmapped[8..].copy_from_slice(&64u64.to_le_bytes());
        send_record(&post, &unmapped).unwrap();
        let error = Sending(write).send(&[1u8; 64]).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EFAULT), "{error}");
    }

    #[test]
    fn fan_in_writers_fill_their_own_slots() {
        const WRITERS: usize = 3;
        const MESSAGES: u8 = 50;
        let (posts, writes): (Vec<_>, Vec<_>) = (0..WRITERS).map(|_| pair().unwrap()).unzip();
        let writers: Vec<_> = writes
            .into_iter()
            .map(Sending)
            .enumerate()
            .map(|(w, mut end)| {
                std::thread::spawn(move || {
                    for n in 0..MESSAGES {
                        end.send(&[w as u8 * 100 + n; 64]).unwrap();
                    }
                })
            })
            .collect();
        let mut reader = SlotsReader::new(posts).unwrap();
        let mut next = [0u8; WRITERS];
        for _ in 0..WRITERS * MESSAGES as usize {
            let mut got = [0u8; 64];
            reader.recv(&mut got).unwrap();
            let w = (got[0] / 100) as usize;
            assert_eq!(
                got,
                [w as u8 * 100 + next[w]; 64],
                "writer {w} in order, whole"
            );
            next[w] += 1;
        }
        for writer in writers {
            writer.join().unwrap();
        }
        assert_eq!(next, [MESSAGES; WRITERS]);
        // Each writer closed with the reader's last post unread (a reset): the reader still
        // ends at end of file, not on the reset.
        let end = reader.recv(&mut [0u8; 64]).unwrap_err();
        assert_eq!(end.kind(), io::ErrorKind::UnexpectedEof, "{end}");
    }

    #[test]
    fn yama_scopes_that_forbid_writing_into_a_sibling_are_named() {
        assert!(ptrace_allowed(None, false).is_ok());
        assert!(ptrace_allowed(Some(1), false).is_ok());
        assert!(ptrace_allowed(Some(2), true).is_ok());
        let refused = ptrace_allowed(Some(2), false).unwrap_err();
        assert!(refused.contains("CAP_SYS_PTRACE"), "{refused}");
        assert!(ptrace_allowed(Some(3), true)
            .unwrap_err()
            .contains("scope 3"));
    }
}
