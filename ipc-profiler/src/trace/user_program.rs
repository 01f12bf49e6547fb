//! Tracing a program someone else wrote: `trace --pid PID [--duration S]` and
//! `trace -- CMD ARGS…`. The same kernel counters as for a mechanism, for the process and,
//! each on its own line, every process it starts while traced, over the time it was traced.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ipc_ebpf::NO_PARENT;

use super::attribution::{self, TracedProcessFigures};
use super::channels;
use super::ipc_objects::Snapshot;
use super::registry::comm_of;
use super::tracer::{SlotCounts, Tracer};
use super::Attach;
use crate::result::{ProgramInfo, ProgramReport};
use crate::usage_error::usage_bail;

/// What to trace.
pub enum Target {
    /// A running process.
    Pid(u32),
    /// A command to start: program and arguments, as this user when one is named.
    Command(Vec<String>, Option<String>),
}

/// Traces `target` (for at most `duration` seconds when it is a running process).
pub fn run(
    target: Target,
    duration: Option<f64>,
    attach: Attach,
    ebpf_log: bool,
) -> anyhow::Result<ProgramReport> {
    // An unknown user is refused before any program is loaded.
    let user = match &target {
        Target::Command(_, Some(name)) => Some(RunAs::lookup(name)?),
        _ => None,
    };
    let mut tracer = Tracer::load(attach, ebpf_log)?;
    tracer.attach()?;
    tracer.registry().reserve_slots(1)?;
    // What exists before it runs: what is new once it has ended, it left behind.
    let objects_before = Snapshot::take();
    let started = Instant::now();
    let (pid, command, exit, open) = match target {
        Target::Pid(pid) => {
            let (exit, open) = watch(&mut tracer, pid, duration.unwrap_or(5.0))?;
            (pid, None, exit, open)
        }
        Target::Command(argv, _) => {
            let (pid, exit) = start(&mut tracer, &argv, user.as_ref())?;
            (pid, Some(argv), Some(exit), Vec::new())
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    // Only an ended program has left anything: a running one may still remove it.
    let left = if exit.is_some() {
        Snapshot::take().new_since(&objects_before)
    } else {
        Vec::new()
    };
    let owners = tracer.registry().owners()?;
    let mut figures = Vec::with_capacity(owners.len());
    for owner in &owners {
        let parent = owners
            .iter()
            .find(|o| o.slot == owner.process.parent_slot)
            .map(|o| o.process.tgid);
        let role = match comm_of(&owner.process) {
            name if owner.slot == ipc_ebpf::SHARED_SLOT => format!("{name} and later processes"),
            name => name,
        };
        figures.push(TracedProcessFigures {
            role,
            pid: owner.process.tgid,
            started_by: parent,
            // Each process's own on-CPU time, from the scheduler programs (getrusage would give
            // a started command's user time together with its reaped children's).
            user_s: None,
            elapsed_s: None,
            on_cpu_counted: true,
            counts: with_open_stretch(tracer.counts(owner.slot)?, &open, owner.slot),
        });
    }
    let breakdown = attribution::build(&figures, 1, None, (tracer.syscalls_via, tracer.sched_via));
    let mut report = ProgramReport::new(
        crate::machine::detect(),
        ProgramInfo { pid, command, exit },
        seconds,
        breakdown,
    );
    match tracer.channels_unavailable() {
        Some(why) => report.channels_unavailable = Some(why.to_string()),
        None => {
            let process_of = |slot: u32| {
                let owner = owners.iter().find(|o| o.slot == slot)?;
                Some((owner.process.tgid, comm_of(&owner.process)))
            };
            let ends = tracer.ends()?;
            report.channels = channels::pair(&ends, process_of);
            let traced: Vec<u32> = owners.iter().map(|o| o.process.tgid).collect();
            let used = channels::used_objects(&ends, process_of);
            report.findings = crate::findings::find(&crate::findings::Observed {
                channels: &report.channels,
                traced: &traced,
                used: &used,
                left: &left,
                on_cpu: &super::on_cpu::on_cpu(&tracer, &owners, &figures, &used, seconds)?,
            });
        }
    }
    Ok(report)
}

/// Traces `pid` in slot 0 from now on.
fn register(tracer: &mut Tracer, pid: u32) -> anyhow::Result<()> {
    let registry = tracer.registry();
    // The phase first: a thread switched out between its entry's writing and the phase's
    // opening would lose the on-CPU stretch its entry starts (the switch-out, outside the
    // phase, clears it uncounted), until its next switch; with the phase open first, the
    // programs count it from the moment its entry exists.
    registry.set_phase(0, true)?;
    registry
        .register(pid, 0, NO_PARENT)
        .context("could not register the process with the tracer")
}

/// Stops counting for every traced process (children inherited the phase).
/// Per slot, the on-CPU stretch, ns, still open when its phase closed.
type OpenStretches = Vec<(u32, u64)>;

/// Closes every slot's phase; returns, per slot, the on-CPU stretch still open then (a thread
/// on a CPU as the phase closes has a stretch the scheduler programs never end).
fn unregister(tracer: &mut Tracer) -> anyhow::Result<OpenStretches> {
    let registry = tracer.registry();
    let owners = registry.owners()?;
    for owner in &owners {
        registry.set_phase(owner.slot, false)?;
    }
    let closed = super::registry::monotonic_ns();
    Ok(owners
        .iter()
        .map(|owner| {
            let open = registry.still_on_cpu_ns(owner.process.tgid, owner.slot, closed);
            (owner.slot, open)
        })
        .collect())
}

/// `counts` with the on-CPU stretch of `slot` that was open when its phase closed.
fn with_open_stretch(mut counts: SlotCounts, open: &[(u32, u64)], slot: u32) -> SlotCounts {
    if let Some(sched) = counts.sched.as_mut() {
        let extra: u64 = open
            .iter()
            .filter(|(s, _)| *s == slot)
            .map(|(_, ns)| ns)
            .sum();
        sched.on_cpu_ns += extra;
    }
    counts
}

/// Traces a running process until it exits or `seconds` pass (or Ctrl-C).
fn watch(
    tracer: &mut Tracer,
    pid: u32,
    seconds: f64,
) -> anyhow::Result<(Option<String>, OpenStretches)> {
    let raw = rustix::process::Pid::from_raw(pid as i32).context("pid 0 is not a process")?;
    let pidfd = match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => usage_bail!("no process has pid {pid}"),
        Err(e) => return Err(e).context("pidfd_open"),
    };
    register(tracer, pid)?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut exit = None;
    while !crate::process::was_interrupted() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds = [rustix::event::PollFd::new(
            &pidfd,
            rustix::event::PollFlags::IN,
        )];
        let wait = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: left.as_nanos().min(100_000_000) as i64,
        };
        if matches!(rustix::event::poll(&mut fds, Some(&wait)), Ok(n) if n > 0) {
            exit = Some("exited while traced".to_string());
            break;
        }
    }
    let open = unregister(tracer)?;
    Ok((exit, open))
}

