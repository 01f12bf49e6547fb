//! A worker's connection to the run's broker, shared by every `dbus` endpoint the process
//! holds, as a D-Bus program has one connection however many objects it talks to. It is made on
//! first use, in the worker: zbus registers its socket with a tokio runtime (current-thread,
//! as for the tokio mechanisms), and neither may cross a fork.
//!
//! Everything the broker sends the process arrives in one stream, in order. Each endpoint takes
//! the first message addressed to it and leaves the others queued for the process's other
//! endpoints; the calls this module makes to the broker itself (`RequestName`, `AddMatch`,
//! `NameHasOwner`) are answered through the same stream, so that nothing waits on a queue
//! nobody reads.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use tokio::runtime::Runtime;
use zbus::message::Type;
use zbus::{Connection, Message, MessageStream};

/// The interface every message of the mechanism is sent on.
pub const INTERFACE: &str = "org.ipc_profiler.Channel";
/// The member (method or signal name) every message of the mechanism carries.
pub const MEMBER: &str = "Message";

/// How long an endpoint waits for its peer to take its name before failing the run.
const PEER_WAIT: Duration = Duration::from_secs(60);

thread_local! {
    /// This process's connection, once one of its endpoints has been used.
    static BUS: RefCell<Option<ProcessBus>> = const { RefCell::new(None) };
}

/// Runs `work` with this process's connection to the broker at `address`, connecting first.
pub fn with<R>(
    address: &str,
    work: impl FnOnce(&mut ProcessBus) -> io::Result<R>,
) -> io::Result<R> {
    BUS.with(|cell| {
        let mut bus = cell.borrow_mut();
        if bus.is_none() {
            *bus = Some(ProcessBus::connect(address)?);
        }
        let Some(bus) = bus.as_mut().filter(|bus| bus.address == address) else {
            return Err(io::Error::other(
                "this process is already connected to another run's broker",
            ));
        };
        work(bus)
    })
}

/// One process's connection and what it is in the middle of.
pub struct ProcessBus {
    address: String,
    runtime: Runtime,
    connection: Connection,
    stream: MessageStream,
    /// Arrived for another endpoint of this process, oldest first.
    queued: VecDeque<Message>,
    /// Serials of this process's method calls still waiting for their return.
    awaiting: HashSet<NonZeroU32>,
    /// Method calls received and not answered yet, oldest first.
    unanswered: VecDeque<Message>,
    /// Names this connection owns.
    owned: HashSet<String>,
    /// Names seen owned, with their owner's unique name.
    owners: HashMap<String, String>,
}

