//! Role claims: one producer and one consumer per ring, one producer per fan-in lane, one
//! holder per broadcast subscriber slot, by construction.
//!
//! Each role has a *claim word* in its structure's control block: bit 31 says the role is held,
//! bits 0..31 count the claims ever made, so that a release or a take-over acts only on the claim
//! it knows. Claiming is a compare-exchange from "free" to "held" (acquire: the new holder sees
//! the state the last holder left); dropping the side releases it (release). A holder that died
//! without releasing can be taken over with a [`Liveness`] hook that watches it and says it is
//! gone: the hook is the caller's proof, as the region cannot name a process in a way every pid
//! namespace understands (use [`ProcessLiveness::from_pidfd`](crate::shm::ProcessLiveness) with
//! a pidfd passed over a Unix socket, which holds across namespaces; a pid number does not).
//!
//! Claims keep honest programs from running two producers by mistake, in one process or two. A
//! hostile peer can still write the word; what it can do then is what it could do anyway (write
//! the ring), and every check of the ring's indices and records still holds.

use core::fmt;

use crate::sync::{AtomicU32, Ordering};
use crate::wait::Liveness;

/// The "held" bit of a claim word.
const HELD: u32 = 1 << 31;

/// A role in a structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The producer of an SPSC ring or a broadcast region.
    Producer,
    /// The consumer of an SPSC ring, or of every lane of a fan-in region.
    Consumer,
    /// The producer of one fan-in lane.
    LaneProducer(usize),
    /// One broadcast subscriber slot.
    Subscriber(usize),
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Producer => f.write_str("the producer"),
            Self::Consumer => f.write_str("the consumer"),
            Self::LaneProducer(lane) => write!(f, "the producer of lane {lane}"),
            Self::Subscriber(index) => write!(f, "subscriber {index}"),
        }
    }
}

/// Why a role could not be claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// Someone holds the role (in this process or another) and has not released it.
    Taken(Role),
    /// A take-over was asked, but the liveness hook says the holder still lives.
    HolderAlive(Role),
    /// The structure has no such role (a lane or subscriber index past its count).
    NoSuchRole(Role),
    /// The role's peer sleeps on an eventfd and no [`Doorbell`](crate::doorbell::Doorbell) was
    /// given to ring it (`needed`), or one was given where the peer does not (`!needed`).
    Doorbell {
        /// The role that was asked for.
        role: Role,
        /// Whether the ring's [`Wakeups`](crate::spsc::Wakeups) mode needs a doorbell here.
        needed: bool,
    },
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Taken(role) => write!(
                f,
                "{role} is already claimed; it is released when its holder drops it, or taken \
                 over once the holder is proved dead"
            ),
            Self::HolderAlive(role) => {
                write!(f, "{role} cannot be taken over: its holder is alive")
            }
            Self::NoSuchRole(role) => write!(f, "{role} does not exist in this region"),
            Self::Doorbell { role, needed: true } => write!(
                f,
                "{role} must be given its peer's eventfd (a Doorbell): this ring's peer sleeps \
                 on an eventfd, and nothing else would wake it"
            ),
            Self::Doorbell {
                role,
                needed: false,
            } => write!(
                f,
                "{role} was given a doorbell, but its peer does not sleep on an eventfd in this \
                 ring"
            ),
        }
    }
}

impl core::error::Error for ClaimError {}

impl ClaimError {
    /// The same error about `role` (a lane's ring reports its own producer role).
    pub(crate) fn for_role(self, role: Role) -> Self {
        match self {
            Self::Taken(_) => Self::Taken(role),
            Self::HolderAlive(_) => Self::HolderAlive(role),
            Self::NoSuchRole(_) => Self::NoSuchRole(role),
            Self::Doorbell { needed, .. } => Self::Doorbell { role, needed },
        }
    }
}

/// Whether the role whose claim word is `word` is held now.
pub(crate) fn is_held(word: &AtomicU32) -> bool {
    word.load(Ordering::Acquire) & HELD != 0
}

