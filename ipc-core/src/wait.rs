//! Waiting for a wake word to move: busy-poll, spin then yield, or spin then sleep on a futex.
//!
//! Sleeping uses a shared (not process-private) futex on the word itself, so it works across
//! processes that map the region at different addresses. A sleeping waiter is woken about every
//! [`Wait::check_every`] to ask its [`Liveness`] hook whether the peer still lives: a dead peer
//! is an error, not a hang. With the `std` feature on Linux one thread per process (the
//! *ticker*) brings those wake-ups, so a sleep arms no timer of its own (a timer costs each
//! sleep about 0.23 µs); elsewhere each sleep arms one.

use core::time::Duration;

use crate::sync::AtomicU32;
use crate::wake;

/// How a blocked side waits for its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Re-read the word in a tight loop: lowest latency, burns a CPU.
    BusyPoll,
    /// Spin `spins` times, then give the CPU away with `sched_yield` between checks.
    SpinThenYield {
        /// Checks before the first yield.
        spins: u32,
    },
    /// Spin `spins` times, then sleep on the futex until woken.
    SpinThenFutex {
        /// Checks before the first sleep.
        spins: u32,
    },
    /// Spin only while spinning pays, then sleep on the futex: the default ([`Wait::futex`]).
    ///
    /// A spin pays when the peer publishes while this side spins, which needs the peer to run
    /// on another CPU meanwhile. Each waiting side learns whether it does (a [`SpinHistory`]):
    /// its budget is all of `max_spins` again when a spin caught the peer, halved when the wait
    /// had to sleep, and once at zero, the whole budget after [`PROBE_EVERY`] waits finds out
    /// whether spinning pays again (the interval doubling after each probe that does not, up
    /// to [`PROBE_EVERY_MAX`]). Where the peer shares this side's CPU, or waiters outnumber
    /// CPUs, spins that cannot succeed would take the CPU from the very process being waited
    /// for: they stop within about a dozen waits.
    Adaptive {
        /// Checks before the first sleep at most.
        max_spins: u32,
    },
}

impl Strategy {
    /// True when a wait of this strategy ends up asleep on the futex (after its spins).
    pub const fn sleeps_on_futex(self) -> bool {
        matches!(self, Self::SpinThenFutex { .. } | Self::Adaptive { .. })
    }
}

/// An adaptive waiter whose budget fell to zero spins its whole budget again after this many
/// waits (a probe): long enough to outlast the peer's own wake-up, so that two sides that both
/// learned to sleep find out when spinning would pay again. Each probe that catches nothing
/// doubles the interval, up to [`PROBE_EVERY_MAX`]; a caught spin brings it back.
pub const PROBE_EVERY: u32 = 256;
/// The longest interval between an adaptive waiter's probes, in waits.
pub const PROBE_EVERY_MAX: u32 = 1 << 14;

/// What a waiting side learned of its spins ([`Strategy::Adaptive`]): how many checks are worth
/// making before it sleeps. Each side keeps its own.
#[derive(Clone, Copy, Debug)]
pub struct SpinHistory {
    /// Checks the next wait makes (`None`: no wait yet, start at the maximum).
    budget: Option<u32>,
    /// Waits since the last probe, while the budget is zero.
    since_probe: u32,
    /// Waits between probes.
    probe_every: u32,
    /// The current wait is a probe.
    probing: bool,
}

impl Default for SpinHistory {
    fn default() -> Self {
        Self::new()
    }
}

impl SpinHistory {
    /// A side that has not waited yet: its first wait spins the full budget.
    pub const fn new() -> Self {
        Self {
            budget: None,
            since_probe: 0,
            probe_every: PROBE_EVERY,
            probing: false,
        }
    }

    /// Checks the next wait should make under `strategy`.
    pub fn spins(&mut self, strategy: Strategy) -> u32 {
        match strategy {
            Strategy::BusyPoll => u32::MAX,
            Strategy::SpinThenYield { spins } | Strategy::SpinThenFutex { spins } => spins,
            Strategy::Adaptive { max_spins } => {
                self.probing = false;
                match self.budget(max_spins) {
                    0 => {
                        self.since_probe += 1;
                        if self.since_probe < self.probe_every {
                            return 0;
                        }
                        self.since_probe = 0;
                        self.probing = true;
                        max_spins
                    }
                    budget => budget,
                }
            }
        }
    }

