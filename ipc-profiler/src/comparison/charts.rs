//! The report's charts, drawn as SVG with plotters: latency percentiles per mechanism on a log
//! axis, throughput against message size (log-log), and scalability against process count.

use plotters::prelude::*;

use super::sections::{
    count_of, latency_runs, mechanisms_of, scalability_value, throughput_at, throughput_sizes,
};
use crate::result::{Pattern, RunResult};

/// A chart: its title and its SVG.
pub struct Chart {
    /// What it shows.
    pub title: String,
    /// The drawing.
    pub svg: String,
}

const WIDTH: u32 = 860;

/// Twenty colours that stay apart on white (Tableau's 20, the pale ones darkened).
const COLOURS: [(u8, u8, u8); 20] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (57, 59, 121),
    (173, 73, 74),
    (99, 121, 57),
    (140, 109, 49),
    (123, 65, 115),
    (82, 84, 163),
    (189, 158, 57),
    (132, 60, 57),
    (165, 81, 148),
    (0, 0, 0),
];

fn colour(i: usize) -> RGBColor {
    let (r, g, b) = COLOURS[i % COLOURS.len()];
    RGBColor(r, g, b)
}

/// Room on the right for the legend, outside the plot.
const LEGEND_WIDTH: u32 = 150;

/// A legend in the right margin: a colour swatch and a name per line, in drawing order.
fn legend<'n, DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    names: impl Iterator<Item = &'n str>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let x = (WIDTH - LEGEND_WIDTH + 10) as i32;
    for (i, name) in names.enumerate() {
        let y = 20 + 18 * i as i32;
        root.draw(&Rectangle::new(
            [(x, y - 2), (x + 16, y + 3)],
            colour(i).filled(),
        ))?;
        root.draw(&Text::new(
            name.to_string(),
            (x + 22, y - 7),
            ("sans-serif", 13),
        ))?;
    }
    Ok(())
}

fn size_label(bytes: &f64) -> String {
    crate::size::size_label(bytes.round() as usize)
}

fn nanos_label(ns: &f64) -> String {
    crate::report::units::duration_ns(*ns)
}

/// Every chart the results allow.
pub fn charts(results: &[RunResult]) -> Vec<Chart> {
    [
        latency(results),
        throughput(results),
        scalability(results, Pattern::RequestResponse),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn log_range(values: impl Iterator<Item = f64>) -> Option<std::ops::Range<f64>> {
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    (hi > 0.0).then(|| lo / 2.0..hi * 2.0)
}

/// Latency percentiles (p50, p90, p99, p99.9) of each mechanism, one row each, log x.
fn latency(results: &[RunResult]) -> Option<Chart> {
    let runs = latency_runs(results);
    let points: Vec<(String, [f64; 4])> = runs
        .iter()
        .filter_map(|r| {
            let l = r.latency_ns.as_ref()?;
            Some((
                r.mechanism.clone(),
                [l.p50, l.p90, l.p99, l.p999].map(|v| v as f64),
            ))
        })
        .collect();
    let x = log_range(points.iter().flat_map(|(_, p)| p.iter().copied()))?;
    let height = 80 + 26 * points.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let names: Vec<String> = points.iter().map(|(n, _)| n.clone()).collect();
        let rows = points.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(110)
            .build_cartesian_2d(x.log_scale(), -0.5f64..rows - 0.5)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("round trip (log scale)")
            .x_label_formatter(&nanos_label)
            .y_labels(points.len())
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() < 0.01 && i >= 0.0 {
                    names.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .draw()
            .ok()?;
        for (row, (_, p)) in points.iter().enumerate() {
            let y = row as f64;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(p[0], y), (p[3], y)],
                    BLACK.mix(0.4),
                )))
                .ok()?;
        }
        let labels = ["p50", "p90", "p99", "p99.9"];
        for (k, label) in labels.iter().enumerate() {
            chart
                .draw_series(
                    points.iter().enumerate().map(|(row, (_, p))| {
                        Circle::new((p[k], row as f64), 5, colour(k).filled())
                    }),
                )
                .ok()?
                .label(*label)
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour(k).filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(Chart {
        title: "Latency percentiles per mechanism".into(),
        svg,
    })
}

/// Payload bytes per second against message size, one line per mechanism, log-log.
fn throughput(results: &[RunResult]) -> Option<Chart> {
    let sizes = throughput_sizes(results);
    let mechanisms = mechanisms_of(results, Pattern::Throughput);
    let lines: Vec<(String, Vec<(f64, f64)>)> = mechanisms
        .iter()
        .map(|m| {
            let points = sizes
                .iter()
                .filter_map(|&s| throughput_at(results, m, s).map(|v| (s as f64, v)))
                .collect();
            (m.clone(), points)
        })
        .filter(|(_, p): &(String, Vec<(f64, f64)>)| !p.is_empty())
        .collect();
    let x = log_range(sizes.iter().map(|s| *s as f64))?;
    let y = log_range(lines.iter().flat_map(|(_, p)| p.iter().map(|(_, v)| *v)))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 520)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(LEGEND_WIDTH)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(x.log_scale(), y.log_scale())
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("message size (log scale)")
            .x_label_formatter(&size_label)
            .y_desc("payload per second (log scale)")
            .y_label_formatter(&|v| super::sections::rate(*v))
            .draw()
            .ok()?;
        for (i, (_, points)) in lines.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .ok()?;
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))
                .ok()?;
        }
        legend(&root, lines.iter().map(|(name, _)| name.as_str())).ok()?;
        root.present().ok()?;
    }
    Some(Chart {
        title: "Throughput against message size".into(),
        svg,
    })
}

/// p50 against process count for `pattern`, one line per mechanism, log y.
fn scalability(results: &[RunResult], pattern: Pattern) -> Option<Chart> {
    let mechanisms = mechanisms_of(results, pattern);
    let size = results
        .iter()
        .filter(|r| r.pattern == pattern && r.unsupported.is_none())
        .map(|r| r.message_size)
        .min()?;
    let lines: Vec<(String, Vec<(f64, f64)>)> = mechanisms
        .iter()
        .map(|m| {
            let mut points: Vec<(f64, f64)> = results
                .iter()
                .filter(|r| {
                    r.pattern == pattern
                        && &r.mechanism == m
                        && r.message_size == size
                        && r.unsupported.is_none()
                })
                .filter_map(|r| Some((f64::from(count_of(r)?), scalability_value(r)?)))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (m.clone(), points)
        })
        .filter(|(_, p)| p.len() > 1)
        .collect();
    let counts = lines.iter().flat_map(|(_, p)| p.iter().map(|(c, _)| *c));
    let x = log_range(counts)?;
    let y = log_range(lines.iter().flat_map(|(_, p)| p.iter().map(|(_, v)| *v)))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 520)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(LEGEND_WIDTH)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(x.log_scale(), y.log_scale())
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("clients (log scale)")
            .x_label_formatter(&|c| format!("{c:.0}"))
            .y_desc("round trip p50 (log scale)")
            .y_label_formatter(&nanos_label)
            .draw()
            .ok()?;
        for (i, (_, points)) in lines.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .ok()?;
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))
                .ok()?;
        }
        legend(&root, lines.iter().map(|(name, _)| name.as_str())).ok()?;
        root.present().ok()?;
    }
    Some(Chart {
        title: format!("Scalability: {} round trip against clients", pattern.name()),
        svg,
    })
}
