//! Test payloads made of the words a ring's own headers are made of (tests only).
//!
//! A ring must hand out exactly the messages sent whatever their bytes, so the model-based
//! tests send the bytes most likely to be taken for a record: lengths a record could have,
//! wrap markers, zeros, and tags (`position + 1`) of positions near the sides' own, this lap,
//! the next and the one after.

extern crate std;
use std::vec::Vec;

/// A deterministic pseudo-random generator (xorshift64).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (which is not zero).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random words beyond this many are a repeat of the first ones (large messages stay cheap).
const RANDOM_BYTES: usize = 16 << 10;

/// A `len`-byte payload of 4-byte words a ring of `capacity` bytes (messages up to `max_len`)
/// could take for a header: zero, the wrap marker, plausible lengths, and the tags of
/// positions within a few records of each of `near`, up to two laps on.
pub(crate) fn plausible_payload(
    rng: &mut Rng,
    len: usize,
    near: &[u32],
    capacity: u32,
    max_len: u32,
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len.next_multiple_of(8));
    let word = |rng: &mut Rng, kind: usize| match kind {
        0 => 0,
        1 => u32::MAX,
        2 => (rng.below(max_len as usize / 8 + 1) * 8) as u32,
        3 => rng.below(max_len as usize + 1) as u32,
        _ => {
            let base = near[rng.below(near.len())];
            let laps = capacity.wrapping_mul(rng.below(3) as u32);
            let records = 8 * rng.below(32) as u32;
            base.wrapping_add(laps)
                .wrapping_add(records)
                .wrapping_add(1)
                & !(1 << 31)
        }
    };
    // Payloads start 8-aligned in the ring: most 8-byte pairs are a whole header (a length,
    // then a tag), the rest any two words.
    while bytes.len() < len.min(RANDOM_BYTES) {
        let (first, second) = if rng.below(4) != 0 {
            (1 + rng.below(3), 4)
        } else {
            (rng.below(5), rng.below(5))
        };
        let pair = [word(rng, first), word(rng, second)];
        for w in pair {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
    }
    bytes.truncate(len.min(RANDOM_BYTES));
    while bytes.len() < len {
        let more = bytes.len().min(len - bytes.len());
        bytes.extend_from_within(..more);
    }
    bytes
}
