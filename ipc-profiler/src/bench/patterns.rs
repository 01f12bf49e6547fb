//! Every pattern in one table, as `mechanism::all()` lists the mechanisms: what a run of it
//! takes (its count and how many processes that makes), its defaults, what it refuses and how
//! it runs. Adding a pattern is a row here and a module of its own in `bench/` (and its name in
//! the result model's `Pattern`); the commands, the harness and the tracer read the row.

use super::phase::PhaseGate;
use super::{fan_in, pipeline, pub_sub, request_response, throughput};
use crate::config::{BenchConfig, Placement};
use crate::mechanism::Mechanism;
use crate::result::{Pattern, RunResult};

/// A pattern and everything about it that is not its workers' loops.
pub struct PatternSpec {
    /// The pattern.
    pub pattern: Pattern,
    /// The process count it is run with, if it has one (latency and throughput are pairs).
    pub count: Option<Count>,
    /// Message sizes when the user gave none.
    pub default_sizes: &'static [usize],
    /// Messages a run counts when the user gave no number, for a message size and a count.
    pub default_messages: fn(usize, usize) -> u64,
    /// When the user gave no number: fill about this many seconds instead (a probe sizes it).
    pub default_seconds: Option<f64>,
    /// How it runs.
    pub runs: Runs,
}

/// A pattern's process count.
pub struct Count {
    /// What is counted: `writers`, `stages`, `clients`, `subscribers`.
    pub noun: &'static str,
    /// Processes besides the counted ones (the reader, the server, the publisher).
    pub besides: u32,
    /// Each counted process's messages are counted in a result (fan-in's writers,
    /// request-response's clients), rather than one stream's.
    pub messages_each: bool,
}

/// How a pattern runs.
pub enum Runs {
    /// Two processes over one channel (`bench::run_pair`); `latency` times round trips.
    Pair {
        /// Round trips (latency), not a one-way stream (throughput).
        latency: bool,
    },
    /// A group of processes, run by the pattern's module.
    Group {
        /// Why the pattern cannot run `mechanism` with this configuration, if it cannot.
        refusal: fn(&dyn Mechanism, &BenchConfig) -> Option<String>,
        /// Runs it; returns the result and the workers' pids, worker `i` in tracer slot `i`.
        run: fn(&dyn Mechanism, &BenchConfig, &mut dyn PhaseGate) -> GroupRun,
        /// Where the processes run, as a result names it.
        placement: fn(&BenchConfig) -> String,
        /// Messages a result counts per message asked for (a pipeline and a pub-sub run count
        /// a paced and a streamed phase), besides `Count::messages_each`.
        phases: u64,
    },
}

/// What a group run gives: its result and its workers' pids.
pub type GroupRun = anyhow::Result<(RunResult, Vec<u32>)>;

/// Every pattern, in the order the command line lists them.
pub static PATTERNS: [PatternSpec; 6] = [
    PatternSpec {
        pattern: Pattern::Latency,
        count: None,
        default_sizes: &[128],
        default_messages: |_, _| 20_000,
        default_seconds: None,
        runs: Runs::Pair { latency: true },
    },
    PatternSpec {
        pattern: Pattern::Throughput,
        count: None,
        default_sizes: &[64, 1 << 10, 64 << 10, 1 << 20],
        default_messages: |size, _| throughput::default_messages(size),
        default_seconds: Some(throughput::TARGET_SECONDS),
        runs: Runs::Pair { latency: false },
    },
    PatternSpec {
        pattern: Pattern::FanIn,
        count: Some(Count {
            noun: "writers",
            besides: 1,
            messages_each: true,
        }),
        default_sizes: &[128, 4 << 10],
        default_messages: fan_in::default_messages,
        default_seconds: None,
        runs: Runs::Group {
            refusal: |_, config| fan_in::refusal(config),
            run: fan_in::run_gated,
            placement: |config| placed(config, "reader on the second CPU", "writers"),
            phases: 1,
        },
    },
    PatternSpec {
        pattern: Pattern::Pipeline,
        count: Some(Count {
            noun: "stages",
            besides: 0,
            messages_each: false,
        }),
        default_sizes: &[128, 4 << 10],
        default_messages: |_, stages| pipeline::default_messages(stages),
        default_seconds: None,
        runs: Runs::Group {
            refusal: pipeline::refusal,
            run: pipeline::run_gated,
            placement: pipeline::placement,
            phases: 2,
        },
    },
    PatternSpec {
        pattern: Pattern::RequestResponse,
        count: Some(Count {
            noun: "clients",
            besides: 1,
            messages_each: true,
        }),
        default_sizes: &[128, 4 << 10],
        default_messages: |_, clients| request_response::default_messages(clients),
        default_seconds: None,
        runs: Runs::Group {
            refusal: request_response::refusal,
            run: request_response::run_gated,
            placement: |config| placed(config, "server on the second CPU", "clients"),
            phases: 1,
        },
    },
    PatternSpec {
        pattern: Pattern::PubSub,
        count: Some(Count {
            noun: "subscribers",
            besides: 1,
            messages_each: false,
        }),
        default_sizes: &[128, 4 << 10],
        default_messages: |_, subscribers| pub_sub::default_messages(subscribers),
        default_seconds: None,
        runs: Runs::Group {
            refusal: pub_sub::refusal,
            run: pub_sub::run_gated,
            placement: |config| placed(config, "publisher on the first CPU", "subscribers"),
            phases: 2,
        },
    },
];

