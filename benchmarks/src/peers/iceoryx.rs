//! iceoryx2's side of the comparison: two publish-subscribe services of byte slices (there and
//! back), and for the blocking variant an event service per direction.
//!
//! Sending loans a `size`-byte slice from the publisher's shared memory and copies the whole
//! message into it (`write_from_slice`); receiving copies every byte of the sample out before
//! dropping it; the echo side copies the sample it receives straight into its reply's loan.
//! That is the same work ipc-core's side does ([`super::ring`]). Each process builds its own
//! node after the fork; services are named after the benchmark's pid and a counter, and every
//! port and node is dropped before the process ends, so iceoryx2 removes its files.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use iceoryx2::port::listener::Listener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;

use super::message::{check, pattern, round_of, set_round};
use super::{histogram, Done, Placement, Rounds};
use crate::processes::pair_on;

type Service = ipc::Service;

/// A unique prefix for one measurement's services.
fn fresh_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "ipc-core-benchmarks/{}/{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn node() -> Node<Service> {
    NodeBuilder::new()
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<Service>()
        .expect("an iceoryx2 node")
}

/// One direction of messages: a service with one publisher and one subscriber, whose queue
/// holds `queue` samples; a full queue makes the publisher retry (backpressure, no loss).
fn service(
    node: &Node<Service>,
    name: &str,
    queue: usize,
) -> iceoryx2::service::port_factory::publish_subscribe::PortFactory<Service, [u8], ()> {
    node.service_builder(&name.try_into().expect("a service name"))
        .publish_subscribe::<[u8]>()
        .max_publishers(1)
        .max_subscribers(1)
        .history_size(0)
        .subscriber_max_buffer_size(queue)
        .enable_safe_overflow(false)
        .open_or_create()
        .expect("open or create an iceoryx2 service")
}

fn publisher(
    node: &Node<Service>,
    name: &str,
    size: usize,
    queue: usize,
) -> Publisher<Service, [u8], ()> {
    service(node, name, queue)
        .publisher_builder()
        .initial_max_slice_len(size)
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()
        .expect("an iceoryx2 publisher")
}

fn subscriber(node: &Node<Service>, name: &str, queue: usize) -> Subscriber<Service, [u8], ()> {
    service(node, name, queue)
        .subscriber_builder()
        .buffer_size(queue)
        .create()
        .expect("an iceoryx2 subscriber")
}

fn events(node: &Node<Service>, name: &str) -> (Listener<Service>, Notifier<Service>) {
    let service = node
        .service_builder(&name.try_into().expect("a service name"))
        .event()
        .open_or_create()
        .expect("open or create an iceoryx2 event service");
    let listener = service.listener_builder().create().expect("a listener");
    let notifier = service.notifier_builder().create().expect("a notifier");
    (listener, notifier)
}

/// Copies `message` into a loaned sample and sends it; until the peer's subscriber is
/// connected, a send reaches nobody and is repeated.
fn send(publisher: &Publisher<Service, [u8], ()>, message: &[u8]) {
    loop {
        let sample = publisher
            .loan_slice_uninit(message.len())
            .expect("loan a sample");
        if sample.write_from_slice(message).send().expect("send") > 0 {
            return;
        }
        std::hint::spin_loop();
    }
}

/// Copies the next sample into `into`, if there is one.
fn try_receive(subscriber: &Subscriber<Service, [u8], ()>, into: &mut [u8]) -> bool {
    match subscriber.receive().expect("receive") {
        Some(sample) => {
            into.copy_from_slice(sample.payload());
            true
        }
        None => false,
    }
}

/// Busy-polls for the next sample and copies it into `into`.
fn receive(subscriber: &Subscriber<Service, [u8], ()>, into: &mut [u8]) {
    while !try_receive(subscriber, into) {
        std::hint::spin_loop();
    }
}

/// Sleeps on the listener until a sample is there, then copies it into `into`.
fn receive_sleeping(
    subscriber: &Subscriber<Service, [u8], ()>,
    listener: &Listener<Service>,
    into: &mut [u8],
) {
    while !try_receive(subscriber, into) {
        listener
            .blocking_wait(|_| {})
            .expect("wait on the listener");
    }
}

/// Tells the peer's listener; until it is connected, nobody hears and the notice is repeated.
fn notify(notifier: &Notifier<Service>) {
    while notifier.notify().expect("notify") == 0 {
        std::hint::spin_loop();
    }
}

/// Receives one message (busy-polling) and sends its bytes back; returns its round.
fn echo(
    subscriber: &Subscriber<Service, [u8], ()>,
    publisher: &Publisher<Service, [u8], ()>,
) -> u64 {
    loop {
        if let Some(sample) = subscriber.receive().expect("receive") {
            send(publisher, sample.payload());
            return round_of(sample.payload());
        }
        std::hint::spin_loop();
    }
}

