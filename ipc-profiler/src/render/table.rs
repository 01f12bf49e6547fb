//! The table rendering: what a person reads in a terminal.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::result::{Breakdown, Report, RunResult};
use crate::units::size_label;
use crate::units::{count, duration_ns, or_na};

/// The report as tables: latency (fastest first), then each breakdown.
pub fn render(report: &Report) -> String {
    let mut out = format!("{}\n\n", report.environment.summary());
    let mut ran: Vec<&RunResult> = report
        .results
        .iter()
        .filter(|r| r.latency_ns.is_some())
        .collect();
    ran.sort_by_key(|r| r.latency_ns.as_ref().map(|l| l.p50));
    if !ran.is_empty() {
        out.push_str(&latency_table(&ran).to_string());
        out.push('\n');
    }
    let mut streamed: Vec<&RunResult> = report
        .results
        .iter()
        .filter(|r| r.throughput.is_some())
        .collect();
    if !streamed.is_empty() {
        streamed.sort_by(|a, b| {
            let rate = |r: &RunResult| r.throughput.as_ref().map_or(0.0, |t| t.bytes_per_sec);
            a.message_size
                .cmp(&b.message_size)
                .then(rate(b).total_cmp(&rate(a)))
        });
        out.push_str(&throughput_table(&streamed).to_string());
        out.push('\n');
    }
    if report.results.iter().any(|r| per_phase(r) != r.messages) {
        out.push_str(TWO_PHASES);
        out.push('\n');
    }
    out.push_str(&settings(&report.results));
    for result in report.results.iter().filter(|r| r.unsupported.is_some()) {
        out.push_str(&format!(
            "{} at {}: unsupported: {}\n",
            result.mechanism,
            size_label(result.message_size),
            result.unsupported.as_deref().unwrap_or_default()
        ));
    }
    // Breakdowns in the order of the tables above: latency runs, then throughput runs; a
    // pipeline or pub-sub run is in both tables, and its breakdown is shown once.
    let mut traced: Vec<&RunResult> = Vec::new();
    for &result in ran.iter().chain(&streamed) {
        if !traced.iter().any(|&seen| std::ptr::eq(seen, result)) {
            traced.push(result);
        }
    }
    if let Some(summary) = super::trace_summary::table(&traced) {
        out.push_str(
            "\nWhere each round trip (latency) or message (throughput, fan-in) went, all \
             processes together (details below):\n",
        );
        out.push_str(&summary.to_string());
        out.push('\n');
    }
    for result in &traced {
        if let Some(breakdown) = &result.breakdown {
            out.push('\n');
            out.push_str(&breakdown_text(result, breakdown));
        }
    }
    out
}

/// What the mechanisms set for their runs, a line per setting: "pipes of 64.0 KiB
/// (F_SETPIPE_SZ; ...): pipe, vmsplice at 64 B, 1 KiB".
fn settings(results: &[RunResult]) -> String {
    let mut lines: Vec<(&str, Vec<&str>, Vec<usize>)> = Vec::new();
    for r in results {
        let Some(setting) = r.setting.as_deref() else {
            continue;
        };
        let i = match lines.iter().position(|(s, ..)| *s == setting) {
            Some(i) => i,
            None => {
                lines.push((setting, Vec::new(), Vec::new()));
                lines.len() - 1
            }
        };
        let (_, mechanisms, sizes) = &mut lines[i];
        if !mechanisms.contains(&r.mechanism.as_str()) {
            mechanisms.push(&r.mechanism);
        }
        if !sizes.contains(&r.message_size) {
            sizes.push(r.message_size);
        }
    }
    lines
        .into_iter()
        .map(|(setting, mechanisms, sizes)| {
            let sizes: Vec<String> = sizes.into_iter().map(size_label).collect();
            format!(
                "{setting}: {} at {}\n",
                mechanisms.join(", "),
                sizes.join(", ")
            )
        })
        .collect()
}

fn latency_table(results: &[&RunResult]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "mechanism",
        "wakes by",
        "size",
        "placement",
        "timed",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "CPU/msg",
        "vs fastest alike",
    ]);
    for r in results {
        let Some(l) = &r.latency_ns else { continue };
        let fastest = alike(results, r)
            .filter_map(|o| o.latency_ns.as_ref().map(|l| l.p50))
            .min()
            .unwrap_or(1)
            .max(1);
        table.add_row(vec![
            r.mechanism.clone(),
            r.wake.label().to_string(),
            payload_label(r.message_size),
            r.placement.clone(),
            per_phase(r).to_string(),
            duration_ns(l.p50 as f64),
            duration_ns(l.p90 as f64),
            duration_ns(l.p99 as f64),
            duration_ns(l.p999 as f64),
            duration_ns(l.max as f64),
            cpu_cell(r),
            format!("{:.2}x", l.p50 as f64 / fastest as f64),
        ]);
    }
    align_right(&mut table, 4..12);
    table
}

