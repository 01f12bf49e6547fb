//! The JSON rendering: the output contract of docs/design.md, one object.

use serde::Serialize;

/// The report (a benchmark's or a traced program's) as pretty-printed JSON with a trailing
/// newline.
pub fn render(report: &impl Serialize) -> String {
    let mut text =
        serde_json::to_string_pretty(report).expect("the report model always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{sample, Report};

    #[test]
    fn what_json_writes_the_model_reads_back() {
        let report = sample::report();
        let text = render(&report);
        let read: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(read, report);
        // Field names are the contract: a few that other tools parse.
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["tool"], "ipc-profiler");
        assert_eq!(value["results"][0]["pattern"], "latency");
        assert_eq!(value["results"][0]["latency_ns"]["p50"], 8_000);
        assert_eq!(value["results"][0]["breakdown"]["attach"], "raw_tp");
        assert_eq!(
            value["results"][0]["cpu"]["processes"][0]["user_s"],
            0.012_345_678_9
        );
    }
}
