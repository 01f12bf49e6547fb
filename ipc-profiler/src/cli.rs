//! Command-line definitions and dispatch.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{BenchConfig, Placement};
use crate::mechanism::{self, Mechanism};
use crate::report::{self, Format};
use crate::result::{Pattern, Report, RunResult};
use crate::size::parse_size;
use crate::{environment, trace};

/// Measures and explains Linux inter-process communication.
#[derive(Parser)]
#[command(name = "ipc-profiler", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a mechanism between two real processes and report latency and CPU cost.
    Bench(BenchArgs),
    /// Run a benchmark while eBPF programs break each message's cost down (needs root); or
    /// trace any program: `--pid PID`, or a command after `--`.
    Trace(TraceArgs),
    /// Compare two reports (`bench --format json`): per mechanism and figure, the change and
    /// whether it exceeds the noise; exits 3 when a figure regressed beyond the threshold.
    Compare {
        /// The earlier report.
        old: PathBuf,
        /// The later report.
        new: PathBuf,
        /// The smallest change that counts, in percent (`10` or `10%`).
        #[arg(long, default_value = "10%", value_parser = parse_percent)]
        threshold: f64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = crate::compare::Format::Table)]
        format: crate::compare::Format,
    },
    /// Which mechanism to use for a pattern, a message size and a process count: measured here
    /// (or read with --from), ranked, with the figure that decided each and every exclusion.
    Recommend(RecommendArgs),
    /// The comparison, measured on this machine (or rendered from earlier runs): an HTML page
    /// with charts, or Markdown tables, with the comparison document's claims beside the
    /// figures.
    Report(ReportArgs),
    /// List the mechanisms and whether each can run here.
    List,
    /// Remove what runs that died without cleaning up (killed with SIGKILL) left behind: the
    /// System V queues and semaphore sets, and POSIX queue names, that each run recorded as it
    /// created them, and nothing else.
    Clean {
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Options shared by `bench` and `trace`.
#[derive(Args)]
struct BenchArgs {
    /// Mechanisms to run: names separated by commas, or `all` (see `ipc-profiler list`).
    #[arg(long, value_parser = parse_mechanisms)]
    mech: Option<Mechanisms>,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Pattern::Latency)]
    pattern: Pattern,
    /// Message sizes, separated by commas (K and M suffixes: 1K = 1024). Default: 128 for
    /// latency; 64,1K,64K,1M for throughput.
    #[arg(long, alias = "size", value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<usize>,
    /// Measured messages (round trips for latency; per phase for a pipeline). Default: 20000
    /// round trips for latency; 256 MiB worth (1,000 to 200,000 messages) for throughput;
    /// 20000 / stages (1,000 to 10,000) for a pipeline.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000), conflicts_with = "duration")]
    iters: Option<u64>,
    /// Instead of a count: measure each run for about this many seconds (a short probe sizes it).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<f64>,
    /// Round trips before measuring starts, excluded from every figure.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    warmup: u64,
    /// Fan-in: writer processes streaming into one reader; a list (`1,10,60`) runs each.
    #[arg(long, value_delimiter = ',', default_values_t = [4], value_parser = clap::value_parser!(u32).range(1..=crate::bench::fan_in::MAX_WRITERS as i64))]
    procs: Vec<u32>,
    /// Pipeline: processes in the chain, each forwarding to the next; a list runs each.
    #[arg(long, value_delimiter = ',', default_values_t = [4], value_parser = clap::value_parser!(u32).range(2..=crate::bench::pipeline::MAX_STAGES as i64))]
    stages: Vec<u32>,
    /// Request-response: client processes served by one server; a list (`1,10,60`) runs each.
    #[arg(long, value_delimiter = ',', default_values_t = [4], value_parser = clap::value_parser!(u32).range(1..=crate::bench::request_response::MAX_CLIENTS as i64))]
    clients: Vec<u32>,
    /// Pub-sub: subscriber processes, each receiving every message; a list runs each.
    #[arg(long, value_delimiter = ',', default_values_t = [4], value_parser = clap::value_parser!(u32).range(1..=crate::bench::pub_sub::MAX_SUBSCRIBERS as i64))]
    subscribers: Vec<u32>,
    /// Pub-sub: the latency phase's rate in messages per second (default: a tenth of the
    /// full-speed rate measured just before it).
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Pub-sub: ipc-core's broadcast ring in lossy mode (the publisher never waits; a
    /// subscriber a whole ring behind loses the oldest messages, counted as `lost`).
    #[arg(long)]
    lossy: bool,
    /// Where the processes run (a pipeline's stages alternate between the two CPUs).
    #[arg(long, value_enum, default_value_t = PlacementArg::CrossCore)]
    placement: PlacementArg,
    /// CPUs to use, in order (e.g. `0,1`); defaults to the first CPUs this process may use.
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<usize>,
    /// Run each configuration this many times, every run kept (`compare` judges noise from
    /// their spread; each result names its `repeat`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report to this file instead of standard output (standard error for a traced
    /// program, whose standard output is its own).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Say on standard error where the time goes: each run and how long it took.
    #[arg(long, short)]
    verbose: bool,
}

