//! One flat row per result: the columns the CSV and Markdown renderings share.

use crate::result::RunResult;

/// Column names, in order.
pub const COLUMNS: [&str; 27] = [
    "mechanism",
    "pattern",
    "wake",
    "message_size",
    "messages",
    "processes",
    "placement",
    "min_ns",
    "mean_ns",
    "p50_ns",
    "p90_ns",
    "p99_ns",
    "p999_ns",
    "max_ns",
    "messages_per_sec",
    "bytes_per_sec",
    "user_s",
    "sys_s",
    "verified",
    "unsupported",
    "syscalls_per_message",
    "kernel_ns_per_message",
    "context_switches_per_message",
    "bytes_copied_per_message",
    "wakeups_per_message",
    "migrations_per_message",
    "setting",
];

/// The row of `r`, empty cells where a figure does not apply.
pub fn row(r: &RunResult) -> Vec<String> {
    let opt = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    let l = r.latency_ns.as_ref();
    let t = r.throughput.as_ref();
    let b = r.breakdown.as_ref().map(|b| &b.per_message);
    vec![
        r.mechanism.clone(),
        r.pattern.name().to_string(),
        r.wake.label().to_string(),
        r.message_size.to_string(),
        r.messages.to_string(),
        r.processes.to_string(),
        r.placement.clone(),
        opt(l.map(|l| l.min as f64)),
        opt(l.map(|l| l.mean)),
        opt(l.map(|l| l.p50 as f64)),
        opt(l.map(|l| l.p90 as f64)),
        opt(l.map(|l| l.p99 as f64)),
        opt(l.map(|l| l.p999 as f64)),
        opt(l.map(|l| l.max as f64)),
        opt(t.map(|t| t.messages_per_sec)),
        opt(t.map(|t| t.bytes_per_sec)),
        format!("{}", r.cpu.user_s),
        format!("{}", r.cpu.sys_s),
        r.verified.to_string(),
        r.unsupported.clone().unwrap_or_default(),
        opt(b.map(|b| b.syscalls)),
        opt(b.map(|b| b.kernel_ns)),
        opt(b.and_then(|b| b.context_switches)),
        opt(b.and_then(|b| b.bytes_copied)),
        opt(b.and_then(|b| b.wakeups)),
        opt(b.and_then(|b| b.migrations)),
        r.setting.clone().unwrap_or_default(),
    ]
}