impl ProcessBus {
    fn connect(address: &str) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (connection, stream) = runtime.block_on(async {
            let connection = zbus::connection::Builder::address(address)
                .map_err(to_io)?
                .build()
                .await
                .map_err(to_io)?;
            let stream = MessageStream::from(&connection);
            Ok::<_, io::Error>((connection, stream))
        })?;
        Ok(Self {
            address: address.to_string(),
            runtime,
            connection,
            stream,
            queued: VecDeque::new(),
            awaiting: HashSet::new(),
            unanswered: VecDeque::new(),
            owned: HashSet::new(),
            owners: HashMap::new(),
        })
    }

    /// Sends `message`; a method call's return is then awaited by [`is_awaited`](Self::is_awaited).
    pub fn send(&mut self, message: &Message) -> io::Result<()> {
        if message.message_type() == Type::MethodCall {
            self.awaiting.insert(message.primary_header().serial_num());
        }
        self.runtime
            .block_on(self.connection.send(message))
            .map_err(to_io)
    }

    /// Whether `message` answers a method call of this process's still waiting.
    pub fn is_awaited(&self, message: &Message) -> bool {
        matches!(message.message_type(), Type::MethodReturn | Type::Error)
            && message
                .header()
                .reply_serial()
                .is_some_and(|serial| self.awaiting.contains(&serial))
    }

    /// The first message `wanted` accepts: from the queue, else from the broker (queueing the
    /// others). A method call received is kept as unanswered; an awaited return is no
    /// longer awaited, and an error answering one is returned as an error.
    pub fn next(&mut self, wanted: impl Fn(&Self, &Message) -> bool) -> io::Result<Message> {
        let message = match self.queued.iter().position(|m| wanted(self, m)) {
            Some(index) => self.queued.remove(index).expect("found at index"),
            None => loop {
                let message = self
                    .runtime
                    .block_on(self.stream.next())
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the broker closed the connection",
                        )
                    })?
                    .map_err(to_io)?;
                if wanted(self, &message) {
                    break message;
                }
                self.queued.push_back(message);
            },
        };
        if let Some(serial) = message.header().reply_serial() {
            self.awaiting.remove(&serial);
        }
        match message.message_type() {
            Type::Error => Err(io::Error::other(format!(
                "the broker answered with an error: {}",
                error_text(&message)
            ))),
            Type::MethodCall => {
                self.unanswered.push_back(message.clone());
                Ok(message)
            }
            _ => Ok(message),
        }
    }

    /// Takes the oldest method call the connection `caller` (a unique name) made to this
    /// process and that is not answered yet, if there is one.
    pub fn take_unanswered_from(&mut self, caller: &str) -> Option<Message> {
        let index = self
            .unanswered
            .iter()
            .position(|call| call.header().sender().is_some_and(|s| s.as_str() == caller))?;
        self.unanswered.remove(index)
    }

    /// Calls `member` of the broker itself and returns its answer.
    fn call_broker<B>(&mut self, member: &str, body: &B) -> io::Result<Message>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        let call = Message::method_call("/org/freedesktop/DBus", member)
            .and_then(|m| m.interface("org.freedesktop.DBus"))
            .and_then(|m| m.destination("org.freedesktop.DBus"))
            .and_then(|m| m.build(body))
            .map_err(to_io)?;
        let serial = call.primary_header().serial_num();
        self.send(&call)?;
        self.next(|_, m| m.header().reply_serial() == Some(serial))
            .map_err(|e| io::Error::new(e.kind(), format!("{member}: {e}")))
    }

    /// Takes `name` for this connection, once; fails if another connection holds it.
    pub fn own(&mut self, name: &str) -> io::Result<()> {
        if self.owned.contains(name) {
            return Ok(());
        }
        const DO_NOT_QUEUE: u32 = 4;
        const PRIMARY_OWNER: u32 = 1;
        let reply = self.call_broker("RequestName", &(name, DO_NOT_QUEUE))?;
        let answer: u32 = reply.body().deserialize().map_err(to_io)?;
        if answer != PRIMARY_OWNER {
            return Err(io::Error::other(format!(
                "could not take the bus name {name} (RequestName answered {answer})"
            )));
        }
        self.owned.insert(name.to_string());
        Ok(())
    }

    /// Asks the broker to route to this connection the signals `rule` matches.
    pub fn subscribe(&mut self, rule: &str) -> io::Result<()> {
        self.call_broker("AddMatch", &rule).map(drop)
    }

    /// The unique name of the connection that owns `name`, once one does (a peer takes its
    /// name when it starts listening).
    pub fn owner_of(&mut self, name: &str) -> io::Result<String> {
        let deadline = Instant::now() + PEER_WAIT;
        let mut pause = Duration::from_micros(100);
        while !self.owners.contains_key(name) {
            let reply = self.call_broker("NameHasOwner", &name)?;
            if reply.body().deserialize::<bool>().map_err(to_io)? {
                let reply = self.call_broker("GetNameOwner", &name)?;
                let owner: String = reply.body().deserialize().map_err(to_io)?;
                self.owners.insert(name.to_string(), owner);
            } else if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no process took the bus name {name} in {PEER_WAIT:?}"),
                ));
            } else {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
        }
        Ok(self.owners[name].clone())
    }
}

/// An error message's name and text.
fn error_text(message: &Message) -> String {
    let header = message.header();
    let name = header
        .error_name()
        .map_or_else(|| "an unnamed error".to_string(), |n| n.to_string());
    match message.body().deserialize::<&str>() {
        Ok(text) => format!("{name}: {text}"),
        Err(_) => name,
    }
}

/// A zbus error as an I/O error, its text kept.
pub fn to_io(error: zbus::Error) -> io::Error {
    match error {
        zbus::Error::InputOutput(e) => io::Error::new(e.kind(), e.to_string()),
        other => io::Error::other(other.to_string()),
    }
}