/// The median round trip in ns: busy-polling (`sleep` false) or sleeping on an iceoryx2
/// listener whenever a side has nothing to read, woken by the peer's notifier (`sleep` true).
pub fn round_trip(size: usize, rounds: Rounds, placement: Placement, sleep: bool) -> u64 {
    let name = fresh_name();
    let (ping, pong) = (format!("{name}/ping"), format!("{name}/pong"));
    let (ping_event, pong_event) = (format!("{name}/ping-event"), format!("{name}/pong-event"));
    let total = rounds.total();
    pair_on(
        placement.cpus(),
        || {
            let node = node();
            let rx = subscriber(&node, &ping, 1);
            let tx = publisher(&node, &pong, size, 1);
            if sleep {
                let (listener, _) = events(&node, &ping_event);
                let (_, notifier) = events(&node, &pong_event);
                let mut buffer = vec![0u8; size];
                for round in 0..total {
                    receive_sleeping(&rx, &listener, &mut buffer);
                    assert_eq!(round_of(&buffer), round);
                    send(&tx, &buffer);
                    notify(&notifier);
                }
            } else {
                for round in 0..total {
                    assert_eq!(echo(&rx, &tx), round);
                }
            }
        },
        || {
            let node = node();
            let rx = subscriber(&node, &pong, 1);
            let tx = publisher(&node, &ping, size, 1);
            let wake = sleep.then(|| (events(&node, &pong_event).0, events(&node, &ping_event).1));
            let mut message = pattern(size);
            let mut reply = vec![0u8; size];
            let mut h = histogram();
            for round in 0..total {
                let start = Instant::now();
                set_round(&mut message, round);
                send(&tx, &message);
                match &wake {
                    Some((listener, notifier)) => {
                        notify(notifier);
                        receive_sleeping(&rx, listener, &mut reply);
                    }
                    None => receive(&rx, &mut reply),
                }
                let took = start.elapsed().as_nanos() as u64;
                assert_eq!(round_of(&reply), round);
                if round >= rounds.warmup {
                    h.saturating_record(took);
                }
            }
            check(&reply, total - 1, &message);
            h.value_at_quantile(0.5)
        },
    )
}

/// One-way throughput in bytes per second, busy-polling: the child publishes `messages`
/// messages as fast as the subscriber's queue (`queue` samples) takes them, the parent copies
/// each one out; timed from the first message received to the last.
pub fn throughput(size: usize, messages: u64, queue: usize, placement: Placement) -> f64 {
    let name = fresh_name();
    let done = Done::new();
    pair_on(
        placement.cpus(),
        || {
            let node = node();
            let tx = publisher(&node, &name, size, queue);
            let mut message = pattern(size);
            for round in 0..messages {
                set_round(&mut message, round);
                send(&tx, &message);
            }
            // The last samples live in the publisher's memory: keep it until they were read.
            done.wait();
        },
        || {
            let node = node();
            let rx = subscriber(&node, &name, queue);
            let mut received = vec![0u8; size];
            receive(&rx, &mut received);
            let start = Instant::now();
            for round in 1..messages {
                receive(&rx, &mut received);
                assert_eq!(round_of(&received), round);
            }
            let seconds = start.elapsed().as_secs_f64();
            done.set();
            check(&received, messages - 1, &pattern(size));
            ((messages - 1) as usize * size) as f64 / seconds
        },
    )
}

/// What iceoryx2 keeps after its last node is gone: a machine-wide management object in
/// /dev/shm and its directories under /tmp. The benchmark removes them only when they did
/// not exist before it ran (another iceoryx2 program may be using them otherwise).
pub struct Leftovers {
    existed: bool,
}

const SHM: &str = "/dev/shm";
const DIRECTORY: &str = "/tmp/iceoryx2";

fn management_objects() -> Vec<std::path::PathBuf> {
    std::fs::read_dir(SHM)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("iox2_") && n.ends_with(".global_mgmt"))
        })
        .collect()
}

impl Leftovers {
    /// Notes whether iceoryx2 had left anything on this machine before the run.
    pub fn before_the_run() -> Self {
        Self {
            existed: !management_objects().is_empty() || std::path::Path::new(DIRECTORY).exists(),
        }
    }

    /// Removes the management object and the (empty) directories the run made.
    pub fn remove_what_the_run_made(self) {
        if self.existed {
            return;
        }
        for path in management_objects() {
            let _ = std::fs::remove_file(path);
        }
        for directory in ["nodes", "services", ""] {
            // remove_dir refuses a directory that is not empty: nothing of a live node goes.
            let _ = std::fs::remove_dir(std::path::Path::new(DIRECTORY).join(directory));
        }
    }
}
