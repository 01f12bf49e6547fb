//! How a side that sleeps on an eventfd is woken: its peer rings a doorbell.
//!
//! Linux cannot poll a futex, so a side run by an async runtime sleeps on an eventfd the runtime
//! polls instead. The ring's [`Wakeups`](crate::spsc::Wakeups) mode records which sides do; their
//! peer is given the eventfd as a [`Doorbell`] when it claims its role, and writes it exactly
//! where it would otherwise call `futex_wake`: when its publish finds the sleeper's bit set. A
//! peer that never sees the bit makes no syscall. How the eventfd reaches the peer is the
//! caller's business (inherited across `fork`, or passed over a Unix socket with
//! `SCM_RIGHTS`): ipc-core never opens or closes it.
//!
//! ```
//! use ipc_core::doorbell::Doorbell;
//! use ipc_core::spsc::{EventfdSides, Spsc, Wakeups};
//! use ipc_core::Region;
//! use rustix::event::{eventfd, EventfdFlags};
//! use rustix::fd::AsFd;
//!
//! let consumer_sleeps_on = eventfd(0, EventfdFlags::NONBLOCK)?;
//! let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
//! let ring = Spsc::init_with(
//!     Region::from_slice(&mut memory),
//!     1024,
//!     Wakeups::Eventfd(EventfdSides::Consumer),
//! )
//! .unwrap();
//! let mut producer = ring
//!     .producer_with_doorbell(Doorbell::eventfd(consumer_sleeps_on.as_fd()))
//!     .unwrap();
//! let mut consumer = ring.consumer().unwrap();
//! assert!(consumer.announce_sleep().unwrap()); // nothing there: it may sleep on the eventfd
//! producer.push(b"wake up").unwrap(); // sees the announcement, writes the eventfd
//! let mut count = [0u8; 8];
//! assert_eq!(rustix::io::read(&consumer_sleeps_on, &mut count)?, 8);
//! assert_eq!(u64::from_ne_bytes(count), 1);
//! # Ok::<(), rustix::io::Errno>(())
//! ```

use core::marker::PhantomData;

/// What the reading side of a fan-in or broadcast region sleeps on, fixed when the region is
/// laid out (an SPSC ring says it per side with [`Wakeups`](crate::spsc::Wakeups)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReaderSleeps {
    /// The futex of the region's wake word: ipc-core's blocking reads.
    #[default]
    OnFutex,
    /// An eventfd that an async runtime polls (`ipc-core-tokio`): every writer is given it as a
    /// [`Doorbell`] and rings it where it would otherwise wake the futex. The blocking reads
    /// refuse to sleep ([`WaitError::SleepsOnEventfd`](crate::wait::WaitError::SleepsOnEventfd)).
    ///
    /// A broadcast region's subscribers all sleep on the *same* eventfd and must never read its
    /// count: each ring is an edge that wakes every epoll instance watching it, and a count read
    /// by one subscriber would hide the edge from another whose runtime had not yet collected
    /// it. A fan-in region's one consumer may read it or not.
    OnEventfd,
}

impl ReaderSleeps {
    /// The value stored in a region's control block.
    pub(crate) fn to_bits(self) -> u32 {
        match self {
            Self::OnFutex => 0,
            Self::OnEventfd => 1,
        }
    }

    /// The mode stored as `bits`, if it names one.
    pub(crate) fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            0 => Some(Self::OnFutex),
            1 => Some(Self::OnEventfd),
            _ => None,
        }
    }

    /// Checks that a writer was given a doorbell exactly where the reader sleeps on an eventfd.
    pub(crate) fn check_doorbell(
        self,
        given: bool,
        role: crate::role::Role,
    ) -> Result<(), crate::role::ClaimError> {
        let needed = self == Self::OnEventfd;
        if needed == given {
            Ok(())
        } else {
            Err(crate::role::ClaimError::Doorbell { role, needed })
        }
    }

    /// Refuses a blocking read whose wait would sleep on the futex where writers ring an
    /// eventfd instead.
    pub(crate) fn check_wait(
        self,
        how: &crate::wait::Wait<'_>,
    ) -> Result<(), crate::wait::WaitError> {
        if self == Self::OnEventfd && how.strategy.sleeps_on_futex() {
            return Err(crate::wait::WaitError::SleepsOnEventfd);
        }
        Ok(())
    }
}

/// What a broadcast region's producer sleeps on while it waits for room (backpressure mode),
/// fixed when the region is laid out (`Broadcast::init_with_sleepers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProducerSleeps {
    /// The futex of the slowest subscriber's cursor: ipc-core's blocking sends.
    #[default]
    OnFutex,
    /// An eventfd that an async runtime polls (`ipc-core-tokio`'s `AsyncPublisher`): every
    /// subscriber is given it as a [`Doorbell`] when it claims its slot, and rings it where it
    /// would otherwise wake the futex. The blocking sends refuse to sleep
    /// ([`WaitError::SleepsOnEventfd`](crate::wait::WaitError::SleepsOnEventfd)).
    OnEventfd,
}

impl ProducerSleeps {
    /// The same choice, as the reader's type holds it (one set of checks for both).
    fn as_reader(self) -> ReaderSleeps {
        match self {
            Self::OnFutex => ReaderSleeps::OnFutex,
            Self::OnEventfd => ReaderSleeps::OnEventfd,
        }
    }

    /// The value stored in a region's control block.
    pub(crate) fn to_bits(self) -> u32 {
        self.as_reader().to_bits()
    }

