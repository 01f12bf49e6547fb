//! The report's tables, each computed from the results (`contents` puts them in order), and
//! the queries of the results they share.

use std::collections::BTreeSet;

use super::claims::Claims;
use super::features;
use crate::result::{Pattern, RunResult};
use crate::units::size_label;
use crate::units::{byte_rate, bytes, duration_ns};

/// One table: a title, what to know before reading it, a header and rows of cells.
pub struct Table {
    /// Its heading.
    pub title: String,
    /// A sentence or two above it.
    pub note: String,
    /// Column names.
    pub header: Vec<String>,
    /// Cells, as displayed.
    pub rows: Vec<Vec<String>>,
}

fn measured(results: &[RunResult], pattern: Pattern) -> impl Iterator<Item = &RunResult> {
    results
        .iter()
        .filter(move |r| r.pattern == pattern && r.unsupported.is_none() && r.verified)
}

/// The latency size the report shows: 128 B if measured, else the smallest.
pub fn latency_size(results: &[RunResult]) -> Option<usize> {
    let sizes: BTreeSet<usize> = measured(results, Pattern::Latency)
        .map(|r| r.message_size)
        .filter(|s| *s > 0)
        .collect();
    sizes
        .contains(&128)
        .then_some(128)
        .or(sizes.first().copied())
}

/// The latency runs at the shown size, fastest p50 first (the no-payload floor included).
pub fn latency_runs(results: &[RunResult]) -> Vec<&RunResult> {
    let size = latency_size(results);
    let runs: Vec<&RunResult> = measured(results, Pattern::Latency)
        .filter(|r| r.latency_ns.is_some() && (Some(r.message_size) == size || r.message_size == 0))
        .collect();
    let mut runs = one_per_mechanism(runs);
    runs.sort_by_key(|r| r.latency_ns.as_ref().map(|l| l.p50));
    runs
}

/// One run per mechanism, the same one wherever the page shows it: of repeated runs of a
/// configuration (`--repeat`, or several `--from` files), the median by its deciding figure
/// (p50, or the rate of a stream), never the best of them.
fn one_per_mechanism(runs: Vec<&RunResult>) -> Vec<&RunResult> {
    let mut by_mechanism: std::collections::BTreeMap<&str, Vec<&RunResult>> = Default::default();
    for run in runs {
        by_mechanism
            .entry(run.mechanism.as_str())
            .or_default()
            .push(run);
    }
    by_mechanism
        .into_values()
        .map(|mut repeats| {
            repeats.sort_by(|a, b| deciding(a).total_cmp(&deciding(b)));
            repeats[(repeats.len() - 1) / 2]
        })
        .collect()
}

/// The figure repeats are ordered by: p50, else the inverse of the rate.
fn deciding(run: &RunResult) -> f64 {
    match (&run.latency_ns, &run.throughput) {
        (Some(l), _) => l.p50 as f64,
        (None, Some(t)) => -t.messages_per_sec,
        (None, None) => 0.0,
    }
}

