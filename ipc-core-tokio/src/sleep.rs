//! Sleeping on an eventfd through tokio, with an optional liveness check.

use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use ipc_core::role::RecordedHolder;
use ipc_core::wait::{Liveness, SpinHistory, Strategy};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::Error;

/// The eventfd a side sleeps on, registered with the current tokio runtime, and what brings its
/// liveness checks while it sleeps.
#[derive(Debug)]
struct Sleeper {
    eventfd: AsyncFd<OwnedFd>,
    /// Made at the first sleep that checks.
    checks: Option<Checks>,
}

/// What wakes a sleeping side when its liveness check comes due.
#[derive(Debug)]
enum Checks {
    /// The process's ticker thread ([`crate::ticker`]): no timer at all.
    Ticker(std::sync::Arc<crate::ticker::Slot>),
    /// Where no ticker thread can run: one tokio timer for all of the side's sleeps, moved on
    /// only when it fires.
    Timer(Pin<Box<tokio::time::Sleep>>),
}

/// Whom a sleeping side asks whether its peer lives.
pub(crate) enum Watched<'l> {
    /// The process the ring recorded as the peer's holder (the default).
    Recorded(RecordedHolder<'l>),
    /// The caller's hook.
    Hook(&'l (dyn Liveness + Send + Sync)),
}

impl Watched<'_> {
    fn peer_alive(&self) -> bool {
        match self {
            Self::Recorded(holder) => holder.peer_alive(),
            Self::Hook(hook) => hook.peer_alive(),
        }
    }
}

/// A peer's liveness and how often to ask it while asleep.
pub(crate) struct Watch<'l> {
    pub watched: Watched<'l>,
    pub every: Duration,
}

impl<'l> Watch<'l> {
    /// The default: the recorded holder, asked every 100 ms (as `Wait::futex()` does).
    pub fn recorded(holder: RecordedHolder<'l>) -> Self {
        Self {
            watched: Watched::Recorded(holder),
            every: Duration::from_millis(100),
        }
    }
}

