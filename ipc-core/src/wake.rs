//! The wake-word protocol: an index and a "someone sleeps on me" bit in one 32-bit atomic.
//!
//! Each ring index (the producer's head, the consumer's tail) is a *wake word*: bits 0..31 hold
//! the position, bit 31 says a waiter is asleep on the word. The owner publishes a new position
//! with one swap, which also clears the bit, and wakes only if the bit was set. A waiter sets the
//! bit with a compare-exchange that fails if the position moved, then sleeps on the word with
//! `futex_wait(word, value_with_bit)`, which the kernel refuses if the word changed meanwhile.
//!
//! Every step is a read-modify-write or load of the same location, so all of them are ordered by
//! that location's modification order: a publish either happens before the waiter's
//! compare-exchange (which then fails, and the waiter sees the data) or after it (the swap then
//! returns the bit, and the owner wakes). No wake-up is lost, no fence is needed, and when nobody
//! sleeps the owner makes no syscall.

use crate::sync::{AtomicU32, Ordering};

/// The "a waiter sleeps on this word" bit.
pub const WAITING: u32 = 1 << 31;
/// The bits holding the position (positions wrap at 2^31).
pub const POSITION: u32 = !WAITING;

/// Publishes `position` (release) and returns true when a waiter must be woken.
#[inline]
pub fn publish(word: &AtomicU32, position: u32) -> bool {
    word.swap(position & POSITION, Ordering::AcqRel) & WAITING != 0
}

/// Publishes `position` (release) on a word nobody sleeps on: a plain store, no locked
/// instruction. Only for rings laid out [spin-only](crate::spsc::Wakeups::SpinOnly).
#[inline]
pub fn publish_unwatched(word: &AtomicU32, position: u32) {
    word.store(position & POSITION, Ordering::Release);
}

/// The position in `word` (acquire: what was written before it was published is visible).
#[inline]
pub fn position(word: &AtomicU32) -> u32 {
    word.load(Ordering::Acquire) & POSITION
}

/// True when a waiter has announced itself on `word`: a hint for an owner that publishes
/// lazily to publish now. Correctness never rests on it (the lazy owner also publishes before
/// it waits itself); it only spares the waiter the wait for that.
#[inline]
pub fn has_waiter(word: &AtomicU32) -> bool {
    word.load(Ordering::Relaxed) & WAITING != 0
}

/// Announces a waiter that last saw position `seen`.
///
/// Returns the word value to sleep on, or `None` when the position already moved (the waiter
/// must not sleep: there is something to see).
#[inline]
pub fn announce(word: &AtomicU32, seen: u32) -> Option<u32> {
    let mut current = word.load(Ordering::Acquire);
    loop {
        if current & POSITION != seen {
            return None;
        }
        if current & WAITING != 0 {
            return Some(current);
        }
        match word.compare_exchange_weak(
            current,
            current | WAITING,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return Some(current | WAITING),
            Err(actual) => current = actual,
        }
    }
}

/// Withdraws a waiter's announcement on `word` (a wait that was cancelled before it slept):
/// clears the bit unless the owner's publish cleared it first (and woke the waiter, which then
/// finds a spurious wake-up pending: harmless).
#[inline]
pub fn withdraw(word: &AtomicU32) {
    let current = word.load(Ordering::Acquire);
    if current & WAITING != 0 {
        let _ = word.compare_exchange(
            current,
            current & POSITION,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

/// The offset of `position` in a data area of `capacity` bytes (a power of two), rounded down
/// to 8 bytes: records start at multiples of 8, and a position read from a corrupted region
/// must still give an aligned, in-bounds access.
#[inline]
pub fn offset_in(position: u32, capacity: u32) -> u32 {
    position & (capacity - 1) & !7
}

/// Distance from `from` to `to` in wrapping 31-bit positions.
#[inline]
pub fn distance(from: u32, to: u32) -> u32 {
    to.wrapping_sub(from) & POSITION
}
