//! What an async wait can end with instead of a message or room.

use ipc_core::spsc::{ReadError, ReserveError};

/// Why an adapter could not be made, or a wait ended without a message or room.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ring said the side is corrupt, or the message can never fit.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The ring refused a reservation (too large, corrupt).
    #[error(transparent)]
    Reserve(#[from] ReserveError),
    /// The adapter was made outside a tokio runtime (with its I/O driver).
    #[error("an async side must be made inside a tokio runtime (after any fork)")]
    NoRuntime,
    /// Registering or reading the eventfd failed (a descriptor tokio cannot poll).
    #[error("the eventfd: {0}")]
    Io(#[from] std::io::Error),
    /// The ring's layout does not let this side sleep on an eventfd.
    #[error(
        "this ring's {0} does not sleep on an eventfd: lay the ring out with \
         Wakeups::Eventfd naming it"
    )]
    NotAnEventfdSide(&'static str),
    /// The liveness hook says the peer is gone.
    #[error("the peer process is gone")]
    PeerGone,
}
