//! The fan-in consumer, the broadcast subscriber and the broadcast publisher in tokio, against
//! plain peers (threads, or forked processes using ipc-core's blocking calls), on both runtimes:
//! every message delivered, in order per producer; a cancelled wait; a dead peer; misuse; typed
//! values.

mod common;

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use common::{current_thread, fork_child, kill, multi_thread, rung, wait_status};
use ipc_core::broadcast::{Broadcast, Mode};
use ipc_core::channel::{AsyncSides, BroadcastChannel, FanInChannel};
use ipc_core::doorbell::{Doorbell, ProducerSleeps, ReaderSleeps};
use ipc_core::fan_in::{FanIn, FanInError};
use ipc_core::shm::SharedMemory;
use ipc_core::wait::Wait;
use ipc_core::Region;
use ipc_core_tokio::{eventfd, AsyncFanInConsumer, AsyncPublisher, AsyncSubscriber, Error};

const MESSAGES: u64 = 20_000;
const LANES: usize = 3;
const SUBSCRIBERS: usize = 3;
/// Longest a wait may take before the test calls it a lost wake-up (instead of hanging).
const PATIENCE: Duration = Duration::from_secs(10);

/// A plain side's blocking wait, failing instead of hanging on a lost wake-up.
fn patient() -> Wait<'static> {
    Wait::futex().with_timeout(PATIENCE)
}

/// `wait`, or a panic saying what was lost.
async fn within_patience<T>(what: &str, wait: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, wait).await {
        Ok(done) => done,
        Err(_) => panic!("{what} was not woken within {PATIENCE:?}: a lost wake-up"),
    }
}

/// Memory that lives as long as the test process, so that handles can go into spawned tasks.
fn leaked_memory(name: &str, len: usize) -> Region<'static> {
    Box::leak(Box::new(SharedMemory::memfd(name, len).unwrap())).region()
}

/// Memory for a fan-in region of `lanes` lanes of `capacity` bytes.
fn fan_in_memory(lanes: usize, capacity: usize) -> Vec<u64> {
    vec![0u64; FanIn::required_len(lanes, capacity) / 8]
}

/// A fan-in region in `memory` whose consumer sleeps on an eventfd.
fn fan_in_on_eventfd(memory: &mut [u64], lanes: usize, capacity: usize) -> FanIn<'_> {
    FanIn::init_with(
        Region::from_slice(memory),
        lanes,
        capacity,
        ReaderSleeps::OnEventfd,
    )
    .unwrap()
}

/// `LANES` plain threads each send `MESSAGES` numbered messages through small lanes (so they
/// also wait for room) to a tokio consumer, which must see every one, in order per lane;
/// `spins` 0 makes every wait sleep on the eventfd.
fn fan_in_to_tokio(runtime: tokio::runtime::Runtime, spins: u32) {
    let mut memory = fan_in_memory(LANES, 256);
    let region = fan_in_on_eventfd(&mut memory, LANES, 256);
    let wake_me = eventfd().unwrap();
    let consumer = region.consumer().unwrap();
    std::thread::scope(|s| {
        for lane in 0..LANES {
            let mut producer = region
                .producer_with_doorbell(lane, Doorbell::eventfd(wake_me.as_fd()))
                .unwrap();
            s.spawn(move || {
                for n in 0..MESSAGES {
                    let message = (n << 8 | lane as u64).to_le_bytes();
                    producer.push_blocking(&message, &patient()).unwrap();
                }
            });
        }
        runtime.block_on(async {
            let mut rx = AsyncFanInConsumer::new(consumer, wake_me.try_clone().unwrap())
                .unwrap()
                .with_spins(spins);
            let mut next = [0u64; LANES];
            let mut buffer = [0u8; 8];
            for _ in 0..MESSAGES * LANES as u64 {
                let (lane, len) = within_patience("the consumer", rx.recv(&mut buffer))
                    .await
                    .unwrap();
                let value = u64::from_le_bytes(buffer);
                assert_eq!((len, value & 0xff), (8, lane as u64));
                assert_eq!(value >> 8, next[lane], "lane {lane} out of order");
                next[lane] += 1;
            }
            assert_eq!(next, [MESSAGES; LANES]);
        });
    });
}

