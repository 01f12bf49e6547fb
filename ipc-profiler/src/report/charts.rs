//! The report's charts, drawn as SVG with plotters: latency percentiles per mechanism on a log
//! axis, throughput against message size (log-log), and scalability against process count.

use plotters::prelude::*;

use super::sections::{latency_runs, mechanisms_of, scalability_value, throughput_sizes};
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

fn size_label(bytes: &f64) -> String {
    crate::units::size_label(bytes.round() as usize)
}

fn nanos_label(ns: &f64) -> String {
    crate::units::duration_ns(*ns)
}

/// Every chart the results allow; `traced` (runs with a breakdown) adds where the time goes.
pub fn charts(results: &[RunResult], traced: &[RunResult]) -> Vec<Chart> {
    [
        latency(results),
        throughput(results),
        cpu_per_gib(results),
        scalability(results, Pattern::RequestResponse),
        time_split(traced),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// One side's time per round trip, split as docs/report.md defines it: on-CPU in user and in
/// kernel mode, and off-CPU; wake-to-run is part of off-CPU.
struct Side {
    label: String,
    user: f64,
    kernel: f64,
    off_cpu: f64,
    wake_to_run: f64,
    note: String,
}

fn sides(traced: &[RunResult]) -> Vec<Side> {
    let mut sides = Vec::new();
    for run in traced {
        let Some(b) = &run.breakdown else { continue };
        for p in &b.processes {
            let m = &p.per_message;
            let user = m.user_ns.unwrap_or(0.0);
            let off_cpu = m.off_cpu_ns.unwrap_or(0.0);
            if user + m.kernel_ns + off_cpu <= 0.0 {
                continue;
            }
            sides.push(Side {
                label: format!("{} {}", run.mechanism, p.role),
                user,
                kernel: m.kernel_ns,
                off_cpu,
                wake_to_run: m.wake_to_run_ns.unwrap_or(0.0).min(off_cpu),
                note: format!(
                    "{} · {:.1} syscalls · {:.1} switches · {}",
                    crate::units::duration_ns(user + m.kernel_ns + off_cpu),
                    m.syscalls,
                    m.context_switches.unwrap_or(0.0),
                    crate::units::bytes(m.bytes_copied.unwrap_or(0.0))
                ),
            });
        }
    }
    sides
}

/// Where each side's time per round trip goes, as a share of that side's total (written at
/// the end of its bar with the syscalls, context switches and bytes copied per round trip):
/// user, kernel and off-CPU side by side (they do not overlap, and add up to the side's time);
/// wake-to-run, a part of off-CPU, as a thinner bar inside it.
fn time_split(traced: &[RunResult]) -> Option<Chart> {
    let sides = sides(traced);
    if sides.is_empty() {
        return None;
    }
    let note_width = 300;
    let height = 90 + 24 * sides.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let labels: Vec<String> = sides.iter().map(|s| s.label.clone()).collect();
        let rows = sides.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(note_width)
            .margin_bottom(34)
            .x_label_area_size(36)
            .y_label_area_size(130)
            .build_cartesian_2d(0f64..100.0, -0.5f64..rows - 0.5)
            .ok()?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("share of the side's time per round trip, %")
            .y_labels(sides.len())
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() < 0.01 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .draw()
            .ok()?;
        let parts = ["user", "kernel", "off-CPU", "of which wake-to-run"];
        for (row, side) in sides.iter().enumerate() {
            let total = side.user + side.kernel + side.off_cpu;
            let share = |v: f64| 100.0 * v / total;
            let y = row as f64;
            let (u, k) = (share(side.user), share(side.kernel));
            let segments = [(0.0, u, 0usize), (u, u + k, 1), (u + k, 100.0, 2)];
            for (from, to, part) in segments {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(from, y - 0.35), (to, y + 0.35)],
                        colour(part).filled(),
                    )))
                    .ok()?;
            }
            let wake = share(side.wake_to_run);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(u + k, y - 0.12), (u + k + wake, y + 0.12)],
                    colour(3).filled(),
                )))
                .ok()?;
            let (_, py) = chart.backend_coord(&(100.0, y));
            root.draw(&Text::new(
                side.note.clone(),
                ((WIDTH - note_width + 8) as i32, py - 7),
                ("sans-serif", 12),
            ))
            .ok()?;
        }
        let x = 140;
        for (i, name) in parts.iter().enumerate() {
            let at = (x + 150 * i as i32, height as i32 - 14);
            root.draw(&Rectangle::new(
                [(at.0, at.1 - 5), (at.0 + 14, at.1 + 3)],
                colour(i).filled(),
            ))
            .ok()?;
            root.draw(&Text::new(
                name.to_string(),
                (at.0 + 20, at.1 - 7),
                ("sans-serif", 12),
            ))
            .ok()?;
        }
        root.present().ok()?;
    }
    Some(Chart {
        title: "Where a round trip's time goes, per side (traced)".into(),
        svg,
    })
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
    by_size(
        results,
        "Throughput against message size",
        "payload per second (log scale)",
        &|r| r.throughput.as_ref().map(|t| t.bytes_per_sec),
        &|v| crate::units::byte_rate(*v),
    )
}

