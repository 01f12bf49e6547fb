//! The messages both peers move: every byte written by the sender and read by the receiver.
//!
//! A message of `size` bytes carries its round number in its first 8 bytes (little-endian) and
//! a fixed pattern in the rest. The sender writes all `size` bytes into the transport's memory;
//! the receiver copies all of them out, and the round number it reads back proves the message is
//! the one expected.

/// The smallest message: the round number alone.
pub const MIN_SIZE: usize = 8;

/// A message of `size` bytes for round 0 (the round is written in per send).
pub fn pattern(size: usize) -> Vec<u8> {
    assert!(
        size >= MIN_SIZE,
        "a message holds at least its round number"
    );
    (0..size).map(|i| (i * 31 + 7) as u8).collect()
}

/// Writes `round` into the message's first 8 bytes.
#[inline]
pub fn set_round(message: &mut [u8], round: u64) {
    message[..8].copy_from_slice(&round.to_le_bytes());
}

/// The round number a message carries.
#[inline]
pub fn round_of(message: &[u8]) -> u64 {
    u64::from_le_bytes(message[..8].try_into().expect("8 bytes"))
}

/// Checks a received message: the expected round, and (past the round) the pattern.
pub fn check(received: &[u8], round: u64, pattern: &[u8]) {
    assert_eq!(received.len(), pattern.len(), "message length");
    assert_eq!(round_of(received), round, "round number");
    assert_eq!(&received[8..], &pattern[8..], "payload bytes");
}
