//! Rebuilds the kept eBPF object from `ipc-ebpf`'s source, byte-reproducibly.
//!
//! The profiler embeds `ipc-ebpf/ipc-ebpf.bpf.o` so that it builds on stable Rust with no eBPF
//! toolchain. This command is the only way that file changes: it builds the `ipc-ebpf` bin with
//! the pinned nightly and bpf-linker, with every absolute path remapped (so the bytes do not
//! depend on where the checkout, cargo's registry or rustup live), then strips debug info while
//! keeping `.BTF` and the symbols aya finds programs by.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::cmd;
use crate::setup::{LLVM_MAJOR, NIGHTLY};

/// Where the kept object lives, relative to the workspace root.
pub const KEPT_OBJECT: &str = "ipc-ebpf/ipc-ebpf.bpf.o";

/// Builds the object; with `check`, compares it with the kept one instead of replacing it.
pub fn run(check: bool) -> anyhow::Result<()> {
    let root = cmd::workspace_root();
    let built = build(&root)?;
    let stripped = root.join("target/ebpf/ipc-ebpf.stripped.o");
    strip_debug(&built, &stripped)?;
    let kept = root.join(KEPT_OBJECT);
    if check {
        let new = std::fs::read(&stripped)?;
        let old = std::fs::read(&kept).with_context(|| format!("reading {}", kept.display()))?;
        if new != old {
            bail!(
                "the kept eBPF object {KEPT_OBJECT} is not what ipc-ebpf's source builds to \
                 ({} bytes kept, {} bytes built): run `cargo xtask build-ebpf` and commit it",
                old.len(),
                new.len()
            );
        }
        eprintln!(
            "[build-ebpf] {KEPT_OBJECT} matches its source ({} bytes)",
            new.len()
        );
    } else {
        std::fs::copy(&stripped, &kept)?;
        eprintln!("[build-ebpf] wrote {KEPT_OBJECT}");
    }
    Ok(())
}

fn build(root: &Path) -> anyhow::Result<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cargo"));
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".rustup"));
    let flags = [
        "-Cdebuginfo=2".to_string(),
        "-Clink-arg=--btf".to_string(),
        remap(root, "/ipc-profiler"),
        remap(&cargo_home.join("registry/src"), "/cargo/registry/src"),
        remap(&cargo_home.join("git/checkouts"), "/cargo/git"),
        remap(&rustup_home, "/rustup"),
    ];
    cmd::run(
        ebpf_cargo(root, "build", "target/ebpf")
            // One flag per \x1f-separated field: paths with spaces survive.
            .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f")),
    )
    .context(
        "building the eBPF programs needs `cargo xtask setup` (nightly, rust-src, bpf-linker)",
    )?;
    Ok(root.join("target/ebpf/bpfel-unknown-none/release/ipc-ebpf"))
}

/// `cargo +NIGHTLY VERB` for the eBPF programs: the `ipc-ebpf` bin with its `programs`
/// feature, for the BPF target, core built from source, in its own target directory.
pub fn ebpf_cargo(root: &Path, verb: &str, target_dir: &str) -> Command {
    let mut command = Command::new("cargo");
    command
        .arg(format!("+{NIGHTLY}"))
        .current_dir(root)
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .args([verb, "--locked", "--release", "-Zbuild-std=core"])
        .args([
            "--package",
            "ipc-ebpf",
            "--bin",
            "ipc-ebpf",
            "--features",
            "programs",
        ])
        .args(["--target", "bpfel-unknown-none", "--target-dir", target_dir]);
    command
}

fn remap(from: &Path, to: &str) -> String {
    format!("--remap-path-prefix={}={to}", from.display())
}

fn strip_debug(input: &Path, output: &Path) -> anyhow::Result<()> {
    let objcopy = format!("/usr/lib/llvm-{LLVM_MAJOR}/bin/llvm-objcopy");
    cmd::run(
        Command::new(&objcopy)
            .arg("--strip-debug")
            .arg(input)
            .arg(output),
    )
}