/// CPU seconds per GiB moved against message size, one line per mechanism, log-log.
fn cpu_per_gib(results: &[RunResult]) -> Option<Chart> {
    by_size(
        results,
        "CPU time to move 1 GiB against message size",
        "CPU seconds per GiB, both sides (log scale)",
        &|r| Some(super::sections::cpu_seconds_per_gib(r)).filter(|v| *v > 0.0),
        &|v| format!("{v:.2} s"),
    )
}

/// A figure of the throughput runs against message size, one line per mechanism, log-log.
fn by_size(
    results: &[RunResult],
    title: &str,
    y_desc: &str,
    value_of: &dyn Fn(&RunResult) -> Option<f64>,
    y_label: &dyn Fn(&f64) -> String,
) -> Option<Chart> {
    let sizes = throughput_sizes(results);
    let mechanisms = mechanisms_of(results, Pattern::Throughput);
    let lines: Vec<(String, Vec<(f64, f64)>)> = mechanisms
        .iter()
        .map(|m| {
            let points = results
                .iter()
                .filter(|r| {
                    r.pattern == Pattern::Throughput
                        && &r.mechanism == m
                        && r.unsupported.is_none()
                        && r.verified
                })
                .filter_map(|r| value_of(r).map(|v| (r.message_size as u64, v)))
                .collect::<std::collections::BTreeMap<u64, f64>>()
                .into_iter()
                .map(|(s, v)| (s as f64, v))
                .collect();
            (m.clone(), points)
        })
        .filter(|(_, p): &(String, Vec<(f64, f64)>)| !p.is_empty())
        .collect();
    let x = log_range(sizes.iter().map(|s| *s as f64))?;
    lines_chart(
        title.into(),
        &lines,
        x,
        ("message size (log scale)", &size_label),
        (y_desc, y_label),
    )
}

/// The named lines of points on log-log axes, each named at its end, in the right margin, in its
/// colour (a leader line joins them where names had to move apart): no legend to match colours
/// against. Markers cycle through three shapes besides the twenty colours. The x axis is marked
/// at the values measured (64 B, 1 KiB, ... or the counts), not at powers of ten. `x_axis` and
/// `y_axis` are each a description and a label format.
fn lines_chart(
    title: String,
    lines: &[(String, Vec<(f64, f64)>)],
    x: std::ops::Range<f64>,
    x_axis: (&str, &dyn Fn(&f64) -> String),
    y_axis: (&str, &dyn Fn(&f64) -> String),
) -> Option<Chart> {
    let y = log_range(lines.iter().flat_map(|(_, p)| p.iter().map(|(_, v)| *v)))?;
    let mut measured_x: Vec<f64> = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .collect();
    measured_x.sort_by(f64::total_cmp);
    measured_x.dedup();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(LEGEND_WIDTH)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(x.log_scale().with_key_points(measured_x), y.log_scale())
            .ok()?;
        chart
            .configure_mesh()
            .x_desc(x_axis.0)
            .x_label_formatter(x_axis.1)
            .y_desc(y_axis.0)
            .y_label_formatter(y_axis.1)
            .draw()
            .ok()?;
        let mut ends = Vec::with_capacity(lines.len());
        for (i, (_, points)) in lines.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .ok()?;
            for p in points {
                match i % 3 {
                    0 => chart
                        .draw_series([Circle::new(*p, 3, c.filled())])
                        .map(|_| ()),
                    1 => chart
                        .draw_series([TriangleMarker::new(*p, 4, c.filled())])
                        .map(|_| ()),
                    _ => chart
                        .draw_series([Cross::new(*p, 3, c.stroke_width(2))])
                        .map(|_| ()),
                }
                .ok()?;
            }
            ends.push(chart.backend_coord(points.last()?));
        }
        let wanted: Vec<i32> = ends.iter().map(|(_, y)| *y).collect();
        let placed = label_rows(&wanted, 12, HEIGHT as i32 - 40);
        let label_x = (WIDTH - LEGEND_WIDTH + 14) as i32;
        for (i, ((name, _), (&(end_x, end_y), &row))) in
            lines.iter().zip(ends.iter().zip(&placed)).enumerate()
        {
            let c = colour(i);
            root.draw(&PathElement::new(
                vec![(end_x + 4, end_y), (label_x - 4, row)],
                c.stroke_width(1),
            ))
            .ok()?;
            root.draw(&Text::new(
                name.to_string(),
                (label_x, row - 7),
                ("sans-serif", 13).into_font().color(&c),
            ))
            .ok()?;
        }
        root.present().ok()?;
    }
    Some(Chart { title, svg })
}

/// Height of a line chart, in pixels.
const HEIGHT: u32 = 520;

