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

/// A role's claim word and the record of the process that made its latest claim: what a
/// waiting peer asks about when its [`Wait`](crate::wait::Wait) watches the
/// [recorded peer](crate::wait::RecordedPeer), the default.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct ClaimSlot {
    word: AtomicU32,
    holder: HolderRecord,
}

/// Who made a claim, as that process saw itself: written by the claimer after its claim, read
/// by peers as a seqlock (`claim` first and last). A hostile peer can write anything here; the
/// worst it gets is a wrong verdict about itself (a wait that ends with
/// [`WaitError::PeerGone`](crate::wait::WaitError::PeerGone), or one that waits on).
#[repr(C)]
#[derive(Debug, Default)]
struct HolderRecord {
    /// The claim (the word's held value) this record describes; 0 while it is being written.
    claim: AtomicU32,
    /// The claimer's pid, in its own pid namespace.
    pid: AtomicU32,
    /// That pid namespace's inode number (0: unknown), so that a peer in another namespace
    /// does not read the pid as one of its own.
    pid_namespace: AtomicU32,
    /// The claimer's pidfs inode number (unique for the boot, from Linux 6.9; 0: unknown), low
    /// then high half: tells the process from a later one given the same pid.
    process_low: AtomicU32,
    process_high: AtomicU32,
}

impl ClaimSlot {
    /// Whether the role is held now.
    pub(crate) fn is_held(&self) -> bool {
        self.word.load(Ordering::Acquire) & HELD != 0
    }

    /// The liveness of the process that made the latest claim, as recorded here.
    pub(crate) fn holder(&self) -> RecordedHolder<'_> {
        RecordedHolder(self)
    }
}

/// The process recorded as a role's latest holder, watched as a [`Liveness`]: gone once that
/// process has exited (whether it released the role or died holding it); alive while it runs,
/// and whenever this process cannot tell (the role never claimed, a record being written, a
/// holder in another pid namespace, a target without processes).
#[derive(Clone, Copy, Debug)]
pub struct RecordedHolder<'a>(&'a ClaimSlot);

impl Liveness for RecordedHolder<'_> {
    fn peer_alive(&self) -> bool {
        self.0.holder.verdict() != Verdict::Gone
    }
}

impl RecordedHolder<'_> {
    /// Whether the role is held now (a holder that died keeps it).
    pub(crate) fn holds(&self) -> bool {
        self.0.is_held()
    }
}

/// What this process can tell about a recorded holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Where no process can be asked (bare metal, miri, loom) every verdict is Unknown.
#[cfg_attr(not(all(target_os = "linux", not(miri), not(loom))), allow(dead_code))]
enum Verdict {
    Alive,
    Gone,
    Unknown,
}

impl HolderRecord {
    /// Records `claim` as made by this process.
    fn record(&self, claim: u32) {
        let me = Identity::of_this_process();
        self.claim.store(0, Ordering::Relaxed);
        crate::sync::fence(Ordering::Release);
        self.pid.store(me.pid, Ordering::Relaxed);
        self.pid_namespace
            .store(me.pid_namespace, Ordering::Relaxed);
        self.process_low.store(me.process as u32, Ordering::Relaxed);
        self.process_high
            .store((me.process >> 32) as u32, Ordering::Relaxed);
        self.claim.store(claim, Ordering::Release);
    }

    /// The recorded identity, read whole (or `None` while it is being written or never was).
    fn read(&self) -> Option<Identity> {
        let claim = self.claim.load(Ordering::Acquire);
        let identity = Identity {
            pid: self.pid.load(Ordering::Relaxed),
            pid_namespace: self.pid_namespace.load(Ordering::Relaxed),
            process: u64::from(self.process_low.load(Ordering::Relaxed))
                | u64::from(self.process_high.load(Ordering::Relaxed)) << 32,
        };
        crate::sync::fence(Ordering::Acquire);
        (claim != 0 && self.claim.load(Ordering::Relaxed) == claim).then_some(identity)
    }

    fn verdict(&self) -> Verdict {
        match self.read() {
            Some(holder) => holder.verdict(),
            None => Verdict::Unknown,
        }
    }
}

/// A process as it names itself: pid, pid namespace, pidfs inode (0 where unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Identity {
    pid: u32,
    pid_namespace: u32,
    process: u64,
}

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
impl Identity {
    /// The pidfs filesystem's magic number (`statfs.f_type`).
    const PIDFS_MAGIC: u64 = 0x5049_4446;

