"""A program that computes while it holds shared memory, for `trace`'s `busy-wait` finding
(tests/trace_privileged.rs): a parent and a child that both map one shared page, each adding
up numbers on a CPU for about half a second, then the child writing its sum into the page.
Busy on a CPU, holding shared memory, but not polling it: no finding.
"""
import mmap
import os
import struct
import sys
import time


def compute(seconds):
    total, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for i in range(10_000):
            total += i * i
    return total


page = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
pid = os.fork()
if pid == 0:
    page[0:8] = struct.pack("<Q", compute(0.5) % (1 << 64))
    os._exit(0)
compute(0.5)
os.waitpid(pid, 0)
assert struct.unpack("<Q", page[0:8])[0] != 0
sys.exit(0)
