//! The result model (DESIGN.md's output contract) and its renderings.
//!
//! Field names here are a contract that other tools parse: add fields, never rename them.

mod csv;
mod flat;
mod json;
mod markdown;
mod table;
mod trace_summary;
mod units;

use clap::ValueEnum;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::bench::cpu_usage::CpuUsage;
use crate::bench::BenchConfig;
use crate::environment::Environment;

/// A whole report: one run of the tool.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Always "ipc-profiler".
    pub tool: &'static str,
    /// The tool's version.
    pub version: &'static str,
    /// The machine the figures were measured on.
    pub environment: Environment,
    /// One entry per mechanism, pattern and size.
    pub results: Vec<RunResult>,
}

impl Report {
    /// A report of `results` measured on `environment`.
    pub fn new(environment: Environment, results: Vec<RunResult>) -> Self {
        Self {
            tool: "ipc-profiler",
            version: env!("CARGO_PKG_VERSION"),
            environment,
            results,
        }
    }
}

/// What a run measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// Round trip A→B→A.
    Latency,
    /// A one-way stream, counted when delivered.
    Throughput,
    /// Several writer processes streaming into one reader.
    FanIn,
}

/// The figures of one mechanism, pattern and message size.
#[derive(Debug, Serialize)]
pub struct RunResult {
    /// Mechanism name (DESIGN.md's table).
    pub mechanism: String,
    /// What was measured.
    pub pattern: Pattern,
    /// Bytes per message.
    pub message_size: usize,
    /// Measured messages (round trips for latency).
    pub messages: u64,
    /// Messages run before measuring, excluded from every figure.
    pub warmup_messages: u64,
    /// Processes taking part.
    pub processes: u32,
    /// Where they ran.
    pub placement: String,
    /// How the waiting side is woken.
    pub wake: crate::mechanism::Wake,
    /// Round-trip latency, for the latency pattern.
    pub latency_ns: Option<LatencySummary>,
    /// Throughput, for the throughput pattern.
    pub throughput: Option<Throughput>,
    /// CPU used by all processes over the measured phase.
    pub cpu: CpuSummary,
    /// Every payload arrived whole, in order, exactly once.
    pub verified: bool,
    /// Why this did not run, when it could not.
    pub unsupported: Option<String>,
    /// Where each message's cost went (trace only).
    pub breakdown: Option<crate::trace::Breakdown>,
}

impl RunResult {
    /// A result for a combination that cannot run, with the reason.
    pub fn unsupported(
        mechanism: &dyn crate::mechanism::Mechanism,
        pattern: Pattern,
        config: &BenchConfig,
        reason: String,
    ) -> Self {
        Self {
            mechanism: mechanism.name().to_string(),
            wake: mechanism.wake(),
            pattern,
            message_size: config.message_size,
            messages: 0,
            warmup_messages: 0,
            processes: if pattern == Pattern::FanIn {
                config.writers as u32 + 1
            } else {
                2
            },
            placement: config.cpus.to_string(),
            latency_ns: None,
            throughput: None,
            cpu: CpuSummary::default(),
            verified: false,
            unsupported: Some(reason),
            breakdown: None,
        }
    }
}

/// Latency percentiles in nanoseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Fastest.
    pub min: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest.
    pub max: u64,
}

impl LatencySummary {
    /// Percentiles of a histogram of nanoseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        Self {
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Messages and bytes delivered per second.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Throughput {
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Payload bytes per second.
    pub bytes_per_sec: f64,
}

/// CPU cost over the measured phase, summed over the processes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CpuSummary {
    /// User-mode CPU seconds.
    pub user_s: f64,
    /// Kernel-mode CPU seconds.
    pub sys_s: f64,
    /// CPU nanoseconds (user + sys) per measured message.
    pub cpu_ns_per_message: f64,
    /// Voluntary context switches (getrusage).
    pub voluntary_switches: u64,
    /// Involuntary context switches (getrusage).
    pub involuntary_switches: u64,
    /// The same for each process: (role, usage).
    pub processes: Vec<ProcessCpu>,
}

/// One process's CPU usage over the measured phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProcessCpu {
    /// Its part: client, server, reader, writer N.
    pub role: String,
    /// Its usage.
    #[serde(flatten)]
    pub usage: CpuUsage,
}

impl CpuSummary {
    /// The sum of `processes`' usage over `messages` messages, with each one kept.
    pub fn from_processes(processes: Vec<ProcessCpu>, messages: u64) -> Self {
        let total = processes
            .iter()
            .fold(CpuUsage::default(), |sum, p| sum.plus(&p.usage));
        Self {
            user_s: total.user_s,
            sys_s: total.sys_s,
            cpu_ns_per_message: (total.user_s + total.sys_s) * 1e9 / messages.max(1) as f64,
            voluntary_switches: total.voluntary_switches,
            involuntary_switches: total.involuntary_switches,
            processes,
        }
    }
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// One JSON object (DESIGN.md's contract).
    Json,
    /// One row per result, the same figures flattened.
    Csv,
    /// A Markdown table of the same figures.
    Markdown,
}

/// Renders a traced program's report: JSON as it is, anything else as tables.
pub fn render_program(report: &crate::trace::program::ProgramReport, format: Format) -> String {
    match format {
        Format::Json => {
            let mut text =
                serde_json::to_string_pretty(report).expect("the report always serializes");
            text.push('\n');
            text
        }
        _ => {
            let what = match &report.program.command {
                Some(argv) => format!("`{}` (pid {})", argv.join(" "), report.program.pid),
                None => format!("pid {}", report.program.pid),
            };
            let ended = report
                .program
                .exit
                .as_deref()
                .map(|e| format!(", {e}"))
                .unwrap_or_default();
            let title = format!(
                "What {what} and the processes it started did in {:.2} s of tracing{ended}:",
                report.seconds
            );
            format!(
                "{}\n\n{}",
                report.environment.summary(),
                table::breakdown_tables(&title, "in total", &report.breakdown)
            )
        }
    }
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => table::render(report),
        Format::Json => json::render(report),
        Format::Csv => csv::render(report),
        Format::Markdown => markdown::render(report),
    }
}