    fn of_this_process() -> Self {
        let pid = rustix::process::getpid();
        let process = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .map_or(0, |fd| Self::pidfs_inode(&fd));
        Self {
            pid: pid.as_raw_nonzero().get() as u32,
            pid_namespace: Self::this_pid_namespace(),
            process,
        }
    }

    /// This process's pid namespace inode number (0: unknown).
    fn this_pid_namespace() -> u32 {
        rustix::fs::stat(c"/proc/self/ns/pid").map_or(0, |s| s.st_ino as u32)
    }

    /// The pidfs inode of the process `pidfd` refers to (0 before Linux 6.9, whose pidfds all
    /// share one anonymous inode).
    #[allow(clippy::unnecessary_cast)] // st_ino is not a u64 on every target
    fn pidfs_inode(pidfd: &rustix::fd::OwnedFd) -> u64 {
        match (rustix::fs::fstatfs(pidfd), rustix::fs::fstat(pidfd)) {
            (Ok(fs), Ok(stat)) if fs.f_type as u64 == Self::PIDFS_MAGIC => stat.st_ino as u64,
            _ => 0,
        }
    }

    /// Whether the process this identity names has exited, as this process can tell.
    fn verdict(self) -> Verdict {
        // Only this process's pid and namespace are compared: no pidfd of its own is needed.
        if self.pid_namespace == 0 || self.pid_namespace != Self::this_pid_namespace() {
            return Verdict::Unknown;
        }
        if self.pid == this_process() {
            return Verdict::Alive;
        }
        let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) else {
            return Verdict::Unknown;
        };
        let pidfd = match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
            Ok(pidfd) => pidfd,
            Err(rustix::io::Errno::SRCH) => return Verdict::Gone,
            Err(_) => return Verdict::Unknown,
        };
        let now = Self::pidfs_inode(&pidfd);
        if self.process != 0 && now != 0 && now != self.process {
            return Verdict::Gone; // The pid names a later process.
        }
        match pidfd_exited(&pidfd) {
            Ok(true) => Verdict::Gone, // Exited, reaped or not.
            Ok(false) => Verdict::Alive,
            Err(_) => Verdict::Unknown,
        }
    }
}

#[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
impl Identity {
    /// Nothing to name a process by here (bare metal, miri, loom): every verdict is unknown.
    fn of_this_process() -> Self {
        Self::default()
    }

    fn verdict(self) -> Verdict {
        Verdict::Unknown
    }
}

/// A held role: released when dropped by the process that claimed it.
///
/// A copy made by `fork` is not the holder: the child's drop releases nothing (the claim word
/// would hold the same value, so the word alone cannot tell the two processes apart).
#[derive(Debug)]
pub(crate) struct Claim<'a> {
    slot: &'a ClaimSlot,
    value: u32,
    /// The process that claimed the role.
    process: u32,
}

impl<'a> Claim<'a> {
    /// Claims the role of `slot`, if nobody holds it.
    pub(crate) fn take(slot: &'a ClaimSlot, role: Role) -> Result<Self, ClaimError> {
        let current = slot.word.load(Ordering::Relaxed);
        if current & HELD != 0 {
            return Err(ClaimError::Taken(role));
        }
        Self::replace(slot, current, role)
    }

    /// Claims the role, taking it over from a holder that `holder` proves dead (given the
    /// slot's record of it, which [`RecordedPeer`](crate::wait::RecordedPeer) consults).
    pub(crate) fn take_over(
        slot: &'a ClaimSlot,
        role: Role,
        holder: &dyn Liveness,
    ) -> Result<Self, ClaimError> {
        let current = slot.word.load(Ordering::Relaxed);
        if current & HELD != 0 && holder.peer_alive_with(&slot.holder()) {
            return Err(ClaimError::HolderAlive(role));
        }
        Self::replace(slot, current, role)
    }

    /// Whether this process made the claim (not a child that inherited it across `fork`).
    pub(crate) fn held_here(&self) -> bool {
        self.process == this_process()
    }

    /// Whether this is the first claim ever made of the role.
    pub(crate) fn is_first(&self) -> bool {
        self.value & !HELD == 1
    }

