//! Installs the toolchains and packages the build and tests need, idempotently.
//!
//! Each step checks first and does nothing when its piece is present, so a second run takes well
//! under a second. The versions are the ones the kept eBPF object is built with
//! (docs/building-ebpf.md): change them together.

use std::process::Command;

use anyhow::{bail, Context};

use crate::cmd;

/// The nightly toolchain that builds the eBPF object. Pinned: another nightly (another LLVM)
/// gives other bytes, and the kept object would no longer match its source.
pub const NIGHTLY: &str = "nightly-2026-05-20";
/// The nightly miri runs on: newer than `NIGHTLY`, whose miri panics in its weak-memory
/// emulation (`weak_memory.rs:233`) on ipc-core's tests; this one runs them with it on.
pub const MIRI_NIGHTLY: &str = "nightly-2026-08-01";
/// cargo-fuzz, which builds and runs ipc-core's fuzz harness (with `MIRI_NIGHTLY`).
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// LLVM major version of that nightly, which bpf-linker must be built against.
pub const LLVM_MAJOR: u32 = 22;
/// bpf-linker version known to work with `NIGHTLY` and aya 0.14.
pub const BPF_LINKER_VERSION: &str = "0.13.0";
/// Targets the no_std build of ipc-core is checked on (thumbv7em has no 64-bit atomics).
pub const NO_STD_TARGETS: [&str; 2] = ["x86_64-unknown-none", "thumbv7em-none-eabihf"];

/// Debian packages: LLVM for bpf-linker, and the tools the tests use to look for leftovers.
fn apt_packages() -> Vec<String> {
    vec![
        format!("llvm-{LLVM_MAJOR}-dev"),
        "libzstd-dev".into(),
        "zlib1g-dev".into(),
        "libxml2-dev".into(),
        "build-essential".into(),
        // `ipcs`, used by the tests to check that no System V object is left behind.
        "util-linux".into(),
        // `strace`, the independent count the tracer's figures are compared with.
        "strace".into(),
        // Runs tests/programs/channels.py, the program whose channels a trace test counts.
        "python3".into(),
        // Headless Chromium renders `report`'s HTML page in its test, as a reader's browser would.
        "chromium".into(),
        // PostgreSQL and pgbench: a real program `trace` is tested on (tests/postgres.rs).
        "postgresql".into(),
        "postgresql-contrib".into(),
        // The private message broker the `dbus` mechanism starts for each run.
        "dbus-daemon".into(),
    ]
}

/// Installs `toolchain` (minimal profile) and `components`, each only if missing.
fn install_nightly(toolchain: &str, components: &[&str]) -> anyhow::Result<()> {
    let toolchains = cmd::output(Command::new("rustup").args(["toolchain", "list"]))
        .context("rustup is needed (https://rustup.rs)")?;
    if !toolchains.lines().any(|l| l.starts_with(toolchain)) {
        cmd::run(Command::new("rustup").args([
            "toolchain",
            "install",
            toolchain,
            "--profile",
            "minimal",
        ]))?;
    }
    let installed = installed_components(Some(toolchain));
    for component in components {
        if !installed.iter().any(|c| c.starts_with(component)) {
            cmd::run(Command::new("rustup").args([
                "component",
                "add",
                component,
                "--toolchain",
                toolchain,
            ]))?;
        }
    }
    Ok(())
}

/// Installs everything; quick when it is all present.
pub fn run() -> anyhow::Result<()> {
    install_apt_packages()?;
    install_rust_pieces()?;
    install_bpf_linker()?;
    install_cargo_fuzz()?;
    eprintln!("[setup] ok: {NIGHTLY}, bpf-linker {BPF_LINKER_VERSION} (LLVM {LLVM_MAJOR})");
    Ok(())
}

fn install_apt_packages() -> anyhow::Result<()> {
    let missing: Vec<String> = apt_packages()
        .into_iter()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !cmd::exists("apt-get") {
        bail!("missing packages {missing:?} and no apt-get: install them by hand");
    }
    eprintln!("[setup] apt: installing {}", missing.join(" "));
    cmd::run(Command::new("apt-get").args(["update", "-qq"]))?;
    cmd::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing),
    )
    .with_context(|| {
        format!("apt could not install {missing:?} (llvm-{LLVM_MAJOR}-dev comes from bookworm-security on Debian 12)")
    })
}

fn dpkg_installed(package: &str) -> bool {
    cmd::output(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|s| s.contains("install ok installed"))
}

fn install_rust_pieces() -> anyhow::Result<()> {
    install_nightly(NIGHTLY, &["rust-src", "miri", "clippy"])?;
    install_nightly(MIRI_NIGHTLY, &["rust-src", "miri"])?;
    let stable_components = installed_components(None);
    for component in ["rustfmt", "clippy"] {
        if !stable_components.iter().any(|c| c.starts_with(component)) {
            cmd::run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    let targets = cmd::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .unwrap_or_default();
    for target in NO_STD_TARGETS {
        if !targets.lines().any(|t| t == target) {
            cmd::run(Command::new("rustup").args(["target", "add", target]))?;
        }
    }
    Ok(())
}

fn installed_components(toolchain: Option<&str>) -> Vec<String> {
    let mut command = Command::new("rustup");
    command.args(["component", "list", "--installed"]);
    if let Some(toolchain) = toolchain {
        command.args(["--toolchain", toolchain]);
    }
    cmd::output(&mut command)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn install_cargo_fuzz() -> anyhow::Result<()> {
    let wanted = format!("cargo-fuzz {CARGO_FUZZ_VERSION}");
    let present = cmd::output(Command::new("cargo").args(["fuzz", "--version"]))
        .is_some_and(|v| v.trim() == wanted);
    if present {
        return Ok(());
    }
    eprintln!("[setup] building cargo-fuzz {CARGO_FUZZ_VERSION} (about a minute)");
    cmd::run(Command::new("cargo").args([
        "install",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
        "--locked",
    ]))
}

fn install_bpf_linker() -> anyhow::Result<()> {
    let wanted = format!("bpf-linker {BPF_LINKER_VERSION}");
    let present = cmd::output(Command::new("bpf-linker").arg("--version"))
        .is_some_and(|v| v.trim() == wanted);
    if present && bpf_linker_uses_llvm_major() {
        return Ok(());
    }
    let prefix = format!("/usr/lib/llvm-{LLVM_MAJOR}");
    let path = format!("{prefix}/bin:{}", std::env::var("PATH").unwrap_or_default());
    eprintln!("[setup] building bpf-linker {BPF_LINKER_VERSION} against LLVM {LLVM_MAJOR} (about 1.5 min)");
    cmd::run(
        Command::new("cargo")
            .env("LLVM_PREFIX", &prefix)
            .env("PATH", path)
            .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION])
            .args(["--locked", "--force", "--no-default-features"])
            .args(["--features", &format!("llvm-{LLVM_MAJOR}")]),
    )
}

fn bpf_linker_uses_llvm_major() -> bool {
    let Some(path) = cmd::output(Command::new("sh").args(["-c", "command -v bpf-linker"])) else {
        return false;
    };
    cmd::output(Command::new("ldd").arg(path.trim()))
        .is_some_and(|libs| libs.contains(&format!("libLLVM.so.{LLVM_MAJOR}")))
}
