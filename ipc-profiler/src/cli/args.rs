//! The options of the commands that run mechanisms: `bench`'s, which `trace` and `recommend`
//! share, and `report`'s.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::parse::{parse_duration, parse_latency, parse_mechanisms, parse_rate, pattern_parser};
use crate::config::Placement;
use crate::mechanism::Mechanism;
use crate::render::Format;
use crate::result::Pattern;
use crate::trace;
use crate::units::parse_size;

/// Options shared by `bench` and `trace`.
#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Mechanisms to run: names separated by commas, or `all` (see `ipc-profiler list`).
    #[arg(long, value_parser = parse_mechanisms)]
    pub(crate) mech: Option<Mechanisms>,
    /// What to measure.
    #[arg(long, default_value = "latency", value_parser = pattern_parser())]
    pub(crate) pattern: Pattern,
    /// Message sizes, separated by commas (K and M suffixes: 1K = 1024). Default: 128 for
    /// latency; 64,1K,64K,1M for throughput; 128,4K for fan-in, pipeline, request-response and
    /// pub-sub.
    #[arg(long, alias = "size", value_delimiter = ',', value_parser = parse_size)]
    pub(crate) sizes: Vec<usize>,
    /// Measured messages. Default: 20000 round trips for latency; 256 MiB worth (1,000 to
    /// 200,000 messages) for throughput; 64 MiB / writers worth from each fan-in writer (100
    /// to 20,000); 20000 / clients round trips from each request-response client (at least
    /// 200); 20000 / stages per pipeline phase (1,000 to 10,000); 10000 / subscribers per
    /// pub-sub phase (at least 250). 1 to 100,000,000.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000), conflicts_with = "duration")]
    pub(crate) iters: Option<u64>,
    /// Instead of a count: measure each run for about this many seconds (a short probe sizes it).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<f64>,
    /// Round trips before measuring starts, excluded from every figure. 0 to 10,000,000.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    pub(crate) warmup: u64,
    /// Fan-in: writer processes streaming into one reader, 1 to 128; a list (`1,10,60`) runs
    /// each.
    #[arg(long, value_delimiter = ',', default_values_t = [4], value_parser = clap::value_parser!(u32).range(1..=crate::bench::fan_in::MAX_WRITERS as i64))]
    pub(crate) procs: Vec<u32>,
    /// Pipeline: processes in the chain, each forwarding to the next, 2 to 16; a list runs each.
    #[arg(long, value_delimiter = ',', default_values_t = [4], value_parser = clap::value_parser!(u32).range(2..=crate::bench::pipeline::MAX_STAGES as i64))]
    pub(crate) stages: Vec<u32>,
    /// Request-response: client processes served by one server, 1 to 128; a list (`1,10,60`)
    /// runs each.
    #[arg(long, value_delimiter = ',', default_values_t = [4], value_parser = clap::value_parser!(u32).range(1..=crate::bench::request_response::MAX_CLIENTS as i64))]
    pub(crate) clients: Vec<u32>,
    /// Pub-sub: subscriber processes, each receiving every message, 1 to 128; a list runs each.
    #[arg(long, value_delimiter = ',', default_values_t = [4], value_parser = clap::value_parser!(u32).range(1..=crate::bench::pub_sub::MAX_SUBSCRIBERS as i64))]
    pub(crate) subscribers: Vec<u32>,
    /// Pub-sub: the latency phase's rate in messages per second (default: the slower of a
    /// tenth of the full-speed rate measured just before it and one message per two probed
    /// deliveries to every subscriber; docs/measuring.md).
    #[arg(long, value_parser = parse_rate)]
    pub(crate) rate: Option<f64>,
    /// Pub-sub: ipc-core's broadcast ring in lossy mode (the publisher never waits; a
    /// subscriber a whole ring behind loses the oldest messages, counted as `lost`).
    #[arg(long)]
    pub(crate) lossy: bool,
    /// Where the processes run (a pipeline's stages alternate between the two CPUs). Default:
    /// cross-core where two CPUs may be used, else same-core (a one-CPU container, `taskset -c 0`).
    #[arg(long, value_enum)]
    pub(crate) placement: Option<PlacementArg>,
    /// CPUs to use, in order (e.g. `0,1`); defaults to the first CPUs this process may use.
    #[arg(long, value_delimiter = ',')]
    pub(crate) cpus: Vec<usize>,
    /// Run each configuration this many times (1 to 100), in alternating rounds, every run
    /// kept (`compare` judges a change from them; each result names its `repeat`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) repeat: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
    /// Write the report to this file instead of standard output (standard error for a traced
    /// program, whose standard output is its own).
    #[arg(long, short)]
    pub(crate) output: Option<PathBuf>,
    /// Say on standard error where the time goes: each run and how long it took.
    #[arg(long, short)]
    pub(crate) verbose: bool,
}

