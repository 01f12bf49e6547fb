//! A tracer killed with SIGKILL mid-trace leaves no eBPF program, map or link in the kernel.
//! (Attach/detach cycles are checked by a unit test in `trace/tracer.rs`.) A test binary of its
//! own: the machine-wide counts it compares must not see other tests' programs.

mod common;
#[path = "common/kernel_objects.rs"]
mod kernel_objects;

use std::time::{Duration, Instant};

use kernel_objects::{kernel_objects, links, made_since};

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
    while links(&made_since(&before)).is_empty() || children().is_empty() {
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
    // Nothing can keep its programs and maps: no link, no descriptor in any process, nothing
    // pinned. (A killed process's descriptors close as it exits.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while (!links(&made_since(&before)).is_empty() || held_descriptors() != 0)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        links(&made_since(&before)).is_empty(),
        "links left attached"
    );
    assert_eq!(
        held_descriptors(),
        0,
        "a process still holds eBPF descriptors"
    );
    let pinned = std::fs::read_dir("/sys/fs/bpf").map_or(0, |d| d.count());
    assert_eq!(pinned, 0, "something is pinned in /sys/fs/bpf");
    // The kernel then frees them: at once usually, but a program attached through a trampoline
    // (tp_btf) waits for an RCU tasks grace period first. A leak never goes.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !made_since(&before).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        made_since(&before),
        Vec::<String>::new(),
        "objects the tracer made and left"
    );
}

/// eBPF program and map descriptors held by any process on the machine.
fn held_descriptors() -> usize {
    let mut held = 0;
    for process in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(fds) = std::fs::read_dir(process.path().join("fdinfo")) else {
            continue;
        };
        for fd in fds.flatten() {
            let info = std::fs::read_to_string(fd.path()).unwrap_or_default();
            if info.contains("prog_type:") || info.contains("map_type:") {
                held += 1;
            }
        }
    }
    held
}
