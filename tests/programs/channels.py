"""A program with a known number of messages on each kind of channel, for `trace`'s channel
view (tests/trace_privileged.rs). Every message is SIZE bytes and every read asks for SIZE,
so each write is read by exactly one read. Prints `label inode` for each channel it made, so
that a test can find them in a trace or in strace's output.

Channels, in order (the parent reads unless said otherwise):
  pipe-a    a child writes N_A messages, then both close it;
  pipe-b    made after pipe-a closed, so it gets pipe-a's descriptor numbers: N_B messages;
  stream    a Unix stream pair: N_S round trips, parent first;
  fifo      a named pipe a child opens to write N_F messages;
  passing   a Unix datagram pair the parent sends pipe-d's write end over (one message);
  pipe-d    whose write end the child received over `passing`: N_D messages;
  tcp       a TCP connection over 127.0.0.1: N_T round trips, the child (client) first;
  udp       an unconnected UDP socket answering a connected child: N_U round trips;
  eventfd   a semaphore eventfd a child adds 1 to N_E times, the parent reading each;
  mq        a POSIX message queue (unlinked at once) a child sends N_Q messages on;
  sysv      a System V message queue (removed at the end) a child sends N_V messages on
            (its label prints the queue's id where the others print an inode).
TCP and UDP labels also print the socket's own address, and the queue its name, as
`strace -yy` shows them.

Then shared memory, four kinds, each a ping-pong of N_M turns between the parent and a child
through two futex words in it (the parent bumps `turn` and wakes, the child waits for it, then
bumps `done` and wakes, the parent waiting for that): a memfd and anonymous shared memory both
mapped before the fork (the child inherits them), a file in /dev/shm the child maps itself,
and a System V segment (removed at the end). Each process counts its own futex calls; the
parent prints `shm KIND IDENT WAITS WAKES` (IDENT: the inode, the segment's id, or `-`).
"""
import mmap
import ctypes
import os
import signal
import socket
import sys
import tempfile

SIZE = 64
N_A, N_B, N_S, N_F, N_D, N_T, N_U, N_E, N_Q, N_V = 300, 200, 150, 120, 80, 110, 90, 70, 60, 50
N_M = 40
WATCHDOG_SECONDS = 120
FUTEX_WAIT, FUTEX_WAKE, SYS_FUTEX = 0, 1, 202
MESSAGE = bytes(range(SIZE))


def label(name, fd, address=None):
    if isinstance(address, tuple):
        address = "%s:%d" % address
    print(name, os.fstat(fd).st_ino, address or "", flush=True)


class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long),
                ("reserved", ctypes.c_long * 4)]


class MsgBuf(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * SIZE)]


def message_queue():
    """A POSIX queue of SIZE-byte messages, unlinked at once: (libc, descriptor, name)."""
    libc = ctypes.CDLL(None, use_errno=True)
    name = ("/ipc-profiler-test-%d" % os.getpid()).encode()
    attr = MqAttr(0, 8, SIZE, 0)
    mqd = libc.mq_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600, ctypes.byref(attr))
    assert mqd >= 0, os.strerror(ctypes.get_errno())
    libc.mq_unlink(name)
    return libc, mqd, name.decode()


def give_up_after(seconds):
    """Ends this process with a message if it is still running after `seconds`: a step that
    hangs (a lost wake-up) fails the test instead of stalling it."""
    def hung(*_):
        sys.stderr.write("channels.py: pid %d still running after %d s: a hang\n"
                         % (os.getpid(), seconds))
        os._exit(3)
    signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)


def child(body):
    pid = os.fork()
    if pid == 0:
        try:
            give_up_after(WATCHDOG_SECONDS)
            body()
        finally:
            os._exit(0)
    return pid


def read_exactly(fd, n):
    for _ in range(n):
        assert os.read(fd, SIZE) == MESSAGE


def writer(fd, n):
    def body():
        for _ in range(n):
            os.write(fd, MESSAGE)
    return body