    /// Looks at `ready` once, then polls it up to `checks` more times (what
    /// [`spins`](Self::spins) said, capped or raised by the caller); true once it holds.
    ///
    /// Only a spin that waited teaches this history: a condition that held at the first look
    /// (a message queued already, room to spare) says nothing of whether spinning pays, and
    /// leaves the history as it was. (Counting it as a caught spin would trap a consumer that
    /// lags behind: every read finds a message waiting, so its budget stays whole, and its next
    /// wait spins the whole budget on a CPU the other waiters need, which keeps them behind
    /// too.) A spin that ran out tells the history it missed, unless it made no check at all.
    ///
    /// # Errors
    /// The first error `ready` returns.
    pub fn spin<E>(
        &mut self,
        strategy: Strategy,
        checks: u32,
        mut ready: impl FnMut() -> Result<bool, E>,
    ) -> Result<bool, E> {
        if ready()? {
            return Ok(true);
        }
        for _ in 0..checks {
            core::hint::spin_loop();
            if ready()? {
                self.caught(strategy);
                return Ok(true);
            }
        }
        if checks != 0 {
            self.missed(strategy);
        }
        Ok(false)
    }

    /// The current budget of an adaptive strategy of at most `max_spins` checks.
    fn budget(&self, max_spins: u32) -> u32 {
        self.budget.unwrap_or(max_spins).min(max_spins)
    }

    /// The wait's spin caught the peer: spinning pays, the whole budget again.
    pub fn caught(&mut self, strategy: Strategy) {
        if let Strategy::Adaptive { max_spins } = strategy {
            self.budget = Some(max_spins);
            self.probe_every = PROBE_EVERY;
        }
    }

    /// The wait's spin ran out: it sleeps (or yields).
    pub fn missed(&mut self, strategy: Strategy) {
        if let Strategy::Adaptive { max_spins } = strategy {
            if self.probing {
                self.probe_every = (self.probe_every * 2).min(PROBE_EVERY_MAX);
                return;
            }
            self.budget = Some(self.budget(max_spins) / 2);
        }
    }
}

/// Tells a waiter whether its peer can still make progress.
pub trait Liveness {
    /// False once the peer is known to be gone (its process died, its lock was released).
    fn peer_alive(&self) -> bool;

    /// Whether [`peer_alive`](Self::peer_alive) can ever answer false. A hook that cannot
    /// ([`AssumeAlive`]) lets a sleeping waiter sleep until woken, never asked, with neither a
    /// timer nor the ticker thread.
    fn can_report_gone(&self) -> bool {
        true
    }

    /// Whether the peer lives, given `recorded`: the process the structure recorded as the
    /// holder of the peer's role (see [`RecordedPeer`]). A hook that watches the peer itself
    /// ignores the record, as this default does.
    fn peer_alive_with(&self, recorded: &dyn Liveness) -> bool {
        let _ = recorded;
        self.peer_alive()
    }
}

/// The default liveness hook: the process that holds the peer's role, as the structure
/// recorded it when that role was claimed (its pid, pid namespace and, from Linux 6.9, its
/// pidfs inode). A wait ends with [`WaitError::PeerGone`] once that process has exited,
/// whether it dropped its side or was killed; a fan-in consumer names the lane
/// ([`FanInError::ProducerGone`](crate::fan_in::FanInError::ProducerGone)), and a broadcast
/// producer waiting for room gives up on a subscriber that died holding its slot.
///
/// It cannot tell, and so waits on, where the record names a process it cannot see: a holder
/// in another pid namespace (containers sharing `/dev/shm`: watch a pidfd the peer sent
/// instead, [`ProcessLiveness::from_pidfd`](crate::shm::ProcessLiveness)), a role never
/// claimed, or a target without processes. Asked alone, with no structure to read, it answers
/// "alive".
///
/// What it costs: the spinning fast path pays nothing; a sleep registers with the process's
/// ticker thread (started by the first such sleep), which wakes it to look once it has slept
/// through `check_every`: a few stores, no syscall (docs/ipc-core.md, "Waking without lost
/// wake-ups"). [`AssumeAlive`] never looks, for a program that notices dead peers another way.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordedPeer;

