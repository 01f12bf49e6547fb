//! Fan-in and broadcast between programs that share only names:
//! `cargo run -p ipc-core --example named_shapes`.
//!
//! The first program creates a fan-in channel and a broadcast channel under /dev/shm and starts
//! four more programs: two writers, each sending three messages into its lane, and two
//! subscribers, each saying through its own lane that it has subscribed and then printing
//! every broadcast message. Only the safe one-call API: no `unsafe`, no descriptor passing.

use std::process::{Child, Command};
use std::time::Duration;

use ipc_core::broadcast::Mode;
use ipc_core::channel::{unlink, BroadcastChannel, FanInChannel};
use ipc_core::wait::Wait;

const WRITERS: usize = 2;
const SUBSCRIBERS: usize = 2;
const CAPACITY: usize = 4096;
const MESSAGES: usize = 3;

fn how() -> Wait<'static> {
    Wait::futex().with_timeout(Duration::from_secs(10))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [role, fan_in, broadcast, index] => {
            let index: usize = index.parse()?;
            let lanes = FanInChannel::open_or_create(fan_in, WRITERS + SUBSCRIBERS, CAPACITY)?;
            if role == "write" {
                let mut writer = lanes.writer(index)?;
                for k in 0..MESSAGES {
                    writer.send(format!("writer {index}, message {k}").as_bytes(), &how())?;
                }
                return Ok(());
            }
            let channel = BroadcastChannel::open_or_create(
                broadcast,
                SUBSCRIBERS,
                CAPACITY,
                Mode::Backpressure,
            )?;
            let mut subscriber = channel.subscriber(index)?;
            lanes.writer(WRITERS + index)?.send(b"subscribed", &how())?;
            let mut buffer = [0u8; 64];
            for _ in 0..MESSAGES {
                let received = subscriber.recv(&mut buffer, &how())?;
                println!(
                    "subscriber {index} got {:?}",
                    std::str::from_utf8(&buffer[..received.len])?
                );
            }
            Ok(())
        }
        [] => run(),
        _ => Err("usage: named_shapes [write|subscribe FAN_IN BROADCAST INDEX]".into()),
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let fan_in = format!("ipc-core-example-fan-in-{}", std::process::id());
    let broadcast = format!("ipc-core-example-broadcast-{}", std::process::id());
    let lanes = FanInChannel::open_or_create(&fan_in, WRITERS + SUBSCRIBERS, CAPACITY)?;
    let channel =
        BroadcastChannel::open_or_create(&broadcast, SUBSCRIBERS, CAPACITY, Mode::Backpressure)?;
    let (mut reader, mut publisher) = (lanes.reader()?, channel.publisher()?);
    let start = |role: &str, index: usize| -> std::io::Result<Child> {
        Command::new(std::env::current_exe()?)
            .args([role, &fan_in, &broadcast, &index.to_string()])
            .spawn()
    };
    let mut children = Vec::new();
    for index in 0..WRITERS {
        children.push(start("write", index)?);
    }
    for index in 0..SUBSCRIBERS {
        children.push(start("subscribe", index)?);
    }
    let mut buffer = [0u8; 64];
    for _ in 0..WRITERS * MESSAGES + SUBSCRIBERS {
        let (lane, n) = reader.recv(&mut buffer, &how())?;
        println!("lane {lane}: {}", std::str::from_utf8(&buffer[..n])?);
    }
    for k in 0..MESSAGES {
        publisher.send(format!("news {k}").as_bytes(), &how())?;
    }
    let mut failed = 0;
    for mut child in children {
        failed += usize::from(!child.wait()?.success());
    }
    unlink(&fan_in)?;
    unlink(&broadcast)?;
    if failed > 0 {
        return Err(format!("{failed} of the programs failed").into());
    }
    Ok(())
}
