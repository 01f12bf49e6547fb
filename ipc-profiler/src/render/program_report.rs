//! A traced program's report (`trace --pid`, `trace -- CMD`): totals over the traced time and
//! rates per second, one line per process, in every format.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::Table;

use super::{csv, json, markdown, Format};
use crate::result::{PerMessage, ProgramReport};
use crate::units::{bytes, count, duration_ns, or_na};

/// Columns of the per-process rows (CSV and Markdown).
const COLUMNS: [&str; 17] = [
    "process",
    "pid",
    "started_by",
    "seconds",
    "syscalls",
    "syscalls_per_sec",
    "kernel_ns",
    "user_ns",
    "on_cpu_ns",
    "off_cpu_ns",
    "context_switches",
    "wakeups",
    "wake_to_run_ns",
    "bytes_copied",
    "bytes_copied_per_sec",
    "socket_bytes_copied",
    "migrations",
];

/// Renders `report` in `format`.
pub fn render(report: &ProgramReport, format: Format) -> String {
    match format {
        Format::Json => json::render(report),
        Format::Table => tables(report),
        Format::Csv => format!(
            "{}{}",
            csv::rows(&COLUMNS, rows(report)),
            super::channels::csv(&report.channels, report.channels_unavailable.as_deref())
        ),
        Format::Markdown => format!(
            "Measured on: {}\n\n{}\n\n{}\n{}{}",
            report.environment.summary(),
            title(report),
            markdown::table(&COLUMNS, rows(report)),
            super::channels::markdown(&report.channels, report.channels_unavailable.as_deref()),
            super::findings::markdown(&report.findings),
        ),
    }
}

/// "What `cmd` (pid N) and the processes it started did in S s of tracing, exit status 0:".
fn title(report: &ProgramReport) -> String {
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
    format!(
        "What {what} and the processes it started did in {:.2} s of tracing{ended}:",
        report.seconds
    )
}

/// The processes (all of them first) as (name, pid, started by, figures).
fn lines(report: &ProgramReport) -> Vec<(String, String, String, &PerMessage)> {
    let b = &report.breakdown;
    let mut lines = vec![(
        "all".to_string(),
        String::new(),
        String::new(),
        &b.per_message,
    )];
    lines.extend(b.processes.iter().map(|p| {
        (
            p.role.clone(),
            p.pid.to_string(),
            p.started_by.map(|s| s.to_string()).unwrap_or_default(),
            &p.per_message,
        )
    }));
    lines
}

/// One flat row per process: totals (the breakdown's `messages` is 1) and rates.
fn rows(report: &ProgramReport) -> Vec<Vec<String>> {
    let seconds = report.seconds.max(1e-9);
    let opt = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    lines(report)
        .into_iter()
        .map(|(name, pid, started_by, m)| {
            vec![
                name,
                pid,
                started_by,
                format!("{}", report.seconds),
                format!("{}", m.syscalls),
                format!("{}", m.syscalls / seconds),
                format!("{}", m.kernel_ns),
                opt(m.user_ns),
                opt(m.on_cpu_ns),
                opt(m.off_cpu_ns),
                opt(m.context_switches),
                opt(m.wakeups),
                opt(m.wake_to_run_ns),
                opt(m.bytes_copied),
                opt(m.bytes_copied.map(|b| b / seconds)),
                opt(m.socket_bytes_copied),
                opt(m.migrations),
            ]
        })
        .collect()
}

