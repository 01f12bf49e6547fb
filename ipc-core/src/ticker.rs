//! The liveness ticker: one thread per process that wakes a sleeping waiter when its liveness
//! check comes due, so that a sleep arms no timer of its own.
//!
//! A waiter that watches its peer must not sleep forever on a peer that died: it wakes at least
//! every `Wait::check_every` and asks. A timer armed for each sleep costs that sleep about
//! 0.23 µs (the kernel queues and cancels an hrtimer; measured in docs/ipc-core.md), a
//! twentieth of a same-core round trip. Instead, a thread about to sleep
//! writes the word it sleeps on into its own slot of a table, and the ticker, waking twice per
//! `check_every`, wakes each sleeper that has slept through a whole `check_every`; the sleeper
//! then asks its liveness hook, as it would after a timeout. A sleep pays a few stores and a
//! compare-exchange on its own thread's slot, and no syscall.
//!
//! The table lives in a mapping marked `MADV_WIPEONFORK`: a child of `fork`, which has no
//! ticker thread, finds it zeroed, as if no ticker had started, and starts its own. Where
//! anything here fails (no thread can be started, a kernel before 4.14 without
//! `MADV_WIPEONFORK`, every slot taken), sleeps arm their own timers as before.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::cell::Cell;

use rustix::thread::futex;

/// Threads that can sleep under the ticker at once; later ones arm their own timers.
const SLOTS: usize = 256;
/// The shortest tick.
const MIN_PERIOD_US: u32 = 1_000;

/// A slot's state: nobody sleeping, a thread asleep on its word, the ticker waking it.
const IDLE: u32 = 0;
const SLEEPING: u32 = 1;
const WAKING: u32 = 2;

/// The ticker's state: not started (a fork child sees this too), starting, running, failed.
const NOT_STARTED: u32 = 0;
const STARTING: u32 = 1;
const RUNNING: u32 = 2;
const FAILED: u32 = 3;

/// The process's ticker and its sleepers, in memory `fork` does not copy.
#[repr(C)]
struct Table {
    status: AtomicU32,
    /// Set when a ticker starts (this process's pid, never 0): slots claimed under another
    /// generation (a parent's, before `fork`) are not this process's.
    generation: AtomicU32,
    /// The time of the latest tick, in ms since the ticker started (wrapping).
    now_ms: AtomicU32,
    /// The tick period in µs (0: none asked yet); only ever shortened, and the ticker woken.
    period_us: AtomicU32,
    /// Slots ever claimed: the ticker looks at no more than these.
    slots_used: AtomicU32,
    slots: [Slot; SLOTS],
}

/// One thread's sleep.
#[repr(C)]
struct Slot {
    /// The generation of the thread holding the slot (0: free).
    owner: AtomicU32,
    state: AtomicU32,
    /// The address of the word the thread sleeps on.
    word: AtomicUsize,
    /// The tick time (`Table::now_ms`) at which the sleep began.
    since_ms: AtomicU32,
    /// How long the sleep may last before it is due a liveness check, in ms.
    every_ms: AtomicU32,
}

/// [`TABLE_ADDRESS`] where the kernel cannot map the table.
const NO_TABLE: usize = usize::MAX;

/// The table's address: 0 until one is mapped, [`NO_TABLE`] where none can be. Set by one
/// compare-exchange, never under a lock: `fork` copies this word as it stands, and a child
/// forked while another thread was mapping the table must find a value, not a lock held by a
/// thread it does not have. (It was a `OnceLock`: such a child waited on it forever, and so did
/// the process it was to serve; the cross-process test of a killed consumer hung about one run
/// in twenty that way.)
static TABLE_ADDRESS: AtomicUsize = AtomicUsize::new(0);

