//! `sysv-sem`: shared mailboxes handed over with a System V semaphore set; semop. The set is
//! removed (IPC_RMID) when the run ends, however it ends.

use std::io;

use super::endpoints::mailbox::{self, Handoff, Mailboxes};
use super::{Channel, FanInChannel, Mechanism};
use crate::run_record::{self, Object};

/// Mailboxes and System V semaphores.
pub struct SysvSem;

/// Semaphore `2d` is mailbox `d`'s "full", `2d + 1` its "empty".
struct SemaphoreSet {
    id: i32,
}

impl SemaphoreSet {
    fn op(&self, number: usize, delta: i16) -> io::Result<()> {
        let mut op = libc::sembuf {
            sem_num: number as u16,
            sem_op: delta,
            sem_flg: 0,
        };
        loop {
            // SAFETY: one valid sembuf for a set this run created.
            if unsafe { libc::semop(self.id, &mut op, 1) } == 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

impl Handoff for SemaphoreSet {
    fn wait_empty(&self, _: &Mailboxes, d: usize) -> io::Result<()> {
        self.op(2 * d + 1, -1)
    }
    fn post_full(&self, _: &Mailboxes, d: usize) -> io::Result<()> {
        self.op(2 * d, 1)
    }
    fn wait_full(&self, _: &Mailboxes, d: usize) -> io::Result<()> {
        self.op(2 * d, -1)
    }
    fn post_empty(&self, _: &Mailboxes, d: usize) -> io::Result<()> {
        self.op(2 * d + 1, 1)
    }
}

impl Mechanism for SysvSem {
    fn name(&self) -> &'static str {
        "sysv-sem"
    }

    fn available(&self) -> Result<(), String> {
        super::system::kernel_has(
            "/proc/sysvipc/sem",
            "this kernel has no System V IPC (CONFIG_SYSVIPC)",
        )
    }

    fn summary(&self) -> &'static str {
        "shared mailboxes + System V semaphores; semop"
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        let (boxes, handoff, remove) = with_semaphore_set(size)?;
        let mut channel = mailbox::fan_in(boxes, handoff, writers);
        channel.cleanup.push(remove);
        Ok(channel)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let (boxes, set, remove) = with_semaphore_set(size)?;
        let mut channel = mailbox::channel(boxes, set);
        channel.cleanup.push(remove);
        Ok(channel)
    }
}

/// Mailboxes, a new semaphore set (empties at 1) and the action that removes the set.
fn with_semaphore_set(size: usize) -> io::Result<(Mailboxes, SemaphoreSet, impl FnOnce())> {
    let boxes = Mailboxes::new(size)?;
    // SAFETY: plain syscall with constant arguments.
    let id = unsafe { libc::semget(libc::IPC_PRIVATE, 4, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return Err(io::Error::last_os_error());
    }
    let remove_set = move || {
        // SAFETY: removes the set this run created.
        unsafe { libc::semctl(id, 0, libc::IPC_RMID) };
    };
    for empty in [1, 3] {
        // SAFETY: SETVAL on our own set.
        if unsafe { libc::semctl(id, empty, libc::SETVAL, 1) } != 0 {
            let error = io::Error::last_os_error();
            remove_set();
            return Err(error);
        }
    }
    // Recorded for `ipc-profiler clean` once set up (SETVAL changes the set's change time).
    let (cuid, ctime) = run_record::semaphores_identity(id).unwrap_or_default();
    let object = Object::SysvSemaphores { id, cuid, ctime };
    if let Err(error) = run_record::created(object.clone()) {
        remove_set();
        return Err(error);
    }
    let remove = move || {
        remove_set();
        run_record::removed(&object);
    };
    Ok((boxes, SemaphoreSet { id }, remove))
}