/// The tables for people: processes, then syscalls, with totals and rates per second.
fn tables(report: &ProgramReport) -> String {
    let seconds = report.seconds.max(1e-9);
    let mut processes = Table::new();
    processes.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "process",
        "syscalls",
        "per second",
        "kernel time",
        "user time",
        "on-CPU",
        "off-CPU",
        "context switches",
        "wake-ups",
        "wake to run",
        "bytes copied",
        "per second",
        "migrations",
    ]);
    let (shown, folded) = fold_processes_without_ipc(report);
    let rows = shown
        .iter()
        .map(|(name, pid, _, m)| (name.clone(), pid.clone(), *m))
        .chain(
            folded
                .iter()
                .map(|(name, m)| (name.clone(), String::new(), m)),
        );
    for (name, pid, m) in rows {
        let who = if pid.is_empty() {
            name
        } else {
            format!("{name} ({pid})")
        };
        processes.add_row(vec![
            who,
            count(m.syscalls),
            count((m.syscalls / seconds).round()),
            duration_ns(m.kernel_ns),
            or_na(m.user_ns, duration_ns),
            or_na(m.on_cpu_ns, duration_ns),
            or_na(m.off_cpu_ns, duration_ns),
            or_na(m.context_switches, count),
            or_na(m.wakeups, count),
            or_na(m.wake_to_run_ns, duration_ns),
            or_na(m.bytes_copied, bytes),
            or_na(m.bytes_copied.map(|b| b / seconds), bytes),
            or_na(m.migrations, count),
        ]);
    }
    let mut calls = Table::new();
    calls.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "syscall",
        "calls",
        "per second",
        "total time",
        "time/call",
        "p50 ≤",
        "p99 ≤",
        "errors",
    ]);
    for s in &report.breakdown.syscalls {
        calls.add_row(vec![
            s.name.clone(),
            s.count.to_string(),
            count((s.count as f64 / seconds).round()),
            duration_ns(s.total_ns as f64),
            duration_ns(s.total_ns as f64 / s.count.max(1) as f64),
            duration_ns(s.p50_ns_at_most as f64),
            duration_ns(s.p99_ns_at_most as f64),
            s.errors.to_string(),
        ]);
    }
    format!(
        "{}\n\n{}\n{}{}{processes}\n{calls}\n{}Syscalls traced by {}, the scheduler by {}. \
         Syscall time includes time blocked; kernel time excludes time switched out; user time \
         is on-CPU time outside syscalls.\n",
        report.environment.summary(),
        title(report),
        super::channels::table(&report.channels, report.channels_unavailable.as_deref()),
        findings(report),
        short_note(report.seconds),
        super::cells::syscall_attach(report.breakdown.attach),
        super::cells::sched_attach(report.breakdown.sched_attach),
    )
}

/// The findings, where channels were followed (without them nothing could be found).
fn findings(report: &ProgramReport) -> String {
    if report.channels_unavailable.is_some() {
        String::new()
    } else {
        super::findings::text(&report.findings)
    }
}

/// The process lines for people: every process that uses a channel with another process (and
/// the traced program itself) on its own line, the rest folded into one line of totals, named
/// by how many they are; `None` for the folded line when there is none to fold.
#[allow(clippy::type_complexity)]
fn fold_processes_without_ipc(
    report: &ProgramReport,
) -> (
    Vec<(String, String, String, &PerMessage)>,
    Option<(String, PerMessage)>,
) {
    let all = lines(report);
    if report.channels.is_empty() {
        return (all, None); // Channels unknown here: nothing says which processes to fold.
    }
    let talking: std::collections::BTreeSet<u32> = report
        .channels
        .iter()
        .filter(|c| c.carried_anything())
        .filter(|c| !super::channels::with_itself(c))
        .flat_map(|c| c.ends.iter().map(|e| e.pid))
        .collect();
    let root = report.program.pid.to_string();
    let (shown, quiet): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, pid, _, _)| {
        pid.is_empty() || *pid == root || pid.parse().is_ok_and(|p: u32| talking.contains(&p))
    });
    let folded = (!quiet.is_empty()).then(|| {
        let total = quiet
            .iter()
            .skip(1)
            .fold(quiet[0].3.clone(), |sum, (_, _, _, m)| sum.plus(m));
        let n = quiet.len();
        let name = if n == 1 {
            "1 more process, no IPC with another".to_string()
        } else {
            format!("{n} more processes, no IPC with another")
        };
        (name, total)
    });
    (shown, folded)
}

/// Traced for less than this, rates per second say little: a start-up's burst over a few
/// milliseconds reads as tens of thousands a second.
const SHORT_TRACE_S: f64 = 0.1;