impl Liveness for RecordedPeer {
    fn peer_alive(&self) -> bool {
        true
    }

    fn peer_alive_with(&self, recorded: &dyn Liveness) -> bool {
        recorded.peer_alive()
    }
}

/// A liveness hook that always answers "alive": a wait on a dead peer lasts forever (or until
/// its timeout). Its sleeps are never woken to look, and start no ticker thread: for programs
/// that learn of a dead peer another way (a supervisor that kills the group).
#[derive(Clone, Copy, Debug, Default)]
pub struct AssumeAlive;

impl Liveness for AssumeAlive {
    fn peer_alive(&self) -> bool {
        true
    }

    fn can_report_gone(&self) -> bool {
        false
    }
}

/// A liveness hook that always answers "gone": a peer proved dead, for the tests of waits and
/// take-overs.
#[cfg(all(test, not(loom)))]
pub(crate) struct Dead;

#[cfg(all(test, not(loom)))]
impl Liveness for Dead {
    fn peer_alive(&self) -> bool {
        false
    }
}

/// Why a wait ended without the word moving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// The liveness hook says the peer is gone.
    PeerGone,
    /// The timeout passed.
    TimedOut,
    /// The ring was laid out [spin-only](crate::spsc::Wakeups::SpinOnly): a futex sleep would
    /// never be woken.
    SleepDisabled,
    /// This side sleeps on an eventfd ([`Wakeups::Eventfd`](crate::spsc::Wakeups::Eventfd)):
    /// its peer rings the eventfd, not the futex, so it waits through its async adapter.
    SleepsOnEventfd,
}

impl core::fmt::Display for WaitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::PeerGone => f.write_str("the peer process is gone"),
            Self::TimedOut => f.write_str("timed out waiting for the peer"),
            Self::SleepDisabled => {
                f.write_str("this ring is spin-only: it cannot wait by sleeping on a futex")
            }
            Self::SleepsOnEventfd => f.write_str(
                "this side sleeps on an eventfd, which its peer rings instead of the futex: \
                 wait through the async adapter (or spin)",
            ),
        }
    }
}

impl core::error::Error for WaitError {}

/// A complete description of how to wait.
#[derive(Clone, Copy)]
pub struct Wait<'a> {
    /// Spin, yield or sleep.
    pub strategy: Strategy,
    /// Give up after this long (`None`: never).
    pub timeout: Option<Duration>,
    /// How often a waiter checks the peer's liveness while blocked.
    pub check_every: Duration,
    /// The peer's liveness.
    pub liveness: &'a (dyn Liveness + Sync),
}

impl Wait<'static> {
    /// Spin while spinning pays (at most 2,000 checks, [`Strategy::Adaptive`]), then sleep on
    /// the futex; no timeout; ends with [`WaitError::PeerGone`] within about 150 ms of the
    /// [recorded peer](RecordedPeer)'s exit (asking every 100 ms).
    pub const fn futex() -> Self {
        Self {
            strategy: Strategy::Adaptive { max_spins: 2_000 },
            timeout: None,
            check_every: Duration::from_millis(100),
            liveness: &RecordedPeer,
        }
    }

    /// Busy-poll; no timeout; ends with [`WaitError::PeerGone`] as [`futex`](Self::futex) does.
    pub const fn busy_poll() -> Self {
        Self {
            strategy: Strategy::BusyPoll,
            timeout: None,
            check_every: Duration::from_millis(100),
            liveness: &RecordedPeer,
        }
    }
}