/// `trace`'s options: a benchmark's, or a program to trace.
#[derive(Args)]
struct TraceArgs {
    #[command(flatten)]
    run: BenchArgs,
    /// Trace this running process (and the processes it starts) for --duration seconds
    /// (default 5) or until it exits, instead of a mechanism.
    #[arg(long, conflicts_with = "mech")]
    pid: Option<u32>,
    /// Trace this command (and the processes it starts) until it exits: everything after `--`.
    #[arg(last = true, conflicts_with_all = ["mech", "pid"])]
    command: Vec<String>,
    /// Run the command as this user, with its groups and its HOME, USER, LOGNAME and SHELL
    /// (as `strace -u` does); without it the command runs as the caller (root under sudo).
    #[arg(long)]
    user: Option<String>,
    /// Print what the eBPF programs log about themselves (slots given to new processes, a full
    /// thread table, ...) on standard error.
    #[arg(long)]
    ebpf_log: bool,
    /// How the syscall programs attach: auto (raw tracepoints where allowed), tp (tracepoints
    /// for every program), raw-tp (raw tracepoints or nothing).
    #[arg(long, value_enum, default_value_t = trace::Attach::Auto)]
    attach: trace::Attach,
}

/// `recommend`'s options: one configuration of `bench`'s, and the constraints.
#[derive(Args)]
struct RecommendArgs {
    #[command(flatten)]
    run: BenchArgs,
    /// The highest acceptable p99 latency (`50us`, `2ms`): slower mechanisms are excluded and
    /// the rest ranked by p99.
    #[arg(long, value_parser = parse_latency)]
    p99: Option<f64>,
    /// Exclude mechanisms that spin on a CPU while waiting (busy-poll).
    #[arg(long)]
    no_busy_poll: bool,
    /// The processes may run on different hosts: only networked mechanisms qualify.
    #[arg(long)]
    cross_host: bool,
    /// Decide from this report (`bench --format json`) instead of measuring.
    #[arg(long)]
    from: Option<PathBuf>,
}

/// `report`'s options.
#[derive(Args)]
struct ReportArgs {
    /// Where to write the report; its extension (.html, .md) chooses the format unless
    /// --format does.
    #[arg(long, short)]
    output: PathBuf,
    /// The report's format.
    #[arg(long, value_enum)]
    format: Option<crate::comparison::Format>,
    /// The short suite (about 30 seconds): latency, two throughput sizes, request-response.
    #[arg(long, conflicts_with = "from")]
    quick: bool,
    /// Render these reports (`bench --format json`) instead of measuring.
    #[arg(long, num_args = 1..)]
    from: Vec<PathBuf>,
    /// Say on standard error where the time goes.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlacementArg {
    /// Both processes on one CPU: every hand-off is a context switch on that CPU.
    SameCore,
    /// One process per CPU.
    CrossCore,
    /// Wherever the scheduler puts them.
    Unpinned,
}

