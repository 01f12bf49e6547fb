//! The figures `peers` prints: one JSON object per line, or a table with the goal beside each.

use serde::Serialize;

use super::Placement;

/// How `peers` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An aligned table for people, with each figure's ratio and goal.
    Table,
    /// One JSON object per figure and line.
    Json,
}

/// What a figure measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Busy-polling round trip, median, ns.
    RoundTrip,
    /// One-way throughput, bytes per second.
    Throughput,
    /// Round trip with each side sleeping while it waits, median, ns.
    BlockingRoundTrip,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::RoundTrip => "round_trip_p50_ns",
            Self::Throughput => "throughput_bytes_per_s",
            Self::BlockingRoundTrip => "blocking_round_trip_p50_ns",
        }
    }

    /// The goal on ipc-core / iceoryx2 (issue 12): the bound and whether ipc-core must stay
    /// under it (times) or reach it (throughput).
    fn goal(self, size: usize) -> (f64, bool) {
        match self {
            Self::RoundTrip if size <= 128 => (0.6, true),
            Self::RoundTrip | Self::BlockingRoundTrip => (1.0, true),
            Self::Throughput => (1.0, false),
        }
    }
}

/// One figure of both sides, as printed in JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    figure: &'static str,
    size: usize,
    placement: &'static str,
    ipc_core: f64,
    iceoryx2: f64,
    /// The no-ring hand-off of the same bytes (round trips only), ns.
    #[serde(skip_serializing_if = "Option::is_none")]
    handoff_floor: Option<f64>,
    #[serde(skip)]
    kind: Option<Kind>,
}

impl Figure {
    /// Both sides' values of one figure.
    pub fn new(
        kind: Kind,
        size: usize,
        placement: Placement,
        ipc_core: f64,
        iceoryx2: f64,
    ) -> Self {
        Self {
            figure: kind.name(),
            size,
            placement: placement.name(),
            ipc_core: ipc_core.round(),
            iceoryx2: iceoryx2.round(),
            handoff_floor: None,
            kind: Some(kind),
        }
    }

    /// The same figure with the no-ring floor measured beside it.
    pub fn with_floor(mut self, floor: f64) -> Self {
        self.handoff_floor = Some(floor.round());
        self
    }

    fn row(&self) -> String {
        let kind = self.kind.expect("a measured figure");
        let ratio = self.ipc_core / self.iceoryx2;
        let (bound, under) = kind.goal(self.size);
        let met = if under {
            ratio <= bound
        } else {
            ratio >= bound
        };
        let goal = format!(
            "{} {bound:.1} {}",
            if under { "<=" } else { ">=" },
            if met { "met" } else { "MISSED" }
        );
        let value = |v: f64| match kind {
            Kind::Throughput => format!("{:.2} GB/s", v / 1e9),
            _ => format!("{v:.0} ns"),
        };
        let floor = self.handoff_floor.map_or(String::new(), |f| {
            format!(
                "{} ({:.2}x / {:.2}x)",
                value(f),
                self.ipc_core / f,
                self.iceoryx2 / f
            )
        });
        format!(
            "{:<27} {:>8} {:<11} {:>14} {:>14} {:>6.2} {:<13} {}",
            self.figure,
            size_name(self.size),
            self.placement,
            value(self.ipc_core),
            value(self.iceoryx2),
            ratio,
            goal,
            floor
        )
    }
}

fn size_name(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

/// Prints figures as they come.
pub struct Printer {
    format: Format,
}

impl Printer {
    /// A printer; the table's header is printed at once.
    pub fn new(format: Format) -> Self {
        if format == Format::Table {
            println!(
                "{:<27} {:>8} {:<11} {:>14} {:>14} {:>6} {:<13} hand-off floor (ipc-core / iceoryx2 vs it)",
                "figure",
                "size",
                "placement",
                "ipc-core",
                "iceoryx2",
                "ratio",
                "goal",
            );
        }
        Self { format }
    }

    /// Prints one figure.
    pub fn print(&mut self, figure: Figure) {
        match self.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string(&figure).expect("a figure serializes")
            ),
            Format::Table => println!("{}", figure.row()),
        }
    }

    /// Ends the output.
    pub fn finish(self) {
        if self.format == Format::Table {
            println!(
                "\nratio = ipc-core / iceoryx2; every figure is the median of interleaved runs."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_prints_as_the_json_object_the_issue_names() {
        let figure = Figure::new(Kind::RoundTrip, 128, Placement::CrossCore, 231.4, 1022.0);
        let json: serde_json::Value = serde_json::to_value(&figure).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"figure": "round_trip_p50_ns", "size": 128,
                "placement": "cross-core", "ipc_core": 231.0, "iceoryx2": 1022.0})
        );
        let floored = serde_json::to_value(figure.with_floor(170.0)).unwrap();
        assert_eq!(floored["handoff_floor"], 170.0);
    }

    #[test]
    fn the_table_says_whether_each_goal_is_met() {
        let small = Figure::new(Kind::RoundTrip, 8, Placement::CrossCore, 700.0, 1000.0);
        assert!(small.row().contains("<= 0.6 MISSED"), "{}", small.row());
        let large = Figure::new(
            Kind::RoundTrip,
            1 << 20,
            Placement::CrossCore,
            700.0,
            1000.0,
        );
        assert!(large.row().contains("<= 1.0 met"), "{}", large.row());
        let throughput = Figure::new(Kind::Throughput, 64, Placement::CrossCore, 2e9, 1e9);
        assert!(throughput.row().contains("2.00 GB/s"));
        assert!(throughput.row().contains(">= 1.0 met"));
    }
}
