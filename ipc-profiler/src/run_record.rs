//! What a run creates that would outlive its processes, written down as it is created, so that
//! `ipc-profiler clean` can remove what a run killed with SIGKILL left, and nothing else.
//!
//! System V queues and semaphore sets are created `IPC_PRIVATE`: they have no key, and a
//! semaphore set does not even record its creator's pid, so nothing can recognise them
//! afterwards by looking. Instead each run keeps one file in a private run directory (`0700`,
//! `/run/ipc-profiler` as root), named by its pid and start time, listing every such object with
//! what identifies it (id, creator uid, change time) and every POSIX queue name not yet
//! unlinked. The controller rewrites it (atomically: a new file renamed over the old) when an
//! object is created or removed, and deletes it once it holds nothing.

use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// An object a run created that outlives its processes unless removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Object {
    /// A System V message queue.
    SysvQueue {
        /// Its id.
        id: i32,
        /// Its creator's uid and last change time when it was set up: an id reused by someone
        /// else's later queue differs in them.
        cuid: u32,
        /// `msg_ctime`.
        ctime: i64,
    },
    /// A System V semaphore set.
    SysvSemaphores {
        /// Its id.
        id: i32,
        /// Its creator's uid.
        cuid: u32,
        /// `sem_ctime` once set up.
        ctime: i64,
    },
    /// A POSIX message queue's name, between `mq_open` and `mq_unlink`.
    PosixQueue {
        /// The name (`/ipc-profiler-PID-…`).
        name: String,
    },
}

/// One run's record.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Record {
    /// The controller's pid.
    pub pid: u32,
    /// Its start time (clock ticks after boot, `/proc/PID/stat`): a pid reused by a later
    /// process has another.
    pub start_time: u64,
    /// The boot it ran in: after a reboot its System V objects are gone anyway.
    pub boot_id: String,
    /// What it created and has not removed yet.
    pub objects: Vec<Object>,
}

/// This process's record, written while it holds objects.
static THIS_RUN: Mutex<Option<Record>> = Mutex::new(None);

/// Where run records live: `/run/ipc-profiler` as root, else under `$XDG_RUNTIME_DIR` or the
/// home directory; `IPC_PROFILER_RUN_DIR` overrides it. The first of [`directories`].
pub fn directory() -> io::Result<PathBuf> {
    directories()
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::other("no run directory"))
}

/// Every place a run may keep its record, in the order a run tries them: the override alone;
/// `/run/ipc-profiler` as root; else the runtime or home directory's, then a directory of this
/// user's in the temporary directory, for a user whose home cannot be written (a system user,
/// a read-only home).
pub fn directories() -> Vec<PathBuf> {
    if let Some(dir) = std::env::var_os("IPC_PROFILER_RUN_DIR") {
        return vec![PathBuf::from(dir)];
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        return vec![PathBuf::from("/run/ipc-profiler")];
    }
    let mut dirs = Vec::new();
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
        dirs.push(Path::new(&runtime).join("ipc-profiler"));
    } else if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".local/state/ipc-profiler/runs"));
    }
    dirs.push(std::env::temp_dir().join(format!("ipc-profiler-runs-{uid}")));
    dirs
}

/// The first run directory that can be made private (created if missing, and checked to be
/// this user's alone: a real directory, not a link, owned by this user, closed to everyone
/// else); an error naming each place tried and why it failed.
fn private_directory() -> io::Result<PathBuf> {
    let mut failures = Vec::new();
    for dir in directories() {
        match made_private(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => failures.push(format!("{}: {e}", dir.display())),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "no private run directory could be made ({}); set IPC_PROFILER_RUN_DIR to a \
             directory of yours",
            failures.join("; ")
        ),
    ))
}

/// Creates `dir` (0700) if it is missing, and checks it is a real directory of this user's
/// that nobody else may enter.
fn made_private(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a private directory of this user (a link, another owner, or open to \
                 others): refusing to keep run records there",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// This process's start time, from `/proc/self/stat`.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) follow the last ')'; start time
    // is field 22, the 20th after it.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

impl Record {
    fn file_name(&self) -> String {
        format!("{}-{}.json", self.pid, self.start_time)
    }

    /// Whether the process that wrote it is still running (same pid, same start time).
    pub fn is_running(&self) -> bool {
        self.boot_id == boot_id() && start_time(self.pid) == Some(self.start_time)
    }
}

/// Writes `record` (or removes its file when it holds nothing), atomically.
fn save(record: &Record) -> io::Result<()> {
    let dir = private_directory()?;
    let path = dir.join(record.file_name());
    if record.objects.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let fresh = dir.join(format!(".{}.new", record.file_name()));
    let _ = std::fs::remove_file(&fresh);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&fresh)?;
    file.write_all(&serde_json::to_vec_pretty(record)?)?;
    file.sync_all()?;
    std::fs::rename(&fresh, &path)
}

/// Notes that this run created `object` (before the object exists for a name, right after
/// for an id). Failing to write the record fails the run: an object that `clean` could not
/// find must not be made.
pub fn created(object: Object) -> io::Result<()> {
    let mut this = THIS_RUN.lock().unwrap_or_else(|e| e.into_inner());
    let record = this.get_or_insert_with(|| Record {
        pid: std::process::id(),
        start_time: start_time(std::process::id()).unwrap_or(0),
        boot_id: boot_id(),
        objects: Vec::new(),
    });
    record.objects.push(object);
    save(record).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("could not record what this run creates, for `ipc-profiler clean`: {e}"),
        )
    })
}

