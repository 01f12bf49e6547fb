//! `dbus`: messages through a private `dbus-daemon`, the broker systemd's control path goes
//! through: zbus in each worker, one connection per process, every message routed by the broker
//! (two socket hops and the broker's routing). A round trip is a method call and its return
//! (request-response: every client calls the one server's name); pub-sub publishes each message
//! once as a signal that the broker copies to every subscriber's match rule.
//!
//! D-Bus has no flow control from a reader back to its sender: the broker queues what a
//! connection has not read, up to a limit, then drops signals for it. So a stream at full
//! speed (throughput, fan-in, pipeline) is refused, and pub-sub runs only where a whole run
//! fits in the broker's queue for each subscriber.

mod broker;
mod process_bus;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use zbus::message::Type;
use zbus::Message;

use self::process_bus::{to_io, ProcessBus, INTERFACE, MEMBER};
use super::{BroadcastChannel, Channel, Cleanup, Endpoint, FanInChannel, Helper, Mechanism};
use crate::config::BenchConfig;
use crate::result::Pattern;

/// Where the broker's fixed share of a message (its header and routing fields) is counted:
/// what a run's queue bound adds to each payload.
const HEADER_ALLOWANCE: usize = 256;

/// The largest payload sent: D-Bus's own limit on a message is 128 MiB.
const MAX_PAYLOAD: usize = 64 << 20;

/// D-Bus through a private broker.
pub struct Dbus;

impl Mechanism for Dbus {
    fn name(&self) -> &'static str {
        "dbus"
    }

    fn summary(&self) -> &'static str {
        "D-Bus via a private dbus-daemon (zbus): method calls and returns, signals for pub-sub; \
         two socket hops, the broker wakes each peer"
    }

    fn available(&self) -> Result<(), String> {
        broker::available()
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        if config.message_size > MAX_PAYLOAD {
            return Some(format!(
                "a D-Bus message holds at most 128 MiB; payloads here stop at {} MiB",
                MAX_PAYLOAD >> 20
            ));
        }
        match config.pattern {
            Pattern::Throughput | Pattern::FanIn | Pattern::Pipeline => Some(
                "D-Bus has no flow control from reader to sender: a stream at full speed fills \
                 the broker's queue for the reader, and the broker then drops messages; runs \
                 where each message is answered (latency, request-response) or fits the queue \
                 (pub-sub) only"
                    .into(),
            ),
            Pattern::PubSub if config.lossy => Some(
                "the broker drops a subscriber's signals only when its queue is full, and \
                 nobody is told how many: no lossy mode to count"
                    .into(),
            ),
            Pattern::PubSub => {
                let messages = config.warmup + 2 * config.iterations;
                let queued = messages as usize * (config.message_size + HEADER_ALLOWANCE);
                (queued > broker::QUEUE_LIMIT).then(|| {
                    format!(
                        "D-Bus has no flow control from subscriber to publisher: the broker drops \
                         signals for a subscriber {} MiB behind, and {messages} messages of {} \
                         bytes could be; fewer --iters or smaller messages",
                        broker::QUEUE_LIMIT >> 20,
                        config.message_size
                    )
                })
            }
            Pattern::Latency | Pattern::RequestResponse => None,
        }
    }

    fn connect(&self, _size: usize) -> io::Result<Channel> {
        let (address, cleanup) = run_broker()?;
        let path = channel_path();
        let names = [name(&path, "caller"), name(&path, "callee")];
        Ok(Channel {
            client: Box::new(DbusEnd::new(
                &address,
                &path,
                &names[0],
                Role::Caller {
                    peer: names[1].clone(),
                },
            )),
            server: Box::new(DbusEnd::new(
                &address,
                &path,
                &names[1],
                Role::Callee {
                    peer: names[0].clone(),
                },
            )),
            cleanup,
        })
    }

    fn connect_fan_in(&self, _size: usize, writers: usize) -> io::Result<FanInChannel> {
        let (address, cleanup) = run_broker()?;
        let path = channel_path();
        let reader = name(&path, "callee");
        Ok(FanInChannel {
            writers: (0..writers)
                .map(|i| {
                    Box::new(DbusEnd::new(
                        &address,
                        &path,
                        &name(&path, &format!("w{i}")),
                        Role::Caller {
                            peer: reader.clone(),
                        },
                    )) as Box<dyn Endpoint>
                })
                .collect(),
            reader: Box::new(DbusEnd::new(
                &address,
                &path,
                &reader,
                Role::Callee {
                    peer: String::new(),
                },
            )),
            cleanup,
        })
    }

    fn connect_broadcast(
        &self,
        _size: usize,
        subscribers: usize,
        lossy: bool,
    ) -> io::Result<Option<BroadcastChannel>> {
        if lossy {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no lossy D-Bus broadcast",
            ));
        }
        let (address, cleanup) = run_broker()?;
        let path = channel_path();
        let names: Vec<String> = (0..subscribers)
            .map(|i| name(&path, &format!("s{i}")))
            .collect();
        Ok(Some(BroadcastChannel {
            publisher: Box::new(DbusEnd::new(
                &address,
                &path,
                &name(&path, "publisher"),
                Role::Publisher {
                    subscribers: names.clone(),
                },
            )),
            subscribers: names
                .iter()
                .map(|own| {
                    Box::new(DbusEnd::new(&address, &path, own, Role::Subscriber))
                        as Box<dyn Endpoint>
                })
                .collect(),
            cleanup,
        }))
    }

    fn broadcasts(&self) -> bool {
        true
    }
}