impl<'a> Wait<'a> {
    /// The same wait, giving up after `timeout` ([`WaitError::TimedOut`]).
    ///
    /// ```
    /// use core::time::Duration;
    /// use ipc_core::{spsc::{ReadError, Spsc}, wait::{Wait, WaitError}, Region};
    /// let mut memory = vec![0u64; Spsc::required_len(1024) / 8];
    /// let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
    /// let mut consumer = ring.consumer().unwrap();
    /// let one_ms = Wait::futex().with_timeout(Duration::from_millis(1));
    /// assert!(matches!(consumer.read_blocking(&one_ms), Err(ReadError::Wait(WaitError::TimedOut))));
    /// ```
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The same wait, asking the liveness hook every `every` while asleep (100 ms by default).
    pub const fn with_check_every(mut self, every: Duration) -> Self {
        self.check_every = every;
        self
    }

    /// The same wait, checking exactly `spins` times before each sleep (0: sleep at once)
    /// instead of spinning adaptively; as `ipc-core-tokio`'s `with_spins`.
    ///
    /// ```
    /// use ipc_core::wait::{Strategy, Wait};
    /// assert_eq!(Wait::futex().with_spins(0).strategy, Strategy::SpinThenFutex { spins: 0 });
    /// ```
    pub const fn with_spins(mut self, spins: u32) -> Self {
        self.strategy = Strategy::SpinThenFutex { spins };
        self
    }

    /// The timeout in nanoseconds (saturating), as the futex takes it.
    const fn timeout_ns(&self) -> Option<u64> {
        match self.timeout {
            Some(timeout) => Some(saturating_ns(timeout)),
            None => None,
        }
    }

    /// The liveness period in nanoseconds (saturating).
    const fn check_every_ns(&self) -> u64 {
        saturating_ns(self.check_every)
    }

    /// The same wait with a liveness hook.
    pub const fn with_liveness(mut self, liveness: &'a (dyn Liveness + Sync)) -> Self {
        self.liveness = liveness;
        self
    }
}

/// `duration` in nanoseconds, `u64::MAX` past 584 years.
const fn saturating_ns(duration: Duration) -> u64 {
    let ns = duration.as_nanos();
    if ns > u64::MAX as u128 {
        u64::MAX
    } else {
        ns as u64
    }
}

/// Waits until the position in `word` differs from `seen`.
pub(crate) fn until_moved(
    word: &AtomicU32,
    seen: u32,
    how: &Wait<'_>,
    peer: &dyn Liveness,
    history: &mut SpinHistory,
) -> Result<(), WaitError> {
    until(
        word,
        seen,
        &|| wake::position(word) != seen,
        how,
        peer,
        history,
    )
}

/// Waits until `ready()` holds or, once the waiter would sleep, the position in `word` differs
/// from `seen`.
///
/// Spinning polls only `ready()`, which may look somewhere cheaper than `word` (the ring's
/// consumer polls the record at its own position, so the producer's word stays in the
/// producer's cache). Sleeping announces itself on `word`, whose owner publishes after making
/// `ready()` true; the caller re-checks after any return. `peer` is the structure's record of
/// the process being waited for, which the liveness hook may consult.
pub(crate) fn until(
    word: &AtomicU32,
    seen: u32,
    ready: &dyn Fn() -> bool,
    how: &Wait<'_>,
    peer: &dyn Liveness,
    history: &mut SpinHistory,
) -> Result<(), WaitError> {
    if spin(ready, how, history) {
        return Ok(());
    }
    until_after_spin(word, seen, ready, how, peer)
}

/// The spinning phase of a wait: polls `ready()` up to the strategy's spin count (at most 2^16
/// times, or as `history` says for [`Strategy::Adaptive`]); true once it holds. Touches nothing
/// but what `ready()` reads.
#[inline]
pub(crate) fn spin(ready: &dyn Fn() -> bool, how: &Wait<'_>, history: &mut SpinHistory) -> bool {
    let checks = history.spins(how.strategy).min(1 << 16);
    let caught = history.spin(how.strategy, checks, || {
        Ok::<_, core::convert::Infallible>(ready())
    });
    caught.unwrap_or_else(|never| match never {})
}

