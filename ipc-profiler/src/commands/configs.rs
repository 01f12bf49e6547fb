//! The configurations a `bench`-style command line asks for: one per message size and count.

use crate::bench::patterns;
use crate::cli::BenchArgs;
use crate::config::{BenchConfig, Placement};
use crate::result::Pattern;

/// One configuration per message size and, for the patterns with a process count, per
/// count in its list (the scalability sweep).
pub(super) fn configs(args: &BenchArgs) -> anyhow::Result<Vec<BenchConfig>> {
    let placement = args.placement.map_or_else(
        || crate::bench::placement::default_placement(&args.cpus),
        Placement::from,
    );
    if args.lossy && args.pattern != Pattern::PubSub {
        crate::usage_error::usage_bail!("--lossy is a mode of --pattern pub-sub");
    }
    let cpus = crate::bench::placement::resolve(placement, &args.cpus)?;
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
    Ok(runs
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
        .collect())
}