def one_way_pipe(name, n):
    r, w = os.pipe()
    label(name, r)
    pid = child(writer(w, n))
    os.close(w)
    read_exactly(r, n)
    os.waitpid(pid, 0)
    os.close(r)
    return r


def main():
    first = one_way_pipe("pipe-a", N_A)
    again = one_way_pipe("pipe-b", N_B)
    assert first == again, "pipe-b should reuse pipe-a's descriptor numbers"

    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    label("stream", mine.fileno())

    def echo():
        mine.close()
        for _ in range(N_S):
            theirs.sendall(theirs.recv(SIZE))

    pid = child(echo)
    theirs.close()
    for _ in range(N_S):
        mine.sendall(MESSAGE)
        assert mine.recv(SIZE) == MESSAGE
    os.waitpid(pid, 0)
    mine.close()

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "fifo")
        os.mkfifo(path)

        def fifo_writer():
            fd = os.open(path, os.O_WRONLY)
            writer(fd, N_F)()

        pid = child(fifo_writer)
        fd = os.open(path, os.O_RDONLY)
        label("fifo", fd)
        read_exactly(fd, N_F)
        os.waitpid(pid, 0)
        os.close(fd)

    r, w = os.pipe()
    label("pipe-d", r)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    label("passing", mine.fileno())

    def receive_and_write():
        mine.close()
        os.close(r)
        _, fds, _, _ = socket.recv_fds(theirs, 1, 1)
        writer(fds[0], N_D)()

    pid = child(receive_and_write)
    theirs.close()
    socket.send_fds(mine, [b"!"], [w])
    os.close(w)
    read_exactly(r, N_D)
    os.waitpid(pid, 0)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def tcp_client():
        client = socket.create_connection(("127.0.0.1", port))
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(N_T):
            client.sendall(MESSAGE)
            assert client.recv(SIZE) == MESSAGE

    pid = child(tcp_client)
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    label("tcp", conn.fileno(), conn.getsockname())
    for _ in range(N_T):
        conn.sendall(conn.recv(SIZE))
    os.waitpid(pid, 0)
    conn.close()
    listener.close()

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    label("udp", server.fileno(), server.getsockname())
    address = server.getsockname()

    def udp_client():
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.connect(address)
        for _ in range(N_U):
            client.send(MESSAGE)
            assert client.recv(SIZE) == MESSAGE

    pid = child(udp_client)
    for _ in range(N_U):
        data, sender = server.recvfrom(SIZE)
        server.sendto(data, sender)
    os.waitpid(pid, 0)

    efd = os.eventfd(0, os.EFD_SEMAPHORE)
    label("eventfd", efd)

    def adder():
        for _ in range(N_E):
            os.eventfd_write(efd, 1)

    pid = child(adder)
    for _ in range(N_E):
        assert os.eventfd_read(efd) == 1
    os.waitpid(pid, 0)

    libc, mqd, name = message_queue()
    label("mq", mqd, name)

    def mq_sender():
        for _ in range(N_Q):
            assert libc.mq_send(mqd, MESSAGE, SIZE, 0) == 0

    pid = child(mq_sender)
    buffer = ctypes.create_string_buffer(SIZE)
    for _ in range(N_Q):
        assert libc.mq_receive(mqd, buffer, SIZE, None) == SIZE
    os.waitpid(pid, 0)

    ipc_private, ipc_creat, ipc_rmid = 0, 0o1000, 0
    qid = libc.msgget(ipc_private, ipc_creat | 0o600)
    assert qid >= 0, os.strerror(ctypes.get_errno())
    try:
        print("sysv", qid, flush=True)

        def sysv_sender():
            message = MsgBuf(1, MESSAGE)
            for _ in range(N_V):
                assert libc.msgsnd(qid, ctypes.byref(message), SIZE, 0) == 0

        pid = child(sysv_sender)
        received = MsgBuf()
        for _ in range(N_V):
            assert libc.msgrcv(qid, ctypes.byref(received), SIZE, 0, 0) == SIZE
        os.waitpid(pid, 0)
    finally:
        libc.msgctl(qid, ipc_rmid, None)


