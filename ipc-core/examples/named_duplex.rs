//! Two programs that share nothing but a name: `cargo run -p ipc-core --example named_duplex`.
//!
//! Started with no argument, it picks a name and starts itself again as a server, then asks.
//! By hand, from two shells: `named_duplex NAME serve` in one, `named_duplex NAME ask` in the
//! other, in either order: whichever comes first creates the channel under /dev/shm, the other
//! opens it. No `unsafe`, no descriptor passing, no lifetimes: one call to the channel, one to
//! an end.

use std::process::Command;
use std::time::Duration;

use ipc_core::channel::Duplex;
use ipc_core::wait::Wait;

const CAPACITY: usize = 4096;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [name, role] if role == "serve" => serve(name),
        [name, role] if role == "ask" => ask(name),
        [] => {
            let name = format!("ipc-core-example-{}", std::process::id());
            let mut server = Command::new(std::env::current_exe()?)
                .args([&name, "serve"])
                .spawn()?;
            let asked = ask(&name);
            let served = server.wait()?;
            asked?;
            println!("server exited: {served}");
            Ok(())
        }
        _ => Err("usage: named_duplex [NAME serve|ask]".into()),
    }
}

/// Waits for words and answers each in capitals, until an empty message.
fn serve(name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut end = Duplex::open_or_create(name, CAPACITY)?.second_end()?;
    let how = Wait::futex().with_timeout(Duration::from_secs(10));
    let mut buffer = [0u8; 64];
    loop {
        let n = end.recv(&mut buffer, &how)?;
        if n == 0 {
            return Ok(());
        }
        let word = std::str::from_utf8(&buffer[..n])?.to_uppercase();
        end.send(word.as_bytes(), &how)?;
    }
}

/// Sends four words, prints the answers, says "done" with an empty message and removes the
/// name.
fn ask(name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let channel = Duplex::open_or_create(name, CAPACITY)?;
    let mut end = channel.first_end()?;
    let how = Wait::futex().with_timeout(Duration::from_secs(10));
    let mut reply = [0u8; 64];
    for word in ["hello", "from", "another", "program"] {
        end.send(word.as_bytes(), &how)?;
        let n = end.recv(&mut reply, &how)?;
        println!("sent {word:<8} got {}", std::str::from_utf8(&reply[..n])?);
    }
    end.send(b"", &how)?;
    Duplex::unlink(name)?;
    Ok(())
}