fn throughput_table(results: &[&RunResult]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "mechanism",
        "wakes by",
        "size",
        "placement",
        "messages",
        "messages/s",
        "bandwidth",
        "CPU/msg",
        "vs fastest alike",
    ]);
    for r in results {
        let Some(t) = &r.throughput else { continue };
        let best = alike(results, r)
            .filter_map(|o| o.throughput.as_ref().map(|t| t.bytes_per_sec))
            .fold(0.0, f64::max);
        table.add_row(vec![
            r.mechanism.clone(),
            r.wake.label().to_string(),
            payload_label(r.message_size),
            r.placement.clone(),
            per_phase(r).to_string(),
            format!("{}/s", count(t.messages_per_sec.round())),
            crate::units::byte_rate(t.bytes_per_sec),
            cpu_cell(r),
            format!("{:.2}x", best / t.bytes_per_sec.max(1.0)),
        ]);
    }
    align_right(&mut table, 4..9);
    table
}

/// The runs of `results` of `run`'s configuration (pattern, size and count), which its "vs
/// fastest alike" ranks it among: a 1 MiB run is not slower than a 128 B one, nor 100 clients
/// than 1.
fn alike<'r>(results: &'r [&RunResult], run: &RunResult) -> impl Iterator<Item = &'r RunResult> {
    let configuration = |r: &RunResult| (r.pattern, r.message_size, r.pattern_count());
    let wanted = configuration(run);
    results
        .iter()
        .copied()
        .filter(move |o| configuration(o) == wanted)
}

/// CPU per message, marked `*` for a run of two phases (a pipeline's or a pub-sub's), where it is
/// over both together (see [`TWO_PHASES`]).
fn cpu_cell(r: &RunResult) -> String {
    let cpu = duration_ns(r.cpu.cpu_ns_per_message);
    if per_phase(r) == r.messages {
        cpu
    } else {
        format!("{cpu} *")
    }
}

/// What a `*` on CPU per message means.
const TWO_PHASES: &str = "* CPU per message over both phases of a pipeline or pub-sub run \
    together, the paced one (its latency; its rate is paced_per_sec in the JSON) and the \
    streamed one (its rate)";

/// Messages a figure counts: a pipeline's and a pub-sub run have two phases of equal length,
/// one timed (latency) and one streamed (throughput); every other pattern has one.
fn per_phase(r: &RunResult) -> u64 {
    match r.pattern {
        crate::result::Pattern::Pipeline | crate::result::Pattern::PubSub => r.messages / 2,
        _ => r.messages,
    }
}

