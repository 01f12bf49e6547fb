//! How sure a change is: a distribution-free confidence interval for the ratio of two sets of
//! samples (the Hodges-Lehmann estimate's interval, read off the Mann-Whitney U distribution).
//!
//! Every new sample is divided by every old one; the interval runs from the k-th smallest of
//! those n × m ratios to the k-th largest, with k chosen from the exact distribution of U so
//! that each end is wrong with a chance of at most `alpha` when the two sides differ by a
//! constant factor. No assumption about the shape of the samples (latencies are skewed, often
//! bimodal) enters; only that the runs of a side are alike and independent, which alternated
//! repeats make as true as a shared machine allows.

/// A two-sided interval for new / old, each end holding with probability at least 1 - alpha.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatioInterval {
    /// The lower end of new / old.
    pub low: f64,
    /// The upper end of new / old.
    pub high: f64,
}

/// The interval for new / old from positive samples, or `None` when the sides are too small
/// for any interval at this `alpha` (fewer than 3 runs a side at 0.05, 4 at 0.025).
pub fn ratio_interval(old: &[f64], new: &[f64], alpha: f64) -> Option<RatioInterval> {
    let k = order_for(old.len(), new.len(), alpha)?;
    let mut ratios: Vec<f64> = new
        .iter()
        .flat_map(|b| old.iter().map(move |a| b / a))
        .filter(|r| r.is_finite())
        .collect();
    if ratios.len() != old.len() * new.len() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    Some(RatioInterval {
        low: ratios[k - 1],
        high: ratios[ratios.len() - k],
    })
}

/// The largest k (1-based) with P(U < k) <= alpha under no difference, for sides of `n` and
/// `m` samples; `None` when even k = 1 has a larger chance.
fn order_for(n: usize, m: usize, alpha: f64) -> Option<usize> {
    if n == 0 || m == 0 {
        return None;
    }
    let counts = u_counts(n, m);
    let total: f64 = counts.iter().sum();
    let mut below = 0.0;
    let mut k = 0;
    for count in counts {
        below += count;
        if below / total > alpha {
            break;
        }
        k += 1;
    }
    (k > 0).then_some(k)
}

/// How many of the C(n + m, n) orderings of the samples give each value of U, 0 to n × m.
fn u_counts(n: usize, m: usize) -> Vec<f64> {
    // counts[i][j][u]: orderings of i old and j new samples with U = u, built one sample at a
    // time (a new sample placed above all i old ones adds i to U).
    let mut previous: Vec<Vec<f64>> = (0..=m).map(|_| vec![1.0]).collect();
    for i in 1..=n {
        let mut row: Vec<Vec<f64>> = Vec::with_capacity(m + 1);
        row.push(vec![1.0]);
        for j in 1..=m {
            let mut counts = vec![0.0; i * j + 1];
            // The largest sample is old: U unchanged, from (i - 1, j).
            for (u, c) in previous[j].iter().enumerate() {
                counts[u] += c;
            }
            // The largest sample is new: it is above all i old ones, from (i, j - 1).
            for (u, c) in row[j - 1].iter().enumerate() {
                counts[u + i] += c;
            }
            row.push(counts);
        }
        previous = row;
    }
    previous.pop().expect("m + 1 rows")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orders_match_the_mann_whitney_tables() {
        // One-sided 5%: U <= 4 for 5 and 5 (12/252 = 0.048), U = 0 for 3 and 3 (1/20).
        assert_eq!(order_for(5, 5, 0.05), Some(5));
        assert_eq!(order_for(3, 3, 0.05), Some(1));
        assert_eq!(order_for(5, 5, 0.01), Some(2));
        assert_eq!(order_for(2, 2, 0.05), None, "1/6 > 5%");
        assert_eq!(order_for(10, 10, 0.05), Some(28));
        // Two-sided 95%: U <= 2 for 5 and 5 (4/252 = 0.016; U <= 3 is 7/252 = 0.028).
        assert_eq!(order_for(5, 5, 0.025), Some(3));
        assert_eq!(order_for(4, 4, 0.025), Some(1));
        assert_eq!(order_for(3, 3, 0.025), None);
        let counts = u_counts(5, 5);
        assert_eq!(counts.iter().sum::<f64>(), 252.0);
        assert_eq!(counts.len(), 26);
        assert_eq!(counts[0], 1.0);
        assert_eq!(counts[1], 1.0);
        assert_eq!(counts[2], 2.0);
    }

    #[test]
    fn the_interval_brackets_a_shift_and_widens_with_the_spread() {
        let old = [100.0, 101.0, 99.0, 100.5, 99.5];
        let new: Vec<f64> = old.iter().map(|v| v * 1.3).collect();
        let tight = ratio_interval(&old, &new, 0.05).unwrap();
        assert!(tight.low > 1.25 && tight.high < 1.35, "{tight:?}");
        let noisy_old = [60.0, 100.0, 140.0, 80.0, 120.0];
        let wide = ratio_interval(&noisy_old, &new, 0.05).unwrap();
        assert!(wide.low < 1.1 && wide.high > 1.5, "{wide:?}");
        assert_eq!(ratio_interval(&old[..2], &new[..2], 0.05), None);
    }
}
