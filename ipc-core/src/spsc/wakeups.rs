//! Whether the sides of a ring may sleep, and on what: chosen once, when the ring is laid out.

use crate::sync::AtomicU32;
use crate::wait::{Strategy, WaitError};

/// Where a side that announced a futex sleep waits ([`Consumer::announce_futex_sleep`],
/// [`Producer::announce_futex_sleep`]): the peer's 32-bit index word, and the value it holds
/// while the wait is due.
///
/// [`Consumer::announce_futex_sleep`]: super::Consumer::announce_futex_sleep
/// [`Producer::announce_futex_sleep`]: super::Producer::announce_futex_sleep
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FutexSleep {
    /// The word's address, valid while the ring's region stays mapped.
    pub word: *const u32,
    /// The value to wait on: a futex wait on it returns at once if the word holds another.
    pub value: u32,
}

impl FutexSleep {
    pub(crate) fn on(word: &AtomicU32, value: u32) -> Self {
        Self {
            word: core::ptr::from_ref(word).cast::<u32>(),
            value,
        }
    }
}

/// How a ring's sides learn that their peer moved, fixed by [`Spsc::init_with`](super::Spsc::init_with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wakeups {
    /// Either side may sleep on a futex. Every publish is one atomic swap of the index word,
    /// which tells the publisher whether the peer sleeps: a locked instruction per commit (or
    /// per flush), no syscall while the peer is awake.
    #[default]
    Futex,
    /// Neither side ever sleeps (busy-poll or spin-then-yield only). Publishes are plain release
    /// stores: no locked instruction on the fast path. Waiting with
    /// [`Strategy::SpinThenFutex`] fails with [`WaitError::SleepDisabled`], because nobody
    /// would wake the sleeper.
    SpinOnly,
    /// The named sides sleep on an eventfd that an async runtime polls (see
    /// [`doorbell`](crate::doorbell)); the others on the futex, as with [`Futex`](Self::Futex).
    /// The peer of an eventfd side must be given that eventfd when it claims its role
    /// ([`Spsc::producer_with_doorbell`](super::Spsc::producer_with_doorbell),
    /// [`Spsc::consumer_with_doorbell`](super::Spsc::consumer_with_doorbell)). Publishes cost
    /// what they cost with [`Futex`](Self::Futex).
    Eventfd(EventfdSides),
}

/// Which sides of a ring sleep on an eventfd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventfdSides {
    /// The consumer waits for messages on an eventfd; the producer rings it.
    Consumer,
    /// The producer waits for room on an eventfd; the consumer rings it.
    Producer,
    /// Both.
    Both,
}

/// A side of a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Producer,
    Consumer,
}

impl Wakeups {
    /// The value stored in the ring's control block.
    pub(crate) fn to_word(self) -> u32 {
        match self {
            Self::Futex => 0,
            Self::SpinOnly => 1,
            Self::Eventfd(EventfdSides::Consumer) => 2,
            Self::Eventfd(EventfdSides::Producer) => 3,
            Self::Eventfd(EventfdSides::Both) => 4,
        }
    }

    /// The mode a control block word names, if it names one.
    pub(crate) fn from_word(word: u32) -> Option<Self> {
        match word {
            0 => Some(Self::Futex),
            1 => Some(Self::SpinOnly),
            2 => Some(Self::Eventfd(EventfdSides::Consumer)),
            3 => Some(Self::Eventfd(EventfdSides::Producer)),
            4 => Some(Self::Eventfd(EventfdSides::Both)),
            _ => None,
        }
    }

    /// Whether the consumer sleeps on an eventfd.
    pub fn consumer_sleeps_on_eventfd(self) -> bool {
        self.sleeps_on_eventfd(Side::Consumer)
    }

    /// Whether the producer sleeps on an eventfd.
    pub fn producer_sleeps_on_eventfd(self) -> bool {
        self.sleeps_on_eventfd(Side::Producer)
    }

    /// Whether `side` sleeps on an eventfd (and its peer must ring it).
    pub(crate) fn sleeps_on_eventfd(self, side: Side) -> bool {
        matches!(
            (self, side),
            (Self::Eventfd(EventfdSides::Both), _)
                | (Self::Eventfd(EventfdSides::Consumer), Side::Consumer)
                | (Self::Eventfd(EventfdSides::Producer), Side::Producer)
        )
    }

    /// Refuses a sleeper on `side`'s futex word where nobody would wake it: on a spin-only
    /// ring, or on a side that sleeps on an eventfd.
    pub(crate) fn check_futex_sleeper(self, side: Side) -> Result<(), WaitError> {
        self.check(side, Strategy::SpinThenFutex { spins: 0 })
    }

    /// Refuses a wait of `side` that would sleep on the futex where nobody would wake it: on a
    /// spin-only ring, or on a side that sleeps on an eventfd.
    #[inline]
    pub(crate) fn check(self, side: Side, strategy: Strategy) -> Result<(), WaitError> {
        if !strategy.sleeps_on_futex() {
            return Ok(());
        }
        if self == Self::SpinOnly {
            return Err(WaitError::SleepDisabled);
        }
        if self.sleeps_on_eventfd(side) {
            return Err(WaitError::SleepsOnEventfd);
        }
        Ok(())
    }
}