#[test]
fn a_tokio_fan_in_consumer_receives_every_message_on_the_current_thread_runtime() {
    fan_in_to_tokio(current_thread(), 0);
    fan_in_to_tokio(current_thread(), ipc_core_tokio::DEFAULT_SPINS);
}

#[test]
fn a_tokio_fan_in_consumer_receives_every_message_on_the_multi_thread_runtime() {
    fan_in_to_tokio(multi_thread(), 0);
    fan_in_to_tokio(multi_thread(), ipc_core_tokio::DEFAULT_SPINS);
}

/// A plain thread publishes `MESSAGES` numbered messages through a small backpressure ring (so
/// it waits for the slowest subscriber) to `SUBSCRIBERS` tokio tasks sharing one eventfd: each
/// must see every message in order.
fn broadcast_to_tokio(runtime: tokio::runtime::Runtime, spins: u32) {
    let region = Broadcast::init_with(
        leaked_memory("tokio-broadcast", Broadcast::required_len(1024)),
        1024,
        SUBSCRIBERS,
        Mode::Backpressure,
        ReaderSleeps::OnEventfd,
    )
    .unwrap();
    // Borrowed by the producer as long as the region: it lives as long.
    let subscribers_sleep_on: &'static OwnedFd = Box::leak(Box::new(eventfd().unwrap()));
    let mut producer = region
        .producer_with_doorbell(Doorbell::eventfd(subscribers_sleep_on.as_fd()))
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..SUBSCRIBERS)
            .map(|index| {
                let mut rx = AsyncSubscriber::new(
                    region.subscriber(index).unwrap(),
                    subscribers_sleep_on.try_clone().unwrap(),
                )
                .unwrap()
                .with_spins(spins);
                tokio::spawn(async move {
                    let mut buffer = [0u8; 8];
                    for n in 0..MESSAGES {
                        let received = within_patience("a subscriber", rx.recv(&mut buffer))
                            .await
                            .unwrap();
                        assert_eq!((received.len, received.lost), (8, 0));
                        assert_eq!(u64::from_le_bytes(buffer), n, "subscriber {index}");
                    }
                })
            })
            .collect();
        let publisher = std::thread::spawn(move || {
            for n in 0..MESSAGES {
                producer
                    .push_blocking(&n.to_le_bytes(), &patient())
                    .unwrap();
            }
        });
        for task in tasks {
            task.await.unwrap();
        }
        publisher.join().unwrap();
    });
}

#[test]
fn tokio_subscribers_receive_every_message_on_the_current_thread_runtime() {
    broadcast_to_tokio(current_thread(), 0);
    broadcast_to_tokio(current_thread(), ipc_core_tokio::DEFAULT_SPINS);
}

#[test]
fn tokio_subscribers_receive_every_message_on_the_multi_thread_runtime() {
    broadcast_to_tokio(multi_thread(), 0);
    broadcast_to_tokio(multi_thread(), ipc_core_tokio::DEFAULT_SPINS);
}

