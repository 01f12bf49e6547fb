//! The tokio adapter against a plain peer (a thread, or a forked process using ipc-core's
//! blocking calls), on both runtimes; cancellation, a dead peer, and misuse.

mod common;

use std::os::fd::AsFd;
use std::time::Duration;

use common::{current_thread, fork_child, kill, multi_thread, rung, wait_status};
use ipc_core::channel::{AsyncEnds, Duplex};
use ipc_core::doorbell::Doorbell;
use ipc_core::shm::{ProcessLiveness, SharedMemory};
use ipc_core::spsc::{EventfdSides, Spsc, Wakeups};
use ipc_core::wait::Wait;
use ipc_core::Region;
use ipc_core_tokio::{async_end, eventfd, AsyncConsumer, AsyncProducer, Error};

const MESSAGES: u64 = 20_000;

fn ring_memory(capacity: usize) -> Vec<u64> {
    vec![0u64; Spsc::required_len(capacity) / 8]
}

/// A tokio side receives `MESSAGES` numbered messages from a plain thread over one ring and
/// sends each back over another, so it awaits both messages and (the return ring is small)
/// room; `spins` 0 makes every wait sleep on the eventfd.
fn echo_through_tokio(runtime: tokio::runtime::Runtime, spins: u32) {
    let (mut there, mut back) = (ring_memory(1024), ring_memory(256));
    let to_tokio = Spsc::init_with(
        Region::from_slice(&mut there),
        1024,
        Wakeups::Eventfd(EventfdSides::Consumer),
    )
    .unwrap();
    let from_tokio = Spsc::init_with(
        Region::from_slice(&mut back),
        256,
        Wakeups::Eventfd(EventfdSides::Producer),
    )
    .unwrap();
    let (consumer_sleeps_on, producer_sleeps_on) = (eventfd().unwrap(), eventfd().unwrap());
    let mut tx = to_tokio
        .producer_with_doorbell(Doorbell::eventfd(consumer_sleeps_on.as_fd()))
        .unwrap();
    let mut rx = from_tokio
        .consumer_with_doorbell(Doorbell::eventfd(producer_sleeps_on.as_fd()))
        .unwrap();
    let (async_rx, async_tx) = (to_tokio.consumer().unwrap(), from_tokio.producer().unwrap());
    std::thread::scope(|s| {
        s.spawn(move || {
            for n in 0..MESSAGES {
                tx.push_blocking(&n.to_le_bytes(), &Wait::futex()).unwrap();
            }
        });
        s.spawn(move || {
            let mut buffer = [0u8; 8];
            for n in 0..MESSAGES {
                assert_eq!(rx.pop_blocking(&mut buffer, &Wait::futex()).unwrap(), 8);
                assert_eq!(u64::from_le_bytes(buffer), n);
            }
        });
        runtime.block_on(async {
            let mut rx = AsyncConsumer::new(async_rx, consumer_sleeps_on.try_clone().unwrap())
                .unwrap()
                .with_spins(spins);
            let mut tx = AsyncProducer::new(async_tx, producer_sleeps_on.try_clone().unwrap())
                .unwrap()
                .with_spins(spins);
            let mut buffer = [0u8; 8];
            for n in 0..MESSAGES {
                assert_eq!(rx.recv(&mut buffer).await.unwrap(), 8);
                assert_eq!(u64::from_le_bytes(buffer), n);
                tx.send(&buffer).await.unwrap();
            }
        });
    });
}

#[test]
fn messages_and_room_are_awaited_on_the_current_thread_runtime() {
    echo_through_tokio(current_thread(), 0);
    echo_through_tokio(current_thread(), ipc_core_tokio::DEFAULT_SPINS);
}

#[test]
fn messages_and_room_are_awaited_on_the_multi_thread_runtime() {
    echo_through_tokio(multi_thread(), 0);
    echo_through_tokio(multi_thread(), ipc_core_tokio::DEFAULT_SPINS);
}