/// The run's broker's address, and a cleanup that holds the broker (and names its process) for
/// as long as the channel lives.
fn run_broker() -> io::Result<(String, Cleanup)> {
    let broker = broker::shared()?;
    let mut cleanup = Cleanup::default();
    cleanup.helper(Helper {
        pid: broker.pid(),
        role: "broker",
    });
    let address = broker.address().to_string();
    cleanup.push(move || drop(broker));
    Ok((address, cleanup))
}

/// A fresh object path: every message of one channel is sent on its path.
fn channel_path() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("/c{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The bus name of `part` of the channel at `path`.
fn name(path: &str, part: &str) -> String {
    format!("org.ipc_profiler.{}.{part}", &path[1..])
}

/// What an endpoint's messages are. A message sent on either end of a two-ended channel to
/// a peer whose method call this process has not answered yet is that call's return (the
/// oldest such), as a server answers: a request-response server replies through its client's
/// channel, and holds its clients' last warm-up calls at the start line. Either end also
/// takes the returns of its process's own calls: a request-response client's reply comes on
/// another channel than its request went.
enum Role {
    /// Starts each exchange: a message is a method call to `peer`; it receives the call's
    /// return, and the signals `peer` sends it.
    Caller { peer: String },
    /// Answers: receives method calls; a message it sends with no call to answer is a signal
    /// to `peer` (a subscriber's acknowledgement).
    Callee { peer: String },
    /// Emits each message once, as a signal the broker copies to every subscriber.
    Publisher { subscribers: Vec<String> },
    /// Receives the publisher's signals.
    Subscriber,
}

/// One endpoint: the broker its process connects to, and what it does on its connection.
struct DbusEnd {
    address: String,
    end: EndState,
}

/// An endpoint's channel path, the bus name it takes to be reached by, its role, and how far
/// it has set itself up.
struct EndState {
    path: String,
    own: String,
    role: Role,
    /// Whether it has taken its name (and subscribed) yet.
    listening: bool,
    /// The unique name of the connection it sends to, once seen listening (for a publisher,
    /// once every subscriber has been).
    peer_owner: Option<String>,
}

impl DbusEnd {
    fn new(address: &str, path: &str, own: &str, role: Role) -> Self {
        Self {
            address: address.to_string(),
            end: EndState {
                path: path.to_string(),
                own: own.to_string(),
                role,
                listening: false,
                peer_owner: None,
            },
        }
    }
}

impl EndState {
    /// Waits, the first time, until every connection it sends to listens (a signal sent
    /// before its subscriber's match rule, or a call before its callee's name, would be lost),
    /// and returns the unique name of its peer.
    fn peer_owner(&mut self, bus: &mut ProcessBus) -> io::Result<&str> {
        if self.peer_owner.is_none() {
            self.peer_owner = Some(match &self.role {
                Role::Caller { peer } | Role::Callee { peer } => bus.owner_of(peer)?,
                Role::Publisher { subscribers } => {
                    for name in subscribers {
                        bus.owner_of(name)?;
                    }
                    String::new()
                }
                Role::Subscriber => String::new(),
            });
        }
        Ok(self.peer_owner.as_deref().unwrap_or_default())
    }

    /// Takes its name, the first time, after subscribing a subscriber to its channel's
    /// signals: once the name is seen, the peer may send.
    fn listen(&mut self, bus: &mut ProcessBus) -> io::Result<()> {
        if !self.listening {
            if let Role::Subscriber = self.role {
                bus.subscribe(&format!(
                    "type='signal',interface='{INTERFACE}',member='{MEMBER}',path='{}'",
                    self.path
                ))?;
            }
            bus.own(&self.own)?;
            self.listening = true;
        }
        Ok(())
    }

    /// Whether `message` is for this endpoint.
    fn wants(&self, bus: &ProcessBus, message: &Message) -> bool {
        let on_path = || {
            message
                .header()
                .path()
                .is_some_and(|p| p.as_str() == self.path)
        };
        match (&self.role, message.message_type()) {
            (Role::Subscriber, Type::Signal) => on_path(),
            (Role::Caller { .. }, Type::Signal) => on_path(),
            (Role::Callee { .. }, Type::MethodCall) => on_path(),
            (Role::Caller { .. } | Role::Callee { .. }, _) => bus.is_awaited(message),
            _ => false,
        }
    }

    /// The message to send `payload` in.
    fn message(&mut self, bus: &mut ProcessBus, payload: &[u8]) -> io::Result<Message> {
        let answers = matches!(self.role, Role::Caller { .. } | Role::Callee { .. });
        let owner = self.peer_owner(bus)?;
        if answers {
            if let Some(call) = bus.take_unanswered_from(owner) {
                return Message::method_return(&call.header())
                    .and_then(|m| m.build(&serde_bytes::Bytes::new(payload)))
                    .map_err(to_io);
            }
        }
        self.request(payload).map_err(to_io)
    }

    /// The message that sends `payload` unasked.
    fn request(&self, payload: &[u8]) -> zbus::Result<Message> {
        let body = serde_bytes::Bytes::new(payload);
        match &self.role {
            Role::Caller { peer } => Message::method_call(self.path.as_str(), MEMBER)?
                .interface(INTERFACE)?
                .destination(peer.as_str())?
                .build(&body),
            Role::Callee { peer } => Message::signal(self.path.as_str(), INTERFACE, MEMBER)?
                .destination(peer.as_str())?
                .build(&body),
            Role::Publisher { .. } => {
                Message::signal(self.path.as_str(), INTERFACE, MEMBER)?.build(&body)
            }
            Role::Subscriber => Err(zbus::Error::Unsupported),
        }
    }
}

impl Endpoint for DbusEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let Self { address, end } = self;
        process_bus::with(address, |bus| {
            let message = end.message(bus, message)?;
            bus.send(&message)
        })
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        let Self { address, end } = self;
        process_bus::with(address, |bus| {
            end.listen(bus)?;
            let message = bus.next(|bus, m| end.wants(bus, m))?;
            let body = message.body();
            let payload: &serde_bytes::Bytes = body.deserialize().map_err(to_io)?;
            if payload.len() != buffer.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a D-Bus message of {} bytes where {} were expected",
                        payload.len(),
                        buffer.len()
                    ),
                ));
            }
            buffer.copy_from_slice(payload);
            Ok(())
        })
    }
}