/// Right-aligns the numeric `columns` of `table`.
fn align_right(table: &mut Table, columns: std::ops::Range<usize>) {
    for column in columns {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// A message size for the table; 0 means the mechanism moves no payload (`cacheline`).
fn payload_label(size: usize) -> String {
    if size == 0 {
        "no payload".into()
    } else {
        size_label(size)
    }
}

fn breakdown_text(result: &RunResult, b: &Breakdown) -> String {
    let (unit, per) = match result.pattern {
        crate::result::Pattern::Latency => ("round trips", "per round trip"),
        _ => ("messages", "per message"),
    };
    let title = format!(
        "Where the {} {unit} of {} went, {}, {} measured:",
        result.mechanism,
        size_label(result.message_size),
        result.placement,
        b.messages
    );
    let mut text = breakdown_tables(&title, per, b);
    let m = &b.per_message;
    if let (Some(submitted), Some(completed)) = (m.io_uring_submissions, m.io_uring_completions) {
        if submitted + completed > 0.0 {
            text.push_str(&format!(
                "io_uring (its own tracepoints; strace sees only io_uring_enter): {} requests \
                 submitted and {} completions {per}\n",
                crate::units::count(submitted),
                crate::units::count(completed)
            ));
        }
    }
    if let Some(channels) = &b.channels {
        if !channels.is_empty() {
            text.push_str(&super::channels::table(channels, None));
        }
    }
    text
}

/// Process lines a table shows at most before it puts numbered roles of one kind together.
const PROCESS_LINES: usize = 16;

/// A breakdown's process lines: each process with its pid, or, past [`PROCESS_LINES`], the
/// numbered roles of one kind ("client 7", "subscriber 12", "writer 3") on one line, their
/// figures added ("clients (100)"); the JSON keeps every process.
fn process_rows(b: &Breakdown) -> Vec<(String, crate::result::PerMessage)> {
    if b.processes.len() <= PROCESS_LINES {
        return b
            .processes
            .iter()
            .map(|p| (format!("{} ({})", p.role, p.pid), p.per_message.clone()))
            .collect();
    }
    // (kind, its first process's own label, how many, figures added)
    let mut groups: Vec<(&str, String, usize, crate::result::PerMessage)> = Vec::new();
    for p in &b.processes {
        let kind = match p.role.rsplit_once(' ') {
            Some((kind, number)) if number.parse::<u32>().is_ok() => kind,
            _ => p.role.as_str(),
        };
        match groups.iter_mut().find(|(k, ..)| *k == kind) {
            Some((_, _, n, figures)) => {
                *n += 1;
                *figures = figures.plus(&p.per_message);
            }
            None => groups.push((
                kind,
                format!("{} ({})", p.role, p.pid),
                1,
                p.per_message.clone(),
            )),
        }
    }
    groups
        .into_iter()
        .map(|(kind, own, n, figures)| {
            let label = if n == 1 {
                own
            } else {
                format!("{kind}s ({n})")
            };
            (label, figures)
        })
        .collect()
}

/// The breakdown's two tables under `title`; `unit` heads the first column.
fn breakdown_tables(title: &str, unit: &str, b: &Breakdown) -> String {
    let mut summary = Table::new();
    summary.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        unit,
        "syscalls",
        "kernel time",
        "user time",
        "context switches",
        "wake-ups",
        "wake to run",
        "on-CPU",
        "off-CPU",
        "bytes copied",
        "migrations",
    ]);
    let mut rows = vec![("all".to_string(), b.per_message.clone())];
    rows.extend(process_rows(b));
    for (who, m) in rows {
        let mut row = vec![who, count(m.syscalls)];
        row.extend(super::cells::per_message(&m));
        row.push(or_na(m.migrations, count));
        summary.add_row(row);
    }
    let mut calls = Table::new();
    calls.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "syscall",
        "calls/msg",
        "time/msg",
        "time/call",
        "p50 ≤",
        "p99 ≤",
        "calls",
        "errors",
    ]);
    for s in &b.syscalls {
        calls.add_row(vec![
            s.name.clone(),
            count(s.per_message),
            duration_ns(s.total_ns as f64 / b.messages.max(1) as f64),
            duration_ns(s.total_ns as f64 / s.count.max(1) as f64),
            duration_ns(s.p50_ns_at_most as f64),
            duration_ns(s.p99_ns_at_most as f64),
            s.count.to_string(),
            s.errors.to_string(),
        ]);
    }
    let overhead = match &b.overhead {
        Some(o) => format!(
            "Tracing overhead: {} {} untraced, {} traced ({}; best of {} alternated runs \
             each, {:.2}x by their medians; syscalls traced by {}, the scheduler by {}); the \
             tables above show the traced run. ",
            match o.figure {
                crate::result::OverheadFigure::RoundTripP50 => "p50",
                crate::result::OverheadFigure::TimePerMessage => "time per message",
            },
            duration_ns(o.untraced_p50_ns as f64),
            duration_ns(o.traced_p50_ns as f64),
            super::cells::tracing_cost(o),
            o.traced_runs_p50_ns.len(),
            o.ratio_of_medians,
            super::cells::syscall_attach(b.attach),
            super::cells::sched_attach(b.sched_attach),
        ),
        None => format!(
            "Syscalls traced by {}, the scheduler by {}. ",
            super::cells::syscall_attach(b.attach),
            super::cells::sched_attach(b.sched_attach)
        ),
    };
    // A mechanism that moves its messages without a syscall gets a sentence, not an empty
    // table.
    let calls = if b.syscalls.is_empty() {
        "No syscall in the measured phase: the messages moved without the kernel.".to_string()
    } else {
        calls.to_string()
    };
    format!(
        "{title}\n{summary}\n{calls}\n{overhead}Syscall time includes time blocked; kernel time \
         excludes time switched out.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_numbered_processes_share_a_line_and_their_figures_add_up() {
        let mut report = crate::result::sample::report();
        let b = report.results[0].breakdown.as_mut().unwrap();
        let one = b.processes[0].clone();
        b.processes = std::iter::once("server".to_string())
            .chain((0..20).map(|i| format!("client {i}")))
            .map(|role| crate::result::ProcessBreakdown {
                role,
                ..one.clone()
            })
            .collect();
        let rows = process_rows(b);
        let labels: Vec<&str> = rows.iter().map(|(label, _)| label.as_str()).collect();
        assert_eq!(labels, ["server (4242)", "clients (20)"]);
        assert_eq!(rows[1].1.syscalls, 20.0 * one.per_message.syscalls);
        b.processes.truncate(PROCESS_LINES);
        assert_eq!(process_rows(b).len(), PROCESS_LINES, "few: one line each");
    }

    #[test]
    fn a_run_in_both_tables_shows_its_breakdown_once() {
        // A traced pub-sub or pipeline run has a latency (paced) and a rate (streamed).
        let mut report = crate::result::sample::report();
        report.results.truncate(1);
        let run = &mut report.results[0];
        assert!(run.breakdown.is_some() && run.latency_ns.is_some());
        run.throughput = Some(crate::result::Throughput::of(20_000, 128, 0.17));
        let text = render(&report);
        assert!(
            text.matches("went, all processes together").count() <= 1,
            "{text}"
        );
        let title = format!("Where the {} ", report.results[0].mechanism);
        assert_eq!(text.matches(&title).count(), 1, "{text}");
    }

    #[test]
    fn the_fastest_is_found_within_one_size_not_across_sizes() {
        let base = crate::result::sample::report().results[0].clone();
        let run = |mechanism: &str, size: usize, p50: u64| {
            let mut r = base.clone();
            r.mechanism = mechanism.into();
            r.message_size = size;
            r.breakdown = None;
            if let Some(l) = r.latency_ns.as_mut() {
                l.p50 = p50;
            }
            r
        };
        let results = [
            run("pipe", 128, 5_000),
            run("uds", 128, 10_000),
            run("pipe", 1 << 20, 500_000),
        ];
        let refs: Vec<&RunResult> = results.iter().collect();
        let text = latency_table(&refs).to_string();
        let ratio = |mechanism: &str, size: &str| {
            let line = text
                .lines()
                .find(|l| l.contains(mechanism) && l.contains(size))
                .unwrap_or_else(|| panic!("no {mechanism} {size} line: {text}"));
            let cells: Vec<&str> = line.split(['│', '┆']).map(str::trim).collect();
            cells
                .iter()
                .rev()
                .find(|c| !c.is_empty())
                .unwrap()
                .to_string()
        };
        assert_eq!(ratio("uds", "128 B"), "2.00x");
        assert_eq!(
            ratio("pipe", "1 MiB"),
            "1.00x",
            "the only 1 MiB run is its own fastest"
        );
    }

    #[test]
    fn a_mechanism_without_syscalls_gets_a_sentence_not_an_empty_table() {
        let mut report = crate::result::sample::report();
        let result = &mut report.results[0];
        let b = result.breakdown.as_mut().unwrap();
        b.syscalls.clear();
        let text = breakdown_text(result, result.breakdown.as_ref().unwrap());
        assert!(text.contains("No syscall in the measured phase"), "{text}");
        assert!(!text.contains("calls/msg"), "{text}");
    }

    #[test]
    fn each_setting_is_said_once_with_the_runs_that_used_it() {
        let mut report = crate::result::sample::report();
        let template = report.results[0].clone();
        report.results = [
            ("pipe", 64, "small"),
            ("vmsplice", 64, "small"),
            ("pipe", 1 << 20, "big"),
        ]
        .into_iter()
        .map(|(mechanism, size, setting)| RunResult {
            mechanism: mechanism.into(),
            message_size: size,
            setting: Some(format!("pipes {setting}")),
            ..template.clone()
        })
        .collect();
        assert_eq!(
            settings(&report.results),
            "pipes small: pipe, vmsplice at 64 B\npipes big: pipe at 1 MiB\n"
        );
    }

    #[test]
    fn cpu_over_two_phases_is_marked_and_said() {
        let mut report = crate::result::sample::report();
        let mut pipeline = report.results[0].clone();
        pipeline.pattern = crate::result::Pattern::Pipeline;
        pipeline.stages = Some(4);
        pipeline.messages = 600;
        pipeline.breakdown = None;
        pipeline.throughput = Some(crate::result::Throughput::of(300, 128, 0.01));
        report.results = vec![pipeline];
        let text = render(&report);
        assert!(text.contains(" *"), "{text}");
        assert!(text.contains("over both phases"), "{text}");
    }

    #[test]
    fn the_overhead_note_says_which_run_the_tables_show() {
        let report = crate::result::sample::report();
        let result = &report.results[0];
        let b = result.breakdown.as_ref().unwrap();
        assert!(b.overhead.is_some(), "the sample has an overhead");
        let text = breakdown_text(result, b);
        assert!(
            text.contains("the tables above show the traced run"),
            "{text}"
        );
    }
}
