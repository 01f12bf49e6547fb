//! Latency figures shared by the patterns: round-trip histograms as workers send them to the
//! controller, and one-way latencies from two workers' CLOCK_MONOTONIC stamps.

use std::io::Cursor;

use anyhow::bail;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;

use crate::result::LatencySummary;

/// Highest latency a histogram records exactly (60 s); longer ones saturate.
const MAX_TRACKABLE_NS: u64 = 60_000_000_000;

/// An empty histogram of nanoseconds, 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_TRACKABLE_NS, 3)?)
}

/// `histogram` as a worker sends it (hdrhistogram's V2 format).
pub fn serialize(histogram: &Histogram<u64>) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(histogram, &mut bytes)
        .map_err(|e| anyhow::anyhow!("could not serialize the histogram: {e:?}"))?;
    Ok(bytes)
}

/// A histogram a worker sent.
pub fn deserialize(bytes: &[u8]) -> anyhow::Result<Histogram<u64>> {
    Deserializer::new()
        .deserialize(&mut Cursor::new(bytes))
        .map_err(|e| anyhow::anyhow!("unreadable histogram: {e:?}"))
}

/// The arrival time of a message that never arrived (lossy delivery).
pub const NOT_RECEIVED: u64 = u64::MAX;

/// One-way latency per message: `received[i] - sent[i]`, both CLOCK_MONOTONIC nanoseconds
/// taken by two processes (one clock for the whole machine); a message [`NOT_RECEIVED`] has
/// none.
pub fn one_way(sent: &[u64], received: &[u64]) -> anyhow::Result<LatencySummary> {
    if sent.len() != received.len() {
        bail!(
            "{} messages were timed leaving but {} arriving",
            sent.len(),
            received.len()
        );
    }
    let mut latencies = histogram()?;
    for (at, from) in received.iter().zip(sent) {
        if *at != NOT_RECEIVED {
            latencies.saturating_record(at.saturating_sub(*from).max(1));
        }
    }
    Ok(LatencySummary::from_histogram(&latencies))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_way_latency_subtracts_each_pair() {
        let summary = one_way(&[100, 1_000, 5_000], &[1_100, 3_000, 5_500]).unwrap();
        assert_eq!((summary.min, summary.max), (500, 2_000));
        assert!(one_way(&[1, 2], &[3]).is_err(), "a lost stamp is an error");
        let lossy = one_way(&[100, 200], &[NOT_RECEIVED, 700]).unwrap();
        assert_eq!(
            (lossy.min, lossy.max),
            (500, 500),
            "a lost message has no latency"
        );
    }

    #[test]
    fn a_histogram_survives_the_trip_to_the_controller() {
        let mut sent = histogram().unwrap();
        sent.record(12_345).unwrap();
        let back = deserialize(&serialize(&sent).unwrap()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back.max(), sent.max());
    }
}
