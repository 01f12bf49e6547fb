//! `io-uring-futex`: ipc-core rings in memfds, one per direction, as `shm-futex`, whose waiting
//! side sleeps through io_uring's futex operation (`IORING_OP_FUTEX_WAIT`, Linux 6.7) on the
//! ring's own futex word, announced by ipc-core (`announce_futex_sleep`) and woken by the
//! peer's plain `FUTEX_WAKE`: the ring's protocol is unchanged. A wait first spins as
//! `shm-futex`'s does ([`SPIN`]: ipc-core's adaptive budget, each side keeping its own
//! history), then sleeps; asleep, it asks every [`LIVENESS_EVERY_MS`] whether the peer still
//! lives.
//! The io_uring is made in the worker at its first sleep. A kernel whose io_uring lacks the
//! futex operation makes it unsupported, with the reason.

use std::io;

use io_uring::{opcode, register::Probe, types, IoUring};
use ipc_core::spsc::{FutexSleep, ReadError, ReserveError, Wakeups};
use ipc_core::wait::{Liveness, SpinHistory, Strategy};

use super::endpoints::check_len;
use super::endpoints::ring_pair::{self, Backing, Rings};
use super::{Channel, Endpoint, Mechanism};
use crate::config::BenchConfig;
use crate::result::Pattern;

/// How a wait spins before it sleeps: as `shm-futex`'s (ipc-core's `Wait::futex`).
pub const SPIN: Strategy = Strategy::Adaptive { max_spins: 2_000 };
/// How often a sleeping side asks whether its peer still lives, ms.
pub const LIVENESS_EVERY_MS: u32 = 100;
/// `FUTEX2_SIZE_U32`: a 32-bit futex word, shared (no `FUTEX2_PRIVATE`: across processes).
const FUTEX2_SIZE_U32: u32 = 0x02;
/// `FUTEX_BITSET_MATCH_ANY`: woken by any wake.
const ANY_WAKE: u64 = u32::MAX as u64;

/// ipc-core rings whose waits sleep through io_uring.
pub struct IoUringFutex;

impl Mechanism for IoUringFutex {
    fn name(&self) -> &'static str {
        "io-uring-futex"
    }

    fn summary(&self) -> &'static str {
        "an ipc-core ring per direction in a memfd; spin, then IORING_OP_FUTEX_WAIT on its word"
    }

    fn wake(&self) -> crate::result::Wake {
        crate::result::Wake::SpinThenSleep
    }

    fn available(&self) -> Result<(), String> {
        let ring = IoUring::new(2).map_err(|e| format!("the kernel refused an io_uring ({e})"))?;
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| format!("io_uring's probe failed ({e})"))?;
        if probe.is_supported(opcode::FutexWait::CODE) {
            Ok(())
        } else {
            Err("this kernel's io_uring has no futex wait (IORING_OP_FUTEX_WAIT, Linux 6.7)".into())
        }
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        if matches!(config.pattern, Pattern::FanIn | Pattern::RequestResponse) {
            return Some(
                "a pair of rings only: no many-writer region waited on through io_uring".into(),
            );
        }
        ring_pair::unsupported_size(config.message_size)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let [client, server] = ring_pair::pair(size, Backing::Memfd, Wakeups::Futex)?;
        Ok(Channel::new(
            Box::new(UringFutexEnd::new(client)),
            Box::new(UringFutexEnd::new(server)),
        ))
    }
}

/// One side: its rings, what its spins learned for each, and its io_uring once it has slept.
struct UringFutexEnd {
    rings: Rings,
    send_spins: SpinHistory,
    recv_spins: SpinHistory,
    uring: Option<IoUring>,
}

impl UringFutexEnd {
    fn new(rings: Rings) -> Self {
        Self {
            rings,
            send_spins: SpinHistory::new(),
            recv_spins: SpinHistory::new(),
            uring: None,
        }
    }