/// The warning a short trace's rates need, or nothing.
fn short_note(seconds: f64) -> String {
    if seconds < SHORT_TRACE_S {
        format!(
            "Traced for {:.3} s only: the rates per second above extrapolate a moment; the \
             totals are what happened. ",
            seconds
        )
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use crate::result::{Channel, ChannelDirection, ChannelEnd, ProgramInfo, ProgramReport};

    /// A traced program (pid 10) whose processes 10 and 11 share a pipe, 12 writes to a pipe of
    /// its own, and 13 does nothing with anyone.
    fn program() -> ProgramReport {
        let mut breakdown = crate::result::sample::report()
            .results
            .into_iter()
            .find_map(|r| r.breakdown)
            .expect("the sample's traced result");
        let template = breakdown.processes[0].clone();
        breakdown.processes = (10..14)
            .map(|pid| crate::result::ProcessBreakdown {
                role: format!("p{pid}"),
                pid,
                ..template.clone()
            })
            .collect();
        let mut report = ProgramReport::new(
            crate::result::sample::report().environment,
            ProgramInfo {
                pid: 10,
                command: None,
                exit: None,
            },
            1.0,
            breakdown,
        );
        let pipe = |pids: &[u32], sends: u64| Channel {
            kind: "pipe".into(),
            name: "pipe".into(),
            inodes: vec![u64::from(pids[0])],
            addresses: Vec::new(),
            ends: pids
                .iter()
                .map(|&pid| ChannelEnd {
                    pid,
                    process: format!("p{pid}"),
                    fd: Some(3),
                    inode: u64::from(pids[0]),
                })
                .collect(),
            directions: vec![ChannelDirection {
                sends,
                receives: sends,
                ..ChannelDirection::default()
            }],
            messages: Some(sends),
            bytes: Some(0),
            futex: None,
        };
        report.channels = vec![pipe(&[10, 11], 5), pipe(&[12, 12], 7)];
        for (channel, (from, to)) in report
            .channels
            .iter_mut()
            .zip([("p11", "p10"), ("p12", "p12")])
        {
            channel.directions[0].from = vec![from.into()];
            channel.directions[0].to = vec![to.into()];
        }
        report
    }

    #[test]
    fn processes_without_ipc_are_folded_into_one_line_and_a_self_pipe_stays_with_its_process() {
        let report = program();
        let (shown, folded) = super::fold_processes_without_ipc(&report);
        let pids: Vec<&str> = shown.iter().map(|(_, pid, _, _)| pid.as_str()).collect();
        assert_eq!(
            pids,
            ["", "10", "11"],
            "all, then the two that share a pipe"
        );
        let (name, total) = folded.expect("12 and 13 folded");
        assert_eq!(name, "2 more processes, no IPC with another");
        let one = &report.breakdown.processes[2].per_message;
        assert_eq!(total.syscalls, 2.0 * one.syscalls, "their figures add up");
        let text = super::super::channels::table(&report.channels, None);
        assert!(text.contains("p12(12) pipe (7 sends)"), "{text}");
        assert_eq!(
            text.matches("pipe [").count(),
            1,
            "the self-pipe is not a channel row: {text}"
        );
        // A pipe read by one traced process from a writer that is not traced is a row of its
        // own, not a self-pipe.
        let mut untraced_writer = report.channels[1].clone();
        untraced_writer.directions[0].from.clear();
        let lone = super::super::channels::table(&[untraced_writer], None);
        assert!(
            lone.contains("pipe [12]") && !lone.contains("itself"),
            "{lone}"
        );
        let markdown = super::render(&report, super::Format::Markdown);
        let rows: Vec<&str> = markdown
            .lines()
            .filter(|l| l.starts_with("| pipe"))
            .collect();
        assert_eq!(rows.len(), 2, "both channels, by direction: {markdown}");
        let csv = super::render(&report, super::Format::Csv);
        let (processes, channels) = csv.split_once("\n\n").expect("two sections");
        assert!(processes.starts_with("process,pid,"), "{csv}");
        assert!(channels.starts_with("channel,kind,from,to,sends,"), "{csv}");
        assert_eq!(
            channels.lines().count(),
            3,
            "a header and both channels: {csv}"
        );
    }

    #[test]
    fn rates_over_a_moment_come_with_a_warning() {
        assert!(super::short_note(0.01).contains("extrapolate a moment"));
        assert!(super::short_note(2.0).is_empty());
    }
}