class Words:
    """The futex words at the start of a shared page at `address`: turn, done, and the
    child's call counts (waits, wakes)."""

    def __init__(self, libc, address):
        self.libc = libc
        self.address = address
        self.turn, self.done, self.child_waits, self.child_wakes = (
            ctypes.c_uint32.from_address(address + 4 * i) for i in range(4))
        self.waits = self.wakes = 0

    def futex(self, word, op, value):
        address = ctypes.addressof(word)
        result = self.libc.syscall(ctypes.c_long(SYS_FUTEX), ctypes.c_void_p(address),
                                   ctypes.c_int(op), ctypes.c_int(value), None, None,
                                   ctypes.c_int(0))
        if op == FUTEX_WAIT:
            self.waits += 1
        else:
            self.wakes += 1
        return result

    def wait_for(self, word, value):
        # The word is read once per wait: the value the kernel compares is the one that was
        # seen to be too small (read again, a bump between the reads would be slept through).
        while True:
            seen = word.value
            if seen >= value:
                return
            self.futex(word, FUTEX_WAIT, seen)

    def bump(self, word):
        word.value += 1
        self.futex(word, FUTEX_WAKE, 1)


def ping_pong(kind, ident, libc, address, child_address=None):
    """N_M turns through the words at `address` (the child's `child_address()`, when it maps
    them itself); prints the calls both made."""
    words = Words(libc, address)

    def answer():
        mine = Words(libc, child_address() if child_address else address)
        for turn in range(1, N_M + 1):
            mine.wait_for(mine.turn, turn)
            mine.bump(mine.done)
        mine.child_waits.value, mine.child_wakes.value = mine.waits, mine.wakes

    pid = child(answer)
    for turn in range(1, N_M + 1):
        words.bump(words.turn)
        words.wait_for(words.done, turn)
    os.waitpid(pid, 0)
    print("shm", kind, ident, words.waits + words.child_waits.value,
          words.wakes + words.child_wakes.value, flush=True)


def shared_memory():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p

    fd = os.memfd_create("ipc-test")
    os.ftruncate(fd, mmap.PAGESIZE)
    memfd = mmap.mmap(fd, mmap.PAGESIZE)
    ping_pong("memfd", os.fstat(fd).st_ino, libc, address_of(memfd))
    os.close(fd)

    anonymous = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    ping_pong("shared-anon", "-", libc, address_of(anonymous))

    path = "/dev/shm/ipc-profiler-test-%d" % os.getpid()
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.unlink(path)
    os.ftruncate(fd, mmap.PAGESIZE)
    in_parent = mmap.mmap(fd, mmap.PAGESIZE)
    in_child = []

    def map_in_child():
        in_child.append(mmap.mmap(fd, mmap.PAGESIZE))
        return address_of(in_child[0])

    ping_pong("posix-shm", os.fstat(fd).st_ino, libc, address_of(in_parent), map_in_child)
    os.close(fd)

    ipc_private, ipc_creat, ipc_rmid = 0, 0o1000, 0
    shmid = libc.shmget(ipc_private, mmap.PAGESIZE, ipc_creat | 0o600)
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    try:
        address = libc.shmat(shmid, None, 0)
        assert address not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
        ping_pong("sysv-shm", shmid, libc, address)
        libc.shmdt(ctypes.c_void_p(address))
    finally:
        libc.shmctl(shmid, ipc_rmid, None)


def address_of(mapping):
    return ctypes.addressof(ctypes.c_char.from_buffer(mapping))


if __name__ == "__main__":
    give_up_after(WATCHDOG_SECONDS)
    main()
    shared_memory()
    sys.exit(0)
