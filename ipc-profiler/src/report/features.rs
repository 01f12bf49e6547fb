//! The feature matrix: what each mechanism can do, as built here (not measured).

/// One mechanism's features.
pub struct Features {
    /// Its name.
    pub mechanism: &'static str,
    /// One channel carries both directions.
    pub bidirectional: bool,
    /// Each receive returns exactly one message.
    pub boundaries: bool,
    /// Several readers can share one channel.
    pub many_readers: bool,
    /// Several writers can share one channel.
    pub many_writers: bool,
    /// The channel outlives the processes that made it.
    pub persistent: bool,
    /// The kernel objects it creates.
    pub kernel_objects: &'static str,
    /// The processes need a common ancestor to share it (or must pass descriptors).
    pub common_ancestor: bool,
    /// It can reach another host.
    pub across_hosts: bool,
    /// What bounds a message's size.
    pub limit: &'static str,
}

const fn f(
    mechanism: &'static str,
    flags: [bool; 7],
    kernel_objects: &'static str,
    limit: &'static str,
) -> Features {
    let [bidirectional, boundaries, many_readers, many_writers, persistent, common_ancestor, across_hosts] =
        flags;
    Features {
        mechanism,
        bidirectional,
        boundaries,
        many_readers,
        many_writers,
        persistent,
        kernel_objects,
        common_ancestor,
        across_hosts,
        limit,
    }
}

/// Every mechanism's features, in `list` order. Flags: bidirectional, message boundaries, many
/// readers, many writers, persistent, needs a common ancestor, across hosts.
pub const ALL: &[Features] = &[
    f(
        "pipe",
        [false, false, true, true, false, true, false],
        "a pipe (two descriptors)",
        "none for a stream; writes of at most PIPE_BUF (4 KiB) stay whole with many writers",
    ),
    f(
        "fifo",
        [false, false, true, true, true, false, false],
        "a named pipe in the filesystem",
        "as pipe",
    ),
    f(
        "vmsplice",
        [false, false, true, false, false, true, false],
        "a pipe (two descriptors)",
        "none for a stream; the sender's pages are the pipe's until read, so it writes a buffer \
         again only after the reader consumed it",
    ),
    f(
        "uds",
        [true, false, false, false, false, true, false],
        "a socket pair",
        "none for a stream (socket buffer sizes the pace)",
    ),
    f(
        "uds-dgram",
        [true, true, true, true, false, true, false],
        "a socket pair",
        "net.core.wmem_max / the socket's send buffer per datagram",
    ),
    f(
        "uds-seqpacket",
        [true, true, false, false, false, true, false],
        "a socket pair",
        "the socket's send buffer per packet",
    ),
    f(
        "io-uring",
        [true, false, false, false, false, true, false],
        "a socket pair and an io_uring per process",
        "none for a stream",
    ),
    f(
        "io-uring-sqpoll",
        [true, false, false, false, false, true, false],
        "a socket pair, an io_uring and its polling kernel thread per process",
        "none for a stream",
    ),
    f(
        "memfd-pass",
        [true, true, false, true, false, true, false],
        "a socket pair, and a sealed memfd per message",
        "memory: each message is a file in RAM",
    ),
    f(
        "memfd-pool",
        [true, true, false, false, false, true, false],
        "a socket pair, a pipe of returns and a memfd pool per side",
        "the pool's buffer size, fixed when the pool is made",
    ),
    f(
        "cma",
        [true, true, false, false, false, true, false],
        "a socket pair per direction (the payload is copied from the sender's memory into the \
         receiver's, through no kernel object)",
        "the buffer the receiver posts; ptrace access to the receiver (same user, Yama's \
         ptrace_scope at most 1, or CAP_SYS_PTRACE)",
    ),
    f(
        "tcp",
        [true, false, false, false, false, false, true],
        "a listening and two connected sockets",
        "none for a stream",
    ),
    f(
        "udp",
        [true, true, true, true, false, false, true],
        "two sockets",
        "65,507 bytes per datagram; no flow control",
    ),
    f(
        "posix-mq",
        [false, true, true, true, true, false, false],
        "a queue in /dev/mqueue",
        "fs.mqueue.msgsize_max (8 KiB by default) and RLIMIT_MSGQUEUE",
    ),
    f(
        "sysv-mq",
        [false, true, true, true, true, false, false],
        "a System V queue id",
        "kernel.msgmax (8 KiB by default) and kernel.msgmnb per queue",
    ),
    f(
        "shm-spin",
        [false, true, true, true, false, true, false],
        "a memfd",
        "half the ring's data area (ipc-core)",
    ),
    f(
        "shm-futex",
        [false, true, true, true, false, true, false],
        "a memfd",
        "half the ring's data area (ipc-core)",
    ),
    f(
        "io-uring-futex",
        [false, true, false, false, false, true, false],
        "a memfd and an io_uring per process",
        "half the ring's data area (ipc-core)",
    ),
    f(
        "shm-mutex",
        [true, true, false, true, false, true, false],
        "a memfd",
        "the mailbox's size",
    ),
    f(
        "shm-sem",
        [true, true, false, true, false, true, false],
        "a memfd",
        "the mailbox's size",
    ),
    f(
        "sysv-sem",
        [true, true, false, true, true, true, false],
        "a memfd and a System V semaphore set",
        "the mailbox's size",
    ),
    f(
        "mmap",
        [false, true, true, true, true, false, false],
        "a regular file",
        "half the ring's data area (ipc-core)",
    ),
    f(
        "eventfd",
        [true, true, false, true, false, true, false],
        "a memfd and eventfds",
        "the mailbox's size",
    ),
    f(
        "shm-tokio",
        [false, true, false, false, false, true, false],
        "a memfd and eventfds",
        "half the ring's data area (ipc-core)",
    ),
    f(
        "uds-tokio",
        [true, false, false, false, false, true, false],
        "a socket pair",
        "none for a stream",
    ),
    f(
        "dbus",
        [true, true, true, true, false, false, false],
        "a Unix socket per process to a broker process (dbus-daemon)",
        "128 MiB a message (D-Bus's own limit); what the broker queues for a reader (1 GiB here)",
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_mechanism_that_carries_a_payload_has_its_features() {
        for m in crate::mechanism::all()
            .iter()
            .filter(|m| m.carries_payload())
        {
            assert!(
                super::ALL.iter().any(|f| f.mechanism == m.name()),
                "{} has no feature row",
                m.name()
            );
        }
    }
}