pub(super) fn latency(results: &[RunResult], claims: &Claims) -> Option<Table> {
    let size = latency_size(results)?;
    let runs = latency_runs(results);
    let fastest = runs
        .iter()
        .filter(|r| r.message_size > 0)
        .filter_map(|r| r.latency_ns.as_ref())
        .map(|l| l.p50)
        .min()?;
    let rows = runs
        .iter()
        .map(|r| {
            let l = r.latency_ns.as_ref().expect("filtered");
            let claim = claims.for_mechanism("latency", &r.mechanism, size);
            vec![
                r.mechanism.clone(),
                r.wake.label().to_string(),
                duration_ns(l.p50 as f64),
                duration_ns(l.p99 as f64),
                format!("{:.2}x", l.p50 as f64 / fastest as f64),
                claim.map_or(String::new(), |c| format!("{} ({})", c.display(), c.row)),
                claim.map_or(String::new(), |c| format!("{:.1}x", l.p50 as f64 / c.value)),
            ]
        })
        .collect();
    Some(Table {
        title: format!("Latency: round trip of {}", size_label(size)),
        note: "Two processes, one message in flight; p50 and p99 of every round trip. \
               \"Claimed\" is the comparison document's figure for the row that stands for \
               this mechanism (see the mapping at the end); \"measured / claimed\" above 1 means \
               slower here than the document says."
            .into(),
        header: [
            "mechanism",
            "wakes by",
            "p50",
            "p99",
            "vs fastest",
            "claimed",
            "measured / claimed",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    })
}

/// The throughput sizes measured, smallest first.
pub fn throughput_sizes(results: &[RunResult]) -> Vec<usize> {
    let sizes: BTreeSet<usize> = measured(results, Pattern::Throughput)
        .map(|r| r.message_size)
        .collect();
    sizes.into_iter().collect()
}

/// A mechanism's throughput at `size`, bytes per second.
pub fn throughput_at(results: &[RunResult], mechanism: &str, size: usize) -> Option<f64> {
    measured(results, Pattern::Throughput)
        .find(|r| r.mechanism == mechanism && r.message_size == size)
        .and_then(|r| r.throughput.as_ref())
        .map(|t| t.bytes_per_sec)
}

/// Mechanisms with a result of `pattern`, in the order first seen.
pub fn mechanisms_of(results: &[RunResult], pattern: Pattern) -> Vec<String> {
    let mut seen = Vec::new();
    for r in results.iter().filter(|r| r.pattern == pattern) {
        if !seen.contains(&r.mechanism) {
            seen.push(r.mechanism.clone());
        }
    }
    seen
}

pub(super) fn throughput(results: &[RunResult], claims: &Claims) -> Option<Table> {
    let sizes = throughput_sizes(results);
    let largest = *sizes.last()?;
    let mut header = vec!["mechanism".to_string()];
    header.extend(sizes.iter().map(|s| size_label(*s)));
    header.push(format!("claimed at {}", size_label(largest)));
    header.push("measured / claimed".into());
    let rows =
        mechanisms_of(results, Pattern::Throughput)
            .into_iter()
            .map(|m| {
                let mut row = vec![m.clone()];
                row.extend(sizes.iter().map(|&s| {
                    throughput_at(results, &m, s).map_or("unsupported".into(), byte_rate)
                }));
                let claim = claims.for_mechanism("throughput", &m, largest);
                row.push(claim.map_or(String::new(), |c| format!("{} ({})", c.display(), c.row)));
                row.push(match (claim, throughput_at(results, &m, largest)) {
                    (Some(c), Some(v)) => format!("{:.2}x", v / c.value),
                    _ => String::new(),
                });
                row
            })
            .collect();
    Some(Table {
        title: "Throughput by message size".into(),
        note: "One writer streaming to one reader, every byte verified; payload bytes per \
               second. \"unsupported\" is a size the mechanism cannot carry here (its reason is \
               in the JSON)."
            .into(),
        header,
        rows,
    })
}

/// The figure shown for a scalability run: p50 latency, or messages per second for fan-in.
pub fn scalability_value(r: &RunResult) -> Option<f64> {
    match r.pattern {
        Pattern::FanIn => r.throughput.as_ref().map(|t| t.messages_per_sec),
        _ => r.latency_ns.as_ref().map(|l| l.p50 as f64),
    }
}

pub(super) fn scalability(results: &[RunResult], pattern: Pattern) -> Option<Table> {
    let counts: BTreeSet<u32> = measured(results, pattern)
        .filter_map(RunResult::pattern_count)
        .collect();
    let size = measured(results, pattern).map(|r| r.message_size).min()?;
    let (what, unit) = match pattern {
        Pattern::RequestResponse => ("clients", "round trip p50"),
        Pattern::PubSub => ("subscribers", "delivery p50 (slowest subscriber)"),
        Pattern::Pipeline => ("stages", "first to last stage p50"),
        _ => ("writers", "messages per second into the reader"),
    };
    let mut header = vec!["mechanism".to_string()];
    header.extend(counts.iter().map(|c| format!("{c} {what}")));
    let rows = mechanisms_of(results, pattern)
        .into_iter()
        .map(|m| {
            let mut row = vec![m.clone()];
            row.extend(counts.iter().map(|&c| {
                results
                    .iter()
                    .find(|r| {
                        r.pattern == pattern
                            && r.mechanism == m
                            && r.pattern_count() == Some(c)
                            && r.message_size == size
                    })
                    .map_or("n/a".into(), |r| {
                        match (&r.unsupported, scalability_value(r)) {
                            (Some(_), _) | (_, None) => "unsupported".into(),
                            (None, Some(v)) if pattern == Pattern::FanIn => {
                                format!("{:.0}k/s", v / 1e3)
                            }
                            (None, Some(v)) => duration_ns(v),
                        }
                    })
            }));
            row
        })
        .collect();
    Some(Table {
        title: format!(
            "Scalability: {} ({}, {})",
            pattern.name(),
            unit,
            size_label(size)
        ),
        note: format!(
            "The same {} run at each process count; \"unsupported\" names a limit (more spinning \
             processes than CPUs, a pattern without a channel).",
            pattern.name()
        ),
        header,
        rows,
    })
}

pub(super) fn overhead(
    results: &[RunResult],
    traced_runs: &[RunResult],
    claims: &Claims,
) -> Option<Table> {
    let runs: Vec<&RunResult> = latency_runs(results)
        .into_iter()
        .filter(|r| r.message_size > 0)
        .map(|r| {
            traced_runs
                .iter()
                .find(|t| t.mechanism == r.mechanism && t.breakdown.is_some())
                .unwrap_or(r)
        })
        .collect();
    let traced = runs.iter().any(|r| r.breakdown.is_some());
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let n = r.messages.max(1) as f64;
            let b = r.breakdown.as_ref().map(|b| &b.per_message);
            let switches = b
                .and_then(|p| p.context_switches)
                .unwrap_or((r.cpu.voluntary_switches + r.cpu.involuntary_switches) as f64 / n);
            let claim = claims.for_mechanism("syscalls", &r.mechanism, r.message_size);
            vec![
                r.mechanism.clone(),
                duration_ns(r.cpu.cpu_ns_per_message),
                format!("{switches:.2}"),
                b.map_or("n/a".into(), |p| format!("{:.1}", p.syscalls)),
                b.map_or("n/a".into(), |p| format!("{:.1}", p.syscalls / 2.0)),
                claim.map_or(String::new(), |c| format!("{} ({})", c.display(), c.row)),
                b.and_then(|p| p.bytes_copied).map_or("n/a".into(), bytes),
                if r.breakdown.is_some() {
                    "eBPF (trace)"
                } else {
                    "getrusage"
                }
                .into(),
            ]
        })
        .collect();
    Some(Table {
        title: "Overhead per round trip".into(),
        note: if traced {
            "Syscalls, context switches and bytes copied per round trip counted in the kernel by \
             `trace`'s eBPF programs (a traced run of fewer messages, its overhead measured \
             once); CPU time from getrusage."
                .into()
        } else {
            "CPU time and context switches of both processes per round trip, from getrusage. \
             Syscalls and bytes copied per message need `trace` (root): run `sudo ipc-profiler \
             report` for them."
                .into()
        },
        header: [
            "mechanism",
            "CPU per round trip",
            "context switches",
            "syscalls",
            "syscalls per message",
            "claimed per message",
            "bytes copied",
            "counted by",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    })
}

