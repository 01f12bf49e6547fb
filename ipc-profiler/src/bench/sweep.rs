//! The sweep: every mechanism, configuration and repeat a command asked for, run in turn.

use crate::config::BenchConfig;
use crate::mechanism::Mechanism;
use crate::result::RunResult;

/// A sweep stopped by a signal (Ctrl-C): the runs that finished before it, which the command
/// still reports.
#[derive(Debug)]
pub struct Stopped {
    /// The runs that finished.
    pub finished: Vec<RunResult>,
    /// The runs the sweep was to make.
    pub planned: usize,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted after {} of {} runs: the workers were stopped and everything the run \
             created was removed",
            self.finished.len(),
            self.planned
        )
    }
}

impl std::error::Error for Stopped {}

/// Runs `run` for every mechanism and configuration, `repeats` times each (every run kept and
/// numbered when there are several); the first failure stops the sweep and names its
/// mechanism, and a signal stops it with the runs that finished ([`Stopped`]). `verbose` says
/// on standard error how long each run took.
///
/// Repeats alternate: the sweep runs every configuration once, then again, `repeats` rounds in
/// all, so the samples of one configuration are spread over the whole sweep and a drift of the
/// machine (a neighbour's load, the clock) shows in their spread instead of shifting one
/// configuration's every sample (docs/measuring.md, "Comparing two reports"). The results come
/// back grouped by mechanism and configuration, repeats in order.
pub fn sweep(
    mechanisms: &[&'static dyn Mechanism],
    configs: &[BenchConfig],
    repeats: u32,
    verbose: bool,
    run: impl Fn(&'static dyn Mechanism, &BenchConfig) -> anyhow::Result<RunResult>,
) -> anyhow::Result<Vec<RunResult>> {
    let started = std::time::Instant::now();
    let planned = mechanisms.len() * configs.len() * repeats as usize;
    let progress = crate::progress::Progress::new(planned, verbose);
    // (mechanism index, configuration index, result), sorted into groups at the end.
    let mut results: Vec<(usize, usize, RunResult)> = Vec::new();
    for repeat in 1..=repeats {
        for (m, &mechanism) in mechanisms.iter().enumerate() {
            for (c, config) in configs.iter().enumerate() {
                let label = format!(
                    "{} {} {} ({} processes){}",
                    mechanism.name(),
                    config.pattern.name(),
                    crate::units::size_label(config.message_size),
                    super::patterns::processes(config),
                    if repeats > 1 {
                        format!(", run {repeat} of {repeats}")
                    } else {
                        String::new()
                    }
                );
                progress.start(&label);
                let run_started = std::time::Instant::now();
                let mut result = match run(mechanism, config) {
                    Ok(result) => result,
                    Err(_) if crate::process::was_interrupted() => {
                        let finished = grouped(results);
                        return Err(Stopped { finished, planned }.into());
                    }
                    Err(error) => return Err(error.context(format!("{} failed", mechanism.name()))),
                };
                progress.finish(&label, run_started.elapsed(), result.messages);
                result.repeat = (repeats > 1).then_some(repeat);
                results.push((m, c, result));
            }
        }
    }
    progress.done(started.elapsed());
    Ok(grouped(results))
}

/// The results in mechanism, then configuration, then repeat order (a stable sort keeps the
/// rounds' order within a group).
fn grouped(mut results: Vec<(usize, usize, RunResult)>) -> Vec<RunResult> {
    results.sort_by_key(|(m, c, _)| (*m, *c));
    results.into_iter().map(|(_, _, result)| result).collect()
}