/// `trace`'s options: a benchmark's, or a program to trace.
#[derive(Args)]
pub(crate) struct TraceArgs {
    #[command(flatten)]
    pub(crate) run: BenchArgs,
    /// Trace this running process (and the processes it starts) for --duration seconds
    /// (default 5) or until it exits, instead of a mechanism.
    #[arg(long, conflicts_with = "mech")]
    pub(crate) pid: Option<u32>,
    /// Trace this command (and the processes it starts) until it exits: everything after `--`.
    #[arg(last = true, conflicts_with_all = ["mech", "pid"])]
    pub(crate) command: Vec<String>,
    /// Run the command as this user, with its groups and its HOME, USER, LOGNAME and SHELL
    /// (as `strace -u` does); without it the command runs as the caller (root under sudo).
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Print what the eBPF programs log about themselves (slots given to new processes, a full
    /// thread table, ...) on standard error.
    #[arg(long)]
    pub(crate) ebpf_log: bool,
    /// After tracing a program (`--pid`, or a command after `--`), benchmark each finding's
    /// alternative here (TCP over loopback against a Unix socket, a queue of large messages
    /// against shared memory) with the channel's own pattern and median message size, and say
    /// what the change would save the program (a few seconds a finding; --placement and --cpus
    /// place the benchmark).
    #[arg(long)]
    pub(crate) what_if: bool,
    /// How the syscall programs attach: auto (raw tracepoints where allowed), tp (tracepoints
    /// for every program), raw-tp (raw tracepoints or nothing).
    #[arg(long, value_enum, default_value_t = trace::Attach::Auto)]
    pub(crate) attach: trace::Attach,
}

/// `recommend`'s options: one configuration of `bench`'s, and the constraints.
#[derive(Args)]
pub(crate) struct RecommendArgs {
    #[command(flatten)]
    pub(crate) run: BenchArgs,
    /// The highest acceptable p99 latency (`50us`, `2ms`): slower mechanisms are excluded and
    /// the rest ranked by p99.
    #[arg(long, value_parser = parse_latency)]
    pub(crate) p99: Option<f64>,
    /// Exclude mechanisms that spin on a CPU while waiting (busy-poll).
    #[arg(long)]
    pub(crate) no_busy_poll: bool,
    /// The processes may run on different hosts: only networked mechanisms qualify.
    #[arg(long)]
    pub(crate) cross_host: bool,
    /// Decide from this report (`bench --format json`) instead of measuring.
    #[arg(long)]
    pub(crate) from: Option<PathBuf>,
}

/// `report`'s options.
#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Where to write the report; its extension (.html, .md) chooses the format unless
    /// --format does.
    #[arg(long, short)]
    pub(crate) output: PathBuf,
    /// The report's format.
    #[arg(long, value_enum)]
    pub(crate) format: Option<crate::report::Format>,
    /// The short suite (about ten seconds on a 2-vCPU VM; docs/report.md): latency, two
    /// throughput sizes, request-response.
    #[arg(long, conflicts_with = "from")]
    pub(crate) quick: bool,
    /// Render these reports (`bench --format json`) instead of measuring.
    #[arg(long, num_args = 1..)]
    pub(crate) from: Vec<PathBuf>,
    /// Say on standard error where the time goes.
    #[arg(long, short)]
    pub(crate) verbose: bool,
}

impl BenchArgs {
    /// The counts given for a pattern that counts `noun` (`--procs` gives fan-in's writers).
    pub(crate) fn counts(&self, noun: &str) -> &[u32] {
        match noun {
            "writers" => &self.procs,
            "stages" => &self.stages,
            "clients" => &self.clients,
            "subscribers" => &self.subscribers,
            other => unreachable!("no option counts {other}"),
        }
    }
}

