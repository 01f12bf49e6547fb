//! The on-CPU time `trace` reports against the scheduler's own count (/proc/PID/schedstat), in
//! a test binary of its own: cargo runs test binaries one after another, so the spinning
//! process measured here shares its CPUs with no other test (which would make the traced and
//! the measured windows see different loads).

mod common;
#[path = "common/kernel_objects.rs"]
mod kernel_objects;

use common::stderr;
use kernel_objects::{kernel_objects, links, made_since};
use serde_json::Value;

/// A process's time on a CPU so far, ns: the first field of /proc/PID/schedstat.
fn schedstat_on_cpu_ns(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

/// Time the hypervisor took from CPU `cpu` so far, ns: its `steal` in /proc/stat. The
/// scheduler's count leaves it out (paravirt time accounting) while a traced stretch on a CPU,
/// timed by the clock, holds it.
fn steal_ns(cpu: usize) -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let line = stat
        .lines()
        .find(|line| line.split_whitespace().next() == Some(&format!("cpu{cpu}")))
        .unwrap_or_else(|| panic!("no cpu{cpu} line in /proc/stat"));
    let ticks: f64 = line.split_whitespace().nth(8).unwrap().parse().unwrap();
    ticks * 1e9 / rustix::param::clock_ticks_per_second() as f64
}

/// The first CPU this test may run on.
fn first_allowed_cpu() -> usize {
    let allowed = rustix::thread::sched_getaffinity(None).unwrap();
    (0..rustix::thread::CpuSet::MAX_CPU)
        .find(|&cpu| allowed.is_set(cpu))
        .expect("no CPU allowed")
}

#[test]
fn a_traced_processs_on_cpu_time_agrees_with_the_schedulers_own_count() {
    assert!(
        rustix::process::geteuid().is_root(),
        "tracing loads eBPF programs and must run as root (CI does): run `sudo cargo test`"
    );
    // A process that spins on a CPU from before it is traced to after: the share of the traced
    // time it spent on a CPU, by the scheduler programs, against its share of a second in the
    // middle of the trace by /proc/PID/schedstat (a window inside the trace, from a moment
    // after its programs are attached: the tool's own start-up, before, shares the CPUs, and
    // lasts as long as the verifier takes), within 2%, once the time the hypervisor stole from
    // its CPU is added to the scheduler's count (which leaves steal out: the test failed by
    // 0.977 against 1.000 on a busy host). Its last stretch on a CPU is still open when
    // tracing ends: without it the traced share was 0.70 against 0.998.
    let mut spinner = std::process::Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let pid = spinner.id();
    // On one CPU, so that the time the hypervisor steals from that CPU can be added back to
    // the scheduler's count.
    let cpu = first_allowed_cpu();
    let mut only = rustix::thread::CpuSet::new();
    only.set(cpu);
    rustix::thread::sched_setaffinity(rustix::process::Pid::from_raw(pid as i32), &only).unwrap();
    let before = kernel_objects();
    let trace = common::profiler()
        .args([
            "trace",
            "--pid",
            &pid.to_string(),
            "--duration",
            "3",
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while links(&made_since(&before)).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the tracer attached nothing in 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (start, start_ns, start_steal) = (
        std::time::Instant::now(),
        schedstat_on_cpu_ns(pid),
        steal_ns(cpu),
    );
    std::thread::sleep(std::time::Duration::from_millis(1_000));
    let (window_ns, sched_ns, stolen_ns) = (
        start.elapsed().as_nanos() as f64,
        schedstat_on_cpu_ns(pid) - start_ns,
        steal_ns(cpu) - start_steal,
    );
    let out = trace.wait_with_output().unwrap();
    let _ = spinner.kill();
    let _ = spinner.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value =
        serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let traced_ns = report["seconds"].as_f64().unwrap() * 1e9;
    let on_cpu = report["breakdown"]["processes"][0]["per_message"]["on_cpu_ns"]
        .as_f64()
        .unwrap();
    let (traced_share, sched_share) = (on_cpu / traced_ns, sched_ns / window_ns);
    let stolen_share = stolen_ns / window_ns;
    assert!(
        (traced_share - (sched_share + stolen_share)).abs() <= 0.02,
        "on-CPU {traced_share:.3} of the traced time, schedstat {sched_share:.3} of a second \
         inside it and the hypervisor's steal {stolen_share:.3} of that second (cpu {cpu})"
    );
}
