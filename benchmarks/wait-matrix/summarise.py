#!/usr/bin/env python3
"""Summarises benchmarks/wait-matrix/run.sh's JSON: per cell, the median of the runs of each
mechanism, the best kernel mechanism, and ipc-core's blocking mechanisms against it.

p50 and CPU per message (lower is better) for the latency-type patterns; messages per second
(higher is better) and CPU per message for fan-in. A ratio of at most 1.00 meets the goal.

Each ratio (ipc-core's median over the kernel's, or the kernel's rate over ipc-core's) comes
with a 95% bootstrap interval: both mechanisms' runs resampled with replacement 10,000 times
(a fixed seed, so a summary is reproducible) and the ratio of the medians taken each time.
The verdict is "worse" when the whole interval lies above 1.00, "better" when it lies below,
and "tie" when it holds 1.00: then the runs cannot tell the two apart on this host. shm-tokio
is also set against uds-tokio, a Unix socket awaited from the same kind of runtime.

A request-response cell's best kernel mechanism whose mean round trip is over STARVES times
its median serves some clients fast by making others wait (eventfd's one mailbox at 100
clients on one CPU): the summary says so, and also sets ipc-core against the best mechanism
that serves in turn. The verdicts counted at the end stay those against the best median,
whatever it is.
    python3 benchmarks/wait-matrix/summarise.py DIR/*.json
"""
import collections
import json
import random
import statistics
import sys

IPC_CORE = ("shm-futex", "mmap", "shm-tokio")
COUNTS = ("procs", "clients", "subscribers", "stages")
RESAMPLES = 10_000
# The kernel mechanism an async program would use instead of shm-tokio, from the same runtime.
ASYNC_FLOOR = "uds-tokio"
# A mean round trip this many times the median: the mechanism starves some of its clients.
STARVES = 5


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
                mean = (r.get("latency_ns") or {}).get("mean")
                runs[cell][r["mechanism"]].append((p50, rate, cpu, mean))
    return runs


def starves(figures):
    """Whether a mechanism's medians (p50, rate, cpu, mean, ...) show a starving server."""
    p50, mean = figures[0], figures[3]
    return bool(p50 and mean and mean > STARVES * p50)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def column(runs, index):
    return [r[index] for r in runs if r[index] is not None]


def interval(numerators, denominators, seed):
    """The 2.5th and 97.5th percentiles of median(numerators) / median(denominators) over
    bootstrap resamples of both."""
    rng = random.Random(seed)
    ratios = sorted(
        statistics.median(rng.choices(numerators, k=len(numerators)))
        / statistics.median(rng.choices(denominators, k=len(denominators)))
        for _ in range(RESAMPLES)
    )
    return ratios[int(0.025 * RESAMPLES)], ratios[int(0.975 * RESAMPLES) - 1]


def verdict(low, high):
    return "worse" if low > 1.0 else "better" if high < 1.0 else "tie"


def judged(label, numerators, denominators):
    """A ratio of medians, its interval and its verdict."""
    ratio = statistics.median(numerators) / statistics.median(denominators)
    low, high = interval(numerators, denominators, seed=label)
    return ratio, low, high, verdict(low, high)


def show(name, judgement):
    ratio, low, high, said = judgement
    return f"{name} {ratio:.2f}x [{low:.2f}-{high:.2f}] {said}"


def main(paths):
    judgements = {}
    for cell, mechs in sorted(cells(paths).items(), key=lambda c: str(c[0])):
        pattern, count, where, kind = cell
        figure = {m: tuple(median(col) for col in zip(*rs)) + (len(rs),) for m, rs in mechs.items()}
        kernel = {m: f for m, f in figure.items() if m not in IPC_CORE}
        if not kernel:
            continue
        label = f"{pattern} {count} {where}".strip()
        lowest_cpu = min((m for m in kernel if kernel[m][2]), key=lambda m: kernel[m][2])
        cpu_of = lambda m: column(mechs[m], 2)
        in_turn = None
        if kind == "rate":
            best = max(kernel, key=lambda m: kernel[m][1] or 0)
            print(f"{label}: best kernel {best} {kernel[best][1]:,.0f} msg/s, lowest CPU {lowest_cpu} {kernel[lowest_cpu][2]:,.0f} ns/msg")
        else:
            best = min(kernel, key=lambda m: kernel[m][0] or float("inf"))
            print(f"{label}: best kernel {best} p50 {kernel[best][0] / 1000:.2f} us, lowest CPU {lowest_cpu} {kernel[lowest_cpu][2] / 1000:.2f} us/msg")
            if pattern == "request-response" and starves(kernel[best]):
                fair = [m for m in kernel if kernel[m][0] and not starves(kernel[m])]
                in_turn = min(fair, key=lambda m: kernel[m][0]) if fair else None
                print(f"  ({best}'s mean round trip is {kernel[best][3] / kernel[best][0]:.0f}x its p50: it starves some clients"
                      + (f"; the best that serves in turn is {in_turn}, p50 {kernel[in_turn][0] / 1000:.2f} us)" if in_turn else ")"))
        for m in IPC_CORE:
            if m not in figure:
                continue
            p50, rate, cpu, _, n = figure[m]
            if kind == "rate":
                speed = judged(label + m + "rate", column(mechs[best], 1), column(mechs[m], 1))
                shown = f"{rate:>13,.0f} msg/s  CPU {cpu:>9,.0f} ns"
                name = "rate (kernel's over ipc-core's)"
            else:
                speed = judged(label + m + "p50", column(mechs[m], 0), column(mechs[best], 0))
                shown = f"p50 {p50 / 1000:9.2f} us  CPU {cpu / 1000:9.2f} us"
                name = "p50"
            cost = judged(label + m + "cpu", cpu_of(m), cpu_of(lowest_cpu))
            judgements[(label, m)] = (speed, cost)
            print(f"  {m:9} {shown}   {show(name, speed)}; {show('CPU', cost)}  ({n} runs)")
            if in_turn:
                fair = judged(label + m + "inturn", column(mechs[m], 0), column(mechs[in_turn], 0))
                print(f"  {'':9} against {in_turn}: {show('p50', fair)}")
            if m == "shm-tokio" and ASYNC_FLOOR in mechs and kind == "latency":
                # What an async program would use instead: a socket awaited from the same runtime.
                floor = judged(label + m + "async", column(mechs[m], 0), column(mechs[ASYNC_FLOOR], 0))
                floor_cost = judged(label + m + "asynccpu", cpu_of(m), cpu_of(ASYNC_FLOOR))
                print(f"  {'':9} against {ASYNC_FLOOR}: {show('p50', floor)}; {show('CPU', floor_cost)}")
    for group, members in (("shm-futex and mmap", ("shm-futex", "mmap")), ("shm-tokio", ("shm-tokio",))):
        mine = {k: v for k, v in judgements.items() if k[1] in members}
        over = [(k, v) for k, v in mine.items() if max(v[0][0], v[1][0]) > 1.0]
        worse = [(k, v) for k, v in mine.items() if "worse" in (v[0][3], v[1][3])]
        print(f"\n{group}: medians over 1.00x in {len(over)} of {len(mine)} cells; worse beyond the runs' spread in {len(worse)}")
        for (label, m), (speed, cost) in over:
            print(f"  {label} {m}: {show('speed', speed)}; {show('CPU', cost)}")


if __name__ == "__main__":
    main(sys.argv[1:])