/// The table, mapped once per process (a fork child keeps the mapping, wiped).
fn table() -> Option<&'static Table> {
    let mut address = TABLE_ADDRESS.load(Ordering::Acquire);
    if address == 0 {
        let mapped = map_table().unwrap_or(NO_TABLE);
        address =
            match TABLE_ADDRESS.compare_exchange(0, mapped, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => mapped,
                Err(first) => {
                    // Another thread mapped one first: this one goes.
                    if mapped != NO_TABLE {
                        unmap_table(mapped);
                    }
                    first
                }
            };
    }
    if address == NO_TABLE {
        return None;
    }
    // SAFETY: `map_table` mapped this address for the life of the process (only a table that
    // lost the race is unmapped, and its address was never published), readable and writable,
    // at least `size_of::<Table>()` bytes, page-aligned; every field is an atomic, for which all
    // bytes zero (a fresh or wiped mapping) is a valid value.
    Some(unsafe { &*(address as *const Table) })
}

/// Unmaps a table that `map_table` made and nobody else has seen.
fn unmap_table(address: usize) {
    // SAFETY: a mapping of `size_of::<Table>()` bytes made by `map_table` and never published:
    // no reference to it exists.
    let _ = unsafe {
        rustix::mm::munmap(
            address as *mut core::ffi::c_void,
            core::mem::size_of::<Table>(),
        )
    };
}

