//! The configurations a `bench`-style command line asks for: one per message size and count.

use crate::cli::BenchArgs;
use crate::config::{BenchConfig, Placement};
use crate::result::Pattern;

/// One configuration per message size and, for the patterns with a process count, per
/// count in its list (the scalability sweep).
pub(super) fn configs(args: &BenchArgs) -> anyhow::Result<Vec<BenchConfig>> {
    let placement = Placement::from(args.placement);
    if args.lossy && args.pattern != Pattern::PubSub {
        crate::usage_error::usage_bail!("--lossy is a mode of --pattern pub-sub");
    }
    let cpus = crate::bench::placement::resolve(placement, &args.cpus)?;
    let sizes = match (args.sizes.is_empty(), args.pattern) {
        (false, _) => args.sizes.clone(),
        (true, Pattern::Latency) => vec![128],
        (true, Pattern::Throughput) => vec![64, 1 << 10, 64 << 10, 1 << 20],
        (true, Pattern::FanIn | Pattern::Pipeline | Pattern::RequestResponse | Pattern::PubSub) => {
            vec![128, 4 << 10]
        }
    };
    let counts: Vec<usize> = match args.pattern {
        Pattern::FanIn => &args.procs,
        Pattern::Pipeline => &args.stages,
        Pattern::RequestResponse => &args.clients,
        Pattern::PubSub => &args.subscribers,
        Pattern::Latency | Pattern::Throughput => &args.procs[..1],
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
            iterations: args.iters.unwrap_or(match (args.duration, args.pattern) {
                (Some(_), _) => 100_000_000,
                (None, pattern) => match pattern {
                    Pattern::Latency => 20_000,
                    Pattern::Throughput => crate::bench::throughput::default_messages(message_size),
                    Pattern::FanIn => crate::bench::fan_in::default_messages(message_size, count),
                    Pattern::Pipeline => crate::bench::pipeline::default_messages(count),
                    Pattern::RequestResponse => {
                        crate::bench::request_response::default_messages(count)
                    }
                    Pattern::PubSub => crate::bench::pub_sub::default_messages(count),
                },
            }),
            probe_for: match (args.duration, args.iters, args.pattern) {
                (Some(seconds), _, _) => Some(seconds),
                (None, None, Pattern::Throughput) => Some(crate::bench::throughput::TARGET_SECONDS),
                _ => None,
            },
            warmup: args.warmup,
            cpus: cpus.clone(),
            count,
            rate: args.rate,
            lossy: args.lossy,
        })
        .collect())
}
