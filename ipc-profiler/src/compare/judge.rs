//! Matching runs across two reports and judging each figure's change: beyond the threshold
//! with confidence (docs/measuring.md, "Comparing two reports").

use std::collections::BTreeMap;

use serde::Serialize;

use super::compared::Figure;
use super::interval::ratio_interval;
use crate::result::{Report, RunResult};

/// What one figure's change amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Better beyond the threshold, with confidence.
    Improved,
    /// Worse beyond the threshold, with confidence: fails the comparison.
    Regressed,
    /// Not shown to be beyond the threshold either way.
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
    /// The larger relative spread, (max - min) / median, of the two files' samples; `None`
    /// when either has one run. Shown, not used to judge.
    pub noise: Option<f64>,
    /// Where the change lies (new / old - 1, low and high), with 95% confidence; `None` with
    /// fewer than 4 runs on a side, when the threshold alone judged the change.
    pub interval: Option<[f64; 2]>,
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
    /// True when some figure had fewer than 4 runs on a side: the threshold alone judged it.
    pub single_runs: bool,
    /// The two machines, when the files were measured on different ones (kernel, CPU model or
    /// CPU count differ): every change then mixes the machine's with the code's.
    pub different_machines: Option<[String; 2]>,
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

/// The chance each end of a change's interval is allowed to be wrong: 2.5%, so the interval is
/// a 95% one, and a figure that did not change is called regressed at most 2.5% of the time
/// even before the threshold, which makes it rarer still. (Chosen on measured files: at 5%,
/// one pair of 23 identical back-to-back sweeps had a false regression; at 2.5%, none, and a
/// CPU hog beside the run was still caught; docs/measuring.md.)
pub const ALPHA: f64 = 0.025;

/// One figure's samples judged: the medians, their change, the spread, the interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Judged {
    /// Median of the old samples.
    pub old: f64,
    /// Median of the new samples.
    pub new: f64,
    /// new / old - 1.
    pub change: f64,
    /// The larger relative spread of the two sides.
    pub noise: Option<f64>,
    /// Where the change lies, low and high (see [`Change::interval`]).
    pub interval: Option<[f64; 2]>,
    /// What it amounts to.
    pub verdict: Verdict,
}

/// Judges one figure's samples: with 4 or more runs a side the change is regressed (improved)
/// when its whole interval lies beyond the threshold on the worse (better) side, so a real
/// slowdown must be both large and clear of what the runs vary by; with fewer, the ratio of
/// the medians against the threshold alone.
pub fn judge(
    mut old: Vec<f64>,
    mut new: Vec<f64>,
    higher_is_better: bool,
    threshold: f64,
) -> Judged {
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
    let interval = ratio_interval(&old, &new, ALPHA).map(|i| [i.low - 1.0, i.high - 1.0]);
    // The change's bounds toward better and toward worse.
    let [low, high] = interval.unwrap_or([change, change]);
    let (worse, better) = if higher_is_better {
        (-high, low)
    } else {
        (low, -high)
    };
    let verdict = if worse > threshold {
        Verdict::Regressed
    } else if better > threshold {
        Verdict::Improved
    } else {
        Verdict::Unchanged
    };
    Judged {
        old: old_median,
        new: new_median,
        change,
        noise,
        interval,
        verdict,
    }
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
            let judged = judge(a, b, figure.higher_is_better(), threshold);
            single_runs |= judged.interval.is_none();
            changes.push(Change {
                run: k.clone(),
                figure: figure.name(),
                old: judged.old,
                new: judged.new,
                change: judged.change,
                noise: judged.noise,
                interval: judged.interval,
                samples,
                verdict: judged.verdict,
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
        different_machines: different_machines(old, new),
    }
}

/// The two machines' summaries, if the reports were measured on different machines.
fn different_machines(old: &Report, new: &Report) -> Option<[String; 2]> {
    let machine = |r: &Report| {
        let e = &r.environment;
        (e.kernel.clone(), e.cpu_model.clone(), e.cpus)
    };
    (machine(old) != machine(new)).then(|| {
        [old, new].map(|r| {
            let e = &r.environment;
            format!("{} with {} CPUs, Linux {}", e.cpu_model, e.cpus, e.kernel)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_with_fewer_than_four_runs_a_side_is_judged_on_the_threshold_alone() {
        let one = judge(vec![100.0], vec![120.0], false, 0.1);
        assert!((one.change - 0.2).abs() < 1e-9);
        assert_eq!(
            (one.noise, one.interval, one.verdict),
            (None, None, Verdict::Regressed)
        );
        assert_eq!(
            judge(vec![100.0], vec![105.0], false, 0.1).verdict,
            Verdict::Unchanged
        );
        assert_eq!(
            judge(vec![100.0], vec![80.0], false, 0.1).verdict,
            Verdict::Improved
        );
        let three = judge(
            vec![100.0, 101.0, 99.0],
            vec![130.0, 131.0, 129.0],
            false,
            0.1,
        );
        assert_eq!((three.interval, three.verdict), (None, Verdict::Regressed));
    }

    #[test]
    fn throughput_regresses_when_it_falls() {
        assert_eq!(
            judge(vec![1000.0], vec![800.0], true, 0.1).verdict,
            Verdict::Regressed
        );
        assert_eq!(
            judge(vec![1000.0], vec![1300.0], true, 0.1).verdict,
            Verdict::Improved
        );
        let falls = judge(
            vec![1000.0, 990.0, 1010.0],
            vec![700.0, 710.0, 690.0],
            true,
            0.1,
        );
        assert_eq!(falls.verdict, Verdict::Regressed);
    }

    #[test]
    fn a_change_the_runs_overlap_is_not_a_regression() {
        // The medians moved 20%, but the sides overlap: one old run is slower than two new
        // ones, so the interval reaches below the threshold.
        let overlapping = judge(
            vec![80.0, 100.0, 125.0, 95.0, 105.0],
            vec![118.0, 120.0, 122.0, 115.0, 121.0],
            false,
            0.1,
        );
        assert!((overlapping.change - 0.2).abs() < 1e-9);
        let [low, high] = overlapping.interval.unwrap();
        assert!(low < 0.1 && high > 0.2, "{low} {high}");
        assert_eq!(overlapping.verdict, Verdict::Unchanged);
        // Tight runs: the same 20% is a regression.
        let tight = judge(
            vec![99.0, 100.0, 101.0, 100.5, 99.5],
            vec![119.0, 120.0, 121.0, 120.5, 119.5],
            false,
            0.1,
        );
        assert_eq!(tight.verdict, Verdict::Regressed);
        // Clear but small: 5% with no overlap stays within a 10% threshold.
        let small = judge(
            vec![99.0, 100.0, 101.0, 100.5, 99.5],
            vec![104.0, 105.0, 106.0, 105.5, 104.5],
            false,
            0.1,
        );
        assert_eq!(small.verdict, Verdict::Unchanged);
    }
}
