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
    table.set_header([
        "run",
        "figure",
        "old",
        "new",
        "change",
        "95% interval",
        "verdict",
    ]);
    for c in &comparison.changes {
        table.add_row([
            c.run.clone(),
            c.figure.to_string(),
            value(c.figure, c.old),
            value(c.figure, c.new),
            format!("{:+.1}%", c.change * 100.0),
            c.interval.map_or(
                format!("{} and {} runs", c.samples[0], c.samples[1]),
                |[low, high]| format!("{:+.1}% to {:+.1}%", low * 100.0, high * 100.0),
            ),
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
    if let Some([old, new]) = &comparison.different_machines {
        text.push_str(&format!(
            "The files were measured on different machines ({old}; then {new}): each change \
             mixes the machine's with the code's.\n"
        ));
    }
    if comparison.single_runs {
        text.push_str(
            "Some figures have fewer than 4 runs on a side: how much they vary is unknown, and \
             the threshold alone judged them (run bench --repeat 5 on both sides).\n",
        );
    }
    text.push_str(&format!(
        "{} regression(s) surely beyond {:.0}%\n",
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
