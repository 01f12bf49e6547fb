//! The run's private D-Bus broker: Debian's `dbus-daemon`, started on a configuration of its
//! own in a private directory (0700, random name) and listening on a Unix socket there. One
//! broker serves every channel of a run (a request goes through it one way and its reply back,
//! as on a real bus), and it stops when the run's last channel is dropped: killed, reaped, its
//! directory removed. It dies with the controller too (`PR_SET_PDEATHSIG`), so not even a
//! SIGKILLed run leaves it running.

use std::io::{self, BufRead};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};

/// The most bytes the broker queues for one connection, each way: a signal for a subscriber
/// whose queue holds more is dropped (`dbus-daemon` logs "destination has a full message
/// queue"). D-Bus has no flow control from reader back to sender beyond this queue.
pub const QUEUE_LIMIT: usize = 1 << 30;

/// A running broker.
pub struct Broker {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

/// The broker of the run in progress, while a channel holds it.
static CURRENT: Mutex<Weak<Broker>> = Mutex::new(Weak::new());

/// The run's broker: the one its channels already use, or a new one.
pub fn shared() -> io::Result<Arc<Broker>> {
    let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(broker) = current.upgrade() {
        return Ok(broker);
    }
    let broker = Arc::new(Broker::start()?);
    *current = Arc::downgrade(&broker);
    Ok(broker)
}

/// Whether `dbus-daemon` can be started here, and why not.
pub fn available() -> Result<(), String> {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("dbus-daemon").is_file())
    });
    match found {
        true => Ok(()),
        false => Err(NOT_INSTALLED.into()),
    }
}

const NOT_INSTALLED: &str =
    "dbus-daemon is not installed (Debian's dbus-daemon package; `cargo xtask setup` installs it)";

/// The broker's configuration: one socket, EXTERNAL authentication (the peer's uid, checked by
/// the kernel), a policy that lets the run's processes own names and reach each other, and
/// queues deep enough for a whole run (see [`QUEUE_LIMIT`]).
fn config(socket: &std::path::Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>ipc-profiler</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <limit name="max_incoming_bytes">{QUEUE_LIMIT}</limit>
  <limit name="max_outgoing_bytes">{QUEUE_LIMIT}</limit>
  <limit name="max_connections_per_user">1024</limit>
  <limit name="max_completed_connections">1024</limit>
  <limit name="max_names_per_connection">4096</limit>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
        socket = socket.display()
    )
}

impl Broker {
    /// Starts a broker and waits until it listens; an error names what is missing.
    fn start() -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("ipc-profiler-dbus-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let conf = dir.path().join("bus.conf");
        std::fs::write(&conf, config(&dir.path().join("bus")))?;
        let log = dir.path().join("bus.log");
        let mut command = Command::new("dbus-daemon");
        command
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Its complaints go to a file beside its configuration, read if it fails to start:
            // a pipe nobody reads could fill and stop it mid-run.
            .stderr(Stdio::from(std::fs::File::create(&log)?));
        // SAFETY: the closure runs in the forked child before exec and makes one
        // async-signal-safe system call (prctl), touching no memory of the parent's.
        unsafe {
            command.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))
                .map_err(io::Error::from)
            });
        }
        let mut child = command.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => io::Error::new(e.kind(), NOT_INSTALLED),
            _ => e,
        })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        // The address is printed once the socket listens; nothing is printed if it fails.
        let mut line = String::new();
        io::BufReader::new(stdout).read_line(&mut line)?;
        let address = line.trim().to_string();
        if address.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            let why = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(io::Error::other(format!(
                "dbus-daemon exited without listening: {}",
                why.trim()
            )));
        }
        Ok(Self {
            child,
            address,
            _dir: dir,
        })
    }

    /// Its address, as clients connect to it (`unix:path=...,guid=...`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Its process id: a process of the run, whose CPU is part of each message's cost.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
