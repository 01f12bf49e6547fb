//! Everything CI checks, in the order that fails fastest.

use std::process::Command;

use crate::setup::{MIRI_NIGHTLY, NO_STD_TARGETS};
use crate::{build_ebpf, cmd, setup};

/// Runs setup, then every check; stops at the first failure.
pub fn run() -> anyhow::Result<()> {
    setup::run()?;
    let root = cmd::workspace_root();
    let cargo = || {
        let mut c = Command::new("cargo");
        c.current_dir(&root);
        c
    };
    cmd::run(cargo().args(["fmt", "--all", "--check"]))?;
    cmd::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The eBPF programs build only for the BPF target, so the workspace's clippy never sees
    // them: check their unsafe discipline there (the style lints suggest forms the verifier
    // may refuse, so only the SAFETY-comment lints are enforced for them).
    cmd::run(
        build_ebpf::ebpf_cargo(&root, "clippy", "target/ebpf-clippy")
            .args(["--", "-D", "warnings", "-A", "clippy::all"])
            .args(["-D", "clippy::undocumented_unsafe_blocks"])
            .args(["-D", "clippy::unnecessary_safety_comment"]),
    )?;
    build_ebpf::run(true)?;
    for target in NO_STD_TARGETS {
        cmd::run(cargo().args([
            "build",
            "--locked",
            "--package",
            "ipc-core",
            "--no-default-features",
            "--target",
            target,
        ]))?;
    }
    // ipc-core is for embedding: its documentation builds without a warning, and it packages
    // (and the package builds) as it would for crates.io.
    cmd::run(cargo().env("RUSTDOCFLAGS", "-D warnings").args([
        "doc",
        "--locked",
        "--no-deps",
        "--package",
        "ipc-core",
    ]))?;
    // Publishable: everything crates.io would check, short of uploading. (ipc-core-tokio
    // depends on ipc-core by version as well as by path, so its dry run waits for ipc-core to
    // be on crates.io.)
    cmd::run(cargo().args(["publish", "--dry-run", "--locked", "--package", "ipc-core"]))?;
    cmd::run(cargo().args(["test", "--workspace", "--locked"]))?;
    // The tests whose expectations depend on the CPUs a run may use, again on one CPU.
    cmd::run(Command::new("taskset").current_dir(&root).args([
        "-c",
        "0",
        "cargo",
        "test",
        "--locked",
        "--package",
        "ipc-profiler",
        "--test",
        "cli",
    ]))?;
    // Installed as the README says, into a throwaway root (debug, reusing the test build).
    let install_root =
        std::env::temp_dir().join(format!("ipc-profiler-install-{}", std::process::id()));
    cmd::run(
        cargo()
            .args(["install", "--locked", "--debug", "--path", "ipc-profiler"])
            .args([
                "--root".as_ref(),
                install_root.as_os_str(),
                "--target-dir".as_ref(),
                "target".as_ref(),
            ]),
    )?;
    let installed =
        cmd::run(Command::new(install_root.join("bin").join("ipc-profiler")).arg("list"));
    let _ = std::fs::remove_dir_all(&install_root);
    installed?;
    // The documented examples: two processes over a memfd; programs sharing a duplex, a fan-in
    // and a broadcast channel by name through the one-call path, with the safe API only.
    for example in ["memfd_ping", "named_duplex", "named_shapes"] {
        cmd::run(cargo().args([
            "run",
            "--locked",
            "--package",
            "ipc-core",
            "--example",
            example,
        ]))?;
    }
    // The async example: a tokio service and a plain process over ipc-core.
    cmd::run(cargo().args([
        "run",
        "--locked",
        "--package",
        "ipc-core-tokio",
        "--example",
        "tokio_service",
    ]))?;
    // Miri with its weak-memory emulation on, on a newer nightly than the eBPF build's (whose
    // miri panics in that emulation); its own target directory keeps the two apart.
    cmd::run(
        Command::new("cargo")
            .current_dir(&root)
            .arg(format!("+{MIRI_NIGHTLY}"))
            .args(["miri", "test", "--locked", "--package", "ipc-core", "--lib"])
            .args(["--target-dir", "target/miri"]),
    )?;
    // The fuzz harness against a hostile peer, briefly and reproducibly (a fixed seed); the long
    // runs are for developers (docs/ipc-core.md). Its crash inputs become unit tests.
    cmd::run(
        Command::new("cargo")
            .current_dir(root.join("ipc-core/fuzz"))
            .arg(format!("+{MIRI_NIGHTLY}"))
            .args(["fuzz", "run", "rings", "--"])
            .args(["-runs=1000000", "-seed=1", "-timeout=10", "-max_len=2048"]),
    )?;
    // Loom explores every interleaving of the wake-word protocol; its own target directory
    // keeps the --cfg loom build from invalidating the normal one.
    cmd::run(
        cargo()
            .env("RUSTFLAGS", "--cfg loom")
            .args([
                "test",
                "--locked",
                "--release",
                "--package",
                "ipc-core",
                "--lib",
            ])
            .args(["--target-dir", "target/loom", "--", "loom"]),
    )?;
    eprintln!("[ci] all checks passed");
    Ok(())
}