/// Notes that this run removed `object` itself.
pub fn removed(object: &Object) {
    let mut this = THIS_RUN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(record) = this.as_mut() {
        record.objects.retain(|o| o != object);
        let _ = save(record);
    }
}

/// The creator uid and change time of a System V queue, if `id` is one.
pub fn queue_identity(id: i32) -> Option<(u32, i64)> {
    // SAFETY: an all-zero msqid_ds is a valid buffer for IPC_STAT to fill.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT into a live buffer of the right type.
    let rc = unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) };
    (rc == 0).then_some((ds.msg_perm.cuid, ds.msg_ctime))
}

/// The creator uid and change time of a System V semaphore set, if `id` is one.
pub fn semaphores_identity(id: i32) -> Option<(u32, i64)> {
    // SAFETY: an all-zero semid_ds is a valid buffer for IPC_STAT to fill.
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT with a pointer to a live semid_ds, passed as semctl's variadic argument.
    let rc = unsafe { libc::semctl(id, 0, libc::IPC_STAT, &mut ds as *mut libc::semid_ds) };
    (rc == 0).then_some((ds.sem_perm.cuid, ds.sem_ctime))
}

/// What `clean` found for one object of a dead run.
#[derive(Debug)]
pub enum Outcome {
    /// Removed (or, with `--dry-run`, would be).
    Removed,
    /// Already gone, or now someone else's (another owner or change time): left alone.
    Gone,
}

/// Removes `object` if it is still the one the run recorded.
fn remove(object: &Object, dry_run: bool) -> Outcome {
    let still = match object {
        Object::SysvQueue { id, cuid, ctime } => queue_identity(*id) == Some((*cuid, *ctime)),
        Object::SysvSemaphores { id, cuid, ctime } => {
            semaphores_identity(*id) == Some((*cuid, *ctime))
        }
        Object::PosixQueue { name } => Path::new("/dev/mqueue")
            .join(name.trim_start_matches('/'))
            .exists(),
    };
    if !still {
        return Outcome::Gone;
    }
    if !dry_run {
        match object {
            // SAFETY: IPC_RMID of an id checked just above; a null buf is allowed.
            Object::SysvQueue { id, .. } => unsafe {
                libc::msgctl(*id, libc::IPC_RMID, std::ptr::null_mut());
            },
            // SAFETY: IPC_RMID of a set checked just above.
            Object::SysvSemaphores { id, .. } => unsafe {
                libc::semctl(*id, 0, libc::IPC_RMID);
            },
            Object::PosixQueue { name } => {
                if let Ok(name) = std::ffi::CString::new(name.as_str()) {
                    // SAFETY: a NUL-terminated name.
                    unsafe { libc::mq_unlink(name.as_ptr()) };
                }
            }
        }
    }
    Outcome::Removed
}

/// Removes what every dead run recorded (or, with `dry_run`, says what it would remove), and
/// returns one line per object, for people.
pub fn clean(dry_run: bool) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    for dir in directories() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Missing, or a place this user cannot read (so no run of theirs wrote there).
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        // Records are trusted only from a directory of this user's alone; another user may
        // have planted one where this user's would go (in the temporary directory, say).
        if let Err(e) = made_private(&dir) {
            lines.push(format!("{}: {e}; its records left alone", dir.display()));
            continue;
        }
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        found.sort();
        paths.extend(found);
    }
    for path in paths {
        let Ok(record) = serde_json::from_slice::<Record>(&std::fs::read(&path)?) else {
            lines.push(format!("{}: not a run record, left alone", path.display()));
            continue;
        };
        if record.is_running() {
            continue;
        }
        for object in &record.objects {
            let what = describe(object);
            let line = match (remove(object, dry_run), dry_run) {
                (Outcome::Removed, false) => format!("removed {what} (run {})", record.pid),
                (Outcome::Removed, true) => format!("would remove {what} (run {})", record.pid),
                (Outcome::Gone, _) => {
                    format!("{what} of run {} is already gone", record.pid)
                }
            };
            lines.push(line);
        }
        if !dry_run {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(lines)
}

fn describe(object: &Object) -> String {
    match object {
        Object::SysvQueue { id, .. } => format!("System V message queue {id}"),
        Object::SysvSemaphores { id, .. } => format!("System V semaphore set {id}"),
        Object::PosixQueue { name } => format!("POSIX message queue {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_run_directory_must_be_private() {
        let base = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .unwrap();
        let fresh = base.path().join("runs");
        made_private(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            made_private(&fresh).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied,
            "a directory others may enter"
        );
        let link = base.path().join("planted");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            made_private(&link).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied,
            "a link planted where the directory goes"
        );
    }

    #[test]
    fn a_record_names_its_process_and_knows_it_is_running() {
        let me = Record {
            pid: std::process::id(),
            start_time: start_time(std::process::id()).unwrap(),
            boot_id: boot_id(),
            objects: vec![Object::PosixQueue { name: "/x".into() }],
        };
        assert!(me.is_running());
        let earlier = Record {
            pid: me.pid,
            start_time: me.start_time.wrapping_sub(1),
            boot_id: me.boot_id.clone(),
            objects: Vec::new(),
        };
        assert!(!earlier.is_running(), "a reused pid is another process");
        let text = serde_json::to_string(&me).unwrap();
        assert!(text.contains("\"kind\":\"posix-queue\""), "{text}");
    }
}