impl Sleeper {
    /// Registers `eventfd` (non-blocking) with the runtime this is called in.
    pub fn new(eventfd: OwnedFd) -> Result<Self, Error> {
        // Registering outside a runtime would panic: say so instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        // SAFETY: an OwnedFd owns its open descriptor, returns the same one from every
        // as_raw_fd, and closes it only when the AsyncFd (its owner from here) drops it.
        let eventfd = unsafe { AsyncFd::register_with_interest(eventfd, Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        Ok(Self {
            eventfd,
            checks: None,
        })
    }

    /// Waits until the eventfd is rung: an edge after the last wake-up, never its count.
    ///
    /// tokio registers descriptors edge-triggered, and an eventfd signals every write to each
    /// epoll instance watching it, so the count is left alone: a wake-up costs the waker's write
    /// and the runtime's `epoll_wait`, no `read`, and the subscribers of a broadcast region can
    /// share one eventfd (a read by one would hide the edge from another). With `every`,
    /// `check` says whether to go on (the peer's liveness) each time the side has slept
    /// through `every`, woken for it by the process's ticker thread (or, where none can run,
    /// by a timer kept for all of the side's sleeps).
    /// Cancellation-safe: a readiness left uncleared only makes the next sleep return at once.
    pub async fn sleep(
        &mut self,
        every: Option<Duration>,
        mut check: impl FnMut() -> Result<(), Error>,
    ) -> Result<(), Error> {
        let Some(every) = every else {
            self.eventfd.readable().await?.clear_ready();
            return Ok(());
        };
        let checks = self
            .checks
            .get_or_insert_with(|| match crate::ticker::Slot::new(every) {
                Some(slot) => Checks::Ticker(slot),
                None => Checks::Timer(Box::pin(tokio::time::sleep(every))),
            });
        let mut readable = std::pin::pin!(self.eventfd.readable());
        std::future::poll_fn(|cx| {
            if let Poll::Ready(ready) = readable.as_mut().poll(cx) {
                if let Checks::Ticker(slot) = checks {
                    slot.awake();
                }
                // The next sleep waits for the next ring. A ring that came after this
                // readiness is not lost: tokio clears only the readiness this guard saw, not
                // one its driver set since.
                ready?.clear_ready();
                return Poll::Ready(Ok(()));
            }
            match checks {
                Checks::Ticker(slot) => {
                    if slot.asleep(cx.waker(), every) {
                        check()?;
                    }
                }
                Checks::Timer(timer) => {
                    while timer.as_mut().poll(cx).is_ready() {
                        check()?;
                        timer.as_mut().reset(tokio::time::Instant::now() + every);
                    }
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// What a waiting side needs: its eventfd, how long it spins first, and its peer's liveness.
pub(crate) struct Waiting<'a> {
    sleeper: Sleeper,
    /// How it spins before sleeping: adaptive, or a fixed count (`with_spins`).
    pub spinning: Strategy,
    /// What its spins learned (adaptive spinning).
    history: SpinHistory,
    /// The peer's liveness, asked while asleep.
    pub watch: Option<Watch<'a>>,
}

impl<'a> Waiting<'a> {
    /// Registers `eventfd` with the current runtime; spins adaptively, at most
    /// [`crate::DEFAULT_SPINS`] times; watches as `watch` says while asleep (`None`: the side
    /// checks its peers itself, with [`sleep_checking`](Self::sleep_checking)).
    pub fn new(eventfd: OwnedFd, watch: Option<Watch<'a>>) -> Result<Self, Error> {
        Ok(Self {
            sleeper: Sleeper::new(eventfd)?,
            spinning: Strategy::Adaptive {
                max_spins: crate::DEFAULT_SPINS,
            },
            history: SpinHistory::new(),
            watch,
        })
    }

    /// Polls `ready` as the spinning strategy says (at least `at_least` times); true once it
    /// holds. What it found teaches an adaptive strategy.
    pub fn spin<E>(
        &mut self,
        at_least: u32,
        ready: impl FnMut() -> Result<bool, E>,
    ) -> Result<bool, E> {
        let checks = self.history.spins(self.spinning).max(at_least);
        self.history.spin(self.spinning, checks, ready)
    }

    /// Sleeps until the eventfd is rung (or the peer is found dead).
    pub async fn sleep(&mut self) -> Result<(), Error> {
        match &self.watch {
            None => self.sleeper.sleep(None, || Ok(())).await,
            Some(watch) => {
                let check = || match watch.watched.peer_alive() {
                    true => Ok(()),
                    false => Err(Error::PeerGone),
                };
                self.sleeper.sleep(Some(watch.every), check).await
            }
        }
    }

    /// Sleeps until the eventfd is rung, asking `check` every `every` (the liveness of a set of
    /// peers, which only the waiting side can name).
    pub async fn sleep_checking(
        &mut self,
        every: Duration,
        check: impl FnMut() -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.sleeper.sleep(Some(every), check).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sleeps on an eventfd nobody rings, with a check that says "gone" at its third call:
    /// the sleep must end with that error, woken for each check by what `checks` makes.
    fn a_sleep_nobody_rings_is_woken_for_its_checks(checks: impl FnOnce(Duration) -> Checks) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let every = Duration::from_millis(20);
            let mut sleeper = Sleeper::new(crate::eventfd().unwrap()).unwrap();
            sleeper.checks = Some(checks(every));
            let mut asked = 0;
            let check = || {
                asked += 1;
                if asked < 3 {
                    Ok(())
                } else {
                    Err(Error::PeerGone)
                }
            };
            let slept =
                tokio::time::timeout(Duration::from_secs(10), sleeper.sleep(Some(every), check))
                    .await
                    .expect("not woken for its checks within 10 s");
            assert!(matches!(slept, Err(Error::PeerGone)), "{slept:?}");
        });
    }

    #[test]
    fn the_ticker_wakes_a_sleep_for_its_checks() {
        a_sleep_nobody_rings_is_woken_for_its_checks(|every| {
            Checks::Ticker(crate::ticker::Slot::new(every).expect("a ticker thread starts"))
        });
    }

    #[test]
    fn without_a_ticker_the_kept_timer_wakes_a_sleep_for_its_checks() {
        a_sleep_nobody_rings_is_woken_for_its_checks(|every| {
            Checks::Timer(Box::pin(tokio::time::sleep(every)))
        });
    }

    #[test]
    fn a_rung_sleep_ends_without_asking() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let eventfd = crate::eventfd().unwrap();
            let ring = eventfd.try_clone().unwrap();
            let mut sleeper = Sleeper::new(eventfd).unwrap();
            rustix::io::write(&ring, &1u64.to_ne_bytes()).unwrap();
            let check = || -> Result<(), Error> { panic!("asked although rung") };
            sleeper
                .sleep(Some(Duration::from_secs(60)), check)
                .await
                .unwrap();
        });
    }
}
