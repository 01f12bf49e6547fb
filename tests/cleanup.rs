//! No run leaves an IPC object behind: not after success, not when interrupted, not when a
//! worker is killed. Checked against /dev/mqueue, System V ids (ipcs), and files the tool
//! names `ipc-profiler-*` in the temporary directory.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{profiler, stderr};

/// The tests here compare snapshots of system-wide state: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What IPC objects exist now.
fn snapshot() -> BTreeSet<String> {
    let mut objects = BTreeSet::new();
    if !std::path::Path::new("/dev/mqueue").is_dir() {
        // Best effort: mount it so POSIX queues can be seen (needs root).
        let _ = std::fs::create_dir_all("/dev/mqueue");
        let _ = Command::new("mount")
            .args(["-t", "mqueue", "none", "/dev/mqueue"])
            .status();
    }
    // Without a view of the queues the check would pass whatever was left: fail instead.
    let queues = std::fs::read_dir("/dev/mqueue").unwrap_or_else(|e| {
        panic!(
            "cannot list POSIX queues in /dev/mqueue ({e}), so leftovers cannot be checked: \
             mount it (mount -t mqueue none /dev/mqueue) or run as root"
        )
    });
    objects.extend(
        queues
            .flatten()
            .map(|e| format!("mqueue {:?}", e.file_name())),
    );
    for kind in ["-q", "-s", "-m"] {
        let out = Command::new("ipcs")
            .arg(kind)
            .output()
            .expect("ipcs (util-linux) runs");
        assert!(
            out.status.success(),
            "ipcs {kind} failed, so System V leftovers cannot be checked: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        objects.extend(
            text.lines()
                .filter(|l| l.starts_with("0x"))
                .map(|l| format!("ipcs{kind} {}", l.split_whitespace().nth(1).unwrap_or(""))),
        );
    }
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        objects.extend(
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("ipc-profiler-") && !n.starts_with("ipc-profiler-test"))
                .map(|n| format!("tmp {n}")),
        );
    }
    objects
}

fn assert_nothing_new(before: &BTreeSet<String>, when: &str) {
    let after = snapshot();
    let new: Vec<_> = after.difference(before).collect();
    assert!(new.is_empty(), "{when}: left behind {new:?}");
}

#[test]
fn a_successful_run_of_every_mechanism_leaves_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = snapshot();
    let doc = common::run_json(&[
        "bench", "--mech", "all", "--iters", "300", "--warmup", "10", "--format", "json",
    ]);
    assert_eq!(
        doc["results"].as_array().unwrap().len(),
        common::mechanism_count(),
        "every mechanism ran"
    );
    common::assert_contract(&doc);
    assert_nothing_new(&before, "after bench --mech all");
    // A pipeline makes one channel per stage: sixteen stages of every mechanism.
    let doc = common::run_json(&[
        "bench",
        "--mech",
        "all",
        "--pattern",
        "pipeline",
        "--stages",
        "16",
        "--iters",
        "50",
        "--warmup",
        "5",
        "--format",
        "json",
    ]);
    common::assert_contract(&doc);
    assert_nothing_new(&before, "after a 16-stage pipeline of every mechanism");
    // A hundred clients of one server, every mechanism: each started, served and reaped.
    let doc = common::run_json(&[
        "bench",
        "--mech",
        "all",
        "--pattern",
        "request-response",
        "--clients",
        "100",
        "--sizes",
        "128",
        "--iters",
        "20",
        "--warmup",
        "2",
        "--format",
        "json",
    ]);
    common::assert_contract(&doc);
    for r in doc["results"].as_array().unwrap() {
        if r["unsupported"].is_null() {
            assert_eq!(r["messages"], 2000, "{r}");
            // D-Bus's broker is counted beside the 101 workers.
            let helpers = usize::from(r["mechanism"] == "dbus");
            assert_eq!(
                r["cpu"]["processes"].as_array().unwrap().len(),
                101 + helpers,
                "{r}"
            );
        }
    }
    assert_nothing_new(&before, "after 100 clients of every mechanism");
}

/// Starts a long run, waits until its workers exist, and returns it with their pids.
#[allow(
    clippy::zombie_processes,
    reason = "the caller waits for the run it is given"
)]
fn start_long_run(mechanism: &str) -> (std::process::Child, Vec<i32>) {
    start_long_run_with(mechanism, &[], Duration::from_millis(200))
}

/// [`start_long_run`] with extra environment variables.
fn start_long_run_with(
    mechanism: &str,
    environment: &[(&str, &std::path::Path)],
    settle: Duration,
) -> (std::process::Child, Vec<i32>) {
    let mut command = profiler();
    command
        .args(["bench", "--mech", mechanism, "--iters", "100000000"])
        .envs(environment.iter().copied());
    // D-Bus's broker is a child of the controller too, started before the workers.
    let children = if mechanism == "dbus" { 3 } else { 2 };
    started(command, mechanism, settle, children)
}

