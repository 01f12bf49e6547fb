//! The configurations a `bench`-style command line asks for: one per message size and count.

use crate::bench::patterns;
use crate::cli::BenchArgs;
use crate::config::{BenchConfig, Placement};
use crate::result::Pattern;

/// Where `args` place the workers: its `--placement` (or the default for its `--cpus`) on its
/// CPUs.
pub(super) fn cpu_plan(args: &BenchArgs) -> anyhow::Result<crate::config::CpuPlan> {
    let placement = args.placement.map_or_else(
        || crate::bench::placement::default_placement(&args.cpus),
        Placement::from,
    );
    Ok(crate::bench::placement::resolve(placement, &args.cpus)?)
}

/// One configuration per message size and, for the patterns with a process count, per
/// count in its list (the scalability sweep).
pub(super) fn configs(args: &BenchArgs) -> anyhow::Result<Vec<BenchConfig>> {
    if args.lossy && args.pattern != Pattern::PubSub {
        crate::usage_error::usage_bail!("--lossy is a mode of --pattern pub-sub");
    }
    let cpus = cpu_plan(args)?;
    let spec = patterns::spec(args.pattern);
    let sizes = match args.sizes.is_empty() {
        false => args.sizes.clone(),
        true => spec.default_sizes.to_vec(),
    };
    // A pair has no count: one run per size.
    let counts: Vec<usize> = match &spec.count {
        Some(count) => args.counts(count.noun),
        None => &args.procs[..1],
    }
    .iter()
    .map(|&n| n as usize)
    .collect();
    let runs = sizes
        .iter()
        .flat_map(|&size| counts.iter().map(move |&count| (size, count)));
    let configs: Vec<BenchConfig> = runs
        .map(|(message_size, count)| BenchConfig {
            pattern: args.pattern,
            message_size,
            iterations: args.iters.unwrap_or(match args.duration {
                Some(_) => 100_000_000,
                None => (spec.default_messages)(message_size, count),
            }),
            probe_for: match (args.duration, args.iters) {
                (Some(seconds), _) => Some(seconds),
                (None, None) => spec.default_seconds,
                (None, Some(_)) => None,
            },
            warmup: args.warmup,
            cpus: cpus.clone(),
            count,
            rate: args.rate,
            lossy: args.lossy,
        })
        .collect();
    if args.iters.is_none() && args.duration.is_none() {
        for config in &configs {
            refuse_a_run_too_long(config)?;
        }
    }
    Ok(configs)
}

/// The most bytes a run with the default message count may move before the user is asked to
/// say how many messages (docs/measuring.md): 64 GiB, a minute or more of copying on most
/// machines.
pub(super) const DEFAULT_RUN_BYTES_MAX: u64 = 64 << 30;

/// Refuses, before anything runs, a run whose default message count would move more than
/// [`DEFAULT_RUN_BYTES_MAX`] (a 64 MiB latency run moves terabytes: hours, and nothing shown
/// meanwhile); the user gives `--iters` or `--duration` instead.
fn refuse_a_run_too_long(config: &BenchConfig) -> anyhow::Result<()> {
    let size = config.message_size as u64;
    // A run sized by time still moves its probe's messages first.
    let messages = match config.probe_for {
        Some(_) => config.iterations.min(crate::bench::PROBE_MESSAGES),
        None => config.iterations,
    };
    // Both directions, for a round trip; every message, for a stream.
    let bytes = messages.saturating_mul(size).saturating_mul(2);
    if bytes > DEFAULT_RUN_BYTES_MAX {
        let fits = (DEFAULT_RUN_BYTES_MAX / (2 * size.max(1))).max(1);
        crate::usage_error::usage_bail!(
            "{} of {} messages with the default count ({messages}) would move about {} GiB: \
             give --iters (up to {fits} stays under {} GiB) or --duration",
            config.pattern.name(),
            crate::units::size_label(config.message_size),
            bytes >> 30,
            DEFAULT_RUN_BYTES_MAX >> 30
        );
    }
    Ok(())
}
