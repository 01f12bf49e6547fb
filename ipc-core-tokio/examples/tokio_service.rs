//! A tokio service answering a plain (non-async) process over ipc-core rings.
//!
//! `cargo run -p ipc-core-tokio --example tokio_service`
//!
//! The service lays out two rings in memfds, each with the service's side sleeping on an
//! eventfd: requests (the service consumes, and waits for messages) and replies (the service
//! produces, and waits for room when the client lags). No call of the service blocks its
//! thread: both of its sides are awaited. It forks the client, which inherits both memfd
//! mappings and the eventfds; a client started some other way would receive them over a Unix
//! socket (`SCM_RIGHTS`). The client uses ipc-core's blocking calls and rings the service's
//! eventfds through its doorbells only when the service sleeps. The service
//! builds its tokio runtime after the fork, serves while a timer task ticks beside it, and
//! stops when the client says it is done.

use std::os::fd::AsFd;
use std::time::Duration;

use ipc_core::doorbell::Doorbell;
use ipc_core::shm::{ProcessLiveness, SharedMemory};
use ipc_core::spsc::{EventfdSides, Spsc, Wakeups};
use ipc_core::wait::Wait;
use ipc_core_tokio::{eventfd, AsyncConsumer, AsyncProducer};

const REQUESTS: u64 = 10_000;
/// The request that tells the service to stop.
const DONE: u64 = u64::MAX;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let capacity = 64 << 10;
    let requests_memory = SharedMemory::memfd("requests", Spsc::required_len(capacity))?;
    let replies_memory = SharedMemory::memfd("replies", Spsc::required_len(capacity))?;
    let requests = Spsc::init_with(
        requests_memory.region(),
        capacity,
        Wakeups::Eventfd(EventfdSides::Consumer),
    )?;
    let replies = Spsc::init_with(
        replies_memory.region(),
        capacity,
        Wakeups::Eventfd(EventfdSides::Producer),
    )?;
    let wake_service = eventfd()?;
    let room_for_service = eventfd()?;

    // SAFETY: single-threaded here (no runtime yet); the child runs plain ipc-core calls and
    // leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    if pid == 0 {
        let code = match client(&requests, &replies, &wake_service, &room_for_service) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("client: {e}");
                1
            }
        };
        // _exit, not a return from main: the child would run main's destructors too (the
        // parent's runtime-to-be, its memfds). The ring sides need no care either way: a side
        // inherited across fork releases nothing of the parent's when dropped.
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }

    let client_liveness = ProcessLiveness::new(pid as u32)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(async {
        let ticker = tokio::spawn(async {
            let mut ticks = 0u32;
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks += 1;
                if ticks.is_multiple_of(20) {
                    println!("service: still responsive after {ticks} ticks");
                }
            }
        });
        let served = serve(
            &requests,
            &replies,
            [wake_service, room_for_service],
            &client_liveness,
        )
        .await;
        ticker.abort();
        served
    })?;
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    println!("service: answered {served} requests; client exit status {status}");
    if status != 0 {
        return Err("the client failed".into());
    }
    Ok(())
}

/// The tokio side: await each request, answer with its square (awaiting room if the client
/// lags: nothing here blocks the runtime's thread).
async fn serve(
    requests: &Spsc<'_>,
    replies: &Spsc<'_>,
    [wake_me, room_for_me]: [std::os::fd::OwnedFd; 2],
    client: &ProcessLiveness,
) -> Result<u64, ipc_core_tokio::Error> {
    let mut inbox = AsyncConsumer::new(requests.consumer()?, wake_me)?
        .with_liveness(client, Duration::from_millis(100));
    let mut outbox = AsyncProducer::new(replies.producer()?, room_for_me)?
        .with_liveness(client, Duration::from_millis(100));
    let mut served = 0;
    let mut buffer = [0u8; 8];
    loop {
        inbox.recv(&mut buffer).await?;
        let n = u64::from_le_bytes(buffer);
        if n == DONE {
            return Ok(served);
        }
        outbox.send(&n.wrapping_mul(n).to_le_bytes()).await?;
        served += 1;
        // Let the ticker run now and then, as a real service's other tasks would.
        if served.is_multiple_of(1_000) {
            tokio::task::yield_now().await;
        }
    }
}

/// The plain side: blocking calls, and doorbells to wake the service.
fn client(
    requests: &Spsc<'_>,
    replies: &Spsc<'_>,
    wake_service: &std::os::fd::OwnedFd,
    room_for_service: &std::os::fd::OwnedFd,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut outbox = requests.producer_with_doorbell(Doorbell::eventfd(wake_service.as_fd()))?;
    let mut inbox = replies.consumer_with_doorbell(Doorbell::eventfd(room_for_service.as_fd()))?;
    let mut buffer = [0u8; 8];
    for n in 0..REQUESTS {
        outbox.push_blocking(&n.to_le_bytes(), &Wait::futex())?;
        inbox.pop_blocking(&mut buffer, &Wait::futex())?;
        if u64::from_le_bytes(buffer) != n * n {
            return Err(format!("request {n}: wrong answer").into());
        }
    }
    outbox.push_blocking(&DONE.to_le_bytes(), &Wait::futex())?;
    println!("client: {REQUESTS} answers checked");
    Ok(())
}
