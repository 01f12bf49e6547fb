//! `report`: the comparison measured on this machine (or rendered from earlier runs).

use anyhow::Context;
use clap::Parser;

use super::{configs::configs, sweep};
use crate::cli::{BenchArgs, Cli, Command, ReportArgs};
use crate::result::RunResult;
use crate::{machine, trace};

/// `report`: measure the suite (or read `--from`), then write the comparison.
pub(super) fn run(args: &ReportArgs) -> anyhow::Result<()> {
    use crate::report::{self, Document, Format as Page};
    let Some(format) = args.format.or_else(|| Page::from_path(&args.output)) else {
        crate::usage_error::usage_bail!(
            "say which format with --format html|markdown, or name the output .html or .md"
        );
    };
    super::output::check_destination(Some(&args.output))?;
    let document = if args.from.is_empty() {
        let mut results = Vec::new();
        let mut commands = Vec::new();
        for words in report::suite::commands(args.quick) {
            let (bench, line) = suite_command(&words, args.verbose)?;
            results.extend(sweep(
                &bench,
                bench.mechanisms()?,
                &configs(&bench)?,
                crate::bench::run,
            )?);
            commands.push(line);
        }
        let (traced, note) = if args.quick {
            (
                Vec::new(),
                "The quick suite does not trace: per-message syscalls and bytes copied \
                come from `trace`, which the full report runs as root."
                    .to_string(),
            )
        } else {
            traced_suite(args.verbose, &mut commands)
        };
        Document {
            environment: machine::detect(),
            version: env!("CARGO_PKG_VERSION").into(),
            commands,
            results,
            traced,
            notes: vec![note],
        }
    } else {
        // Several files are one suite measured in parts, on one machine: their runs are shown
        // together (repeats of a configuration by their median run). Files from different
        // machines are refused: one page describes one machine (`compare` sets two side by
        // side).
        let mut results = Vec::new();
        let mut environment: Option<(crate::result::Environment, &std::path::Path)> = None;
        for path in &args.from {
            let report = crate::result::load(path)?;
            match &environment {
                None => environment = Some((report.environment, path)),
                Some((first, first_path)) => {
                    let machine = |e: &crate::result::Environment| {
                        (e.kernel.clone(), e.cpu_model.clone(), e.cpus)
                    };
                    if machine(first) != machine(&report.environment) {
                        crate::usage_error::usage_bail!(
                            "{} and {} were measured on different machines ({} with {} CPUs, \
                             Linux {}; {} with {} CPUs, Linux {}): a report shows one machine; \
                             set them side by side with `ipc-profiler compare`",
                            first_path.display(),
                            path.display(),
                            first.cpu_model,
                            first.cpus,
                            first.kernel,
                            report.environment.cpu_model,
                            report.environment.cpus,
                            report.environment.kernel
                        );
                    }
                }
            }
            results.extend(report.results);
        }
        let environment = environment.map(|(e, _)| e);
        let (traced, results): (Vec<RunResult>, Vec<RunResult>) =
            results.into_iter().partition(|r| r.breakdown.is_some());
        Document {
            environment: environment.expect("--from has at least one file"),
            version: env!("CARGO_PKG_VERSION").into(),
            commands: vec![format!(
                "ipc-profiler report --from {}",
                args.from
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            )],
            // A file of traced runs alone still has latency figures: they were measured traced.
            results: if results.is_empty() {
                traced.clone()
            } else {
                results
            },
            traced,
            notes: vec![format!(
                "Rendered from earlier runs ({}), measured on the machine named above; where a \
                 configuration was run more than once, its median run stands for it everywhere on \
                 the page.",
                args.from
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
        }
    };
    let text = report::render(&document, format);
    std::fs::write(&args.output, text)
        .with_context(|| format!("could not write {}", args.output.display()))
}

/// One of the report's bench commands, parsed as the user would type it; and its line.
fn suite_command(words: &[&str], verbose: bool) -> anyhow::Result<(BenchArgs, String)> {
    let line = format!("ipc-profiler bench {}", words.join(" "));
    let cli = Cli::try_parse_from(["ipc-profiler", "bench"].iter().chain(words))
        .with_context(|| format!("the report's own command does not parse: {line}"))?;
    let Command::Bench(mut bench) = cli.command else {
        unreachable!("parsed as bench");
    };
    bench.verbose = verbose;
    Ok((bench, line))
}

/// As root, the latency of every mechanism traced (fewer messages, one overhead pair each);
/// otherwise nothing, and the note says why. A failure to trace (a kernel without the
/// tracepoints) is said in the note, not fatal: the rest of the report stands.
fn traced_suite(verbose: bool, commands: &mut Vec<String>) -> (Vec<RunResult>, String) {
    if !rustix::process::geteuid().is_root() {
        return (
            Vec::new(),
            "Not run as root, so not traced: the overhead table has CPU time and context \
             switches from getrusage; `sudo ipc-profiler report` adds per-message syscalls, \
             bytes copied and where each side's time goes."
                .into(),
        );
    }
    let words = ["--mech", "all", "--iters", "2000", "--warmup", "200"];
    let traced = suite_command(&words, verbose).and_then(|(bench, _)| {
        sweep(&bench, bench.mechanisms()?, &configs(&bench)?, |m, c| {
            trace::run(m, c, trace::Attach::Auto, false, 1)
        })
    });
    match traced {
        Ok(runs) => {
            commands.push(format!(
                "ipc-profiler trace {} (one overhead pair per mechanism, not trace's five)",
                words.join(" ")
            ));
            (
                runs,
                "Traced as root: per-message syscalls, context switches and bytes copied are \
                 counted in the kernel, from a traced run of 2,000 round trips per mechanism; \
                 each run's tracing overhead was measured from one untraced and one traced run."
                    .into(),
            )
        }
        Err(e) => (
            Vec::new(),
            format!("Tracing failed, so the overhead table comes from getrusage: {e:#}"),
        ),
    }
}
