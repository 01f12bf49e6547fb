//! Copies of message bytes that stay inline for small messages.
//!
//! A message length known only at run time makes `copy_from_slice` a call to `memmove`, which
//! costs more than the copy itself for a few bytes. Up to 16 bytes, two overlapping loads and
//! stores do the same job without the call.

/// Copies `source` into `target`, which has the same length.
#[inline(always)]
pub(crate) fn copy_bytes(target: &mut [u8], source: &[u8]) {
    let n = source.len();
    assert_eq!(target.len(), n, "copy_bytes needs equal lengths");
    match n {
        8..=16 => {
            let (head, tail) = (word::<8>(source, 0), word::<8>(source, n - 8));
            target[..8].copy_from_slice(&head);
            target[n - 8..].copy_from_slice(&tail);
        }
        4..=7 => {
            let (head, tail) = (word::<4>(source, 0), word::<4>(source, n - 4));
            target[..4].copy_from_slice(&head);
            target[n - 4..].copy_from_slice(&tail);
        }
        0..=3 => {
            for (t, s) in target.iter_mut().zip(source) {
                *t = *s;
            }
        }
        _ => target.copy_from_slice(source),
    }
}

/// The `N` bytes of `bytes` at `at` as an array (read before any byte is written, so the two
/// halves of an overlapping copy see the source as it was).
#[inline(always)]
fn word<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

#[cfg(test)]
mod tests {
    use super::copy_bytes;

    #[test]
    fn every_length_up_to_forty_copies_exactly() {
        let source: [u8; 40] = core::array::from_fn(|i| i as u8 + 1);
        for n in 0..=40 {
            let mut target = [0u8; 40];
            copy_bytes(&mut target[..n], &source[..n]);
            assert_eq!(&target[..n], &source[..n], "length {n}");
            assert!(
                target[n..].iter().all(|&b| b == 0),
                "length {n} wrote past its end"
            );
        }
    }
}
