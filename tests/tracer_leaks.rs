//! A tracer killed with SIGKILL mid-trace leaves no eBPF program, map or link in the kernel.
//! (Attach/detach cycles are checked by a unit test in `trace/tracer.rs`.) A test binary of its
//! own: the machine-wide counts it compares must not see other tests' programs.

mod common;

use std::time::{Duration, Instant};

/// Programs, maps and links the kernel holds, machine-wide.
fn kernel_objects() -> (usize, usize, usize) {
    (
        aya::programs::loaded_programs().count(),
        aya::maps::loaded_maps().count(),
        aya::programs::loaded_links().count(),
    )
}

#[test]
fn a_tracer_killed_mid_trace_leaves_nothing_in_the_kernel() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test loads eBPF programs and must run as root (CI does): `sudo cargo test`"
    );
    let before = kernel_objects();
    let mut tracer = common::profiler()
        .args(["trace", "--", "sleep", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until its programs are attached and the command is started (the tracer's child).
    let pid = tracer.id();
    let children = || -> Vec<i32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while kernel_objects().2 <= before.2 || children().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the tracer attached nothing or started no command"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the command get past its exec.
    std::thread::sleep(Duration::from_millis(200));
    let command = children();
    tracer.kill().unwrap();
    tracer.wait().unwrap();
    // The traced command is the tracer's child and lives on: it goes too.
    for child in command {
        // SAFETY: signals the command this test had traced, now an orphan.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
    // The kernel frees the programs and maps once their last reference goes; a tp_btf
    // program's trampoline waits for an RCU grace period first, which can take seconds on a
    // busy machine. A leak never returns to the count; a slow release does.
    let deadline = Instant::now() + Duration::from_secs(60);
    while kernel_objects() != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        kernel_objects(),
        before,
        "(programs, maps, links) before and after"
    );
}
