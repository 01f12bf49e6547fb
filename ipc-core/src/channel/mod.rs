//! One call to a channel (feature `std`, Linux): the common shapes in memory the library maps
//! and owns, for related processes (a memfd, inherited or passed over a Unix socket with
//! `send_over`) or unrelated ones (a name under `/dev/shm`, opened or created with
//! `open_or_create`). Each process takes its handles from the channel; a handle owns its share
//! of the mapping, so it moves into a thread or a task with no lifetime to manage and no
//! `unsafe`.
//!
//! - [`Duplex`]: two SPSC rings, one each way; [`DuplexEnd`]s.
//! - [`FanInChannel`]: one lane per writer and a doorbell; [`FanInWriter`]s, one [`FanInReader`].
//! - [`BroadcastChannel`]: every message to every subscriber; one [`Publisher`],
//!   [`BroadcastSubscriber`]s.
//!
//! A duplex channel made with `Duplex::memfd_async(capacity, ends)` makes an eventfd for each
//! end an async runtime runs (`ipc-core-tokio`'s `async_end`).
//! A fan-in or broadcast channel made with `memfd_with(.., ReaderSleeps::OnEventfd)` also makes
//! the eventfd its reader (every subscriber) sleeps on, for an async reader
//! (`ipc-core-tokio`'s `AsyncFanInConsumer::from_reader`, `AsyncSubscriber::from_subscriber`):
//! its writers ring it, and `send_over` passes it with the memory. A broadcast channel made with
//! `BroadcastChannel::memfd_async(.., sides)` makes the eventfd its publisher sleeps on for
//! room as well ([`AsyncSides`]; `ipc-core-tokio`'s `AsyncPublisher::from_publisher`).
//!
//! Every handle also sends and receives plain-old-data values (`send_value`, `recv_value`, as
//! [`crate::typed`] does for a bare ring): a message of another size is an error, never a
//! truncated or padded value.
//!
//! ```
//! use ipc_core::channel::Duplex;
//! use ipc_core::wait::Wait;
//!
//! let channel = Duplex::memfd(4096)?;
//! let (mut here, mut there) = (channel.first_end()?, channel.second_end()?);
//! // An end is Send and 'static: it owns its share of the mapping.
//! let echo = std::thread::spawn(move || {
//!     let mut buffer = [0u8; 64];
//!     let n = there.recv(&mut buffer, &Wait::futex()).unwrap();
//!     there.send(&buffer[..n], &Wait::futex()).unwrap();
//! });
//! here.send(b"ping", &Wait::futex())?;
//! let mut reply = [0u8; 64];
//! let n = here.recv(&mut reply, &Wait::futex())?;
//! assert_eq!(&reply[..n], b"ping");
//! echo.join().unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod broadcast;
mod duplex;
mod fan_in;
mod memory;

use std::fmt;
use std::io;
use std::string::String;

pub use broadcast::{AsyncSides, BroadcastChannel, BroadcastSubscriber, Publisher};
pub use duplex::{AsyncEnds, Duplex, DuplexEnd};
pub use fan_in::{FanInChannel, FanInReader, FanInRecvError, FanInWriter};
pub use memory::{unlink, Mapping};

use crate::error::LayoutError;
use crate::role::ClaimError;

/// Why a channel could not be made, opened or taken.
#[derive(Debug)]
pub enum ChannelError {
    /// The operating system refused (creating, opening, mapping, passing the memory).
    Io(io::Error),
    /// The memory does not hold the structure asked for.
    Layout(LayoutError),
    /// The handle is taken.
    Claim(ClaimError),
    /// A named channel whose creator did not lay it out in time.
    NotLaidOut {
        /// The name.
        name: String,
    },
    /// A name that is not one file name under `/dev/shm`.
    BadName {
        /// The name.
        name: String,
    },
    /// A named channel owned by another user: refused, so that no one can plant a channel
    /// for a program (root, say) to open.
    NotOwned {
        /// The name.
        name: String,
        /// Its owner's uid.
        owner: u32,
    },
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Layout(e) => write!(f, "not the channel asked for: {e}"),
            Self::Claim(e) => write!(f, "{e}"),
            Self::NotLaidOut { name } => write!(
                f,
                "the channel {name} was created but not laid out within {:?}",
                memory::CREATOR_WAIT
            ),
            Self::BadName { name } => write!(
                f,
                "{name:?} is not a channel name (one file name under /dev/shm: no '/', not empty)"
            ),
            Self::NotOwned { name, owner } => write!(
                f,
                "the channel {name} belongs to uid {owner}, not to this process's user: refused"
            ),
        }
    }
}

impl std::error::Error for ChannelError {}

impl From<io::Error> for ChannelError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<LayoutError> for ChannelError {
    fn from(e: LayoutError) -> Self {
        Self::Layout(e)
    }
}

impl From<ClaimError> for ChannelError {
    fn from(e: ClaimError) -> Self {
        Self::Claim(e)
    }
}
