//! Summaries of repeated measurements.

/// The median of `values` (the upper one of an even count): what the benchmarks report of
/// interleaved runs, because the VM's neighbours move single runs by tens of percent.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