/// [`until`] once [`spin`] has run out: keeps polling, yields or sleeps as the strategy says,
/// with the timeout and liveness checks.
pub(crate) fn until_after_spin(
    word: &AtomicU32,
    seen: u32,
    ready: &dyn Fn() -> bool,
    how: &Wait<'_>,
    peer: &dyn Liveness,
) -> Result<(), WaitError> {
    if how.strategy.sleeps_on_futex() && how.timeout.is_none() {
        return sleep_until(word, seen, ready, how, peer);
    }
    let start = os::now_ns();
    let mut last_check = start;
    loop {
        if ready() {
            return Ok(());
        }
        let now = os::now_ns();
        if how
            .timeout_ns()
            .is_some_and(|t| now.saturating_sub(start) >= t)
        {
            return Err(WaitError::TimedOut);
        }
        if now.saturating_sub(last_check) >= how.check_every_ns() {
            last_check = now;
            if !how.liveness.peer_alive_with(peer) {
                return Err(WaitError::PeerGone);
            }
        }
        match how.strategy {
            Strategy::BusyPoll => {
                for _ in 0..1024 {
                    if ready() {
                        return Ok(());
                    }
                    core::hint::spin_loop();
                }
            }
            Strategy::SpinThenYield { .. } => os::yield_now(),
            Strategy::SpinThenFutex { .. } | Strategy::Adaptive { .. } => {
                let Some(expected) = wake::announce(word, seen) else {
                    return Ok(());
                };
                let left = how
                    .timeout_ns()
                    .map_or(u64::MAX, |t| t.saturating_sub(now.saturating_sub(start)));
                let _ = os::futex_wait(word, expected, Some(left.min(how.check_every_ns()).max(1)));
            }
        }
    }
}

/// [`until_after_spin`] for a wait with no timeout that sleeps on the futex: reads no clock
/// (two calls per wait otherwise, a tenth of a same-core round trip's extra cost over a pipe),
/// and asks the liveness hook each time a sleep has lasted `check_every` without a wake-up
/// (woken by the process's ticker, or by a timer where there is none); a hook that can never
/// say "gone" is not asked, and the sleep is never woken to ask it.
fn sleep_until(
    word: &AtomicU32,
    seen: u32,
    ready: &dyn Fn() -> bool,
    how: &Wait<'_>,
    peer: &dyn Liveness,
) -> Result<(), WaitError> {
    let check_every = how
        .liveness
        .can_report_gone()
        .then(|| how.check_every_ns().max(1));
    let mut watch = check_every.and_then(os::Watch::start);
    loop {
        if ready() {
            return Ok(());
        }
        let Some(expected) = wake::announce(word, seen) else {
            return Ok(());
        };
        let check_due = match &mut watch {
            Some(watch) => watch.sleep(word, expected),
            None => os::futex_wait(word, expected, check_every),
        };
        if check_due && !how.liveness.peer_alive_with(peer) {
            return Err(WaitError::PeerGone);
        }
    }
}

/// Where no ticker thread can bring the liveness checks: every sleep arms its own timer.
#[allow(dead_code)] // Not used where the ticker is.
pub(crate) enum NoWatch {}

#[allow(dead_code)]
impl NoWatch {
    /// Never a watch: the caller arms a timer.
    pub(crate) fn start(_check_every_ns: u64) -> Option<Self> {
        None
    }

    /// Unreachable: there is no value.
    pub(crate) fn sleep(&mut self, _word: &AtomicU32, _expected: u32) -> bool {
        match *self {}
    }
}

/// Wakes the waiter sleeping on `word`.
pub(crate) fn wake_one(word: &AtomicU32) {
    os::futex_wake(word, 1);
}

/// Wakes every waiter sleeping on `word` (broadcast subscribers share one).
pub(crate) fn wake_all(word: &AtomicU32) {
    // The kernel reads the count as an int: u32::MAX would be -1 and wake just one.
    os::futex_wake(word, i32::MAX as u32);
}

#[cfg(all(target_os = "linux", not(loom)))]
mod os {
    use core::sync::atomic::AtomicU32;

    use rustix::thread::futex;