/// The one-call path: a duplex channel whose first end a tokio runtime runs. Its two sides go
/// into separate tasks (each owns a share of the mapping and of the end's one eventfd); the
/// plain second end, in a thread, sends `MESSAGES` numbered requests and reads each reply.
/// Small rings make both sides of the async end wait, for messages and for room.
fn a_duplex_end_in_tokio_tasks(runtime: tokio::runtime::Runtime) {
    let channel = Duplex::memfd_async(256, AsyncEnds::First).unwrap();
    let mut plain = channel.second_end().unwrap();
    let client = std::thread::spawn(move || {
        let how = Wait::futex().with_timeout(Duration::from_secs(10));
        let mut replies = 0;
        for n in 0..MESSAGES {
            plain.send_value(&n, &how).unwrap();
            // Up to a ring's worth of requests in flight: read the replies that came.
            while let Some(len) = plain.try_recv(&mut [0u8; 8]).unwrap() {
                assert_eq!(len, 8);
                replies += 1;
            }
        }
        while replies < MESSAGES {
            let reply: u64 = plain.recv_value(&how).unwrap();
            assert!(reply <= MESSAGES);
            replies += 1;
        }
    });
    runtime.block_on(async {
        let (mut sending, mut receiving) = async_end(channel.first_end().unwrap()).unwrap();
        let (to_sender, mut from_receiver) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let receiver = tokio::spawn(async move {
            for n in 0..MESSAGES {
                let got =
                    tokio::time::timeout(Duration::from_secs(10), receiving.recv_value::<u64>())
                        .await
                        .expect("a request was not woken for: a lost wake-up")
                        .unwrap();
                assert_eq!(got, n);
                to_sender.send(n + 1).unwrap();
            }
        });
        let sender = tokio::spawn(async move {
            while let Some(reply) = from_receiver.recv().await {
                tokio::time::timeout(Duration::from_secs(10), sending.send_value(&reply))
                    .await
                    .expect("room was not woken for: a lost wake-up")
                    .unwrap();
            }
        });
        receiver.await.unwrap();
        sender.await.unwrap();
    });
    client.join().unwrap();
}

#[test]
fn a_duplex_end_serves_from_tokio_tasks_on_the_current_thread_runtime() {
    a_duplex_end_in_tokio_tasks(current_thread());
}

#[test]
fn a_duplex_end_serves_from_tokio_tasks_on_the_multi_thread_runtime() {
    a_duplex_end_in_tokio_tasks(multi_thread());
}

/// Both ends async, in one runtime, ping-ponging; and a plain end refuses to sleep on the futex
/// of an end that sleeps on an eventfd, while an end that does not is refused as async.
#[test]
fn both_ends_async_ping_pong_and_misuse_is_refused() {
    let channel = Duplex::memfd_async(4096, AsyncEnds::Both).unwrap();
    current_thread().block_on(async {
        let (mut a_tx, mut a_rx) = async_end(channel.first_end().unwrap()).unwrap();
        let (mut b_tx, mut b_rx) = async_end(channel.second_end().unwrap()).unwrap();
        let echo = tokio::spawn(async move {
            for _ in 0..1_000 {
                let n: u64 = b_rx.recv_value().await.unwrap();
                b_tx.send_value(&(n * 2)).await.unwrap();
            }
        });
        for n in 0..1_000u64 {
            a_tx.send_value(&n).await.unwrap();
            assert_eq!(a_rx.recv_value::<u64>().await.unwrap(), n * 2);
        }
        echo.await.unwrap();
    });
    let plain = Duplex::memfd(4096).unwrap();
    current_thread().block_on(async {
        let refused = async_end(plain.first_end().unwrap()).err();
        assert!(
            matches!(refused, Some(Error::NotAnEventfdSide("duplex end"))),
            "{refused:?}"
        );
    });
    let half = Duplex::memfd_async(4096, AsyncEnds::Second).unwrap();
    let mut first = half.first_end().unwrap();
    let mut second = half.second_end().unwrap();
    // The second end sleeps on its eventfd: its futex sleeps are refused, not left unwoken.
    let refused = second.recv(&mut [0u8; 8], &Wait::futex());
    assert!(
        matches!(
            refused,
            Err(ipc_core::ReadError::Wait(
                ipc_core::wait::WaitError::SleepsOnEventfd
            ))
        ),
        "{refused:?}"
    );
    first.try_send(b"still fine").unwrap();
    assert_eq!(second.try_recv(&mut [0u8; 16]).unwrap(), Some(10));
}

