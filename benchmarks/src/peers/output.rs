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
    /// Mean one-way latency as iceoryx2's own benchmark measures it (pre-loaned, payload
    /// untouched, its service settings), ns.
    OneWayAsIceoryx2RunsIt,
    /// Busy-polling round trip through iceoryx2's request-response API (ipc-core: its two
    /// rings), median, ns.
    RequestResponse,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::RoundTrip => "round_trip_p50_ns",
            Self::Throughput => "throughput_bytes_per_s",
            Self::BlockingRoundTrip => "blocking_round_trip_p50_ns",
            Self::OneWayAsIceoryx2RunsIt => "one_way_mean_ns_as_iceoryx2_runs_it",
            Self::RequestResponse => "request_response_round_trip_p50_ns",
        }
    }

    /// The goal on ipc-core / iceoryx2 (issue 12), for the figures it set one for: the bound
    /// and whether ipc-core must stay under it (times) or reach it (throughput).
    fn goal(self, size: usize) -> Option<(f64, bool)> {
        match self {
            Self::RoundTrip if size <= 128 => Some((0.6, true)),
            Self::RoundTrip | Self::BlockingRoundTrip => Some((1.0, true)),
            Self::Throughput => Some((1.0, false)),
            Self::OneWayAsIceoryx2RunsIt | Self::RequestResponse => None,
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
        let goal = match kind.goal(self.size) {
            Some((bound, under)) => {
                let met = if under {
                    ratio <= bound
                } else {
                    ratio >= bound
                };
                format!(
                    "{} {bound:.1} {}",
                    if under { "<=" } else { ">=" },
                    if met { "met" } else { "MISSED" }
                )
            }
            None => "-".to_string(),
        };
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

/// What one setting does to one side's figure: the figure with it and without it.
#[derive(Clone, Debug, Serialize)]
pub struct SettingEffect {
    setting: &'static str,
    side: &'static str,
    figure: &'static str,
    size: usize,
    placement: &'static str,
    with: f64,
    without: f64,
}

impl SettingEffect {
    /// `side`'s `kind` figure with `setting` (`with`) and without it (`without`).
    pub fn new(
        setting: &'static str,
        side: &'static str,
        kind: Kind,
        size: usize,
        placement: Placement,
        [with, without]: [f64; 2],
    ) -> Self {
        Self {
            setting,
            side,
            figure: kind.name(),
            size,
            placement: placement.name(),
            with: with.round(),
            without: without.round(),
        }
    }

    fn line(&self) -> String {
        format!(
            "{}: {} {} {} {}: {:.0} ns with it, {:.0} ns without ({:.2}x)",
            self.setting,
            self.side,
            self.figure,
            size_name(self.size),
            self.placement,
            self.with,
            self.without,
            self.with / self.without
        )
    }
}

/// Every setting in which the two sides differ, or in which `peers` differs from how iceoryx2's
/// authors run their own benchmark, as the output's header lists them.
pub const SETTINGS: &[&str] = &[
    "both: two processes, forked after the rings' memory is laid out; each builds its own \
     iceoryx2 node after the fork; pinned to CPUs 1 (echo) and 0 (timing). iceoryx2's own \
     benchmark runs two threads of one process at priority 255",
    "both: in each round of --runs the side that goes first alternates",
    "lossless figures: every byte copied in and out and the round number checked on both sides; \
     ipc-core reserves, copies, commits; iceoryx2 loans on the critical path, \
     write_from_slice, send",
    "lossless figures: iceoryx2 subscriber buffer 1 (round trips) or as many samples as \
     ipc-core's ring holds (throughput, at most 1024), history 0, safe overflow off, \
     RetryUntilDelivered backpressure: nothing is lost, as with ipc-core",
    "as iceoryx2 runs it: iceoryx2 with its benchmark's service (buffer 1, safe overflow on, \
     default backpressure), the next sample loaned before waiting, payloads neither written \
     nor read; ipc-core with the next message reserved before waiting, committed and released \
     without touching its bytes (it has no overflow mode: one message is in flight either way)",
    "busy-polling: ipc-core's rings are laid out SpinOnly (commits are plain stores; a ring \
     whose sides may sleep needs a swap per commit: its effect is measured below); iceoryx2 \
     polls receive()",
    "sleeping: ipc-core sleeps on the ring's futex at once (no spin); iceoryx2 sleeps on its \
     event listener (a Unix datagram socket), woken by a notifier",
    "request-response: iceoryx2's request-response API (a request, its active request, one \
     response, response buffer 1); ipc-core's two rings, as for the round trip",
    "figures: lossless ones are the p50 of each run's round trips; the as-iceoryx2-runs-it one \
     is the mean one-way time (a run's time over twice its round trips), as iceoryx2's \
     benchmark prints; each is the median over --runs runs",
];

/// Prints figures as they come.
pub struct Printer {
    format: Format,
}

impl Printer {
    /// A printer; the settings and the table's header are printed at once.
    pub fn new(format: Format) -> Self {
        match format {
            Format::Json => println!("{}", serde_json::json!({ "settings": SETTINGS })),
            Format::Table => {
                println!(
                    "Settings (where the sides, or peers and iceoryx2's own benchmark, differ):"
                );
                for setting in SETTINGS {
                    println!("- {setting}");
                }
                println!();
            }
        }
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

    /// Prints what one setting does.
    pub fn print_effect(&mut self, effect: SettingEffect) {
        match self.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string(&effect).expect("an effect serializes")
            ),
            Format::Table => println!("{}", effect.line()),
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
    fn the_settings_name_every_difference_between_the_sides() {
        let all = SETTINGS.join(" ");
        for difference in [
            "SpinOnly",
            "alternates",
            "safe overflow",
            "RetryUntilDelivered",
            "two threads of one process",
            "payloads neither written",
            "mean one-way",
        ] {
            assert!(all.contains(difference), "no setting says {difference:?}");
        }
    }

    #[test]
    fn a_figure_without_a_goal_says_so() {
        let row = Figure::new(
            Kind::OneWayAsIceoryx2RunsIt,
            8,
            Placement::CrossCore,
            60.0,
            278.0,
        )
        .row();
        assert!(row.contains(" - "), "{row}");
        assert!(row.contains("0.22"), "{row}");
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