/// Starts `argv` traced from its first instruction: the child waits on a pipe until it is
/// registered, then execs. Returns its pid and how it ended.
fn start(
    tracer: &mut Tracer,
    argv: &[String],
    user: Option<&RunAs>,
) -> anyhow::Result<(u32, String)> {
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<Result<_, _>>()
        .context("an argument holds a NUL byte")?;
    // The program's path, searched here: a PATH search in the child would be execve calls
    // that fail, counted as the program's own (`strace` shows one execve).
    let program = CString::new(program_path(&argv[0]).into_os_string().into_encoded_bytes())
        .context("the program's path holds a NUL byte")?;
    let mut pointers: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // The environment the command starts with: this one, or the user's login variables in it.
    let environment: Vec<CString> = std::env::vars_os()
        .filter(|(name, _)| user.is_none_or(|u| !u.replaces(name)))
        .map(|(name, value)| {
            let mut entry = name.into_encoded_bytes();
            entry.push(b'=');
            entry.extend(value.into_encoded_bytes());
            entry
        })
        .chain(user.into_iter().flat_map(RunAs::login_variables))
        .filter_map(|entry| CString::new(entry).ok())
        .collect();
    let mut env_pointers: Vec<*const libc::c_char> =
        environment.iter().map(|e| e.as_ptr()).collect();
    env_pointers.push(std::ptr::null());
    let (gate_read, gate_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    // The child says when all it does before the program is done (fork's own clean-up, closing
    // its end of the gate, switching user): only then is it registered, so none of that counts.
    let (ready_read, ready_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    // SAFETY: the controller is single-threaded; the child only resets SIGPIPE, switches user,
    // reads the gate, execs, and on failure leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("could not fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        drop(gate_write);
        drop(ready_read);
        let mut byte = [0u8; 1];
        // SAFETY: resets a disposition, switches user, reads one byte into a local buffer, then
        // replaces this process image; the pointers stay valid until execve (they point into `args`, `program` and
        // `environment`, still alive).
        unsafe {
            // Before the gate: what the child does before the program starts is not counted.
            // The Rust runtime ignores SIGPIPE; the program gets the default, as from a shell
            // (and from std's Command). Every other disposition is the one the tool was given:
            // caught signals return to their default at execve, ignored ones stay ignored.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            if let Some(user) = user {
                // Groups first, then the group, then the user: once the user id is dropped,
                // nothing else may be changed.
                if libc::setgroups(user.groups.len(), user.groups.as_ptr()) != 0
                    || libc::setgid(user.gid) != 0
                    || libc::setuid(user.uid) != 0
                {
                    libc::_exit(EXIT_NOT_USER);
                }
            }
            libc::write(ready_write.as_raw_fd(), byte.as_ptr().cast(), 1);
            libc::read(gate_read.as_raw_fd(), byte.as_mut_ptr().cast(), 1);
            libc::execve(program.as_ptr(), pointers.as_ptr(), env_pointers.as_ptr());
            libc::_exit(EXIT_NOT_STARTED);
        }
    }
    drop(gate_read);
    drop(ready_write);
    // Ready, or gone (the read then ends at once): either way it waits for nothing more. Then
    // wait (briefly) until it sleeps in its read of the gate: a read entered before it is
    // registered is not counted, one entered after would be.
    let _ = rustix::io::read(&ready_read, &mut [0u8; 1]);
    let asleep = Instant::now() + Duration::from_millis(200);
    while !sleeping(pid as u32) && Instant::now() < asleep {
        std::thread::yield_now();
    }
    let registered = register(tracer, pid as u32);
    // Open the gate whatever happened: the child must not wait forever.
    drop(gate_write);
    registered?;
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            bail!(
                "could not wait for {}: {}",
                argv[0],
                std::io::Error::last_os_error()
            );
        }
    }
    // Every process has exited: no stretch is open.
    unregister(tracer)?;
    let exit = if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            EXIT_NOT_STARTED => bail!(
                "could not start `{}` (not found or not executable)",
                argv[0]
            ),
            EXIT_NOT_USER => bail!(
                "could not run `{}` as {}: changing to its user and group ids was refused",
                argv[0],
                user.map_or("?", |u| u.name.as_str())
            ),
            code => format!("exit status {code}"),
        }
    } else {
        format!("killed by signal {}", libc::WTERMSIG(status))
    };
    Ok((pid as u32, exit))
}