    /// Without the ticker (no `std`, or under miri) every sleep arms its own timer.
    #[cfg(not(all(feature = "std", not(miri))))]
    pub(crate) use super::NoWatch as Watch;
    /// Sleeps whose liveness checks the process's ticker thread brings, instead of a timer.
    #[cfg(all(feature = "std", not(miri)))]
    pub(crate) use crate::ticker::Watch;

    pub fn now_ns() -> u64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }

    pub fn yield_now() {
        rustix::thread::sched_yield();
    }

    /// Sleeps while `*word == expected`, at most `timeout_ns` (`None`: no timer at all); true
    /// when the timeout ended it. Shared futex: no PRIVATE flag.
    pub fn futex_wait(word: &AtomicU32, expected: u32, timeout_ns: Option<u64>) -> bool {
        let timeout = timeout_ns.map(|ns| rustix::time::Timespec {
            tv_sec: (ns / 1_000_000_000) as i64,
            tv_nsec: (ns % 1_000_000_000) as i64,
        });
        // EAGAIN (the word changed), EINTR and ETIMEDOUT all mean "look again".
        let result = futex::wait(word, futex::Flags::empty(), expected, timeout.as_ref());
        result == Err(rustix::io::Errno::TIMEDOUT)
    }

    pub fn futex_wake(word: &AtomicU32, waiters: u32) {
        let _ = futex::wake(word, futex::Flags::empty(), waiters);
    }
}

#[cfg(all(not(target_os = "linux"), not(loom)))]
mod os {
    //! Targets without futexes (bare metal): waiting degrades to spinning.
    use core::sync::atomic::AtomicU32;

    pub(crate) use super::NoWatch as Watch;

    static TICKS: AtomicU32 = AtomicU32::new(0);

    /// A coarse counter standing in for a clock: one "ns" per check.
    pub fn now_ns() -> u64 {
        u64::from(TICKS.fetch_add(1, core::sync::atomic::Ordering::Relaxed))
    }

    pub fn yield_now() {
        core::hint::spin_loop();
    }

    /// No sleep here: every "sleep" counts as a timeout, so the liveness hook is asked.
    pub fn futex_wait(_word: &AtomicU32, _expected: u32, _timeout_ns: Option<u64>) -> bool {
        core::hint::spin_loop();
        true
    }

    pub fn futex_wake(_word: &AtomicU32, _waiters: u32) {}
}

#[cfg(loom)]
pub(crate) mod os {
    //! A model of the futex for loom: check-and-sleep is atomic with respect to wake, as in the
    //! kernel, so a lost wake-up shows as a deadlock.
    use crate::sync::{AtomicU32, Ordering};
    use loom::sync::{Condvar, Mutex};

    pub(crate) use super::NoWatch as Watch;

    loom::lazy_static! {
        pub(crate) static ref LOCK: Mutex<()> = Mutex::new(());
        pub(crate) static ref WOKEN: Condvar = Condvar::new();
    }

    pub fn now_ns() -> u64 {
        0
    }

    pub fn yield_now() {
        loom::thread::yield_now();
    }

    pub fn futex_wait(word: &AtomicU32, expected: u32, _timeout_ns: Option<u64>) -> bool {
        let guard = LOCK.lock().unwrap();
        if word.load(Ordering::SeqCst) == expected {
            drop(WOKEN.wait(guard).unwrap());
        }
        false
    }