/// Pixels between two label rows: a 13-pixel font and a gap.
const LABEL_ROW: i32 = 15;

/// Rows for labels that want to stand at `wanted` (pixel heights, one per line): each as near
/// its own as it can, in the same order, at least [`LABEL_ROW`] apart, between `top` and
/// `bottom` (as far as the count allows).
fn label_rows(wanted: &[i32], top: i32, bottom: i32) -> Vec<i32> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| (wanted[i], i));
    let mut rows = vec![0; wanted.len()];
    // Down from the top: each at its wish or just below the one above it.
    let mut next = top;
    for &i in &order {
        rows[i] = wanted[i].max(next);
        next = rows[i] + LABEL_ROW;
    }
    // Up from the bottom: what ran past it moves up, keeping the gaps.
    let mut limit = bottom.max(top + LABEL_ROW * (wanted.len() as i32 - 1));
    for &i in order.iter().rev() {
        rows[i] = rows[i].min(limit);
        limit = rows[i] - LABEL_ROW;
    }
    rows
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
                .filter_map(|r| Some((f64::from(r.pattern_count()?), scalability_value(r)?)))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (m.clone(), points)
        })
        .filter(|(_, p)| p.len() > 1)
        .collect();
    let counts = lines.iter().flat_map(|(_, p)| p.iter().map(|(c, _)| *c));
    let x = log_range(counts)?;
    lines_chart(
        format!("Scalability: {} round trip against clients", pattern.name()),
        &lines,
        x,
        ("clients (log scale)", &|c| format!("{c:.0}")),
        ("round trip p50 (log scale)", &nanos_label),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_rows_keep_their_order_apart_and_inside() {
        let rows = label_rows(&[100, 101, 102, 400], 12, 480);
        assert_eq!(rows, [100, 115, 130, 400]);
        let crowded = label_rows(&[479, 479, 479, 479, 479], 12, 480);
        assert_eq!(crowded, [420, 435, 450, 465, 480]);
        let out_of_order = label_rows(&[300, 50, 299], 12, 480);
        assert_eq!(out_of_order, [314, 50, 299]);
    }

    /// The label texts of a chart's SVG: (colour, y, text) of each `<text>` in the right margin.
    fn labels(svg: &str) -> Vec<(String, i32, String)> {
        let margin = (WIDTH - LEGEND_WIDTH) as i32;
        svg.split("<text")
            .skip(1)
            .filter_map(|element| {
                let attribute = |name: &str| {
                    let start = element.find(&format!(" {name}=\""))? + name.len() + 3;
                    let end = element[start..].find('"')? + start;
                    Some(element[start..end].to_string())
                };
                let x: i32 = attribute("x")?.parse().ok()?;
                let y: i32 = attribute("y")?.parse().ok()?;
                let text = element[element.find('>')? + 1..element.find("</text>")?]
                    .trim()
                    .to_string();
                (x > margin).then(|| (attribute("fill").unwrap_or_default(), y, text))
            })
            .collect()
    }

    #[test]
    fn every_mechanism_s_line_ending_together_gets_its_own_label_in_its_own_colour() {
        let mechanisms = crate::mechanism::all()
            .iter()
            .filter(|m| m.carries_payload())
            .count();
        let lines: Vec<(String, Vec<(f64, f64)>)> = (0..mechanisms)
            .map(|i| {
                let end = 1e9 + i as f64 * 1e6; // all within a pixel or two of each other
                (format!("mech-{i}"), vec![(64.0, 1e6), (1_048_576.0, end)])
            })
            .collect();
        let chart = lines_chart(
            "t".into(),
            &lines,
            64.0..1_048_576.0,
            ("size", &size_label),
            ("rate", &|v| format!("{v:.0}")),
        )
        .unwrap();
        let found = labels(&chart.svg);
        let names: Vec<&str> = found.iter().map(|(_, _, t)| t.as_str()).collect();
        for (name, _) in &lines {
            assert_eq!(
                names.iter().filter(|n| **n == name.as_str()).count(),
                1,
                "{name} labelled once: {names:?}"
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for (colour, y, name) in &found {
            assert!(
                seen.insert((colour.clone(), *y)),
                "{name} shares a colour and a row"
            );
        }
        let mut ys: Vec<i32> = found.iter().map(|(_, y, _)| *y).collect();
        ys.sort();
        assert!(
            ys.windows(2).all(|w| w[1] - w[0] >= LABEL_ROW),
            "labels overlap: {ys:?}"
        );
        // The x axis is marked at the sizes measured, in people's units.
        let all: Vec<String> = chart
            .svg
            .split("<text")
            .skip(1)
            .filter_map(|e| Some(e[e.find('>')? + 1..e.find("</text>")?].trim().to_string()))
            .collect();
        assert!(
            all.iter().any(|t| t == "64 B") && all.iter().any(|t| t == "1 MiB"),
            "{all:?}"
        );
    }
}
