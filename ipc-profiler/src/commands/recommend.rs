//! `recommend`: which mechanism to use, measured here (or read with `--from`) and ranked.

use super::output::write_out;
use super::{configs::configs, sweep};
use crate::cli::{Mechanisms, RecommendArgs};
use crate::config::{BenchConfig, Placement};
use crate::mechanism::{self, Mechanism};
use crate::render::Format;
use crate::result::RunResult;

/// `recommend`: measure (or read) one configuration for every mechanism, rank, and measure the
/// leaders again at the other placement.
pub(super) fn run(args: &RecommendArgs) -> anyhow::Result<()> {
    use crate::recommend::{self, render::Format as Out};
    let out = match args.run.format {
        Format::Table => Out::Text,
        Format::Json => Out::Json,
        other => crate::usage_error::usage_bail!(
            "recommend prints text or json, not {}",
            format!("{other:?}").to_lowercase()
        ),
    };
    super::output::check_destination(args.run.output.as_deref())?;
    if args.p99.is_some() && recommend::streamed(args.run.pattern) {
        crate::usage_error::usage_bail!(
            "--p99 bounds the latency of each message, and {} is ranked by messages per \
             second: drop --p99, or ask about a pattern that times messages (latency, \
             request-response, pub-sub, pipeline)",
            args.run.pattern.name()
        );
    }
    let configs = configs(&args.run)?;
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
            // What --cross-host or --no-busy-poll rule out, and a mechanism that carries no
            // payload, is not measured: it stands in the answer as a run that did not happen,
            // which the rules exclude with their reason.
            let ruled_out_upfront = |m: &&'static dyn Mechanism| {
                let local = args.cross_host && !recommend::crosses_hosts(m.name());
                let spins = args.no_busy_poll && m.wake() == crate::result::Wake::BusyPoll;
                local || spins || !m.carries_payload()
            };
            let (ruled_out, measure): (Vec<_>, Vec<_>) =
                chosen.into_iter().partition(ruled_out_upfront);
            let mut results = sweep(&args.run, &Mechanisms(measure), &configs, crate::bench::run)?;
            results.extend(ruled_out.into_iter().map(|m| {
                RunResult::unsupported(crate::bench::identity(m, config), "not measured".into())
            }));
            results
        }
    };
    let inputs = recommend::Inputs {
        pattern: config.pattern,
        message_size: config.message_size,
        count: crate::bench::patterns::count(config),
        placement: config.cpus.to_string(),
        p99_bound_ns: args.p99,
        busy_poll: !args.no_busy_poll,
        cross_host: args.cross_host,
    };
    let mut answer = recommend::decide(&results, inputs);
    // The other placement, where this process may use it (cross-core needs two CPUs).
    let two_cpus = crate::bench::placement::default_placement(&[]) == Placement::CrossCore;
    let other = match config.cpus.placement {
        Placement::CrossCore => Some(Placement::SameCore),
        Placement::SameCore if two_cpus => Some(Placement::CrossCore),
        Placement::SameCore | Placement::Unpinned => None,
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
        let results = sweep(&args.run, &Mechanisms(leaders), &[there], crate::bench::run)?;
        answer = answer.with_other_placement(placement, &results);
    }
    write_out(&args.run, recommend::render(&answer, out))
}

/// The results in the report at `path` that match `config`, for the `chosen` mechanisms.
fn from_report(
    path: &std::path::Path,
    config: &BenchConfig,
    chosen: &[&'static dyn Mechanism],
) -> anyhow::Result<Vec<RunResult>> {
    let report = crate::result::load(path)?;
    let count = crate::bench::patterns::count(config);
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
            crate::units::size_label(config.message_size),
            count.map_or(String::new(), |n| format!(" with a count of {n}"))
        );
    }
    Ok(matching)
}