#[test]
fn a_dropped_wait_takes_no_message_and_leaves_no_sleeper_announced() {
    let mut memory = ring_memory(1024);
    let ring = Spsc::init_with(
        Region::from_slice(&mut memory),
        1024,
        Wakeups::Eventfd(EventfdSides::Consumer),
    )
    .unwrap();
    let sleeps_on = eventfd().unwrap();
    let mut tx = ring
        .producer_with_doorbell(Doorbell::eventfd(sleeps_on.as_fd()))
        .unwrap();
    current_thread().block_on(async {
        let mut rx = AsyncConsumer::new(ring.consumer().unwrap(), sleeps_on.try_clone().unwrap())
            .unwrap()
            .with_spins(0);
        let mut buffer = [0u8; 8];
        // The wait announces itself and sleeps; the timeout drops it.
        let waited = tokio::time::timeout(Duration::from_millis(20), rx.recv(&mut buffer)).await;
        assert!(waited.is_err(), "nothing was sent");
        // Withdrawn: a publish now rings nobody...
        tx.push(b"after").unwrap();
        assert_eq!(
            rung(&sleeps_on),
            0,
            "the dropped wait left its announcement"
        );
        // ...and the message is the next wait's.
        assert_eq!(rx.recv(&mut buffer).await.unwrap(), 5);
        assert_eq!(&buffer[..5], b"after");
        // A wait dropped after the ring woke it took nothing either.
        tx.push(b"kept").unwrap();
        let polled_once = tokio::time::timeout(Duration::ZERO, rx.read()).await;
        drop(polled_once);
        assert_eq!(rx.recv(&mut buffer).await.unwrap(), 4);
        assert_eq!(&buffer[..4], b"kept");
    });
}

#[test]
fn a_plain_process_and_a_tokio_process_talk_through_two_rings() {
    const ROUNDS: u64 = 2_000;
    let there = SharedMemory::memfd("tokio-there", Spsc::required_len(4096)).unwrap();
    let back = SharedMemory::memfd("tokio-back", Spsc::required_len(4096)).unwrap();
    let requests = Spsc::init_with(
        there.region(),
        4096,
        Wakeups::Eventfd(EventfdSides::Consumer),
    )
    .unwrap();
    let replies = Spsc::init_with(back.region(), 4096, Wakeups::Futex).unwrap();
    let wake_tokio = eventfd().unwrap();
    // The plain child inherits the eventfd across fork and rings it through its doorbell.
    let child = fork_child(|| {
        let mut tx = requests
            .producer_with_doorbell(Doorbell::eventfd(wake_tokio.as_fd()))
            .unwrap();
        let mut rx = replies.consumer().unwrap();
        let mut buffer = [0u8; 8];
        for n in 0..ROUNDS {
            tx.push_blocking(&n.to_le_bytes(), &Wait::futex()).unwrap();
            rx.pop_blocking(&mut buffer, &Wait::futex()).unwrap();
            if u64::from_le_bytes(buffer) != n + 1 {
                return 1;
            }
        }
        0
    });
    // The runtime and the AsyncFd are made after the fork, in the process that uses them.
    current_thread().block_on(async {
        let mut rx = AsyncConsumer::new(
            requests.consumer().unwrap(),
            wake_tokio.try_clone().unwrap(),
        )
        .unwrap();
        let mut tx = replies.producer().unwrap();
        let mut buffer = [0u8; 8];
        for n in 0..ROUNDS {
            rx.recv(&mut buffer).await.unwrap();
            assert_eq!(u64::from_le_bytes(buffer), n);
            tx.push(&(n + 1).to_le_bytes()).unwrap();
        }
    });
    assert_eq!(wait_status(child), 0, "the plain side saw a wrong reply");
}