/// A held role: released when dropped by the process that claimed it.
///
/// A copy made by `fork` is not the holder: the child's drop releases nothing (the claim word
/// would hold the same value, so the word alone cannot tell the two processes apart).
#[derive(Debug)]
pub(crate) struct Claim<'a> {
    word: &'a AtomicU32,
    value: u32,
    /// The process that claimed the role.
    process: u32,
}

impl<'a> Claim<'a> {
    /// Claims the role whose claim word is `word`, if nobody holds it.
    pub(crate) fn take(word: &'a AtomicU32, role: Role) -> Result<Self, ClaimError> {
        let current = word.load(Ordering::Relaxed);
        if current & HELD != 0 {
            return Err(ClaimError::Taken(role));
        }
        Self::replace(word, current, role)
    }

    /// Claims the role, taking it over from a holder that `holder` proves dead.
    pub(crate) fn take_over(
        word: &'a AtomicU32,
        role: Role,
        holder: &dyn Liveness,
    ) -> Result<Self, ClaimError> {
        let current = word.load(Ordering::Relaxed);
        if current & HELD != 0 && holder.peer_alive() {
            return Err(ClaimError::HolderAlive(role));
        }
        Self::replace(word, current, role)
    }

    /// Whether this process made the claim (not a child that inherited it across `fork`).
    pub(crate) fn held_here(&self) -> bool {
        self.process == this_process()
    }

    /// Whether this is the first claim ever made of the role.
    pub(crate) fn is_first(&self) -> bool {
        self.value & !HELD == 1
    }

    /// Moves the word from `current` to a new held claim; fails if anyone changed it meanwhile.
    fn replace(word: &'a AtomicU32, current: u32, role: Role) -> Result<Self, ClaimError> {
        let value = HELD | (current.wrapping_add(1) & !HELD);
        word.compare_exchange(current, value, Ordering::AcqRel, Ordering::Relaxed)
            .map(|_| Self {
                word,
                value,
                process: this_process(),
            })
            .map_err(|_| ClaimError::Taken(role))
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.held_here() {
            return; // A forked copy: the parent still holds the role.
        }
        // Only this claim is released: if the role was taken over meanwhile (this side was
        // wrongly thought dead), the new holder keeps it.
        let _ = self.word.compare_exchange(
            self.value,
            self.value & !HELD,
            Ordering::Release,
            Ordering::Relaxed,
        );
    }
}

/// This process's id (0 where there are no processes to fork, or none miri can ask about).
#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn this_process() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// This process's id (0 where there are no processes to fork, or none miri can ask about).
#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
fn this_process() -> u32 {
    0
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    use crate::wait::{AssumeAlive, Dead};

    #[test]
    fn a_role_has_one_holder_until_released() {
        let word = AtomicU32::new(0);
        let first = Claim::take(&word, Role::Producer).unwrap();
        assert_eq!(
            Claim::take(&word, Role::Producer).unwrap_err(),
            ClaimError::Taken(Role::Producer)
        );
        drop(first);
        let second = Claim::take(&word, Role::Producer).unwrap();
        assert_eq!(second.value, HELD | 2, "the second claim ever made");
    }

    #[test]
    fn a_take_over_needs_the_holder_dead_and_the_old_holder_cannot_release_it() {
        let word = AtomicU32::new(0);
        let stale = Claim::take(&word, Role::Consumer).unwrap();
        assert_eq!(
            Claim::take_over(&word, Role::Consumer, &AssumeAlive).unwrap_err(),
            ClaimError::HolderAlive(Role::Consumer)
        );
        let new = Claim::take_over(&word, Role::Consumer, &Dead).unwrap();
        drop(stale);
        assert_eq!(
            Claim::take(&word, Role::Consumer).unwrap_err(),
            ClaimError::Taken(Role::Consumer),
            "the wrongly presumed dead holder released nothing"
        );
        drop(new);
        assert!(Claim::take(&word, Role::Consumer).is_ok());
    }

    #[test]
    fn a_free_role_is_taken_over_without_asking_the_hook() {
        let word = AtomicU32::new(0);
        assert!(Claim::take_over(&word, Role::Subscriber(3), &AssumeAlive).is_ok());
    }
}
