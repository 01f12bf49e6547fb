#!/usr/bin/env python3
"""Summarises benchmarks/wait-matrix/run.sh's JSON: per cell, the median of the runs of each
mechanism, the best kernel mechanism, and ipc-core's blocking mechanisms against it.

p50 and CPU per message (lower is better) for the latency-type patterns; messages per second
(higher is better) and CPU per message for fan-in. A ratio of at most 1.00 meets the goal.
    python3 benchmarks/wait-matrix/summarise.py DIR/*.json
"""
import collections
import json
import statistics
import sys

IPC_CORE = ("shm-futex", "mmap", "shm-tokio")
COUNTS = ("procs", "clients", "subscribers", "stages")


def cells(paths):
    runs = collections.defaultdict(lambda: collections.defaultdict(list))
    for path in paths:
        with open(path) as f:
            for r in json.load(f)["results"]:
                if r.get("unsupported"):
                    continue
                count = next((r[k] for k in COUNTS if r.get(k)), "")
                where = "same-core" if r["placement"].startswith("same-core") else ""
                kind = "rate" if r.get("throughput") and not r.get("latency_ns") else "latency"
                cell = (r["pattern"], count, where, kind)
                p50 = (r.get("latency_ns") or {}).get("p50")
                rate = (r.get("throughput") or {}).get("messages_per_sec")
                cpu = (r.get("cpu") or {}).get("cpu_ns_per_message")
                runs[cell][r["mechanism"]].append((p50, rate, cpu))
    return runs


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(paths):
    worst = {}
    for cell, mechs in sorted(cells(paths).items(), key=lambda c: str(c[0])):
        pattern, count, where, kind = cell
        figure = {m: tuple(median(col) for col in zip(*rs)) + (len(rs),) for m, rs in mechs.items()}
        kernel = {m: f for m, f in figure.items() if m not in IPC_CORE}
        if not kernel:
            continue
        label = f"{pattern} {count} {where}".strip()
        if kind == "rate":
            best = max(kernel, key=lambda m: kernel[m][1] or 0)
            best_cpu = min(f[2] for f in kernel.values() if f[2])
            print(f"{label}: best kernel {best} {kernel[best][1]:,.0f} msg/s, lowest CPU {best_cpu:,.0f} ns/msg")
            for m in IPC_CORE:
                if m in figure:
                    _, rate, cpu, n = figure[m]
                    ratios = (kernel[best][1] / rate, cpu / best_cpu)
                    worst[(label, m)] = ratios
                    print(f"  {m:9} {rate:>13,.0f} msg/s  CPU {cpu:>9,.0f} ns   rate {1 / ratios[0]:.2f}x  CPU {ratios[1]:.2f}x  ({n} runs)")
        else:
            best = min(kernel, key=lambda m: kernel[m][0] or float("inf"))
            best_cpu = min(f[2] for f in kernel.values() if f[2])
            print(f"{label}: best kernel {best} p50 {kernel[best][0] / 1000:.2f} us, lowest CPU {best_cpu / 1000:.2f} us/msg")
            for m in IPC_CORE:
                if m in figure:
                    p50, _, cpu, n = figure[m]
                    ratios = (p50 / kernel[best][0], cpu / best_cpu)
                    worst[(label, m)] = ratios
                    print(f"  {m:9} p50 {p50 / 1000:9.2f} us  CPU {cpu / 1000:9.2f} us   p50 {ratios[0]:.2f}x  CPU {ratios[1]:.2f}x  ({n} runs)")
    missed = [(k, v) for k, v in worst.items() if k[1] != "shm-tokio" and max(v) > 1.0]
    print(f"\nshm-futex and mmap cells over 1.00x: {len(missed)} of {sum(1 for k in worst if k[1] != 'shm-tokio')}")
    for (label, m), (a, b) in missed:
        print(f"  {label} {m}: {a:.2f}x / CPU {b:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