    /// The mode stored as `bits`, if it names one.
    pub(crate) fn from_bits(bits: u32) -> Option<Self> {
        ReaderSleeps::from_bits(bits).map(|reader| match reader {
            ReaderSleeps::OnFutex => Self::OnFutex,
            ReaderSleeps::OnEventfd => Self::OnEventfd,
        })
    }

    /// Checks that a subscriber was given a doorbell exactly where the producer sleeps on an
    /// eventfd.
    pub(crate) fn check_doorbell(
        self,
        given: bool,
        role: crate::role::Role,
    ) -> Result<(), crate::role::ClaimError> {
        self.as_reader().check_doorbell(given, role)
    }

    /// Refuses a blocking send whose wait would sleep on the futex where subscribers ring an
    /// eventfd instead.
    pub(crate) fn check_wait(
        self,
        how: &crate::wait::Wait<'_>,
    ) -> Result<(), crate::wait::WaitError> {
        self.as_reader().check_wait(how)
    }
}

/// The eventfd a sleeping peer waits on, as the side that wakes it holds it.
#[derive(Clone, Copy, Debug)]
pub struct Doorbell<'a> {
    bell: os::Bell<'a>,
    _lifetime: PhantomData<&'a ()>,
}

impl<'a> Doorbell<'a> {
    /// A doorbell that writes 1 to `eventfd` (an eventfd the peer created and polls).
    #[cfg(all(target_os = "linux", not(loom)))]
    pub fn eventfd(eventfd: rustix::fd::BorrowedFd<'a>) -> Self {
        Self {
            bell: os::Bell(eventfd),
            _lifetime: PhantomData,
        }
    }

    /// A doorbell on a model eventfd, for the loom models.
    #[cfg(loom)]
    pub(crate) fn model(bell: &'a os::ModelEventfd) -> Self {
        Self {
            bell: os::Bell(bell),
            _lifetime: PhantomData,
        }
    }

    /// Wakes the peer.
    #[inline]
    pub(crate) fn ring(&self) {
        self.bell.ring();
    }
}

#[cfg(all(target_os = "linux", not(loom)))]
mod os {
    use rustix::fd::BorrowedFd;

    #[derive(Clone, Copy, Debug)]
    pub struct Bell<'a>(pub BorrowedFd<'a>);

    impl Bell<'_> {
        pub fn ring(&self) {
            // EAGAIN means the counter is at its maximum: the peer has a wake-up pending
            // anyway. Any other error (a descriptor that is not an eventfd) cannot wake it
            // either; the peer's own timeout and liveness checks bound its wait.
            let _ = rustix::io::write(self.0, &1u64.to_ne_bytes());
        }
    }
}

#[cfg(all(not(target_os = "linux"), not(loom)))]
mod os {
    use core::marker::PhantomData;

    /// Targets without eventfds: no doorbell can be made.
    #[derive(Clone, Copy, Debug)]
    pub struct Bell<'a>(Never, PhantomData<&'a ()>);

    #[derive(Clone, Copy, Debug)]
    enum Never {}

    impl Bell<'_> {
        pub fn ring(&self) {
            match self.0 {}
        }
    }
}

#[cfg(loom)]
pub(crate) mod os {
    //! A model of an eventfd for loom: a counter that a waiter sleeps on until it is non-zero
    //! and then takes (as `read` does), under the same lock as the futex model, so that a
    //! wake-up rung before the wait is seen and one that is never rung shows as a deadlock.
    use crate::wait::os::{LOCK, WOKEN};

    /// An eventfd's counter.
    #[derive(Debug, Default)]
    pub struct ModelEventfd {
        count: core::cell::Cell<u64>,
    }

    // SAFETY: the counter is read and written only while LOCK is held.
    unsafe impl Sync for ModelEventfd {}

    impl ModelEventfd {
        /// Sleeps until the counter is non-zero, then resets it.
        pub fn wait(&self) {
            let mut guard = LOCK.lock().unwrap();
            while self.count.get() == 0 {
                guard = WOKEN.wait(guard).unwrap();
            }
            self.count.set(0);
        }

        /// Sleeps until the counter moves from `seen` (a ring since this waiter last woke),
        /// then remembers it, never taking it: an edge-triggered poller of an eventfd that
        /// several waiters share.
        pub fn wait_for_edge(&self, seen: &mut u64) {
            let mut guard = LOCK.lock().unwrap();
            while self.count.get() == *seen {
                guard = WOKEN.wait(guard).unwrap();
            }
            *seen = self.count.get();
        }
    }

    #[derive(Clone, Copy, Debug)]
    pub struct Bell<'a>(pub &'a ModelEventfd);

    impl Bell<'_> {
        pub fn ring(&self) {
            let _guard = LOCK.lock().unwrap();
            self.0.count.set(self.0.count.get() + 1);
            WOKEN.notify_all();
        }
    }
}

#[cfg(loom)]
pub(crate) use os::ModelEventfd;

/// Eventfds for the tests of the structures whose sides sleep on one.
#[cfg(all(test, not(miri), not(loom), target_os = "linux"))]
pub(crate) mod test_eventfd {
    use rustix::fd::OwnedFd;

    /// A new non-blocking eventfd.
    pub fn new() -> OwnedFd {
        rustix::event::eventfd(0, rustix::event::EventfdFlags::NONBLOCK).unwrap()
    }

    /// Its count, taken without blocking (0: nobody rang).
    pub fn rung(fd: &OwnedFd) -> u64 {
        let mut count = [0u8; 8];
        match rustix::io::read(fd, &mut count) {
            Ok(_) => u64::from_ne_bytes(count),
            Err(rustix::io::Errno::AGAIN) => 0,
            Err(other) => panic!("eventfd: {other}"),
        }
    }
}
