//! Matching runs across two reports and judging each figure's change against the threshold
//! and the noise.

use std::collections::BTreeMap;

use serde::Serialize;

use super::compared::Figure;
use crate::result::{Report, RunResult};

/// What one figure's change amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Better beyond the threshold and the noise.
    Improved,
    /// Worse beyond the threshold and the noise: fails the comparison.
    Regressed,
    /// Within the threshold or the noise.
    Unchanged,
}

/// One figure of one matched run.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// What identifies the run (mechanism, pattern, size, placement, processes).
    pub run: String,
    /// The figure's name.
    pub figure: &'static str,
    /// Median of the old file's samples.
    pub old: f64,
    /// Median of the new file's samples.
    pub new: f64,
    /// new / old - 1.
    pub change: f64,
    /// The larger relative spread of the two files' samples; `None` when either has one run.
    pub noise: Option<f64>,
    /// Samples in the old and the new file.
    pub samples: [usize; 2],
    /// What the change amounts to.
    pub verdict: Verdict,
}

/// Every matched figure, and the runs found in one file only.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// The threshold, as a fraction.
    pub threshold: f64,
    /// Each figure of each run found in both files.
    pub changes: Vec<Change>,
    /// Runs only the old file has.
    pub only_old: Vec<String>,
    /// Runs only the new file has.
    pub only_new: Vec<String>,
    /// True when some figure had a single run on a side: its noise was not judged.
    pub single_runs: bool,
}

impl Comparison {
    /// How many figures regressed.
    pub fn regressions(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.verdict == Verdict::Regressed)
            .count()
    }
}

/// What identifies a run across reports.
pub fn key(run: &RunResult) -> String {
    let count = [
        ("writers", run.procs),
        ("stages", run.stages),
        ("clients", run.clients),
        ("subscribers", run.subscribers),
    ]
    .into_iter()
    .find_map(|(what, n)| n.map(|n| format!(", {n} {what}")))
    .unwrap_or_default();
    format!(
        "{} {} {} B {}{count}",
        run.mechanism,
        run.pattern.name(),
        run.message_size,
        run.placement
    )
}

/// Runs grouped by [`key`], in first-seen order (repeats are samples of one).
fn grouped(report: &Report) -> (Vec<String>, BTreeMap<String, Vec<&RunResult>>) {
    let mut order = Vec::new();
    let mut groups: BTreeMap<String, Vec<&RunResult>> = BTreeMap::new();
    for run in &report.results {
        let k = key(run);
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(run);
    }
    (order, groups)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// (max - min) / median of `values`, or `None` for fewer than two.
fn spread(values: &mut [f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = median(values);
    let (lo, hi) = (values[0], values[values.len() - 1]);
    (m > 0.0).then(|| (hi - lo) / m)
}

/// Judges one figure's samples.
pub fn judge(
    mut old: Vec<f64>,
    mut new: Vec<f64>,
    higher_is_better: bool,
    threshold: f64,
) -> (f64, f64, f64, Option<f64>, Verdict) {
    let (old_median, new_median) = (median(&mut old), median(&mut new));
    let change = if old_median > 0.0 {
        new_median / old_median - 1.0
    } else {
        0.0
    };
    let noise = match (spread(&mut old), spread(&mut new)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    };
    let bound = threshold.max(noise.unwrap_or(0.0));
    let better = if higher_is_better { change } else { -change };
    let verdict = if better > bound {
        Verdict::Improved
    } else if -better > bound {
        Verdict::Regressed
    } else {
        Verdict::Unchanged
    };
    (old_median, new_median, change, noise, verdict)
}

/// Compares every run the two reports share, figure by figure.
pub fn compare(old: &Report, new: &Report, threshold: f64) -> Comparison {
    let (old_order, old_groups) = grouped(old);
    let (new_order, new_groups) = grouped(new);
    let mut changes = Vec::new();
    let mut single_runs = false;
    for k in &old_order {
        let Some(new_runs) = new_groups.get(k) else {
            continue;
        };
        let old_runs = &old_groups[k];
        for figure in Figure::ALL {
            let a: Vec<f64> = old_runs.iter().filter_map(|r| figure.of(r)).collect();
            let b: Vec<f64> = new_runs.iter().filter_map(|r| figure.of(r)).collect();
            if a.is_empty() || b.is_empty() {
                continue;
            }
            let samples = [a.len(), b.len()];
            let (old_value, new_value, change, noise, verdict) =
                judge(a, b, figure.higher_is_better(), threshold);
            single_runs |= noise.is_none();
            changes.push(Change {
                run: k.clone(),
                figure: figure.name(),
                old: old_value,
                new: new_value,
                change,
                noise,
                samples,
                verdict,
            });
        }
    }
    Comparison {
        threshold,
        changes,
        only_old: old_order
            .iter()
            .filter(|k| !new_groups.contains_key(*k))
            .cloned()
            .collect(),
        only_new: new_order
            .iter()
            .filter(|k| !old_groups.contains_key(*k))
            .cloned()
            .collect(),
        single_runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_beyond_the_threshold_with_no_repeats_is_judged_on_the_threshold_alone() {
        let (_, _, change, noise, verdict) = judge(vec![100.0], vec![120.0], false, 0.1);
        assert!((change - 0.2).abs() < 1e-9);
        assert_eq!((noise, verdict), (None, Verdict::Regressed));
        assert_eq!(
            judge(vec![100.0], vec![105.0], false, 0.1).4,
            Verdict::Unchanged
        );
        assert_eq!(
            judge(vec![100.0], vec![80.0], false, 0.1).4,
            Verdict::Improved
        );
    }

    #[test]
    fn throughput_regresses_when_it_falls() {
        assert_eq!(
            judge(vec![1000.0], vec![800.0], true, 0.1).4,
            Verdict::Regressed
        );
        assert_eq!(
            judge(vec![1000.0], vec![1300.0], true, 0.1).4,
            Verdict::Improved
        );
    }

    #[test]
    fn a_change_inside_the_spread_of_repeated_runs_is_noise() {
        // Old runs spread 40% around their median: a 20% rise is within it.
        let (_, _, _, noise, verdict) = judge(
            vec![80.0, 100.0, 120.0],
            vec![118.0, 120.0, 122.0],
            false,
            0.1,
        );
        assert!((noise.unwrap() - 0.4).abs() < 1e-9);
        assert_eq!(verdict, Verdict::Unchanged);
        // Tight runs: the same 20% is a regression.
        let tight = judge(
            vec![99.0, 100.0, 101.0],
            vec![119.0, 120.0, 121.0],
            false,
            0.1,
        );
        assert_eq!(tight.4, Verdict::Regressed);
    }
}
