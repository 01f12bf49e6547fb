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
use iceoryx2::sample_mut::SampleMut;

use super::message::{check, pattern, round_of, set_round};
use super::{Done, Placement, RoundTrips, Rounds};
use crate::processes::pair_on;

type Service = ipc::Service;
/// A publisher of byte slices.
type BytePublisher = Publisher<Service, [u8], ()>;
/// A subscriber to byte slices.
type ByteSubscriber = Subscriber<Service, [u8], ()>;

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

fn publisher(node: &Node<Service>, name: &str, size: usize, queue: usize) -> BytePublisher {
    service(node, name, queue)
        .publisher_builder()
        .initial_max_slice_len(size)
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()
        .expect("an iceoryx2 publisher")
}

fn subscriber(node: &Node<Service>, name: &str, queue: usize) -> ByteSubscriber {
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
fn send(publisher: &BytePublisher, message: &[u8]) {
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
fn try_receive(subscriber: &ByteSubscriber, into: &mut [u8]) -> bool {
    match subscriber.receive().expect("receive") {
        Some(sample) => {
            into.copy_from_slice(sample.payload());
            true
        }
        None => false,
    }
}

/// Busy-polls for the next sample and copies it into `into`.
fn receive(subscriber: &ByteSubscriber, into: &mut [u8]) {
    while !try_receive(subscriber, into) {
        std::hint::spin_loop();
    }
}

/// Sleeps on the listener until a sample is there, then copies it into `into`.
fn receive_sleeping(subscriber: &ByteSubscriber, listener: &Listener<Service>, into: &mut [u8]) {
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
fn echo(subscriber: &ByteSubscriber, publisher: &BytePublisher) -> u64 {
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
            let mut timed = RoundTrips::new(rounds);
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
                timed.record(round, &reply, start);
            }
            timed.p50(&reply, &message)
        },
    )
}

/// A service set up as iceoryx2's own `benchmark-publish-subscribe` sets up its own: a
/// subscriber buffer of one sample, safe overflow (a new sample replaces one not yet read),
/// no history, and its publisher's default (non-blocking) backpressure.
fn authors_service(
    node: &Node<Service>,
    name: &str,
) -> iceoryx2::service::port_factory::publish_subscribe::PortFactory<Service, [u8], ()> {
    node.service_builder(&name.try_into().expect("a service name"))
        .publish_subscribe::<[u8]>()
        .max_publishers(1)
        .max_subscribers(1)
        .history_size(0)
        .subscriber_max_buffer_size(1)
        .enable_safe_overflow(true)
        .open_or_create()
        .expect("open or create an iceoryx2 service")
}

/// A publisher on the service `send_on` and a subscriber on `receive_on`, both set up as
/// iceoryx2's benchmark sets up its own ([`authors_service`]).
fn authors_ports(
    node: &Node<Service>,
    send_on: &str,
    receive_on: &str,
    size: usize,
) -> (BytePublisher, ByteSubscriber) {
    let publisher = authors_service(node, send_on)
        .publisher_builder()
        .initial_max_slice_len(size)
        .create()
        .expect("an iceoryx2 publisher");
    let subscriber = authors_service(node, receive_on)
        .subscriber_builder()
        .create()
        .expect("an iceoryx2 subscriber");
    (publisher, subscriber)
}

/// A loaned sample of `size` bytes, sent as it is: none of its bytes written, as iceoryx2's
/// benchmark sends them.
fn untouched(publisher: &BytePublisher, size: usize) -> SampleMut<Service, [u8], ()> {
    let sample = publisher.loan_slice_uninit(size).expect("loan a sample");
    // SAFETY: the sample lies in a shared memory segment iceoryx2 created and the kernel
    // filled with zeros, so each of its bytes holds a value (zero, or one an earlier sample
    // left); any value is a valid u8, and nothing reads them.
    unsafe { sample.assume_init() }
}

/// Until both publishers reach their subscribers, a sample sent under safe overflow reaches
/// nobody and is lost: round trips that repeat each send until it reached the peer, before
/// the timed ones start.
const HANDSHAKE_ROUNDS: u64 = 1_000;

/// Sends an untouched sample until it reaches the peer.
fn send_until_delivered(publisher: &BytePublisher, size: usize) {
    while untouched(publisher, size).send().expect("send") == 0 {
        std::hint::spin_loop();
    }
}

