//! Whether the sides of a ring may sleep: chosen once, when the ring is laid out.

use crate::wait::{Strategy, WaitError};

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
}

impl Wakeups {
    /// The value stored in the ring's control block.
    pub(crate) fn to_word(self) -> u32 {
        match self {
            Self::Futex => 0,
            Self::SpinOnly => 1,
        }
    }

    /// The mode a control block word names, if it names one.
    pub(crate) fn from_word(word: u32) -> Option<Self> {
        match word {
            0 => Some(Self::Futex),
            1 => Some(Self::SpinOnly),
            _ => None,
        }
    }

    /// Refuses a wait that would sleep on a ring whose peer never wakes anyone.
    #[inline]
    pub(crate) fn check(self, strategy: Strategy) -> Result<(), WaitError> {
        match (self, strategy) {
            (Self::SpinOnly, Strategy::SpinThenFutex { .. }) => Err(WaitError::SleepDisabled),
            _ => Ok(()),
        }
    }
}