    /// Sleeps through io_uring until `sleep`'s word leaves its value (or a wake), asking
    /// `peer` every [`LIVENESS_EVERY_MS`] whether it lives.
    fn sleep(&mut self, sleep: FutexSleep, peer: &dyn Liveness) -> io::Result<()> {
        let uring = match &mut self.uring {
            Some(uring) => uring,
            none => none.insert(IoUring::new(2)?),
        };
        let wait = opcode::FutexWait::new(
            sleep.word,
            u64::from(sleep.value),
            ANY_WAKE,
            FUTEX2_SIZE_U32,
        )
        .build();
        // SAFETY: the word lies in this side's mapping of the ring, which lives as long as
        // `self`; this function waits for the operation's completion before it returns.
        unsafe { uring.submission().push(&wait) }
            .map_err(|_| io::Error::other("the submission queue is full"))?;
        let every = types::Timespec::new().nsec(LIVENESS_EVERY_MS * 1_000_000);
        let args = types::SubmitArgs::new().timespec(&every);
        loop {
            match uring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
                Err(e) => return Err(e),
            }
            // Woken (0), or the word had moved already (EAGAIN): look at the ring again.
            if let Some(done) = uring.completion().next() {
                let result = done.result();
                return match result {
                    0 => Ok(()),
                    n if n == -libc::EAGAIN => Ok(()),
                    n => Err(io::Error::from_raw_os_error(-n)),
                };
            }
            if !peer.peer_alive() {
                return Err(io::Error::other("the peer process is gone"));
            }
        }
    }
}

impl Endpoint for UringFutexEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        loop {
            match self.rings.tx.push(message) {
                Ok(()) => return Ok(()),
                Err(ReserveError::Full) => {}
                Err(e) => return Err(io::Error::other(e)),
            }
            let tx = &mut self.rings.tx;
            let checks = self.send_spins.spins(SPIN);
            let room = self
                .send_spins
                .spin(SPIN, checks, || tx.has_room_for(message.len()));
            if room.map_err(io::Error::other)? {
                continue;
            }
            if let Some(sleep) = tx
                .announce_futex_sleep(message.len())
                .map_err(io::Error::other)?
            {
                let peer = self.rings.tx.consumer_record();
                self.sleep(sleep, &peer)?;
            }
        }
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        loop {
            match self.rings.rx.pop(buffer) {
                Ok(Some(len)) => return check_len(len, buffer.len()),
                Ok(None) => {}
                Err(ReadError::BufferTooSmall { len, .. }) => return check_len(len, buffer.len()),
                Err(e) => return Err(io::Error::other(e)),
            }
            let rx = &self.rings.rx;
            let checks = self.recv_spins.spins(SPIN);
            let ready = self.recv_spins.spin(SPIN, checks, || {
                Ok::<_, std::convert::Infallible>(rx.has_message())
            });
            if ready.unwrap_or(false) {
                continue;
            }
            if let Some(sleep) = self
                .rings
                .rx
                .announce_futex_sleep()
                .map_err(io::Error::other)?
            {
                let peer = self.rings.rx.producer_record();
                self.sleep(sleep, &peer)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_asleep_in_io_uring_is_woken_by_the_sender_s_plain_futex_wake() {
        if let Err(why) = IoUringFutex.available() {
            panic!("io_uring's futex wait is not available here, so this test cannot run: {why}");
        }
        let [client, server] = ring_pair::pair(100, Backing::Memfd, Wakeups::Futex).unwrap();
        let (mut sender, mut receiver) = (UringFutexEnd::new(client), UringFutexEnd::new(server));
        let (done, outcome) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut got = [0u8; 100];
            receiver.recv(&mut got).unwrap();
            let _ = done.send((got, receiver.uring.is_some()));
        });
        // Long enough for the receiver's spin to end: it sleeps in io_uring.
        std::thread::sleep(std::time::Duration::from_millis(50));
        sender.send(&[7u8; 100]).unwrap();
        let (got, slept) = outcome
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the sleeping receiver was not woken within 10 s");
        assert_eq!(got, [7u8; 100]);
        assert!(slept, "the receiver never slept through io_uring");
    }
}
