//! Message contents that let the receiver prove nothing was lost, duplicated or corrupted.
//!
//! A message is `[sequence: u64][checksum: u64][body]` (little-endian; a message shorter than 16
//! bytes keeps the low bytes of each). The body is a fixed pseudo-random pattern with the
//! sequence number stamped into one 8-byte word per 4 KiB, so a stale page shows. The checksum is
//! the wrapping sum of the body's 64-bit words plus a mix of the sequence number: the sender
//! derives it in O(body / 4 KiB) from a precomputed sum, the receiver recomputes it with one
//! read pass over the body.

use std::fmt;

const HEADER: usize = 16;
const STAMP_STRIDE: usize = 4096;

/// Builds and checks the messages of one run.
#[derive(Clone, Debug)]
pub struct Payload {
    template: Vec<u8>,
    stamps: Vec<usize>,
    /// Sum of the template body's words that are not stamps.
    unstamped_sum: u64,
}

/// What was wrong with a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// A message other than the expected one arrived.
    Sequence {
        /// The sequence number expected.
        expected: u64,
        /// The (possibly truncated) sequence number received.
        received: u64,
    },
    /// The body does not match its checksum.
    Corrupted {
        /// The sequence number of the message.
        sequence: u64,
    },
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Sequence { expected, received } if received > expected => write!(
                f,
                "message {expected} expected but {received} arrived: {} lost",
                received - expected
            ),
            Self::Sequence { expected, received } => write!(
                f,
                "message {expected} expected but {received} arrived again: duplicated or reordered"
            ),
            Self::Corrupted { sequence } => {
                write!(
                    f,
                    "message {sequence} arrived corrupted (checksum mismatch)"
                )
            }
        }
    }
}

impl std::error::Error for PayloadError {}

impl Payload {
    /// The messages of a run with `size`-byte messages.
    pub fn new(size: usize) -> Self {
        let mut template = vec![0u8; size];
        let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ size as u64;
        for byte in template.iter_mut().skip(HEADER) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        let stamps: Vec<usize> = (HEADER..size.saturating_sub(7))
            .step_by(STAMP_STRIDE)
            .collect();
        let mut payload = Self {
            template,
            stamps,
            unstamped_sum: 0,
        };
        for &at in &payload.stamps {
            payload.template[at..at + 8].fill(0);
        }
        payload.unstamped_sum = body_sum(&payload.template);
        payload
    }

    /// A buffer holding the template, to be passed to [`Payload::stamp`] before each send.
    pub fn buffer(&self) -> Vec<u8> {
        self.template.clone()
    }

    /// Turns `buffer` (from [`Payload::buffer`]) into message number `sequence`.
    pub fn stamp(&self, buffer: &mut [u8], sequence: u64) {
        for &at in &self.stamps {
            buffer[at..at + 8].copy_from_slice(&sequence.to_le_bytes());
        }
        let body = self
            .unstamped_sum
            .wrapping_add(sequence.wrapping_mul(self.stamps.len() as u64));
        put_truncated(buffer, 0, sequence);
        put_truncated(buffer, 8, checksum(sequence, body));
    }

    /// Checks only that `message` is number `expected` (cheap: for the echoing side).
    pub fn check_sequence(&self, message: &[u8], expected: u64) -> Result<(), PayloadError> {
        let received = get_truncated(message, 0);
        if received != truncate(expected, message.len().min(8)) {
            return Err(PayloadError::Sequence { expected, received });
        }
        Ok(())
    }

    /// Checks that `message` is number `expected`, whole and uncorrupted.
    pub fn verify(&self, message: &[u8], expected: u64) -> Result<(), PayloadError> {
        self.check_sequence(message, expected)?;
        let want = truncate(
            checksum(expected, body_sum(message)),
            message.len().clamp(8, 16) - 8,
        );
        if message.len() > 8 && get_truncated(message, 8) != want {
            return Err(PayloadError::Corrupted { sequence: expected });
        }
        Ok(())
    }
}

fn checksum(sequence: u64, body_sum: u64) -> u64 {
    sequence
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(body_sum)
}

/// Wrapping sum of the body's little-endian 64-bit words (the tail zero-padded).
fn body_sum(message: &[u8]) -> u64 {
    let Some(body) = message.get(HEADER..) else {
        return 0;
    };
    let mut words = body.chunks_exact(8);
    let mut sum = words
        .by_ref()
        .map(|w| u64::from_le_bytes(w.try_into().expect("chunks of 8")))
        .fold(0u64, u64::wrapping_add);
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        sum = sum.wrapping_add(u64::from_le_bytes(last));
    }
    sum
}

fn truncate(value: u64, bytes: usize) -> u64 {
    if bytes >= 8 {
        value
    } else {
        value & ((1u64 << (bytes * 8)) - 1)
    }
}

fn put_truncated(buffer: &mut [u8], at: usize, value: u64) {
    let end = buffer.len().min(at + 8);
    if at < end {
        buffer[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
    }
}

fn get_truncated(buffer: &[u8], at: usize) -> u64 {
    let end = buffer.len().min(at + 8);
    let mut bytes = [0u8; 8];
    if at < end {
        bytes[..end - at].copy_from_slice(&buffer[at..end]);
    }
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: [usize; 9] = [1, 7, 8, 9, 16, 17, 128, 4096 + 100, 1 << 20];

    #[test]
    fn a_stamped_message_verifies() {
        for size in SIZES {
            let payload = Payload::new(size);
            let mut buffer = payload.buffer();
            for sequence in [0, 1, 255, 256, 1 << 40] {
                payload.stamp(&mut buffer, sequence);
                assert_eq!(payload.verify(&buffer, sequence), Ok(()), "size {size}");
            }
        }
    }

    #[test]
    fn a_flipped_byte_is_caught() {
        for size in SIZES.into_iter().filter(|s| *s > 8) {
            let payload = Payload::new(size);
            let mut buffer = payload.buffer();
            payload.stamp(&mut buffer, 42);
            let at = size - 1;
            buffer[at] ^= 0x10;
            assert!(payload.verify(&buffer, 42).is_err(), "size {size}");
        }
    }

    #[test]
    fn lost_and_duplicated_messages_are_named() {
        let payload = Payload::new(128);
        let mut buffer = payload.buffer();
        payload.stamp(&mut buffer, 12);
        let lost = payload.verify(&buffer, 10).unwrap_err();
        assert!(lost.to_string().contains("2 lost"), "{lost}");
        let duplicated = payload.verify(&buffer, 13).unwrap_err();
        assert!(
            duplicated.to_string().contains("duplicated"),
            "{duplicated}"
        );
    }

    #[test]
    fn a_stale_page_is_caught() {
        let payload = Payload::new(3 * 4096);
        let mut old = payload.buffer();
        let mut new = payload.buffer();
        payload.stamp(&mut old, 1);
        payload.stamp(&mut new, 2);
        // The second page of the new message still holds the old one.
        new[4096..8192].copy_from_slice(&old[4096..8192]);
        assert_eq!(
            payload.verify(&new, 2),
            Err(PayloadError::Corrupted { sequence: 2 })
        );
    }
}
