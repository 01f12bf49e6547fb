//! A tokio service answering a plain (non-async) process over an ipc-core duplex channel,
//! written with the safe one-call API only.
//!
//! `cargo run -p ipc-core-tokio --example tokio_service`
//!
//! The service makes a duplex channel in a sealed memfd whose first end sleeps on an eventfd
//! (`Duplex::memfd_async`), starts the client as a separate program (this one, with `client`
//! and a socket path), and hands it the channel over a Unix socket: the memory and the eventfd
//! in one message. The client takes the second end and uses ipc-core's blocking calls; it rings
//! the service's eventfd only when the service sleeps. The service's two sides (awaiting
//! requests, awaiting room for replies) run in their own tasks beside a ticking timer task: no
//! call of the service blocks its thread. It stops when the client says it is done.

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use ipc_core::channel::{AsyncEnds, Duplex};
use ipc_core::wait::Wait;

const REQUESTS: u64 = 10_000;
/// The request that tells the service to stop.
const DONE: u64 = u64::MAX;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().collect();
    let ran = match arguments.get(1).map(String::as_str) {
        Some("client") => match arguments.get(2) {
            Some(socket) => client(Path::new(socket)),
            None => Err("usage: tokio_service client SOCKET".into()),
        },
        _ => service(),
    };
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", arguments.get(1).map_or("service", |_| "client"));
            ExitCode::FAILURE
        }
    }
}

/// Makes the channel, starts the client, hands it the channel, and serves it.
fn service() -> Result<(), Box<dyn std::error::Error>> {
    let channel = Duplex::memfd_async(64 << 10, AsyncEnds::First)?;
    let directory = PrivateDirectory::new()?;
    let socket = directory.0.join("service.sock");
    let listener = UnixListener::bind(&socket)?;
    let mut client = Command::new(std::env::current_exe()?)
        .arg("client")
        .arg(&socket)
        .spawn()?;
    let (connection, _) = listener.accept()?;
    channel.send_over(&connection)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(serve(&channel))?;
    let status = client.wait()?;
    println!("service: answered {served} requests; client {status}");
    if !status.success() {
        return Err("the client failed".into());
    }
    Ok(())
}

/// The tokio side: one task awaits each request and hands its square to another, which
/// awaits room for it (if the client lags); a third ticks to show the runtime stays free.
async fn serve(channel: &Duplex) -> Result<u64, Box<dyn std::error::Error>> {
    let (mut replies, mut requests) = ipc_core_tokio::async_end(channel.first_end()?)?;
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
    let (answers, mut to_send) = tokio::sync::mpsc::channel::<u64>(64);
    let replying = tokio::spawn(async move {
        while let Some(answer) = to_send.recv().await {
            replies.send_value(&answer).await?;
        }
        Ok::<_, ipc_core_tokio::Error>(())
    });
    let mut served = 0;
    loop {
        let n: u64 = requests.recv_value().await?;
        if n == DONE {
            break;
        }
        answers.send(n.wrapping_mul(n)).await?;
        served += 1;
    }
    drop(answers);
    replying.await??;
    ticker.abort();
    Ok(served)
}

/// The plain side: takes the channel from the socket, then blocking calls on its end.
fn client(socket: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let connection = UnixStream::connect(socket)?;
    let channel = Duplex::receive_over(&connection)?;
    let mut end = channel.second_end()?;
    for n in 0..REQUESTS {
        end.send_value(&n, &Wait::futex())?;
        let answer: u64 = end.recv_value(&Wait::futex())?;
        if answer != n * n {
            return Err(format!("request {n}: wrong answer {answer}").into());
        }
    }
    end.send_value(&DONE, &Wait::futex())?;
    println!("client: {REQUESTS} answers checked");
    Ok(())
}

/// A directory only this user can enter, for the socket; removed with everything in it.
struct PrivateDirectory(PathBuf);

impl PrivateDirectory {
    fn new() -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!("tokio-service-{}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Self(path))
    }
}

impl Drop for PrivateDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
