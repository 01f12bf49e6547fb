"""A program that leaves IPC objects behind, for `trace`'s `leaked-object` finding
(tests/trace_privileged.rs): a POSIX queue it sends and receives on, a /dev/shm file it maps
shared, a System V segment it creates, and a System V semaphore set it posts on and waits on.
It prints `KIND NAME IDENT` for each (IDENT: the inode, or the System V id) and exits without
removing any: the test removes them.
"""
import ctypes
import mmap
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
tag = "ipc-profiler-leak-%d" % os.getpid()


class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long),
                ("reserved", ctypes.c_long * 4)]


name = ("/" + tag).encode()
mqd = libc.mq_open(name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600,
                   ctypes.byref(MqAttr(0, 4, 64, 0)))
assert mqd >= 0, os.strerror(ctypes.get_errno())
buffer = ctypes.create_string_buffer(64)
for _ in range(3):
    assert libc.mq_send(mqd, b"x" * 64, 64, 0) == 0
    assert libc.mq_receive(mqd, buffer, 64, None) == 64
print("posix-mq", tag, os.fstat(mqd).st_ino, flush=True)

path = "/dev/shm/" + tag
fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
os.ftruncate(fd, mmap.PAGESIZE)
mapping = mmap.mmap(fd, mmap.PAGESIZE)
mapping[0:5] = b"hello"
print("posix-shm", tag, os.fstat(fd).st_ino, flush=True)

ipc_private, ipc_creat = 0, 0o1000
shmid = libc.shmget(ipc_private, mmap.PAGESIZE, ipc_creat | 0o600)
assert shmid >= 0, os.strerror(ctypes.get_errno())
print("sysv-shm", "-", shmid, flush=True)


class SemBuf(ctypes.Structure):
    _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]


semid = libc.semget(ipc_private, 1, ipc_creat | 0o600)
assert semid >= 0, os.strerror(ctypes.get_errno())
for op in (1, -1):
    assert libc.semop(semid, ctypes.byref(SemBuf(0, op, 0)), 1) == 0
print("sysv-sem", "-", semid, flush=True)
sys.exit(0)