/// Maps a zeroed table marked wipe-on-fork; `None` where the kernel cannot.
fn map_table() -> Option<usize> {
    use rustix::mm::{madvise, mmap_anonymous, Advice, MapFlags, ProtFlags};
    let len = core::mem::size_of::<Table>();
    // SAFETY: a new anonymous mapping, at an address the kernel picks: it aliases nothing.
    let base = unsafe {
        mmap_anonymous(
            core::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .ok()?;
    // SAFETY: advises the mapping made just above, which nothing else uses yet.
    if unsafe { madvise(base, len, Advice::LinuxWipeOnFork) }.is_err() {
        unmap_table(base as usize);
        return None;
    }
    Some(base as usize)
}

std::thread_local! {
    /// This thread's slot: (generation, index); generation 0 until one is claimed.
    static MY_SLOT: SlotClaim = const { SlotClaim { generation: Cell::new(0), index: Cell::new(0) } };
}

/// A thread's claim on a slot, given back when the thread exits.
struct SlotClaim {
    generation: Cell<u32>,
    index: Cell<u32>,
}

impl Drop for SlotClaim {
    fn drop(&mut self) {
        let generation = self.generation.get();
        if generation == 0 {
            return;
        }
        if let Some(table) = table() {
            let slot = &table.slots[self.index.get() as usize];
            let _ =
                slot.owner
                    .compare_exchange(generation, 0, Ordering::Release, Ordering::Relaxed);
        }
    }
}

/// A waiter's sleeps under the ticker, between the calls of one wait: the liveness check it is
/// due is counted from its first sleep (or its last check), however often it was woken between.
pub(crate) struct Watch {
    table: &'static Table,
    index: usize,
    every_ms: u32,
    since_ms: Option<u32>,
}

impl Watch {
    /// A watch that has the ticker wake this thread's sleeps after `check_every_ns`; `None`
    /// where the ticker cannot (the caller arms a timer instead).
    pub(crate) fn start(check_every_ns: u64) -> Option<Self> {
        let table = table()?;
        let generation = running(table)?;
        let index = my_slot(table, generation)?;
        let wanted = u32::try_from(check_every_ns / 2_000)
            .unwrap_or(u32::MAX)
            .max(MIN_PERIOD_US);
        let previous = table.period_us.fetch_min_nonzero(wanted);
        if previous == 0 || wanted < previous {
            // A shorter tick than the ticker sleeps for: wake it to take the new period.
            let _ = futex::wake(&table.period_us, futex::Flags::PRIVATE, 1);
        }
        let every_ms = u32::try_from(check_every_ns.div_ceil(1_000_000)).unwrap_or(u32::MAX);
        Some(Self {
            table,
            index,
            every_ms,
            since_ms: None,
        })
    }

    /// Sleeps while `*word == expected`, until a wake-up, a signal or the ticker; true when
    /// the liveness check is due: `check_every` asleep (give or take a tick, at most half of
    /// it) since the watch started or last said so.
    pub(crate) fn sleep(&mut self, word: &AtomicU32, expected: u32) -> bool {
        let slot = &self.table.slots[self.index];
        let since = *self
            .since_ms
            .get_or_insert_with(|| self.table.now_ms.load(Ordering::Relaxed));
        slot.word
            .store(word as *const AtomicU32 as usize, Ordering::Relaxed);
        slot.since_ms.store(since, Ordering::Relaxed);
        slot.every_ms.store(self.every_ms, Ordering::Relaxed);
        slot.state.store(SLEEPING, Ordering::Release);
        let _ = futex::wait(word, futex::Flags::empty(), expected, None);
        // The ticker may be waking this very word: it must be done before the word's memory
        // can go (the caller may return and unmap it). (IDLE already: a sleep nested in a
        // signal handler ended first and took the slot back.)
        while let Err(WAKING) =
            slot.state
                .compare_exchange(SLEEPING, IDLE, Ordering::Acquire, Ordering::Relaxed)
        {
            core::hint::spin_loop();
        }
        let now = self.table.now_ms.load(Ordering::Relaxed);
        let due = now.wrapping_sub(since) >= self.every_ms;
        if due {
            self.since_ms = None;
        }
        due
    }
}

/// The running ticker's generation, starting it if this process has none; `None` if it
/// cannot run.
fn running(table: &'static Table) -> Option<u32> {
    loop {
        match table.status.load(Ordering::Acquire) {
            RUNNING => return Some(table.generation.load(Ordering::Relaxed)),
            FAILED => return None,
            // Another thread is starting it (once per process): wait for the outcome.
            STARTING => std::thread::yield_now(),
            _ => {
                if table
                    .status
                    .compare_exchange(NOT_STARTED, STARTING, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    break;
                }
            }
        }
    }
    let generation = rustix::process::getpid().as_raw_nonzero().get() as u32;
    table.generation.store(generation, Ordering::Relaxed);
    let started = std::thread::Builder::new()
        .name("ipc-core-ticker".into())
        .stack_size(64 * 1024)
        .spawn(move || tick_forever(table));
    let status = if started.is_ok() { RUNNING } else { FAILED };
    table.status.store(status, Ordering::Release);
    (status == RUNNING).then_some(generation)
}

/// This thread's slot under `generation`, claimed on first use; `None` when all are taken.
fn my_slot(table: &'static Table, generation: u32) -> Option<usize> {
    MY_SLOT
        .try_with(|mine| {
            let index = mine.index.get() as usize;
            // The slot must still be this thread's: a fork child in another pid namespace can
            // be given its parent's pid, and so its generation, over a wiped table.
            if mine.generation.get() == generation
                && table.slots[index].owner.load(Ordering::Relaxed) == generation
            {
                return Some(index);
            }
            let index = table.slots.iter().position(|slot| {
                slot.owner
                    .compare_exchange(0, generation, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            })?;
            table
                .slots_used
                .fetch_max(index as u32 + 1, Ordering::Release);
            mine.generation.set(generation);
            mine.index.set(index as u32);
            Some(index)
        })
        .ok()
        .flatten()
}

/// The ticker thread: each period, a tick, and a wake-up for every sleep then due a check.
fn tick_forever(table: &'static Table) {
    let started = std::time::Instant::now();
    loop {
        let period_us = table.period_us.load(Ordering::Relaxed);
        let period = rustix::time::Timespec {
            tv_sec: i64::from(period_us.max(MIN_PERIOD_US) / 1_000_000),
            tv_nsec: i64::from(period_us.max(MIN_PERIOD_US) % 1_000_000) * 1_000,
        };
        // Woken early when a waiter asks for a shorter period (the word changes).
        let _ = futex::wait(
            &table.period_us,
            futex::Flags::PRIVATE,
            period_us,
            Some(&period),
        );
        // Wrapping after 49 days; every comparison takes differences.
        let now = started.elapsed().as_millis() as u32;
        table.now_ms.store(now, Ordering::Relaxed);
        let used = table.slots_used.load(Ordering::Acquire) as usize;
        for slot in &table.slots[..used.min(SLOTS)] {
            wake_if_due(slot, now);
        }
    }
}

/// Wakes the sleep in `slot` if it has lasted its `every_ms` by tick time `now`.
fn wake_if_due(slot: &Slot, now: u32) {
    if slot
        .state
        .compare_exchange(SLEEPING, WAKING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let since = slot.since_ms.load(Ordering::Relaxed);
    let every = slot.every_ms.load(Ordering::Relaxed);
    if now.wrapping_sub(since) >= every {
        let word = slot.word.load(Ordering::Relaxed) as *const AtomicU32;
        // SAFETY: the slot said SLEEPING and now says WAKING: its thread wrote `word` before
        // going to sleep on it and cannot leave the sleep (and so return, and unmap the word's
        // memory) until the slot is SLEEPING again, below.
        let word = unsafe { &*word };
        // Every waiter on the word (broadcast subscribers share one): each looks again.
        let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
    }
    slot.state.store(SLEEPING, Ordering::Release);
}

/// `fetch_min` where 0 means "unset".
trait FetchMinNonzero {
    /// Stores `value` if it is lower than the current value or that is 0; returns the
    /// previous value.
    fn fetch_min_nonzero(&self, value: u32) -> u32;
}

impl FetchMinNonzero for AtomicU32 {
    fn fetch_min_nonzero(&self, value: u32) -> u32 {
        let mut current = self.load(Ordering::Relaxed);
        loop {
            if current != 0 && current <= value {
                return current;
            }
            match self.compare_exchange_weak(current, value, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(previous) => return previous,
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    use std::vec::Vec;

    /// Sleeps on a word nobody wakes under a watch of `check_every`, on another thread; how long
    /// until the ticker woke it with a check due (fails after 10 s).
    fn woken_by_the_ticker(check_every: Duration) -> Duration {
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let word = AtomicU32::new(5);
            let start = Instant::now();
            let mut watch = Watch::start(check_every.as_nanos() as u64).expect("a ticker");
            while !watch.sleep(&word, 5) {}
            done.send(start.elapsed()).unwrap();
        });
        finished
            .recv_timeout(Duration::from_secs(10))
            .expect("the ticker did not wake a sleep due its check within 10 s")
    }

    #[test]
    fn the_ticker_wakes_a_sleep_once_it_has_lasted_check_every() {
        let check_every = Duration::from_millis(20);
        let slept = woken_by_the_ticker(check_every);
        // Measured from the tick before the sleep: at most a tick (half of it) early.
        assert!(slept >= check_every / 2, "woken after {slept:?}");
        let names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .collect();
        assert!(
            names.iter().any(|name| name.trim() == "ipc-core-ticker"),
            "{names:?}"
        );
    }

    #[test]
    fn a_thread_gives_its_slot_back_when_it_exits() {
        // Twice as many threads as slots, one after another: each finds a free slot.
        for _ in 0..2 * SLOTS {
            std::thread::spawn(|| assert!(Watch::start(10_000_000).is_some()))
                .join()
                .unwrap();
        }
    }

    #[test]
    fn a_sleep_woken_by_its_peer_is_not_due_a_check() {
        let word = std::sync::Arc::new(AtomicU32::new(1));
        let waker = std::sync::Arc::clone(&word);
        let mut watch = Watch::start(60_000_000_000).expect("a ticker");
        let wake = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            waker.store(2, Ordering::Release);
            let _ = futex::wake(&waker, futex::Flags::empty(), 1);
        });
        let mut due = false;
        while word.load(Ordering::Acquire) == 1 {
            due |= watch.sleep(&word, 1);
        }
        wake.join().unwrap();
        assert!(!due, "a minute's check came due after 20 ms");
    }
}