/// Whether process `pid` sleeps now (state `S` in /proc/PID/stat).
fn sleeping(pid: u32) -> bool {
    super::registry::state(&format!("/proc/{pid}/stat")).is_some_and(|state| state == "S")
}

/// The file `name` runs: itself if it holds a `/`, else the first executable of that name in
/// `PATH` (as `execvp` would search it), else `name` (execve then fails and says so).
fn program_path(name: &str) -> std::path::PathBuf {
    if name.contains('/') {
        return name.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            rustix::fs::access(candidate.as_path(), rustix::fs::Access::EXEC_OK).is_ok()
                && candidate.is_file()
        })
        .unwrap_or_else(|| name.into())
}

/// The exit status of a started child that could not exec its command (as a shell's).
const EXIT_NOT_STARTED: i32 = 127;
/// The exit status of a started child that could not become the user it was to run as.
const EXIT_NOT_USER: i32 = 126;

/// A user to run a traced command as (`trace --user NAME`), looked up before the fork so that
/// the child only makes the calls that switch to it.
pub struct RunAs {
    name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
    home: String,
    shell: String,
}

impl RunAs {
    /// The user called `name`, with its groups, from the password and group databases.
    pub fn lookup(name: &str) -> anyhow::Result<Self> {
        if name.is_empty() {
            usage_bail!(
                "--user needs a user name (or leave it out to run the command as the caller)"
            );
        }
        let c_name = CString::new(name).context("a user name holds a NUL byte")?;
        // SAFETY: an all-zero passwd is a valid value for getpwnam_r to fill.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut strings = vec![0 as libc::c_char; 16 * 1024];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to a live local; the buffer's length is passed with it.
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                strings.as_mut_ptr(),
                strings.len(),
                &mut found,
            )
        };
        if rc != 0 || found.is_null() {
            usage_bail!("no user is called {name} on this machine");
        }
        // SAFETY: getpwnam_r succeeded: the entry's strings point into `strings`, NUL-ended.
        let text = |p: *const libc::c_char| unsafe {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        };
        let (uid, gid) = (entry.pw_uid, entry.pw_gid);
        let (home, shell) = (text(entry.pw_dir), text(entry.pw_shell));
        let mut groups = vec![0 as libc::gid_t; 256];
        let mut count = groups.len() as libc::c_int;
        // SAFETY: `groups` holds `count` entries; getgrouplist writes at most that many.
        let rc =
            unsafe { libc::getgrouplist(c_name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc < 0 {
            bail!("{name} belongs to more than {} groups", groups.len());
        }
        groups.truncate(count.max(0) as usize);
        Ok(Self {
            name: name.to_string(),
            uid,
            gid,
            groups,
            home,
            shell,
        })
    }

    /// Whether the environment variable `name` is one this user's login sets.
    fn replaces(&self, name: &std::ffi::OsStr) -> bool {
        ["HOME", "USER", "LOGNAME", "SHELL"]
            .iter()
            .any(|v| name == std::ffi::OsStr::new(v))
    }

    /// The login variables of this user: `HOME`, `USER`, `LOGNAME`, `SHELL`.
    fn login_variables(&self) -> Vec<Vec<u8>> {
        [
            ("HOME", &self.home),
            ("USER", &self.name),
            ("LOGNAME", &self.name),
            ("SHELL", &self.shell),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .collect()
    }
}