/// Spawns `command`, a long benchmark run (`what` names it in a failure), and returns it with
/// its `children` processes (its two workers, and any helper) once all exist and `settle` has
/// passed.
#[allow(
    clippy::zombie_processes,
    reason = "the caller waits for the run it is given"
)]
fn started(
    mut command: Command,
    what: &str,
    settle: Duration,
    children: usize,
) -> (std::process::Child, Vec<i32>) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let workers = children_of(child.id());
        if workers.len() == children {
            // Let them get as far as the caller wants (the warm-up, or the measured loop).
            std::thread::sleep(settle);
            return (child, workers);
        }
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
            panic!("{what}: the run did not start its {children} processes: {err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILLs a run's controller, reaps it, and waits (up to a second) for its workers to go.
fn kill_run(mut run: std::process::Child, workers: &[i32]) {
    signal(run.id() as i32, libc::SIGKILL);
    run.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    while !workers.iter().all(|&w| is_gone(w)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn children_of(pid: u32) -> Vec<i32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: sends a signal to a process this test started (or its child).
    unsafe { libc::kill(pid, signal) };
}

#[test]
fn an_interrupted_run_removes_what_it_created() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for mechanism in ["sysv-mq", "sysv-sem", "posix-mq", "fifo", "mmap"] {
        let before = snapshot();
        let (mut run, _) = start_long_run(mechanism);
        signal(run.id() as i32, libc::SIGINT);
        let status = run.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(130), "{mechanism}: {err}");
        assert!(err.contains("interrupted"), "{mechanism}: {err}");
        assert_nothing_new(&before, &format!("{mechanism} interrupted"));
    }
}

#[test]
fn a_killed_worker_fails_the_run_loudly_and_leaves_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Every mechanism that carries a payload (all that `list` names but `cacheline`, so that a
    // new one is killed too); the client or the server (their pids in fork order: server
    // first), killed at a moment that varies from the warm-up (right after the workers appear)
    // to well into the measured phase.
    let mechanisms: Vec<String> = common::mechanism_names()
        .into_iter()
        .filter(|m| m != "cacheline")
        .collect();
    assert!(mechanisms.len() > 20, "list named {mechanisms:?}");
    let seed = std::process::id() as u64;
    for (i, mechanism) in mechanisms.into_iter().enumerate() {
        let before = snapshot();
        let moment = Duration::from_millis((seed.wrapping_mul(7919) + 53 * i as u64) % 300);
        let (mut run, workers) = start_long_run_with(&mechanism, &[], moment);
        // D-Bus's broker is started before the workers.
        let server = usize::from(mechanism == "dbus");
        let (victim, role) = if i % 2 == 0 {
            (workers[server], "server")
        } else {
            (workers[server + 1], "client")
        };
        signal(victim, libc::SIGKILL);
        let killed = Instant::now();
        let status = run.wait().unwrap();
        let noticed = killed.elapsed();
        let mut err = String::new();
        std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut err).unwrap();
        let when = format!("{mechanism}, {role} killed after {moment:?}");
        assert!(
            noticed < Duration::from_secs(1),
            "{when}: noticed after {noticed:?}"
        );
        assert_eq!(status.code(), Some(1), "{when}: {err}");
        assert!(
            err.contains(&format!("the {role} process died")) && err.contains("signal 9"),
            "{when}: the dead worker is not named: {err}"
        );
        assert!(!err.contains("panicked"), "{when}: {err}");
        assert_nothing_new(&before, &when);
    }
}

/// True once process `pid` is gone (or a zombie, dead and waiting to be reaped).
fn is_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

