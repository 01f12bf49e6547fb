//! `cargo run --release -p ipc-core-benchmarks`: ipc-core's speed goals, measured in one run
//! with one CPU placement (CPUs 0 and 1), because the floor on a shared VM moves between runs.
//!
//! Prints each figure, its reference, and the ratio. Not a test: nothing here asserts a time.
//! One argument, `latency`, `throughput` or `spsc`, runs only that group.

mod latency;
mod processes;
mod spsc_compare;
mod throughput;

fn main() {
    let only = std::env::args().nth(1);
    let wanted = |group: &str| only.as_deref().is_none_or(|o| o == group);
    if wanted("latency") {
        latency_goals();
    }
    if wanted("throughput") {
        throughput_goal();
    }
    if wanted("spsc") {
        spsc_compare::run();
    }
}

fn latency_goals() {
    let rounds: u64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    println!(
        "ipc-core speed goals (p50 of {rounds} round trips; processes pinned to CPUs 0 and 1)\n"
    );
    let floor = latency::cacheline(rounds);
    let spin = latency::ring(rounds, 128, ipc_core::wait::Wait::busy_poll());
    let spin_8 = latency::ring(rounds, 8, ipc_core::wait::Wait::busy_poll());
    report(
        "shm-spin 128 B round trip",
        spin,
        "cacheline floor",
        floor,
        1.3,
    );
    let handoff = latency::handoff_floor(rounds, 128);
    report(
        "shm-spin 128 B round trip",
        spin,
        "128 B hand-off floor",
        handoff,
        1.3,
    );
    report(
        "shm-spin 8 B round trip",
        spin_8,
        "cacheline floor",
        floor,
        1.3,
    );
    let futex_rounds = rounds / 10;
    let bare = latency::bare_futex(futex_rounds);
    let ring_futex = latency::ring(futex_rounds, 128, ipc_core::wait::Wait::futex());
    report(
        "shm-futex 128 B round trip",
        ring_futex,
        "bare futex ping-pong",
        bare,
        1.2,
    );
}

fn throughput_goal() {
    let figures = throughput::one_mib();
    let line = |reference: &str, gbps: f64, goal: &str| {
        println!(
            "{:<34} {:>9.2} GB/s   vs {reference:<26} {gbps:>9.2} GB/s   ratio {:>5.2}{goal}",
            "1 MiB one-way through reserve/commit",
            figures.ring,
            figures.ring / gbps
        )
    };
    line(
        "memcpy, ring-sized buffer",
        figures.memcpy_same_footprint,
        " (goal >= 0.80)",
    );
    line("memcpy, cache-hot 1 MiB", figures.memcpy_cache_hot, "");
    line("hand-off floor (no ring)", figures.handoff_floor, "");
    println!();
}

fn report(what: &str, value: u64, reference: &str, reference_value: u64, goal: f64) {
    println!(
        "{what:<34} {value:>9} ns      vs {reference:<26} {reference_value:>9} ns      ratio {:>5.2} (goal <= {goal:.2})",
        value as f64 / reference_value as f64
    );
}
