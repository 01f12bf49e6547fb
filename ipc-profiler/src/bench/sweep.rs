//! The sweep: every mechanism, configuration and repeat a command asked for, run in turn.

use anyhow::Context;

use crate::config::BenchConfig;
use crate::mechanism::Mechanism;
use crate::result::RunResult;

/// Runs `run` for every mechanism and configuration, `repeats` times each (every run kept and
/// numbered when there are several); the first failure stops the sweep and names its
/// mechanism. `verbose` says on standard error how long each run took.
pub fn sweep(
    mechanisms: &[&'static dyn Mechanism],
    configs: &[BenchConfig],
    repeats: u32,
    verbose: bool,
    run: impl Fn(&'static dyn Mechanism, &BenchConfig) -> anyhow::Result<RunResult>,
) -> anyhow::Result<Vec<RunResult>> {
    let started = std::time::Instant::now();
    let progress = crate::progress::Progress::new(
        mechanisms.len() * configs.len() * repeats as usize,
        verbose,
    );
    let mut results = Vec::new();
    for &mechanism in mechanisms {
        for config in configs {
            for repeat in 1..=repeats {
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