/// The mechanisms a run covers, in the order given (or the design's order for `all`).
#[derive(Clone)]
struct Mechanisms(Vec<&'static dyn Mechanism>);

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim_end_matches("/s")
        .parse()
        .map_err(|_| format!("`{text}` is not a number of messages per second"))?;
    if !(1.0..=100_000_000.0).contains(&rate) {
        return Err("a rate must be between 1 and 100,000,000 messages per second".into());
    }
    Ok(rate)
}

fn parse_percent(text: &str) -> Result<f64, String> {
    let percent: f64 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{text}` is not a percentage"))?;
    if !(0.0..=1000.0).contains(&percent) {
        return Err("a threshold must be between 0% and 1000%".into());
    }
    Ok(percent / 100.0)
}

/// A latency with a unit (`ns`, `us`/`µs`, `ms`, `s`), in nanoseconds.
fn parse_latency(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a latency such as 50us or 2ms"))?;
    let scale = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return Err(format!("`{text}` needs a unit: ns, us, ms or s")),
    };
    if value <= 0.0 {
        return Err("a latency bound must be above zero".into());
    }
    Ok(value * scale)
}

fn parse_duration(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.01..=3600.0).contains(&seconds) {
        return Err("a duration must be between 0.01 and 3600 seconds".into());
    }
    Ok(seconds)
}

fn parse_mechanisms(text: &str) -> Result<Mechanisms, String> {
    if text == "all" {
        return Ok(Mechanisms(mechanism::all().to_vec()));
    }
    let mut chosen = Vec::new();
    for name in text.split(',').map(str::trim) {
        let found = mechanism::find(name).ok_or_else(|| {
            format!(
                "unknown mechanism `{name}`; valid names: all, {}",
                mechanism::names().join(", ")
            )
        })?;
        chosen.push(found);
    }
    Ok(Mechanisms(chosen))
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Bench(args) => {
            let configs = args.configs()?;
            let results = each(&args, args.mechanisms()?, &configs, crate::bench::run)?;
            emit(&args, results)
        }
        Command::Trace(trace) => {
            if trace.user.is_some() && trace.command.is_empty() {
                crate::usage_error::usage_bail!(
                    "--user runs a traced command as that user: give the command after --"
                );
            }
            let target = match (trace.pid, trace.command.is_empty()) {
                (Some(pid), _) => Some(trace::user_program::Target::Pid(pid)),
                (None, false) => Some(trace::user_program::Target::Command(
                    trace.command.clone(),
                    trace.user.clone(),
                )),
                (None, true) => None,
            };
            let args = &trace.run;
            if let Some(target) = target {
                let report =
                    trace::user_program::run(target, args.duration, trace.attach, trace.ebpf_log)?;
                let text = report::render_program(&report, args.format);
                return match &args.output {
                    Some(_) => write_out(args, text),
                    // Like strace and perf stat: the program's standard output stays its own.
                    None => write_to(std::io::stderr().lock(), &text),
                };
            }
            let configs = args.configs()?;
            let results = each(args, args.mechanisms()?, &configs, |m, c| {
                trace::run(m, c, trace.attach, trace.ebpf_log, trace::OVERHEAD_PAIRS)
            })?;
            emit(args, results)
        }
        Command::Compare {
            old,
            new,
            threshold,
            format,
        } => {
            let comparison = crate::compare::compare(&old, &new, threshold)?;
            print!("{}", crate::compare::render(&comparison, format));
            let regressions = comparison.regressions();
            if regressions > 0 {
                return Err(crate::compare::Regressed(regressions).into());
            }
            Ok(())
        }
        Command::Recommend(args) => recommend(&args),
        Command::Report(args) => report_command(&args),
        Command::List => {
            list();
            Ok(())
        }
        Command::Clean { dry_run } => {
            let lines = crate::run_record::clean(dry_run).with_context(|| {
                format!(
                    "could not clean up after dead runs (run records in {})",
                    crate::run_record::directory()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default()
                )
            })?;
            if lines.is_empty() {
                println!("nothing to clean: no dead run left anything behind");
            }
            for line in lines {
                println!("{line}");
            }
            Ok(())
        }
    }
}

/// `recommend`: measure (or read) one configuration for every mechanism, rank, and measure the
/// leaders again at the other placement.
fn recommend(args: &RecommendArgs) -> anyhow::Result<()> {
    use crate::recommend::{self, render::Format as Out};
    let out = match args.run.format {
        Format::Table => Out::Text,
        Format::Json => Out::Json,
        other => crate::usage_error::usage_bail!(
            "recommend prints text or json, not {}",
            format!("{other:?}").to_lowercase()
        ),
    };
    let configs = args.run.configs()?;
    let [config] = configs.as_slice() else {
        crate::usage_error::usage_bail!(
            "recommend answers for one message size and one process count: give one --size \
             and one count"
        );
    };
    let chosen: Vec<&'static dyn Mechanism> = match &args.run.mech {
        Some(m) => m.0.clone(),
        None => mechanism::all()
            .iter()
            .copied()
            .filter(|m| m.carries_payload())
            .collect(),
    };
    let results = match &args.from {
        Some(path) => from_report(path, config, &chosen)?,
        None => {
            // What --cross-host or --no-busy-poll rule out is not measured: it stands in the
            // answer as a run that did not happen, which the rules exclude with their reason.
            let ruled_out_upfront = |m: &&'static dyn Mechanism| {
                let local = args.cross_host && !recommend::crosses_hosts(m.name());
                let spins = args.no_busy_poll && m.wake() == crate::result::Wake::BusyPoll;
                local || spins
            };
            let (ruled_out, measure): (Vec<_>, Vec<_>) =
                chosen.into_iter().partition(ruled_out_upfront);
            let mut results = each(&args.run, &Mechanisms(measure), &configs, crate::bench::run)?;
            results.extend(ruled_out.into_iter().map(|m| {
                RunResult::unsupported(crate::bench::identity(m, config), "not measured".into())
            }));
            results
        }
    };
    let inputs = recommend::Inputs {
        pattern: config.pattern,
        message_size: config.message_size,
        count: crate::bench::identity_count(config),
        placement: config.cpus.to_string(),
        p99_bound_ns: args.p99,
        busy_poll: !args.no_busy_poll,
        cross_host: args.cross_host,
    };
    let mut answer = recommend::decide(&results, inputs);
    let other = match args.run.placement {
        PlacementArg::CrossCore => Some(Placement::SameCore),
        PlacementArg::SameCore => Some(Placement::CrossCore),
        PlacementArg::Unpinned => None,
    };
    if let (None, Some(other), false) = (&args.from, other, answer.ranking.len() < 2) {
        let leaders: Vec<&'static dyn Mechanism> = answer
            .leaders()
            .iter()
            .filter_map(|name| mechanism::find(name))
            .collect();
        let mut there = config.clone();
        there.cpus = crate::bench::placement::resolve(other, &[])?;
        let placement = there.cpus.to_string();
        let results = each(&args.run, &Mechanisms(leaders), &[there], crate::bench::run)?;
        answer = answer.with_other_placement(placement, &results);
    }
    write_out(&args.run, recommend::render(&answer, out))
}

/// `report`: measure the suite (or read `--from`), then write the comparison.
fn report_command(args: &ReportArgs) -> anyhow::Result<()> {
    use crate::comparison::{self, Document, Format as Page};
    let Some(format) = args.format.or_else(|| Page::from_path(&args.output)) else {
        crate::usage_error::usage_bail!(
            "say which format with --format html|markdown, or name the output .html or .md"
        );
    };
    let document = if args.from.is_empty() {
        let mut results = Vec::new();
        let mut commands = Vec::new();
        for words in comparison::suite::commands(args.quick) {
            let (bench, line) = suite_command(&words, args.verbose)?;
            results.extend(each(
                &bench,
                bench.mechanisms()?,
                &bench.configs()?,
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
            environment: environment::detect(),
            version: env!("CARGO_PKG_VERSION").into(),
            commands,
            results,
            traced,
            notes: vec![note],
        }
    } else {
        let mut results = Vec::new();
        let mut environment = None;
        for path in &args.from {
            let report = crate::result::load(path)?;
            environment.get_or_insert(report.environment);
            results.extend(report.results);
        }
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
            notes: vec![
                "Rendered from earlier runs: the machine named is the one the first file was \
                 measured on."
                    .into(),
            ],
        }
    };
    let text = comparison::render(&document, format);
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
        each(&bench, bench.mechanisms()?, &bench.configs()?, |m, c| {
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

/// The results in the report at `path` that match `config`, for the `chosen` mechanisms.
fn from_report(
    path: &std::path::Path,
    config: &BenchConfig,
    chosen: &[&'static dyn Mechanism],
) -> anyhow::Result<Vec<RunResult>> {
    let report = crate::result::load(path)?;
    let count = crate::bench::identity_count(config);
    let matching: Vec<RunResult> = report
        .results
        .into_iter()
        .filter(|r| {
            r.pattern == config.pattern
                && r.message_size == config.message_size
                && r.pattern_count() == count
                && chosen.iter().any(|m| m.name() == r.mechanism)
        })
        .collect();
    if matching.is_empty() {
        anyhow::bail!(
            "{} has no {} run of {}{} for these mechanisms: measure without --from, or give the \
             options that report was made with",
            path.display(),
            config.pattern.name(),
            crate::size::size_label(config.message_size),
            count.map_or(String::new(), |n| format!(" with a count of {n}"))
        );
    }
    Ok(matching)
}

/// Runs `run` for every mechanism and configuration; the first failure stops the run and
/// names its mechanism.
fn each(
    args: &BenchArgs,
    mechanisms: &Mechanisms,
    configs: &[BenchConfig],
    run: impl Fn(&'static dyn Mechanism, &BenchConfig) -> anyhow::Result<RunResult>,
) -> anyhow::Result<Vec<RunResult>> {
    let started = std::time::Instant::now();
    let repeats = args.repeat;
    let progress = crate::progress::Progress::new(
        mechanisms.0.len() * configs.len() * repeats as usize,
        args.verbose,
    );
    let mut results = Vec::new();
    for &mechanism in &mechanisms.0 {
        for config in configs {
            for repeat in 1..=repeats {
                let label = format!(
                    "{} {} {} ({} processes){}",
                    mechanism.name(),
                    config.pattern.name(),
                    crate::size::size_label(config.message_size),
                    config.processes(),
                    if repeats > 1 {
                        format!(", run {repeat} of {repeats}")
                    } else {
                        String::new()
                    }
                );
                progress.start(&label);
                let run_started = std::time::Instant::now();
                let mut result = run(mechanism, config)
                    .with_context(|| format!("{} failed", mechanism.name()))?;
                progress.finish(&label, run_started.elapsed(), result.messages);
                result.repeat = (repeats > 1).then_some(repeat);
                results.push(result);
            }
        }
    }
    progress.done(started.elapsed());
    Ok(results)
}

impl BenchArgs {
    /// The mechanisms asked for; required unless a program is traced.
    fn mechanisms(&self) -> anyhow::Result<&Mechanisms> {
        match &self.mech {
            Some(m) => Ok(m),
            None => crate::usage_error::usage_bail!(
                "say which mechanisms to run with --mech (names, or all; see ipc-profiler list)"
            ),
        }
    }

    /// One configuration per message size and, for the patterns with a process count, per
    /// count in its list (the scalability sweep).
    fn configs(&self) -> anyhow::Result<Vec<BenchConfig>> {
        let placement = match self.placement {
            PlacementArg::SameCore => Placement::SameCore,
            PlacementArg::CrossCore => Placement::CrossCore,
            PlacementArg::Unpinned => Placement::Unpinned,
        };
        if self.lossy && self.pattern != Pattern::PubSub {
            crate::usage_error::usage_bail!("--lossy is a mode of --pattern pub-sub");
        }
        let cpus = crate::bench::placement::resolve(placement, &self.cpus)?;
        let sizes = match (self.sizes.is_empty(), self.pattern) {
            (false, _) => self.sizes.clone(),
            (true, Pattern::Latency) => vec![128],
            (true, Pattern::Throughput) => vec![64, 1 << 10, 64 << 10, 1 << 20],
            (
                true,
                Pattern::FanIn | Pattern::Pipeline | Pattern::RequestResponse | Pattern::PubSub,
            ) => {
                vec![128, 4 << 10]
            }
        };
        let counts: Vec<usize> = match self.pattern {
            Pattern::FanIn => &self.procs,
            Pattern::Pipeline => &self.stages,
            Pattern::RequestResponse => &self.clients,
            Pattern::PubSub => &self.subscribers,
            Pattern::Latency | Pattern::Throughput => &self.procs[..1],
        }
        .iter()
        .map(|&n| n as usize)
        .collect();
        let runs = sizes
            .iter()
            .flat_map(|&size| counts.iter().map(move |&count| (size, count)));
        Ok(runs
            .map(|(message_size, count)| BenchConfig {
                pattern: self.pattern,
                message_size,
                iterations: self.iters.unwrap_or(match (self.duration, self.pattern) {
                    (Some(_), _) => 100_000_000,
                    (None, pattern) => match pattern {
                        Pattern::Latency => 20_000,
                        Pattern::Throughput => {
                            crate::bench::throughput::default_messages(message_size)
                        }
                        Pattern::FanIn => {
                            crate::bench::fan_in::default_messages(message_size, count)
                        }
                        Pattern::Pipeline => crate::bench::pipeline::default_messages(count),
                        Pattern::RequestResponse => {
                            crate::bench::request_response::default_messages(count)
                        }
                        Pattern::PubSub => crate::bench::pub_sub::default_messages(count),
                    },
                }),
                probe_for: match (self.duration, self.iters, self.pattern) {
                    (Some(seconds), _, _) => Some(seconds),
                    (None, None, Pattern::Throughput) => {
                        Some(crate::bench::throughput::TARGET_SECONDS)
                    }
                    _ => None,
                },
                warmup: self.warmup,
                cpus: cpus.clone(),
                writers: count,
                stages: count,
                clients: count,
                subscribers: count,
                rate: self.rate,
                lossy: self.lossy,
            })
            .collect())
    }
}

fn emit(args: &BenchArgs, results: Vec<RunResult>) -> anyhow::Result<()> {
    let report = Report::new(environment::detect(), results);
    write_out(args, report::render(&report, args.format))
}

fn write_out(args: &BenchArgs, text: String) -> anyhow::Result<()> {
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("could not write {}", path.display())),
        None => write_to(std::io::stdout().lock(), &text),
    }
}

fn write_to(mut out: impl Write, text: &str) -> anyhow::Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("could not write the report")
}

fn list() {
    for mech in mechanism::all() {
        let status = match mech.available() {
            Ok(()) => "available".to_string(),
            Err(reason) => format!("unavailable: {reason}"),
        };
        println!("{:<14} {:<78} {status}", mech.name(), mech.summary());
    }
}

/// The documents' commands, shared with the integration test that runs the cheap ones.
#[cfg(test)]
#[path = "../../tests/common/doc_commands.rs"]
mod doc_commands;

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::doc_commands;

    #[test]
    fn every_documented_command_parses() {
        let commands = doc_commands::profiler_commands();
        // The README's main job, its examples and the tracing docs' commands, at least.
        assert!(commands.len() >= 8, "too few commands found: {commands:?}");
        for (document, args) in commands {
            let argv = std::iter::once("ipc-profiler".to_string()).chain(args.iter().cloned());
            if let Err(error) = super::Cli::try_parse_from(argv) {
                panic!(
                    "{document}: `ipc-profiler {}` does not parse: {error}",
                    args.join(" ")
                );
            }
        }
    }
}