    /// Moves the word from `current` to a new held claim and records this process as its
    /// holder; fails if anyone changed the word meanwhile.
    fn replace(slot: &'a ClaimSlot, current: u32, role: Role) -> Result<Self, ClaimError> {
        let value = HELD | (current.wrapping_add(1) & !HELD);
        slot.word
            .compare_exchange(current, value, Ordering::AcqRel, Ordering::Relaxed)
            .map_err(|_| ClaimError::Taken(role))?;
        slot.holder.record(value);
        Ok(Self {
            slot,
            value,
            process: this_process(),
        })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.held_here() {
            return; // A forked copy: the parent still holds the role.
        }
        // Only this claim is released: if the role was taken over meanwhile (this side was
        // wrongly thought dead), the new holder keeps it.
        let _ = self.slot.word.compare_exchange(
            self.value,
            self.value & !HELD,
            Ordering::Release,
            Ordering::Relaxed,
        );
    }
}

/// Whether the process `pidfd` refers to has exited (its pidfd is readable then, before it is
/// reaped, and never for a later process given its pid); asked without waiting.
#[cfg(target_os = "linux")]
#[cfg_attr(any(loom, miri), allow(dead_code))] // there, only `shm` (feature std) asks it
pub(crate) fn pidfd_exited(pidfd: &impl rustix::fd::AsFd) -> rustix::io::Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&now)).map(|ready| ready > 0)
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
        let word = ClaimSlot::default();
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
        let word = ClaimSlot::default();
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
        let word = ClaimSlot::default();
        assert!(Claim::take_over(&word, Role::Subscriber(3), &AssumeAlive).is_ok());
    }

    #[cfg(not(miri))] // miri cannot ask the kernel about processes
    mod recorded_holder {
        extern crate std;
        use super::*;

        /// A pid that named a process of this namespace a moment ago and names none now.
        fn a_dead_pid() -> u32 {
            let mut child = std::process::Command::new("true").spawn().unwrap();
            let pid = child.id();
            child.wait().unwrap();
            pid
        }

        fn claimed() -> ClaimSlot {
            let slot = ClaimSlot::default();
            core::mem::forget(Claim::take(&slot, Role::Producer).unwrap());
            slot
        }

        #[test]
        fn a_holder_in_this_process_is_alive_and_one_never_claimed_cannot_be_told() {
            assert!(claimed().holder().peer_alive());
            assert_eq!(ClaimSlot::default().holder.verdict(), Verdict::Unknown);
        }

        #[test]
        fn a_holder_whose_process_exited_is_gone() {
            let slot = claimed();
            slot.holder.pid.store(a_dead_pid(), Ordering::Relaxed);
            assert_eq!(slot.holder.verdict(), Verdict::Gone);
            assert!(!slot.holder().peer_alive());
        }

        #[test]
        fn a_holder_in_another_pid_namespace_cannot_be_told() {
            let slot = claimed();
            slot.holder.pid.store(a_dead_pid(), Ordering::Relaxed);
            let namespace = slot.holder.pid_namespace.load(Ordering::Relaxed);
            assert_ne!(namespace, 0, "this machine names its pid namespace");
            slot.holder
                .pid_namespace
                .store(namespace ^ 1, Ordering::Relaxed);
            assert_eq!(slot.holder.verdict(), Verdict::Unknown);
        }

        #[test]
        fn a_later_process_given_the_recorded_pid_is_not_taken_for_the_holder() {
            let slot = claimed();
            let me = slot.holder.read().unwrap();
            if me.process == 0 {
                // Before Linux 6.9 pidfds share one inode: nothing to tell processes apart by.
                let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
                let mut numbers = release.split(|c: char| !c.is_ascii_digit());
                let mut next = || numbers.next().and_then(|n| n.parse::<u32>().ok());
                let version = (next().unwrap_or(0), next().unwrap_or(0));
                assert!(
                    version < (6, 9),
                    "Linux {release} has pidfs, yet no pidfs inode was recorded"
                );
                return;
            }
            // The parent process stands in for a later process given the same pid number.
            let parent = rustix::process::getppid().unwrap().as_raw_nonzero().get() as u32;
            slot.holder.pid.store(parent, Ordering::Relaxed);
            assert_eq!(slot.holder.verdict(), Verdict::Gone);
        }

        #[test]
        fn a_record_being_written_cannot_be_told() {
            let slot = claimed();
            slot.holder.pid.store(a_dead_pid(), Ordering::Relaxed);
            slot.holder.claim.store(0, Ordering::Relaxed);
            assert_eq!(slot.holder.verdict(), Verdict::Unknown);
        }
    }
}
