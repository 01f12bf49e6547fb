//! A report with every field filled, for the renderings' tests and the JSON round trip.

use super::*;

/// A report of two results, one of them traced, with every optional figure present.
pub fn report() -> Report {
    let cpu = CpuSummary::from_processes(
        vec![
            ProcessCpu {
                role: "client".into(),
                usage: CpuUsage {
                    user_s: 0.012_345_678_9,
                    sys_s: 0.1,
                    voluntary_switches: 20_001,
                    involuntary_switches: 3,
                },
            },
            ProcessCpu {
                role: "server".into(),
                usage: CpuUsage::default(),
            },
        ],
        20_000,
    );
    let per_message = PerMessage {
        syscalls: 4.0,
        kernel_ns: 7_123.456,
        user_ns: Some(1.0 / 3.0),
        context_switches: Some(2.0),
        bytes_copied: Some(512.0),
        socket_bytes_copied: Some(256.0),
        io_uring_submissions: None,
        io_uring_completions: None,
        wakeups: Some(2.0),
        wake_to_run_ns: Some(1_234.5),
        off_cpu_ns: Some(12_000.25),
        migrations: Some(0.0),
        on_cpu_ns: None,
    };
    let read = SyscallLine {
        name: "read".into(),
        count: 40_000,
        total_ns: 300_000_000,
        per_message: 2.0,
        errors: 0,
        p50_ns_at_most: 16_384,
        p99_ns_at_most: 32_768,
        latency_histogram: vec![LatencyBucket {
            from_ns: 8_192,
            to_ns: 16_384,
            count: 40_000,
        }],
    };
    let breakdown = Breakdown {
        messages: 20_000,
        per_message: per_message.clone(),
        syscalls: vec![read.clone()],
        overhead: Some(Overhead::from_runs(
            OverheadFigure::RoundTripP50,
            vec![8_000, 8_100],
            vec![8_800, 8_900],
        )),
        attach: SyscallAttach::RawTp,
        sched_attach: SchedAttach::TpBtf,
        processes: vec![ProcessBreakdown {
            role: "client".into(),
            started_by: None,
            pid: 4_242,
            per_message,
            syscalls: vec![read],
            voluntary_switches: Some(20_000),
            involuntary_switches: None,
            main_cpu: None,
        }],
        channels: Some(Vec::new()),
    };
    let identity = |mechanism: &str, pattern| RunIdentity {
        mechanism: mechanism.into(),
        wake: Wake::Blocking,
        pattern,
        message_size: 128,
        processes: 2,
        procs: None,
        stages: None,
        clients: None,
        subscribers: None,
        placement: "cross-core (cpus 0,1)".into(),
        setting: None,
    };
    let mut traced = RunResult::measured(
        identity("pipe", Pattern::Latency),
        Measured {
            messages: 20_000,
            warmup_messages: 1_000,
            latency_ns: Some(LatencySummary {
                min: 7_000,
                mean: 8_123.456_789,
                p50: 8_000,
                p90: 9_000,
                p99: 12_000,
                p999: 30_000,
                max: 90_000,
            }),
            throughput: Some(Throughput::of(20_000, 128, 0.17)),
            cpu,
        },
    );
    traced.breakdown = Some(breakdown);
    let refused = RunResult::unsupported(
        identity("udp", Pattern::Throughput),
        "UDP has no flow control".into(),
    );
    Report::new(
        Environment {
            kernel: "6.18.0".into(),
            cpu_model: "Example CPU @ 2.0GHz".into(),
            cpus: 2,
            governor: None,
            virtualization: Some("virtual machine (Firecracker)".into()),
            clock_read_ns: 21.7,
        },
        vec![traced, refused],
    )
}
