"""Python's multiprocessing as people use it, for `trace`'s channel view and findings
(tests/trace_privileged.rs, docs/diagnosing.md): a Queue a child puts N_Q items on, a Pipe (a
Unix socket pair) a child answers N_P requests on, and a SharedMemory block a child fills while
the parent waits on a Lock (a POSIX semaphore in /dev/shm). Prints `label inode` for the Pipe
and `shm NAME` for the block.
"""
import multiprocessing as mp
import os
import sys
from multiprocessing import shared_memory

N_Q, N_P, SIZE = 200, 150, 64


def producer(queue):
    for i in range(N_Q):
        queue.put(bytes(SIZE))
    queue.put(None)


def answerer(conn):
    for _ in range(N_P):
        conn.send_bytes(conn.recv_bytes())
    conn.close()


def filler(name, lock):
    block = shared_memory.SharedMemory(name=name)
    with lock:
        block.buf[:SIZE] = bytes(range(SIZE))
    block.close()


def main():
    mp.set_start_method("fork")
    queue = mp.Queue()
    child = mp.Process(target=producer, args=(queue,))
    child.start()
    while queue.get() is not None:
        pass
    child.join()

    mine, theirs = mp.Pipe()
    print("pipe", os.fstat(mine.fileno()).st_ino, flush=True)
    child = mp.Process(target=answerer, args=(theirs,))
    child.start()
    theirs.close()
    for _ in range(N_P):
        mine.send_bytes(bytes(SIZE))
        assert len(mine.recv_bytes()) == SIZE
    child.join()

    block = shared_memory.SharedMemory(create=True, size=4096)
    print("shm", block.name, flush=True)
    try:
        lock = mp.Lock()
        child = mp.Process(target=filler, args=(block.name, lock))
        child.start()
        child.join()
        with lock:
            assert bytes(block.buf[:SIZE]) == bytes(range(SIZE))
    finally:
        block.close()
        block.unlink()


if __name__ == "__main__":
    main()
    sys.exit(0)
