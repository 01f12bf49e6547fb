//! Nothing the profiler creates can be redirected by a name planted in a shared directory:
//! under `sudo`, a local user who plants a symbolic link where a file is about to be created
//! would otherwise make root truncate or overwrite the link's target.

mod common;

use std::path::PathBuf;

use common::{run, stderr};

/// The names the profiler once used in the temporary directory for the pids it is likely to
/// get next, each a symbolic link to `victim`.
fn plant_links(victim: &std::path::Path) -> Vec<PathBuf> {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1);
    let mut planted = Vec::new();
    for pid in last + 1..last + 400 {
        for name in ["to-server", "to-client", "fan-in"] {
            let link = std::env::temp_dir().join(format!("ipc-profiler-{pid}-{name}"));
            if std::os::unix::fs::symlink(victim, &link).is_ok() {
                planted.push(link);
            }
        }
    }
    planted
}

#[test]
fn links_planted_at_predictable_names_are_never_followed() {
    let dir = common::private_dir();
    let victim = dir.path().join("precious");
    std::fs::write(&victim, b"do not truncate me").unwrap();
    let planted = plant_links(&victim);
    assert!(!planted.is_empty());
    let runs = [
        ["bench", "--mech", "mmap,fifo", "--iters", "200"].as_slice(),
        [
            "bench",
            "--mech",
            "mmap,fifo",
            "--pattern",
            "fan-in",
            "--procs",
            "2",
            "--iters",
            "50",
        ]
        .as_slice(),
    ];
    let outcome: Vec<_> = runs.iter().map(|args| run(args)).collect();
    let content = std::fs::read(&victim).unwrap();
    for link in &planted {
        let _ = std::fs::remove_file(link);
    }
    for (args, output) in runs.iter().zip(outcome) {
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
    assert_eq!(
        content, b"do not truncate me",
        "a planted link was followed"
    );
}
