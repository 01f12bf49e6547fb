//! One-way throughput of 1 MiB messages between two processes, against memcpy.

use std::time::Instant;

use ipc_core::shm::SharedMemory;
use ipc_core::spsc::Spsc;
use ipc_core::wait::Wait;

use crate::processes::pair;

const MESSAGE: usize = 1 << 20;
const MESSAGES: usize = 4_000;

/// (ring GB/s, memcpy GB/s): the producer writes each message into its grant with one copy,
/// the consumer reads it in place (summing one byte per cache line, so every line moves).
pub fn one_mib() -> (f64, f64) {
    let capacity = 8 << 20;
    let memory = SharedMemory::memfd("throughput", Spsc::required_len(capacity)).expect("memfd");
    let ring = Spsc::init(memory.region(), capacity).expect("ring");
    let how = Wait::futex();
    let ring_gbps = pair(
        || {
            let mut producer = ring.producer();
            let source = vec![3u8; MESSAGE];
            for _ in 0..MESSAGES {
                let mut grant = producer.reserve_blocking(MESSAGE, &how).expect("reserve");
                grant.copy_from_slice(&source);
                grant.commit();
            }
        },
        || {
            let mut consumer = ring.consumer();
            let mut sum = 0u64;
            let start = Instant::now();
            for _ in 0..MESSAGES {
                let grant = consumer.read_blocking(&how).expect("read");
                sum += grant.iter().step_by(64).map(|b| u64::from(*b)).sum::<u64>();
                grant.release();
            }
            let seconds = start.elapsed().as_secs_f64();
            assert_eq!(sum, 3 * (MESSAGE as u64 / 64) * MESSAGES as u64);
            (MESSAGE * MESSAGES) as f64 / seconds / 1e9
        },
    );
    (ring_gbps, memcpy())
}

/// Single-thread memcpy of 1 MiB buffers.
fn memcpy() -> f64 {
    let source = vec![5u8; MESSAGE];
    let mut target = vec![0u8; MESSAGE];
    let start = Instant::now();
    for _ in 0..MESSAGES {
        target.copy_from_slice(std::hint::black_box(&source));
        std::hint::black_box(&mut target);
    }
    (MESSAGE * MESSAGES) as f64 / start.elapsed().as_secs_f64() / 1e9
}
