//! `cargo run --release -p ipc-core-benchmarks`: ipc-core's speed goals, measured in one run
//! with one CPU placement (CPUs 0 and 1), because the floor on a shared VM moves between runs.
//!
//! Prints each figure, its reference, and the ratio. Not a test: nothing here asserts a time.
//! One argument, `latency`, `throughput` or `spsc`, runs only that group. `peers [--format
//! json] [--runs N]` compares ipc-core with iceoryx2 instead (not part of the default run).

mod latency;
mod peers;
mod processes;
mod spsc_compare;
mod stats;
mod throughput;

fn main() {
    let only = std::env::args().nth(1);
    if only.as_deref() == Some("peers") {
        match peers_arguments(std::env::args().skip(2)) {
            Ok((format, runs)) => peers::run(format, runs),
            Err(message) => {
                eprintln!("error: {message}\nusage: ipc-core-benchmarks peers [--format json|table] [--runs N]");
                std::process::exit(2);
            }
        }
        return;
    }
    if let Some(group) = only
        .as_deref()
        .filter(|g| !["latency", "throughput", "spsc"].contains(g))
    {
        eprintln!("error: unknown group {group:?}: latency, throughput, spsc or peers");
        std::process::exit(2);
    }
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

/// `peers`' options: the output format and the number of interleaved runs per figure.
fn peers_arguments(
    mut args: impl Iterator<Item = String>,
) -> Result<(peers::Format, usize), String> {
    let (mut format, mut runs) = (peers::Format::Table, 3);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--format" => {
                format = match value()?.as_str() {
                    "json" => peers::Format::Json,
                    "table" => peers::Format::Table,
                    other => return Err(format!("unknown format {other:?}: json or table")),
                }
            }
            "--runs" => {
                runs = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or("--runs takes a number from 1 to 100")?
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((format, runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(peers::Format, usize), String> {
        peers_arguments(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn peers_takes_a_format_and_a_run_count_and_names_what_it_refuses() {
        assert_eq!(parse(&[]), Ok((peers::Format::Table, 3)));
        assert_eq!(
            parse(&["--format", "json", "--runs", "5"]),
            Ok((peers::Format::Json, 5))
        );
        assert!(parse(&["--format", "xml"]).unwrap_err().contains("xml"));
        assert!(parse(&["--runs", "0"]).unwrap_err().contains("1 to 100"));
        assert!(parse(&["--runs"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--fast"]).unwrap_err().contains("--fast"));
    }
}
