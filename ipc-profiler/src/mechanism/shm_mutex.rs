//! `shm-mutex`: shared mailboxes guarded by a process-shared pthread mutex and condition
//! variable each; the peer waits on the condvar.

use std::io;

use super::endpoints::mailbox::{self, check, Handoff, Mailboxes};
use super::{Channel, FanInChannel, Mechanism};

/// Mailboxes, mutexes and condition variables.
pub struct ShmMutex;

/// In each sync area: the mutex at 0, the condvar at 64, the "full" flag at 128.
struct MutexCondvar;

fn mutex(boxes: &Mailboxes, d: usize) -> *mut libc::pthread_mutex_t {
    boxes.sync_area(d).cast().as_ptr()
}

fn condvar(boxes: &Mailboxes, d: usize) -> *mut libc::pthread_cond_t {
    // SAFETY: a pthread_cond_t (48 bytes) fits at 64 in the 256-byte sync area.
    unsafe { boxes.sync_area(d).add(64).cast().as_ptr() }
}

fn full(boxes: &Mailboxes, d: usize) -> *mut u32 {
    // SAFETY: inside the sync area, 4-aligned.
    unsafe { boxes.sync_area(d).add(128).cast().as_ptr() }
}

/// Locks mailbox `d` and waits until its flag is `wanted`; returns holding the lock.
fn lock_until(boxes: &Mailboxes, d: usize, wanted: u32) -> io::Result<()> {
    // SAFETY: the mutex, condvar and flag were initialised by connect in shared memory that
    // lives as long as the channel; the flag is read and written only under the mutex.
    unsafe {
        check(libc::pthread_mutex_lock(mutex(boxes, d)))?;
        while full(boxes, d).read_volatile() != wanted {
            check(libc::pthread_cond_wait(condvar(boxes, d), mutex(boxes, d)))?;
        }
    }
    Ok(())
}

/// Sets the flag, wakes the waiters and unlocks mailbox `d` (locked by `lock_until`).
///
/// Broadcast, not signal: one condition variable serves both "empty" and "full", and with
/// several writers a single wake-up could reach another writer instead of the reader.
fn set_and_unlock(boxes: &Mailboxes, d: usize, value: u32) -> io::Result<()> {
    // SAFETY: as in lock_until; the caller holds the mutex.
    unsafe {
        full(boxes, d).write_volatile(value);
        check(libc::pthread_cond_broadcast(condvar(boxes, d)))?;
        check(libc::pthread_mutex_unlock(mutex(boxes, d)))
    }
}

impl Handoff for MutexCondvar {
    fn wait_empty(&self, boxes: &Mailboxes, d: usize) -> io::Result<()> {
        lock_until(boxes, d, 0)
    }
    fn post_full(&self, boxes: &Mailboxes, d: usize) -> io::Result<()> {
        set_and_unlock(boxes, d, 1)
    }
    fn wait_full(&self, boxes: &Mailboxes, d: usize) -> io::Result<()> {
        lock_until(boxes, d, 1)
    }
    fn post_empty(&self, boxes: &Mailboxes, d: usize) -> io::Result<()> {
        set_and_unlock(boxes, d, 0)
    }
}

impl Mechanism for ShmMutex {
    fn name(&self) -> &'static str {
        "shm-mutex"
    }

    fn summary(&self) -> &'static str {
        "shared mailboxes + process-shared pthread mutex and condvar"
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        let (boxes, handoff) = (with_mutexes(size)?, MutexCondvar);
        Ok(mailbox::fan_in(boxes, handoff, writers))
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        Ok(mailbox::channel(with_mutexes(size)?, MutexCondvar))
    }
}

/// Mailboxes with their process-shared mutexes and condition variables initialised.
fn with_mutexes(size: usize) -> io::Result<Mailboxes> {
    let boxes = Mailboxes::new(size)?;
    for d in 0..2 {
        // SAFETY: attribute objects on the stack, initialised, used, destroyed; the mutex
        // and condvar go into fresh shared memory, marked PTHREAD_PROCESS_SHARED.
        unsafe {
            let mut mutex_attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(libc::pthread_mutexattr_init(&mut mutex_attr))?;
            check(libc::pthread_mutexattr_setpshared(
                &mut mutex_attr,
                libc::PTHREAD_PROCESS_SHARED,
            ))?;
            check(libc::pthread_mutex_init(mutex(&boxes, d), &mutex_attr))?;
            libc::pthread_mutexattr_destroy(&mut mutex_attr);
            let mut cond_attr: libc::pthread_condattr_t = std::mem::zeroed();
            check(libc::pthread_condattr_init(&mut cond_attr))?;
            check(libc::pthread_condattr_setpshared(
                &mut cond_attr,
                libc::PTHREAD_PROCESS_SHARED,
            ))?;
            check(libc::pthread_cond_init(condvar(&boxes, d), &cond_attr))?;
            libc::pthread_condattr_destroy(&mut cond_attr);
        }
    }
    Ok(boxes)
}