impl From<PlacementArg> for Placement {
    fn from(placement: PlacementArg) -> Self {
        match placement {
            PlacementArg::SameCore => Placement::SameCore,
            PlacementArg::CrossCore => Placement::CrossCore,
            PlacementArg::Unpinned => Placement::Unpinned,
        }
    }
}

/// `--placement`: where the processes run.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum PlacementArg {
    /// Both processes on one CPU: every hand-off is a context switch on that CPU.
    SameCore,
    /// One process per CPU.
    CrossCore,
    /// Wherever the scheduler puts them.
    Unpinned,
}

/// The mechanisms a run covers, in the order given (or the design's order for `all`).
#[derive(Clone)]
pub(crate) struct Mechanisms(pub(crate) Vec<&'static dyn Mechanism>);

impl BenchArgs {
    /// The mechanisms asked for; required unless a program is traced.
    pub(crate) fn mechanisms(&self) -> anyhow::Result<&Mechanisms> {
        match &self.mech {
            Some(m) => Ok(m),
            None => crate::usage_error::usage_bail!(
                "say which mechanisms to run with --mech (names, or all; see ipc-profiler list)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn the_help_states_the_ranges_it_enforces() {
        use clap::CommandFactory;
        let command = Cli::command();
        let bench = command.find_subcommand("bench").unwrap();
        let help = |name: &str| {
            let arg = bench.get_arguments().find(|a| a.get_id() == name).unwrap();
            arg.get_help().unwrap().to_string()
        };
        let stated = [
            ("procs", 1, crate::bench::fan_in::MAX_WRITERS),
            ("stages", 2, crate::bench::pipeline::MAX_STAGES),
            ("clients", 1, crate::bench::request_response::MAX_CLIENTS),
            ("subscribers", 1, crate::bench::pub_sub::MAX_SUBSCRIBERS),
        ];
        for (name, least, most) in stated {
            let text = help(name);
            assert!(
                text.contains(&format!("{least} to {most}")),
                "--{name}: {text}"
            );
        }
        assert!(help("repeat").contains("1 to 100"));
        // The defaults --iters states are the ones the patterns use.
        let iters = help("iters");
        use crate::bench::{fan_in, pipeline, pub_sub, request_response, throughput};
        assert_eq!(throughput::default_messages(1 << 30), 1_000);
        assert_eq!(throughput::default_messages(1), 200_000);
        assert_eq!(throughput::default_messages(4096), 65_536, "256 MiB worth");
        assert!(iters.contains("256 MiB worth (1,000 to") && iters.contains("200,000 messages"));
        assert_eq!(
            fan_in::default_messages(1024, 4),
            16_384,
            "64 MiB / writers worth each"
        );
        assert_eq!(fan_in::default_messages(1 << 20, 4), 100);
        assert_eq!(fan_in::default_messages(1, 1), 20_000);
        assert!(
            iters.contains("64 MiB / writers worth")
                && iters.contains("(100")
                && iters.contains("to 20,000)")
        );
        assert_eq!(request_response::default_messages(8), 2_500);
        assert_eq!(request_response::default_messages(128), 200);
        assert!(
            iters.contains("20000 / clients")
                && iters.contains("(at least")
                && iters.contains("200)")
        );
        assert_eq!(pipeline::default_messages(4), 5_000);
        assert_eq!(pipeline::default_messages(2), 10_000);
        assert_eq!(pipeline::default_messages(16), 1_250);
        assert!(iters.contains("20000 / stages") && iters.contains("(1,000 to 10,000)"));
        assert_eq!(pub_sub::default_messages(8), 1_250);
        assert_eq!(pub_sub::default_messages(64), 250);
        assert!(iters.contains("10000 / subscribers") && iters.contains("250)"));
        assert!(help("warmup").contains("0 to 10,000,000"));
        assert!(help("iters").contains("1 to 100,000,000"));
    }

    #[test]
    fn every_counted_pattern_has_its_option() {
        let cli = Cli::try_parse_from(["ipc-profiler", "bench"]).unwrap();
        let Command::Bench(args) = cli.command else {
            unreachable!("parsed as bench");
        };
        for spec in &crate::bench::patterns::PATTERNS {
            if let Some(count) = &spec.count {
                assert_eq!(args.counts(count.noun), [4], "{}", count.noun);
            }
        }
    }
}