/// Subscribers in two processes, each with its own runtime, sleep on one eventfd (inherited):
/// a plain publisher's one write per publish wakes both.
#[test]
fn subscribers_in_two_processes_are_woken_through_one_eventfd() {
    const ROUNDS: u64 = 5_000;
    let memory = SharedMemory::memfd("tokio-subscribers", Broadcast::required_len(1024)).unwrap();
    let region = Broadcast::init_with(
        memory.region(),
        1024,
        2,
        Mode::Backpressure,
        ReaderSleeps::OnEventfd,
    )
    .unwrap();
    let sleep_on = eventfd().unwrap();
    let children: Vec<u32> = (0..2)
        .map(|index| {
            fork_child(|| {
                current_thread().block_on(async {
                    let subscriber = region.subscriber(index).unwrap();
                    let mut rx =
                        AsyncSubscriber::new(subscriber, sleep_on.try_clone().unwrap()).unwrap();
                    let mut buffer = [0u8; 8];
                    for n in 0..ROUNDS {
                        match tokio::time::timeout(PATIENCE, rx.recv(&mut buffer)).await {
                            Ok(Ok(_)) if u64::from_le_bytes(buffer) == n => {}
                            Ok(_) => return 1,
                            Err(_) => return 2,
                        }
                    }
                    0
                })
            })
        })
        .collect();
    let mut producer = region
        .producer_with_doorbell(Doorbell::eventfd(sleep_on.as_fd()))
        .unwrap();
    for n in 0..ROUNDS {
        producer
            .push_blocking(&n.to_le_bytes(), &patient())
            .unwrap();
        if n % 64 == 0 {
            // Let the subscribers fall asleep now and then, so wake-ups are exercised.
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    for child in children {
        match wait_status(child) {
            0 => {}
            2 => panic!("a subscriber was not woken within {PATIENCE:?}: a lost wake-up"),
            other => panic!("a subscriber saw a wrong message (exit {other})"),
        }
    }
}

/// The one-call path: channels made with `memfd_with(.., ReaderSleeps::OnEventfd)`, whose
/// handles own their share of the mapping and the eventfd, so the async sides go into
/// `tokio::spawn` and the plain ones into threads with nothing leaked.
fn one_call_channels_to_tokio_tasks(runtime: tokio::runtime::Runtime) {
    const ROUNDS: u64 = 5_000;
    let fan_in = FanInChannel::memfd_with(LANES, 256, ReaderSleeps::OnEventfd).unwrap();
    let feed = BroadcastChannel::memfd_with(
        SUBSCRIBERS,
        1024,
        Mode::Backpressure,
        ReaderSleeps::OnEventfd,
    )
    .unwrap();
    runtime.block_on(async {
        let mut reader = AsyncFanInConsumer::from_reader(fan_in.reader().unwrap()).unwrap();
        let served = tokio::spawn(async move {
            let mut next = [0u64; LANES];
            for _ in 0..ROUNDS * LANES as u64 {
                let (lane, value) = within_patience("the reader", reader.recv_value::<u64>())
                    .await
                    .unwrap();
                assert_eq!(value, next[lane], "lane {lane} out of order");
                next[lane] += 1;
            }
        });
        let subscribed: Vec<_> = (0..SUBSCRIBERS)
            .map(|index| {
                let subscriber = feed.subscriber(index).unwrap();
                let mut rx = AsyncSubscriber::from_subscriber(subscriber).unwrap();
                tokio::spawn(async move {
                    for n in 0..ROUNDS {
                        let (value, lost) = within_patience("a subscriber", rx.recv_value::<u64>())
                            .await
                            .unwrap();
                        assert_eq!((value, lost), (n, 0), "subscriber {index}");
                    }
                })
            })
            .collect();
        let mut plain: Vec<_> = (0..LANES)
            .map(|lane| {
                let mut writer = fan_in.writer(lane).unwrap();
                std::thread::spawn(move || {
                    for n in 0..ROUNDS {
                        writer.send_value(&n, &patient()).unwrap();
                    }
                })
            })
            .collect();
        let mut publisher = feed.publisher().unwrap();
        plain.push(std::thread::spawn(move || {
            for n in 0..ROUNDS {
                publisher.send_value(&n, &patient()).unwrap();
            }
        }));
        served.await.unwrap();
        for task in subscribed {
            task.await.unwrap();
        }
        for thread in plain {
            thread.join().unwrap();
        }
    });
}

#[test]
fn one_call_channels_serve_tokio_tasks_on_the_current_thread_runtime() {
    one_call_channels_to_tokio_tasks(current_thread());
}

#[test]
fn one_call_channels_serve_tokio_tasks_on_the_multi_thread_runtime() {
    one_call_channels_to_tokio_tasks(multi_thread());
}

/// A one-call broadcast channel whose publisher and subscribers all run as tokio tasks, each
/// handle moved into its task: `MESSAGES` numbered messages through a 1 KiB ring (the
/// publisher waits for room again and again), every subscriber sees each in order.
fn one_call_broadcast_all_async(runtime: tokio::runtime::Runtime) {
    let feed =
        BroadcastChannel::memfd_async(SUBSCRIBERS, 1024, Mode::Backpressure, AsyncSides::Both)
            .unwrap();
    runtime.block_on(async {
        let subscribed: Vec<_> = (0..SUBSCRIBERS)
            .map(|index| {
                let subscriber = feed.subscriber(index).unwrap();
                let mut rx = AsyncSubscriber::from_subscriber(subscriber).unwrap();
                tokio::spawn(async move {
                    for n in 0..MESSAGES {
                        let (value, lost) = within_patience("a subscriber", rx.recv_value::<u64>())
                            .await
                            .unwrap();
                        assert_eq!((value, lost), (n, 0), "subscriber {index}");
                    }
                })
            })
            .collect();
        let mut publisher = AsyncPublisher::from_publisher(feed.publisher().unwrap()).unwrap();
        let published = tokio::spawn(async move {
            for n in 0..MESSAGES {
                within_patience("the publisher", publisher.send_value(&n))
                    .await
                    .unwrap();
            }
        });
        published.await.unwrap();
        for task in subscribed {
            task.await.unwrap();
        }
    });
}

#[test]
fn a_one_call_broadcast_runs_every_side_as_a_task_on_the_current_thread_runtime() {
    one_call_broadcast_all_async(current_thread());
}

#[test]
fn a_one_call_broadcast_runs_every_side_as_a_task_on_the_multi_thread_runtime() {
    one_call_broadcast_all_async(multi_thread());
}

#[test]
fn a_one_call_publisher_that_sleeps_on_the_futex_is_a_clear_error() {
    let _runtime = current_thread().enter();
    for feed in [
        BroadcastChannel::memfd(1, 1024, Mode::Backpressure).unwrap(),
        BroadcastChannel::memfd_async(1, 1024, Mode::Backpressure, AsyncSides::Subscribers)
            .unwrap(),
    ] {
        let made = AsyncPublisher::from_publisher(feed.publisher().unwrap());
        assert!(
            matches!(made, Err(Error::NotAnEventfdSide("publisher"))),
            "{:?}",
            made.err()
        );
    }
}

/// A writer process that received the channel over a Unix socket (memory and eventfd in one
/// message) wakes the tokio reader that made it.
#[test]
fn a_writer_process_given_the_channel_over_a_socket_wakes_the_tokio_reader() {
    const ROUNDS: u64 = 2_000;
    let (here, there) = std::os::unix::net::UnixStream::pair().unwrap();
    let channel = FanInChannel::memfd_with(1, 4096, ReaderSleeps::OnEventfd).unwrap();
    let child = fork_child(|| {
        let received = FanInChannel::receive_over(&there).unwrap();
        let mut writer = received.writer(0).unwrap();
        for n in 0..ROUNDS {
            writer.send_value(&n, &patient()).unwrap();
            if n % 64 == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        0
    });
    channel.send_over(&here).unwrap();
    current_thread().block_on(async {
        let mut reader = AsyncFanInConsumer::from_reader(channel.reader().unwrap()).unwrap();
        for n in 0..ROUNDS {
            let got = within_patience("the reader", reader.recv_value::<u64>()).await;
            assert_eq!(got.unwrap(), (0, n));
        }
    });
    assert_eq!(wait_status(child), 0, "the writer process failed");
}

#[test]
fn a_dropped_fan_in_wait_takes_no_message_and_leaves_no_sleeper_announced() {
    let mut memory = fan_in_memory(2, 1024);
    let region = fan_in_on_eventfd(&mut memory, 2, 1024);
    let sleeps_on = eventfd().unwrap();
    let mut tx = region
        .producer_with_doorbell(1, Doorbell::eventfd(sleeps_on.as_fd()))
        .unwrap();
    current_thread().block_on(async {
        let mut rx =
            AsyncFanInConsumer::new(region.consumer().unwrap(), sleeps_on.try_clone().unwrap())
                .unwrap()
                .with_spins(0);
        let mut buffer = [0u8; 8];
        let waited = tokio::time::timeout(Duration::from_millis(20), rx.recv(&mut buffer)).await;
        assert!(waited.is_err(), "nothing was sent");
        tx.push(b"after").unwrap();
        assert_eq!(
            rung(&sleeps_on),
            0,
            "the dropped wait left its announcement"
        );
        assert_eq!(rx.recv(&mut buffer).await.unwrap(), (1, 5));
        assert_eq!(&buffer[..5], b"after");
    });
}

/// Subscribers share their announcement, so a dropped wait leaves it: the next publish rings
/// once for nobody, and the message is still the next wait's.
#[test]
fn a_dropped_subscriber_wait_takes_no_message() {
    let mut memory = vec![0u64; Broadcast::required_len(1024) / 8];
    let region = Broadcast::init_with(
        Region::from_slice(&mut memory),
        1024,
        1,
        Mode::Backpressure,
        ReaderSleeps::OnEventfd,
    )
    .unwrap();
    let sleeps_on = eventfd().unwrap();
    let mut tx = region
        .producer_with_doorbell(Doorbell::eventfd(sleeps_on.as_fd()))
        .unwrap();
    current_thread().block_on(async {
        let mut rx = AsyncSubscriber::new(
            region.subscriber(0).unwrap(),
            sleeps_on.try_clone().unwrap(),
        )
        .unwrap()
        .with_spins(0);
        let mut buffer = [0u8; 8];
        let waited = tokio::time::timeout(Duration::from_millis(20), rx.recv(&mut buffer)).await;
        assert!(waited.is_err(), "nothing was sent");
        tx.push(b"after").unwrap();
        assert_eq!(
            rung(&sleeps_on),
            1,
            "the announcement stays until a publish"
        );
        tx.push(b"more").unwrap();
        assert_eq!(
            rung(&sleeps_on),
            0,
            "a publish with nobody announced rings nobody"
        );
        assert_eq!(rx.recv(&mut buffer).await.unwrap().len, 5);
        assert_eq!(&buffer[..5], b"after");
        assert_eq!(rx.recv(&mut buffer).await.unwrap().len, 4);
    });
}

/// A lane's producer in a forked child is killed holding its lane while the tokio consumer
/// sleeps: the wait ends naming the lane.
#[test]
fn a_killed_lane_producer_ends_a_sleeping_fan_in_wait_naming_its_lane() {
    let memory = SharedMemory::memfd("tokio-fan-in-dead", FanIn::required_len(2, 1024)).unwrap();
    let region = FanIn::init_with(memory.region(), 2, 1024, ReaderSleeps::OnEventfd).unwrap();
    let sleeps_on = eventfd().unwrap();
    let child = claimed_then_asleep(|| {
        region
            .producer_with_doorbell(1, Doorbell::eventfd(sleeps_on.as_fd()))
            .map(drop_later)
            .is_ok()
    });
    current_thread().block_on(async {
        let mut rx =
            AsyncFanInConsumer::new(region.consumer().unwrap(), sleeps_on.try_clone().unwrap())
                .unwrap()
                .with_check_every(Duration::from_millis(10));
        kill(child);
        let mut buffer = [0u8; 8];
        let ended = tokio::time::timeout(Duration::from_secs(10), rx.recv(&mut buffer)).await;
        assert!(
            matches!(
                ended,
                Ok(Err(Error::FanIn(FanInError::ProducerGone { lane: 1 })))
            ),
            "{ended:?}"
        );
    });
    wait_status(child);
}

/// The publisher in a forked child is killed while tokio subscribers sleep: the wait ends with
/// `PeerGone`.
#[test]
fn a_killed_publisher_ends_a_sleeping_subscriber_wait() {
    let memory =
        SharedMemory::memfd("tokio-broadcast-dead", Broadcast::required_len(1024)).unwrap();
    let region = Broadcast::init_with(
        memory.region(),
        1024,
        1,
        Mode::Lossy,
        ReaderSleeps::OnEventfd,
    )
    .unwrap();
    let sleeps_on = eventfd().unwrap();
    let child = claimed_then_asleep(|| {
        region
            .producer_with_doorbell(Doorbell::eventfd(sleeps_on.as_fd()))
            .map(drop_later)
            .is_ok()
    });
    current_thread().block_on(async {
        let mut rx = AsyncSubscriber::new(
            region.subscriber(0).unwrap(),
            sleeps_on.try_clone().unwrap(),
        )
        .unwrap();
        kill(child);
        let mut buffer = [0u8; 8];
        let ended = tokio::time::timeout(Duration::from_secs(10), rx.recv(&mut buffer)).await;
        assert!(matches!(ended, Ok(Err(Error::PeerGone))), "{ended:?}");
    });
    wait_status(child);
}

#[test]
fn a_region_whose_readers_sleep_on_the_futex_is_a_clear_error() {
    let mut fan_in_memory = vec![0u64; FanIn::required_len(1, 1024) / 8];
    let fan_in = FanIn::init(Region::from_slice(&mut fan_in_memory), 1, 1024).unwrap();
    let mut broadcast_memory = vec![0u64; Broadcast::required_len(1024) / 8];
    let broadcast = Broadcast::init(
        Region::from_slice(&mut broadcast_memory),
        1024,
        1,
        Mode::Lossy,
    )
    .unwrap();
    let fd = eventfd().unwrap();
    current_thread().block_on(async {
        let refused =
            AsyncFanInConsumer::new(fan_in.consumer().unwrap(), fd.try_clone().unwrap()).err();
        let message = refused.unwrap().to_string();
        assert!(
            message.contains("fan-in consumer does not sleep on an eventfd"),
            "{message}"
        );
        let refused =
            AsyncSubscriber::new(broadcast.subscriber(0).unwrap(), fd.try_clone().unwrap()).err();
        assert!(matches!(
            refused,
            Some(Error::NotAnEventfdSide("subscriber"))
        ));
    });
}

#[test]
fn typed_values_arrive_whole_and_a_wrong_size_names_its_lane() {
    let mut memory = fan_in_memory(2, 1024);
    let region = fan_in_on_eventfd(&mut memory, 2, 1024);
    let bell = eventfd().unwrap();
    let mut zero = region
        .producer_with_doorbell(0, Doorbell::eventfd(bell.as_fd()))
        .unwrap();
    let mut one = region
        .producer_with_doorbell(1, Doorbell::eventfd(bell.as_fd()))
        .unwrap();
    zero.push(&[7u32, 8].map(u32::to_ne_bytes).concat())
        .unwrap();
    one.push(b"three").unwrap();
    current_thread().block_on(async {
        let mut rx =
            AsyncFanInConsumer::new(region.consumer().unwrap(), bell.try_clone().unwrap()).unwrap();
        assert_eq!(rx.recv_value::<[u32; 2]>().await.unwrap(), (0, [7, 8]));
        let wrong = rx.recv_value::<[u32; 2]>().await.unwrap_err();
        assert!(
            matches!(
                wrong,
                Error::WrongLength {
                    lane: Some(1),
                    expected: 8,
                    found: 5
                }
            ),
            "{wrong:?}"
        );
        assert!(
            wrong.to_string().starts_with("lane 1: a 5-byte message"),
            "{wrong}"
        );
    });
}

/// Runs `claim` in a forked child, which then sleeps holding what it claimed; returns once the
/// claim is made.
fn claimed_then_asleep(claim: impl FnOnce() -> bool) -> u32 {
    use std::io::{Read, Write};
    let (mut claimed_rx, mut claimed_tx) = std::io::pipe().unwrap();
    let child = fork_child(|| {
        if !claim() {
            return 1;
        }
        claimed_tx.write_all(b"!").unwrap();
        std::thread::sleep(Duration::from_secs(60));
        0
    });
    drop(claimed_tx);
    claimed_rx.read_exact(&mut [0u8; 1]).unwrap();
    child
}

/// Keeps a claimed role held until the process ends.
fn drop_later<T>(held: T) {
    std::mem::forget(held);
}

/// A broadcast region in leaked memory whose producer sleeps on `producer_sleeps_on` (and whose
/// subscribers sleep as `readers` says), with every subscriber claimed with that doorbell.
fn region_with_async_publisher(
    name: &str,
    readers: ReaderSleeps,
    producer_sleeps_on: &'static OwnedFd,
) -> (
    Broadcast<'static>,
    Vec<ipc_core::broadcast::Subscriber<'static>>,
) {
    let region = Broadcast::init_with_sleepers(
        leaked_memory(name, Broadcast::required_len(1024)),
        1024,
        SUBSCRIBERS,
        Mode::Backpressure,
        readers,
        ProducerSleeps::OnEventfd,
    )
    .unwrap();
    let bell = Doorbell::eventfd(producer_sleeps_on.as_fd());
    let subscribers = (0..SUBSCRIBERS)
        .map(|index| region.subscriber_with_doorbell(index, bell).unwrap())
        .collect();
    (region, subscribers)
}

/// A tokio publisher sends `MESSAGES` numbered messages through a 1 KiB region (so it waits
/// for room again and again) to `SUBSCRIBERS` plain threads, which must each see every one in
/// order; `spins` 0 makes every wait for room sleep on the eventfd.
fn tokio_publisher_to_threads(runtime: tokio::runtime::Runtime, spins: u32) {
    let sleeps_on: &'static OwnedFd = Box::leak(Box::new(eventfd().unwrap()));
    let (region, subscribers) =
        region_with_async_publisher("tokio-publisher", ReaderSleeps::OnFutex, sleeps_on);
    let readers: Vec<_> = subscribers
        .into_iter()
        .enumerate()
        .map(|(index, mut subscriber)| {
            std::thread::spawn(move || {
                let mut buffer = [0u8; 8];
                for n in 0..MESSAGES {
                    let received = subscriber.pop_blocking(&mut buffer, &patient()).unwrap();
                    assert_eq!((received.len, received.lost), (8, 0));
                    assert_eq!(u64::from_le_bytes(buffer), n, "subscriber {index}");
                }
            })
        })
        .collect();
    runtime.block_on(async {
        let producer = region.producer().unwrap();
        let mut publisher = AsyncPublisher::new(producer, sleeps_on.try_clone().unwrap())
            .unwrap()
            .with_spins(spins);
        for n in 0..MESSAGES {
            within_patience("the publisher", publisher.send_value(&n.to_le_bytes()))
                .await
                .unwrap();
        }
    });
    for reader in readers {
        reader.join().unwrap();
    }
}

#[test]
fn a_tokio_publisher_waits_for_room_on_the_current_thread_runtime() {
    tokio_publisher_to_threads(current_thread(), 0);
    tokio_publisher_to_threads(current_thread(), ipc_core_tokio::DEFAULT_SPINS);
}

#[test]
fn a_tokio_publisher_waits_for_room_on_the_multi_thread_runtime() {
    tokio_publisher_to_threads(multi_thread(), 0);
    tokio_publisher_to_threads(multi_thread(), ipc_core_tokio::DEFAULT_SPINS);
}

/// Publisher and subscribers all tasks of one current-thread runtime, each side sleeping on
/// its eventfd: a lost wake-up on either side would stop the only thread.
#[test]
fn publisher_and_subscribers_all_async_on_one_thread_lose_no_wake_up() {
    let publisher_sleeps_on: &'static OwnedFd = Box::leak(Box::new(eventfd().unwrap()));
    let subscribers_sleep_on: &'static OwnedFd = Box::leak(Box::new(eventfd().unwrap()));
    let (region, subscribers) = region_with_async_publisher(
        "tokio-all-async",
        ReaderSleeps::OnEventfd,
        publisher_sleeps_on,
    );
    current_thread().block_on(async {
        let tasks: Vec<_> = subscribers
            .into_iter()
            .enumerate()
            .map(|(index, subscriber)| {
                let sleeps_on = subscribers_sleep_on.try_clone().unwrap();
                let mut rx = AsyncSubscriber::new(subscriber, sleeps_on)
                    .unwrap()
                    .with_spins(0);
                tokio::spawn(async move {
                    let mut buffer = [0u8; 8];
                    for n in 0..MESSAGES {
                        let received = within_patience("a subscriber", rx.recv(&mut buffer))
                            .await
                            .unwrap();
                        assert_eq!(received.len, 8);
                        assert_eq!(u64::from_le_bytes(buffer), n, "subscriber {index}");
                    }
                })
            })
            .collect();
        let producer = region
            .producer_with_doorbell(Doorbell::eventfd(subscribers_sleep_on.as_fd()))
            .unwrap();
        let mut publisher = AsyncPublisher::new(producer, publisher_sleeps_on.try_clone().unwrap())
            .unwrap()
            .with_spins(0);
        for n in 0..MESSAGES {
            within_patience("the publisher", publisher.send_value(&n.to_le_bytes()))
                .await
                .unwrap();
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// A subscriber in a forked child holds its slot, reads nothing, and is killed while the tokio
/// publisher sleeps for room: the wait ends with `PeerGone`.
#[test]
fn a_killed_subscriber_ends_a_sleeping_publisher_wait() {
    let memory =
        SharedMemory::memfd("tokio-publisher-dead", Broadcast::required_len(1024)).unwrap();
    let region = Broadcast::init_with_sleepers(
        memory.region(),
        1024,
        1,
        Mode::Backpressure,
        ReaderSleeps::OnFutex,
        ProducerSleeps::OnEventfd,
    )
    .unwrap();
    let sleeps_on = eventfd().unwrap();
    let child = claimed_then_asleep(|| {
        region
            .subscriber_with_doorbell(0, Doorbell::eventfd(sleeps_on.as_fd()))
            .map(drop_later)
            .is_ok()
    });
    current_thread().block_on(async {
        let producer = region.producer().unwrap();
        let mut publisher = AsyncPublisher::new(producer, sleeps_on.try_clone().unwrap()).unwrap();
        // The ring fills, then a send sleeps; the child dies while it does.
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            kill(child);
        });
        let fill = async {
            loop {
                if let Err(error) = publisher.send(&[7u8; 100]).await {
                    return error;
                }
            }
        };
        let ended = tokio::time::timeout(Duration::from_secs(10), fill).await;
        killer.join().unwrap();
        assert!(matches!(ended, Ok(Error::PeerGone)), "{ended:?}");
    });
    wait_status(child);
}

#[test]
fn a_region_whose_producer_sleeps_on_the_futex_is_a_clear_error() {
    let mut memory = vec![0u64; Broadcast::required_len(1024) / 8];
    let region =
        Broadcast::init(Region::from_slice(&mut memory), 1024, 1, Mode::Backpressure).unwrap();
    current_thread().block_on(async {
        let made = AsyncPublisher::new(region.producer().unwrap(), eventfd().unwrap());
        assert!(
            matches!(made, Err(Error::NotAnEventfdSide("publisher"))),
            "{:?}",
            made.err()
        );
    });
}