#[test]
fn workers_never_outlive_their_controller() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A busy-polling worker left behind would burn a CPU forever; System V semaphore sets
    // would stay in ipcs. Every signal that can be caught stops the run in order; SIGKILL
    // cannot be, and the workers die with the controller all the same.
    for (sig, mechanism) in [
        (libc::SIGKILL, "shm-spin"),
        (libc::SIGHUP, "sysv-sem"),
        (libc::SIGTERM, "shm-spin"),
        (libc::SIGINT, "sysv-mq"),
        (libc::SIGQUIT, "shm-futex"),
        // The broker dies with the controller (PR_SET_PDEATHSIG), or is stopped by it.
        (libc::SIGKILL, "dbus"),
        (libc::SIGTERM, "dbus"),
    ] {
        let before = snapshot();
        let (mut run, workers) = start_long_run(mechanism);
        signal(run.id() as i32, sig);
        let status = run.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(1);
        while !workers.iter().all(|&w| is_gone(w)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let alive: Vec<_> = workers.iter().filter(|&&w| !is_gone(w)).collect();
        for &&pid in &alive {
            signal(pid, libc::SIGKILL);
        }
        assert!(
            alive.is_empty(),
            "{mechanism}, signal {sig}: workers {alive:?} outlived the controller by 1 s"
        );
        if sig == libc::SIGKILL {
            assert_eq!(status.code(), None, "{mechanism}");
        } else {
            let mut err = String::new();
            std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert_eq!(
                status.code(),
                Some(128 + sig),
                "{mechanism}, signal {sig}: {err}"
            );
            assert!(err.contains("interrupted"), "{mechanism}: {err}");
            assert_nothing_new(&before, &format!("{mechanism} stopped by signal {sig}"));
        }
    }
}

#[test]
fn clean_removes_what_a_killed_run_left_and_nothing_else() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let runs = common::private_dir();
    let env = [("IPC_PROFILER_RUN_DIR", runs.path())];
    // Someone else's private semaphore set: indistinguishable by looking, and not ours.
    // SAFETY: plain syscall with constant arguments.
    let theirs = unsafe { libc::semget(libc::IPC_PRIVATE, 1, libc::IPC_CREAT | 0o600) };
    assert!(theirs >= 0);
    let clean = |args: &[&str]| {
        let out = profiler()
            .arg("clean")
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    for mechanism in ["sysv-sem", "sysv-mq"] {
        let before = snapshot();
        let (run, workers) = start_long_run_with(mechanism, &env, Duration::from_millis(200));
        kill_run(run, &workers);
        let left: Vec<String> = snapshot().difference(&before).cloned().collect();
        assert_eq!(
            left.len(),
            1,
            "{mechanism}: a SIGKILL leaves its object: {left:?}"
        );
        let listed = clean(&["--dry-run"]);
        assert!(listed.contains("would remove System V"), "{listed}");
        assert_eq!(
            snapshot().difference(&before).count(),
            1,
            "--dry-run removed something"
        );
        let removed = clean(&[]);
        assert!(
            removed.contains("removed System V"),
            "{mechanism}: {removed}"
        );
        assert_nothing_new(&before, &format!("{mechanism} killed, then clean"));
        assert!(clean(&[]).contains("nothing to clean"));
    }
    // SAFETY: IPC_STAT-free existence check, then removal of the set this test made.
    let still_there = unsafe { libc::semctl(theirs, 0, libc::GETVAL) } >= 0;
    // SAFETY: removes the set this test created.
    unsafe { libc::semctl(theirs, 0, libc::IPC_RMID) };
    assert!(
        still_there,
        "clean removed a semaphore set no run of ours recorded"
    );
}

#[test]
fn a_user_whose_home_cannot_be_written_still_records_its_run_and_cleans_it() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test runs the tool as `nobody` (through setpriv) and must start as root (CI \
         does): run `sudo cargo test`"
    );
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A home nobody can write (root's, 0555), no runtime directory, and a temporary directory
    // of nobody's own, so that what the run keeps there is not mistaken for a leftover object.
    let home = common::private_dir();
    let tmp = common::private_dir();
    let nobody = 65534;
    std::os::unix::fs::chown(tmp.path(), Some(nobody), Some(nobody)).unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o555),
    )
    .unwrap();
    let as_nobody = |args: &[&str]| {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                "--",
            ])
            .arg(env!("CARGO_BIN_EXE_ipc-profiler"))
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("IPC_PROFILER_RUN_DIR")
            .env("HOME", home.path())
            .env("TMPDIR", tmp.path());
        common::with_default_signals(command)
    };
    let before = snapshot();
    let (run, workers) = started(
        as_nobody(&["bench", "--mech", "sysv-mq", "--iters", "100000000"]),
        "sysv-mq as nobody",
        Duration::from_millis(200),
        2,
    );
    kill_run(run, &workers);
    assert_eq!(
        snapshot().difference(&before).count(),
        1,
        "the killed run's queue is left for clean"
    );
    let record_dir = tmp.path().join("ipc-profiler-runs-65534");
    assert!(
        record_dir.is_dir(),
        "the record went to the temporary directory, the home being closed"
    );
    let cleaned = as_nobody(&["clean"]).output().unwrap();
    let out = String::from_utf8_lossy(&cleaned.stdout).to_string();
    assert!(cleaned.status.success(), "{}", stderr(&cleaned));
    assert!(out.contains("removed System V message queue"), "{out}");
    assert_nothing_new(&before, "a run as nobody killed, then clean");
}