    pub fn futex_wake(_word: &AtomicU32, _waiters: u32) {
        let _guard = LOCK.lock().unwrap();
        WOKEN.notify_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    const ADAPTIVE: Strategy = Strategy::Adaptive { max_spins: 2_000 };

    /// Spins of one wait whose spin catches the peer (`caught`) or runs out.
    fn wait_once(history: &mut SpinHistory, caught: bool) -> u32 {
        let spins = history.spins(ADAPTIVE);
        if spins != 0 {
            if caught {
                history.caught(ADAPTIVE);
            } else {
                history.missed(ADAPTIVE);
            }
        }
        spins
    }

    #[test]
    fn a_side_whose_spins_catch_the_peer_keeps_its_whole_budget() {
        let mut history = SpinHistory::new();
        for _ in 0..1_000 {
            assert_eq!(wait_once(&mut history, true), 2_000);
        }
    }

    #[test]
    fn spins_that_never_catch_stop_within_a_dozen_waits_then_only_probe() {
        let mut history = SpinHistory::new();
        let spun: Vec<u32> = (0..12).map(|_| wait_once(&mut history, false)).collect();
        assert_eq!(spun[..4], [2_000, 1_000, 500, 250], "halved at each miss");
        assert_eq!(*spun.last().unwrap(), 0, "{spun:?}");
        // From then on: nothing but a whole budget now and then, less and less often.
        let later: Vec<u32> = (0..4 * PROBE_EVERY_MAX)
            .map(|_| wait_once(&mut history, false))
            .collect();
        let probes: Vec<usize> = later
            .iter()
            .enumerate()
            .filter(|(_, &s)| s != 0)
            .map(|(i, _)| i)
            .collect();
        assert!(probes.iter().all(|&i| later[i] == 2_000));
        let gaps: Vec<usize> = probes.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(
            gaps[..3],
            [512, 1024, 2048],
            "each probe that misses doubles the interval"
        );
        assert_eq!(
            *gaps.last().unwrap(),
            PROBE_EVERY_MAX as usize,
            "up to the longest"
        );
        let last_quarter = &later[3 * PROBE_EVERY_MAX as usize..];
        let spun: u32 = last_quarter.iter().sum();
        assert!(
            spun <= 2 * 2_000,
            "{spun} checks in {} waits",
            last_quarter.len()
        );
    }

    #[test]
    fn a_probe_that_catches_the_peer_brings_the_whole_budget_back() {
        let mut history = SpinHistory::new();
        while wait_once(&mut history, false) != 0 {}
        // That last wait was the first at zero; the probe is the PROBE_EVERY-th.
        let mut zero_waits = 1;
        while history.spins(ADAPTIVE) == 0 {
            zero_waits += 1;
        }
        assert_eq!(
            zero_waits + 1,
            PROBE_EVERY,
            "the probe comes at the PROBE_EVERY-th wait"
        );
        history.caught(ADAPTIVE);
        assert_eq!(wait_once(&mut history, true), 2_000);
    }

    #[test]
    fn a_condition_that_holds_at_the_first_look_teaches_nothing() {
        let mut history = SpinHistory::new();
        for _ in 0..3 {
            wait_once(&mut history, false);
        }
        assert_eq!(history.spins(ADAPTIVE), 250);
        // A consumer behind its producer: every read finds a message at once, many times over.
        for _ in 0..1_000 {
            let checks = history.spins(ADAPTIVE);
            let found = history.spin(ADAPTIVE, checks, || Ok::<_, ()>(true));
            assert_eq!(found, Ok(true));
        }
        assert_eq!(
            history.spins(ADAPTIVE),
            250,
            "no whole budget from messages that waited"
        );
        // A message that came while it spun is a caught spin.
        let mut looks = 0;
        let checks = history.spins(ADAPTIVE);
        let caught = history.spin(ADAPTIVE, checks, || {
            looks += 1;
            Ok::<_, ()>(looks == 3)
        });
        assert_eq!(caught, Ok(true));
        assert_eq!(history.spins(ADAPTIVE), 2_000);
        // With no budget it still looks once, and a miss then is not a spin that missed.
        let mut empty = SpinHistory::new();
        assert_eq!(empty.spin(ADAPTIVE, 0, || Ok::<_, ()>(false)), Ok(false));
        assert_eq!(empty.spins(ADAPTIVE), 2_000);
    }

    #[test]
    fn fixed_strategies_spin_as_told_whatever_happened_before() {
        let mut history = SpinHistory::new();
        for _ in 0..20 {
            wait_once(&mut history, false);
        }
        let fixed = Strategy::SpinThenFutex { spins: 7 };
        assert_eq!(history.spins(fixed), 7);
        history.missed(fixed);
        assert_eq!(history.spins(fixed), 7);
        assert_eq!(history.spins(Strategy::BusyPoll), u32::MAX);
    }
}