/// CPU seconds (all processes) per GiB moved by a throughput run.
pub fn cpu_seconds_per_gib(r: &RunResult) -> f64 {
    r.cpu.cpu_ns_per_message * (f64::from(1u32 << 30) / r.message_size.max(1) as f64) / 1e9
}

pub(super) fn cpu_per_gib(results: &[RunResult]) -> Option<Table> {
    let sizes = throughput_sizes(results);
    let mut header = vec!["mechanism".to_string()];
    header.extend(
        sizes
            .iter()
            .map(|s| format!("in {} messages", size_label(*s))),
    );
    let rows = mechanisms_of(results, Pattern::Throughput)
        .into_iter()
        .map(|m| {
            let mut row = vec![m.clone()];
            row.extend(sizes.iter().map(|&s| {
                measured(results, Pattern::Throughput)
                    .find(|r| r.mechanism == m && r.message_size == s)
                    .map_or("unsupported".into(), |r| {
                        format!("{:.2} s", cpu_seconds_per_gib(r))
                    })
            }));
            row
        })
        .collect();
    Some(Table {
        title: "CPU cost of moving 1 GiB".into(),
        note: "CPU seconds of writer and reader together per GiB of payload, from the \
               throughput runs (a busy-polling reader counts its spinning)."
            .into(),
        header,
        rows,
    })
}

