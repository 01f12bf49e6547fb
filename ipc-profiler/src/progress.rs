//! Progress on standard error: a bar when it is a terminal, a line per run with `-v`, nothing
//! otherwise (so that scripts and CI logs stay clean).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Reports the runs of one command.
pub struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
}

impl Progress {
    /// Progress over `runs` runs; `verbose` prints where the time goes.
    pub fn new(runs: usize, verbose: bool) -> Self {
        // Even one run shows its bar and name: a long one is not silent.
        let bar = (!verbose && runs > 0 && std::io::stderr().is_terminal()).then(|| {
            // No steady tick: it would start a thread, and workers are forked from this process.
            let bar = ProgressBar::new(runs as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
                bar.set_style(style);
            }
            bar
        });
        Self { bar, verbose }
    }

    /// A run begins.
    pub fn start(&self, label: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(label.to_string());
        }
    }

    /// A run ended after `took`, having measured `messages` messages.
    pub fn finish(&self, label: &str, took: Duration, messages: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if self.verbose {
            eprintln!(
                "{label:<36} {messages:>9} messages  {:>7.2} s",
                took.as_secs_f64()
            );
        }
    }

    /// Every run has ended.
    pub fn done(&self, took: Duration) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.verbose {
            eprintln!("{:<36} {:>28.2} s", "total", took.as_secs_f64());
        }
    }
}
