//! A program nobody here wrote: PostgreSQL (Debian's package, installed by `cargo xtask setup`)
//! started in a private directory by this test, driven by pgbench, traced from both sides.
//! pgbench over TCP to 127.0.0.1 is found as `tcp-loopback` (with what a Unix socket would
//! save, measured here) and over the server's Unix socket is not; the server's own processes
//! share memory and wait on futexes inside it. A test binary of its own: the server's System V
//! segment and /dev/shm files must not meet other tests' leftover checks.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where Debian keeps the newest installed PostgreSQL's programs.
fn bin_dir() -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (`cargo xtask setup` installs Debian's postgresql)");
    let newest = versions
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .expect("a PostgreSQL version under /usr/lib/postgresql");
    PathBuf::from(format!("/usr/lib/postgresql/{newest}/bin"))
}

/// `program ARGS` as the `postgres` user (initdb refuses root), from `dir`.
fn as_postgres(program: &Path, args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new("runuser");
    command
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .current_dir(dir);
    command
}

/// Runs `command`, expecting success.
fn run_ok(mut command: Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        common::stderr(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A free TCP port on 127.0.0.1 (free a moment ago).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A database cluster in a private directory, owned by `postgres`; its server is stopped and
/// the directory removed when dropped, whatever the test found.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    fn new() -> Self {
        let dir = common::private_dir();
        run_ok(
            {
                let mut c = Command::new("chown");
                c.args(["postgres:postgres"]).arg(dir.path());
                c
            },
            "chown",
        );
        let cluster = Self {
            dir,
            bin: bin_dir(),
            port: free_port(),
        };
        run_ok(
            as_postgres(
                &cluster.bin.join("initdb"),
                &["-D", &cluster.data(), "-A", "trust", "-U", "postgres"],
                cluster.dir.path(),
            ),
            "initdb",
        );
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn socket_dir(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// The server's own arguments: its data, its Unix socket's directory, its port, TCP on
    /// 127.0.0.1 only.
    fn server_args(&self) -> Vec<String> {
        vec![
            "-D".into(),
            self.data(),
            "-k".into(),
            self.socket_dir(),
            "-p".into(),
            self.port.to_string(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
        ]
    }

    fn start(&self) {
        let options = self.server_args()[2..].join(" ");
        // The server's output goes to a log: left on pg_ctl's pipes, it would hold them open
        // (and this test waiting for their end) as long as the server runs.
        let log = self.dir.path().join("server.log").display().to_string();
        run_ok(
            as_postgres(
                &self.bin.join("pg_ctl"),
                &[
                    "-D",
                    &self.data(),
                    "-l",
                    &log,
                    "-o",
                    &options,
                    "-w",
                    "start",
                ],
                self.dir.path(),
            ),
            "pg_ctl start",
        );
    }

    /// Waits until the server answers (at most 30 s).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = self.port.to_string();
        let args = ["-h", &self.socket_dir(), "-p", &port, "-q"];
        while !as_postgres(&self.bin.join("pg_isready"), &args, self.dir.path())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                Instant::now() < deadline,
                "the server did not start in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&self) {
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "fast", "-w", "stop"],
            self.dir.path(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    }

    /// pgbench (not traced) against the server at `host`, as `postgres`.
    fn run_pgbench(&self, host: &str, extra: &[&str]) {
        let args = self.pgbench(host, extra);
        let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
        run_ok(
            as_postgres(Path::new(&args[0]), &rest, self.dir.path()),
            &format!("pgbench {extra:?}"),
        );
    }

    /// pgbench's command line to reach the server at `host` (an address or the socket
    /// directory).
    fn pgbench(&self, host: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            self.bin.join("pgbench").display().to_string(),
            "-h".into(),
            host.into(),
            "-p".into(),
            self.port.to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args.push("postgres".into());
        args
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `trace --user postgres --format json -o FILE [extra] -- command`: the report.
fn trace(cluster: &Cluster, extra: &[&str], command: &[String]) -> Value {
    let file = cluster.dir.path().join("report.json");
    let mut args: Vec<String> = ["trace", "--user", "postgres", "--format", "json", "-o"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    args.push(file.display().to_string());
    args.extend(extra.iter().map(|a| a.to_string()));
    args.push("--".into());
    args.extend(command.iter().cloned());
    let output = common::profiler()
        .args(&args)
        .current_dir(cluster.dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        common::stderr(&output)
    );
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

fn kinds(doc: &Value, of: &str) -> Vec<String> {
    doc[of]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn postgresql_is_seen_from_both_sides_and_pgbench_over_tcp_is_a_finding() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test loads eBPF programs and runs PostgreSQL as its user: run it as root (CI does)"
    );
    let cluster = Cluster::new();

    // The server under trace, from its start to its stop, while pgbench (not traced) writes.
    let server_args: Vec<String> =
        std::iter::once(cluster.bin.join("postgres").display().to_string())
            .chain(cluster.server_args())
            .collect();
    let file = cluster.dir.path().join("server.json");
    let mut traced_server = common::profiler()
        .args(["trace", "--user", "postgres", "--format", "json", "-o"])
        .arg(&file)
        .arg("--")
        .args(&server_args)
        .current_dir(cluster.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    cluster.wait_ready();
    let socket = cluster.socket_dir();
    cluster.run_pgbench(&socket, &["-i", "-q"]);
    // Four clients writing on two CPUs or more: backends wait for each other's locks.
    cluster.run_pgbench(&socket, &["-c", "4", "-T", "3"]);
    cluster.stop();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = traced_server.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = traced_server.kill();
            panic!("the traced server did not end within 60 s of pg_ctl stop");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(traced_server.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "trace of the server: {err}");
    let server: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    // Its processes share memory (the postmaster's, inherited by every backend) and wait on
    // futexes inside it (its semaphores and locks).
    let shared: Vec<&Value> = server["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["futex"].is_null())
        .collect();
    let busiest = shared
        .iter()
        .max_by_key(|c| {
            c["futex"]["waits"].as_u64().unwrap() + c["futex"]["wakes"].as_u64().unwrap()
        })
        .unwrap_or_else(|| {
            panic!(
                "no shared memory among the server's channels: {:#}",
                server["channels"]
            )
        });
    let processes = common::channel_pids(busiest);
    assert!(
        processes.len() >= 3,
        "the postmaster and backends: {busiest:#}"
    );
    let futex = &busiest["futex"];
    assert!(
        futex["waits"].as_u64().unwrap() + futex["waits_not_woken"].as_u64().unwrap() > 0
            && futex["wakes"].as_u64().unwrap() + futex["wakes_of_nobody"].as_u64().unwrap() > 0,
        "backends waited and woke each other in shared memory: {busiest:#}"
    );

    // pgbench as the traced program, against a server started (untraced) as usual.
    cluster.start();
    cluster.wait_ready();
    let select_only = ["-c", "2", "-T", "2", "-S"];
    let over_tcp = trace(
        &cluster,
        &["--what-if"],
        &cluster.pgbench("127.0.0.1", &select_only),
    );
    assert!(
        kinds(&over_tcp, "channels").contains(&"tcp".to_string()),
        "{:#}",
        over_tcp["channels"]
    );
    let found: Vec<&Value> = over_tcp["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "tcp-loopback")
        .collect();
    assert!(
        !found.is_empty(),
        "pgbench over TCP to 127.0.0.1: {:#}",
        over_tcp["findings"]
    );
    for finding in &found {
        let what_if = &finding["what_if"];
        assert_eq!(
            (&what_if["current"], &what_if["alternative"]),
            (&Value::from("tcp"), &Value::from("uds")),
            "{finding:#}"
        );
        assert_eq!(
            what_if["pattern"], "latency",
            "pgbench waits for each answer: {finding:#}"
        );
        assert!(what_if["messages"].as_u64().unwrap() >= 100, "{finding:#}");
    }
    let over_socket = trace(&cluster, &[], &cluster.pgbench(&socket, &select_only));
    assert!(
        kinds(&over_socket, "channels").contains(&"unix-stream".to_string()),
        "{:#}",
        over_socket["channels"]
    );
    assert!(
        !kinds(&over_socket, "findings").contains(&"tcp-loopback".to_string()),
        "pgbench over the Unix socket: {:#}",
        over_socket["findings"]
    );
}