/// Where a group's processes run, as a result names it: the CPUs, which process has a CPU of
/// its own when the two CPUs are split (`role`; on one CPU, or unpinned, every process shares),
/// and the count of `noun`.
fn placed(config: &BenchConfig, role: &str, noun: &str) -> String {
    let (cpus, count) = (
        &config.cpus,
        crate::units::counted(config.count as u64, noun),
    );
    match cpus.placement {
        Placement::CrossCore => format!("{cpus} ({role}), {count}"),
        Placement::SameCore | Placement::Unpinned => format!("{cpus}, {count}"),
    }
}

/// The row of `pattern`.
pub fn spec(pattern: Pattern) -> &'static PatternSpec {
    PATTERNS
        .iter()
        .find(|spec| spec.pattern == pattern)
        .expect("every pattern has a row")
}

/// Processes taking part in a run of `config`: the counted ones and those besides them, or
/// the two of a pair.
pub fn processes(config: &BenchConfig) -> u32 {
    spec(config.pattern)
        .count
        .as_ref()
        .map_or(2, |count| config.count as u32 + count.besides)
}

/// Messages a result counts per message asked for: every writer's or client's, both phases of
/// a pipeline or a pub-sub, else one.
pub fn messages_per_iteration(config: &BenchConfig) -> u64 {
    let spec = spec(config.pattern);
    let each = match &spec.count {
        Some(count) if count.messages_each => config.count.max(1) as u64,
        _ => 1,
    };
    match spec.runs {
        Runs::Group { phases, .. } => each * phases,
        Runs::Pair { .. } => each,
    }
}

/// The pattern's own process count, if it has one.
pub fn count(config: &BenchConfig) -> Option<u32> {
    spec(config.pattern)
        .count
        .as_ref()
        .map(|_| config.count as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_on_one_cpu_names_no_second_one() {
        let on = |placement, client, server| BenchConfig {
            pattern: Pattern::RequestResponse,
            message_size: 128,
            iterations: 1,
            probe_for: None,
            warmup: 0,
            cpus: crate::config::CpuPlan {
                placement,
                client,
                server,
            },
            count: 10,
            rate: None,
            lossy: false,
        };
        let label = |config: &BenchConfig| match spec(config.pattern).runs {
            Runs::Group { placement, .. } => placement(config),
            Runs::Pair { .. } => unreachable!("request-response runs as a group"),
        };
        let same_core = on(Placement::SameCore, Some(0), Some(0));
        assert_eq!(label(&same_core), "same-core (cpu 0), 10 clients");
        let cross_core = on(Placement::CrossCore, Some(0), Some(1));
        assert_eq!(
            label(&cross_core),
            "cross-core (cpus 0,1) (server on the second CPU), 10 clients"
        );
        assert_eq!(
            label(&on(Placement::Unpinned, None, None)),
            "unpinned, 10 clients"
        );
    }

    #[test]
    fn every_pattern_has_one_row_in_the_order_of_the_model() {
        let rows: Vec<Pattern> = PATTERNS.iter().map(|spec| spec.pattern).collect();
        assert_eq!(rows, Pattern::ALL);
    }
}
