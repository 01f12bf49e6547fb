//! `compare`'s output: a table for people, or JSON.

use comfy_table::{presets::UTF8_FULL, Table};

use super::judge::{Comparison, Verdict};
use super::Format;

/// The comparison in `format`.
pub fn render(comparison: &Comparison, format: Format) -> String {
    if format == Format::Json {
        let mut text = serde_json::to_string_pretty(comparison).expect("a comparison serializes");
        text.push('\n');
        return text;
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL);
    table.set_header(["run", "figure", "old", "new", "change", "noise", "verdict"]);
    for c in &comparison.changes {
        table.add_row([
            c.run.clone(),
            c.figure.to_string(),
            value(c.figure, c.old),
            value(c.figure, c.new),
            format!("{:+.1}%", c.change * 100.0),
            c.noise
                .map_or("one run".to_string(), |n| format!("±{:.1}%", n * 100.0)),
            match c.verdict {
                Verdict::Improved => "better".to_string(),
                Verdict::Regressed => "REGRESSED".to_string(),
                Verdict::Unchanged => "same".to_string(),
            },
        ]);
    }
    let mut text = format!("{table}\n");
    for k in &comparison.only_old {
        text.push_str(&format!("only in the old report: {k}\n"));
    }
    for k in &comparison.only_new {
        text.push_str(&format!("only in the new report: {k}\n"));
    }
    if comparison.single_runs {
        text.push_str(
            "Some figures come from a single run on one side: their noise is unknown, and the \
             threshold alone judged them (run bench --repeat N to judge it).\n",
        );
    }
    text.push_str(&format!(
        "{} regression(s) beyond {:.0}% and the noise\n",
        comparison.regressions(),
        comparison.threshold * 100.0
    ));
    text
}

fn value(figure: &str, v: f64) -> String {
    match figure {
        "msg/s" => format!("{}/s", crate::units::message_rate(v)),
        _ => crate::units::duration_ns(v),
    }
}
