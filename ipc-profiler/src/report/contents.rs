//! The report's contents: its tables in the comparison document's order, as both formats
//! render them.

use super::crossings;
use super::sections::{self, Table};
use crate::result::{Pattern, RunResult};

/// Every table of the report, in the comparison document's order; empty ones are left out.
/// `traced` (runs with a breakdown) fills the overhead table's kernel counts.
pub fn tables(results: &[RunResult], traced: &[RunResult]) -> Vec<Table> {
    let claims = super::claims::load();
    [
        sections::latency(results, &claims),
        sections::throughput(results, &claims),
        crossings::table(results, &claims),
        sections::scalability(results, Pattern::RequestResponse),
        sections::scalability(results, Pattern::PubSub),
        sections::scalability(results, Pattern::Pipeline),
        sections::scalability(results, Pattern::FanIn),
        sections::overhead(results, traced, &claims),
        sections::cpu_per_gib(results),
        sections::decisions(results),
        Some(sections::features(results)),
        Some(sections::mapping(&claims)),
    ]
    .into_iter()
    .flatten()
    .filter(|t| !t.rows.is_empty())
    .collect()
}