#[test]
fn a_dead_producer_ends_the_wait_with_an_error_not_a_hang() {
    a_killed_producer_ends_a_sleeping_recv(true);
}

#[test]
fn by_default_a_killed_producer_ends_the_wait_with_an_error() {
    a_killed_producer_ends_a_sleeping_recv(false);
}

/// A producer in a forked child is killed while the consumer sleeps in `recv`: the wait ends
/// with `PeerGone`, found by a pidfd hook (`with_pidfd`) or by the ring's record (the default).
fn a_killed_producer_ends_a_sleeping_recv(with_pidfd: bool) {
    use std::io::{Read, Write};
    let memory = SharedMemory::memfd("tokio-dead", Spsc::required_len(4096)).unwrap();
    let ring = Spsc::init_with(
        memory.region(),
        4096,
        Wakeups::Eventfd(EventfdSides::Consumer),
    )
    .unwrap();
    let sleeps_on = eventfd().unwrap();
    let (mut claimed_rx, mut claimed_tx) = std::io::pipe().unwrap();
    let child = fork_child(|| {
        let _tx = ring
            .producer_with_doorbell(Doorbell::eventfd(sleeps_on.as_fd()))
            .unwrap();
        claimed_tx.write_all(b"!").unwrap();
        std::thread::sleep(Duration::from_secs(60));
        0
    });
    drop(claimed_tx);
    claimed_rx.read_exact(&mut [0u8; 1]).unwrap();
    let liveness = ProcessLiveness::new(child).unwrap();
    current_thread().block_on(async {
        let mut rx =
            AsyncConsumer::new(ring.consumer().unwrap(), sleeps_on.try_clone().unwrap()).unwrap();
        if with_pidfd {
            rx = rx.with_liveness(&liveness, Duration::from_millis(10));
        }
        kill(child);
        let mut buffer = [0u8; 8];
        let ended = tokio::time::timeout(Duration::from_secs(10), rx.recv(&mut buffer)).await;
        assert!(matches!(ended, Ok(Err(Error::PeerGone))), "{ended:?}");
    });
    wait_status(child);
}

#[test]
fn a_side_that_does_not_sleep_on_an_eventfd_or_no_runtime_is_a_clear_error() {
    let mut memory = ring_memory(1024);
    let ring = Spsc::init(Region::from_slice(&mut memory), 1024).unwrap();
    let fd = eventfd().unwrap();
    current_thread().block_on(async {
        let refused = AsyncConsumer::new(ring.consumer().unwrap(), fd.try_clone().unwrap()).err();
        assert!(matches!(refused, Some(Error::NotAnEventfdSide("consumer"))));
        let refused = AsyncProducer::new(ring.producer().unwrap(), fd.try_clone().unwrap()).err();
        let message = refused.unwrap().to_string();
        assert!(
            message.contains("producer does not sleep on an eventfd"),
            "{message}"
        );
    });
    let mut memory = ring_memory(1024);
    let ring = Spsc::init_with(
        Region::from_slice(&mut memory),
        1024,
        Wakeups::Eventfd(EventfdSides::Consumer),
    )
    .unwrap();
    let outside = AsyncConsumer::new(ring.consumer().unwrap(), fd).err();
    assert!(matches!(outside, Some(Error::NoRuntime)), "{outside:?}");
}