/// The decision framework on these figures: `recommend`'s rules applied to the runs of the
/// report for a few common questions.
pub(super) fn decisions(results: &[RunResult]) -> Option<Table> {
    use crate::recommend::{decide, Inputs};
    let latency_size = latency_size(results);
    let largest_stream = throughput_sizes(results).last().copied();
    let smallest_stream = throughput_sizes(results).first().copied();
    let clients: Option<u32> = measured(results, Pattern::RequestResponse)
        .filter_map(RunResult::pattern_count)
        .max();
    let ask = |pattern: Pattern,
               size: Option<usize>,
               count: Option<u32>,
               busy_poll: bool,
               cross_host: bool| {
        let size = size?;
        let runs: Vec<RunResult> = results
            .iter()
            .filter(|r| {
                r.pattern == pattern
                    && r.message_size == size
                    && r.pattern_count() == count
                    && r.mechanism != "cacheline"
            })
            .cloned()
            .collect();
        let runs: Vec<RunResult> = one_per_mechanism(runs.iter().collect())
            .into_iter()
            .cloned()
            .collect();
        (!runs.is_empty()).then(|| {
            decide(
                &runs,
                Inputs {
                    pattern,
                    message_size: size,
                    count,
                    placement: runs[0].placement.clone(),
                    p99_bound_ns: None,
                    busy_poll,
                    cross_host,
                },
            )
        })
    };
    let questions = [
        (
            "lowest latency",
            ask(Pattern::Latency, latency_size, None, true, false),
        ),
        (
            "lowest latency, no CPU spinning while idle",
            ask(Pattern::Latency, latency_size, None, false, false),
        ),
        (
            "most small messages per second",
            ask(Pattern::Throughput, smallest_stream, None, false, false),
        ),
        (
            "bulk transfer",
            ask(Pattern::Throughput, largest_stream, None, false, false),
        ),
        (
            "a server and its clients",
            ask(Pattern::RequestResponse, Some(128), clients, false, false),
        ),
        (
            "between hosts",
            ask(Pattern::Latency, latency_size, None, false, true),
        ),
    ];
    let rows = questions
        .into_iter()
        .filter_map(|(question, answer)| {
            let answer = answer?;
            let choice = answer.ranking.first()?;
            let runner_up = answer
                .ranking
                .get(1)
                .map_or(String::new(), |r| r.mechanism.clone());
            Some(vec![
                format!(
                    "{question} ({}, {}{})",
                    answer.inputs.pattern.name(),
                    size_label(answer.inputs.message_size),
                    answer.inputs.count.map_or(String::new(), |n| format!(
                        ", {}",
                        crate::units::counted(n, "clients")
                    ))
                ),
                choice.mechanism.clone(),
                choice.reason.trim_start_matches("the choice: ").to_string(),
                runner_up,
                answer.excluded.len().to_string(),
            ])
        })
        .collect();
    Some(Table {
        title: "Which to use, from these figures".into(),
        note: "recommend's rules (docs/recommend.md) applied to this report's runs: every \
               question but the first rules out busy-polling, the last keeps only what crosses \
               hosts. `ipc-profiler recommend` answers other questions, and measures the \
               other placement too."
            .into(),
        header: ["question", "use", "because", "runner-up", "excluded"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}

fn yes(flag: bool) -> String {
    if flag { "yes" } else { "no" }.into()
}

pub(super) fn features(results: &[RunResult]) -> Table {
    let rows = features::ALL
        .iter()
        .map(|f| {
            let largest = results
                .iter()
                .filter(|r| r.mechanism == f.mechanism && r.unsupported.is_none() && r.verified)
                .map(|r| r.message_size)
                .max();
            vec![
                f.mechanism.to_string(),
                yes(f.bidirectional),
                yes(f.boundaries),
                yes(f.many_readers),
                yes(f.many_writers),
                yes(f.persistent),
                f.kernel_objects.to_string(),
                yes(f.common_ancestor),
                yes(f.across_hosts),
                largest.map_or("not measured".into(), size_label),
                f.limit.to_string(),
            ]
        })
        .collect();
    Table {
        title: "Features".into(),
        note: "What each mechanism can do as ipc-profiler builds it; the largest message is \
               the largest this report measured, the limit what the kernel or the design sets."
            .into(),
        header: [
            "mechanism",
            "bidirectional",
            "message boundaries",
            "many readers",
            "many writers",
            "persistent",
            "kernel objects",
            "needs a common ancestor",
            "across hosts",
            "largest message measured",
            "limit",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

pub(super) fn mapping(claims: &Claims) -> Table {
    Table {
        title: "The comparison document's rows and our mechanisms".into(),
        note: format!("Claims from {}.", claims.source),
        header: ["document row", "mechanisms", "why"]
            .map(String::from)
            .to_vec(),
        rows: claims
            .mapping
            .iter()
            .map(|m| vec![m.row.clone(), m.mechanisms.join(", "), m.why.clone()])
            .collect(),
    }
}