/// Busy-polls until a sample arrives, and drops it unread.
fn await_one(subscriber: &ByteSubscriber) {
    while subscriber.receive().expect("receive").is_none() {
        std::hint::spin_loop();
    }
}

/// The mean one-way latency in ns as iceoryx2's authors measure it (`benchmark-publish-subscribe
/// --bench-ipc`): their service settings ([`authors_service`]); the timing side loans its next
/// sample right after sending and before it waits for the reply, the echo side loans its
/// reply before it waits; no byte of a payload is written or read; the time of `iterations`
/// round trips over twice their number. Unlike their benchmark (two threads of one process),
/// two processes, as every other figure here.
pub fn as_its_authors_run_it(size: usize, iterations: u64, placement: Placement) -> f64 {
    let name = fresh_name();
    let (a2b, b2a) = (format!("{name}/a2b"), format!("{name}/b2a"));
    pair_on(
        placement.cpus(),
        || {
            let node = node();
            let (tx, rx) = authors_ports(&node, &b2a, &a2b, size);
            for _ in 0..HANDSHAKE_ROUNDS {
                await_one(&rx);
                send_until_delivered(&tx, size);
            }
            for _ in 0..iterations {
                let reply = untouched(&tx, size);
                await_one(&rx);
                reply.send().expect("send");
            }
        },
        || {
            let node = node();
            let (tx, rx) = authors_ports(&node, &a2b, &b2a, size);
            for _ in 0..HANDSHAKE_ROUNDS {
                send_until_delivered(&tx, size);
                await_one(&rx);
            }
            let mut next = untouched(&tx, size);
            let start = Instant::now();
            for _ in 0..iterations {
                next.send().expect("send");
                next = untouched(&tx, size);
                await_one(&rx);
            }
            start.elapsed().as_nanos() as f64 / (2 * iterations) as f64
        },
    )
}

/// The median round trip in ns through iceoryx2's request-response API: the client loans a
/// request, copies the message into it and sends it; the server receives it as an active
/// request, copies it out, and answers with one response that carries the same bytes, which
/// the client copies out. Busy-polling on both sides; a response buffer of one.
pub fn request_response(size: usize, rounds: Rounds, placement: Placement) -> u64 {
    let name = fresh_name();
    let service = |node: &Node<Service>| {
        node.service_builder(&name.as_str().try_into().expect("a service name"))
            .request_response::<[u8], [u8]>()
            .max_clients(1)
            .max_servers(1)
            .max_response_buffer_size(1)
            .open_or_create()
            .expect("open or create an iceoryx2 request-response service")
    };
    let total = rounds.total();
    pair_on(
        placement.cpus(),
        || {
            let node = node();
            let server = service(&node)
                .server_builder()
                .initial_max_slice_len(size)
                .create()
                .expect("an iceoryx2 server");
            let mut request = vec![0u8; size];
            for round in 0..total {
                let active = loop {
                    if let Some(active) = server.receive().expect("receive a request") {
                        break active;
                    }
                    std::hint::spin_loop();
                };
                request.copy_from_slice(active.payload());
                assert_eq!(round_of(&request), round);
                active
                    .loan_slice_uninit(size)
                    .expect("loan a response")
                    .write_from_slice(&request)
                    .send()
                    .expect("send the response");
            }
        },
        || {
            let node = node();
            let client = service(&node)
                .client_builder()
                .initial_max_slice_len(size)
                .create()
                .expect("an iceoryx2 client");
            let mut message = pattern(size);
            let mut reply = vec![0u8; size];
            let mut timed = RoundTrips::new(rounds);
            for round in 0..total {
                let start = Instant::now();
                set_round(&mut message, round);
                // Until the server is connected a request reaches nobody: send it again.
                let pending = loop {
                    let pending = client
                        .loan_slice_uninit(size)
                        .expect("loan a request")
                        .write_from_slice(&message)
                        .send()
                        .expect("send the request");
                    if pending.number_of_server_connections() > 0 {
                        break pending;
                    }
                    std::hint::spin_loop();
                };
                loop {
                    if let Some(response) = pending.receive().expect("receive the response") {
                        reply.copy_from_slice(response.payload());
                        break;
                    }
                    std::hint::spin_loop();
                }
                timed.record(round, &reply, start);
            }
            timed.p50(&reply, &message)
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
