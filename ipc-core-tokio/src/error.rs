//! What an async wait can end with instead of a message or room.

use ipc_core::channel::ChannelError;
use ipc_core::fan_in::FanInError;
use ipc_core::role::ClaimError;
use ipc_core::spsc::{ReadError, ReserveError};
use ipc_core::typed::RecvError;
use ipc_core::LayoutError;

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
    /// A side could not be claimed (held by another, or its holder still alive).
    #[error(transparent)]
    Claim(#[from] ClaimError),
    /// The memory does not hold the ring asked for.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A one-call channel could not be made, opened or taken.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A fan-in region's consumer: a corrupt lane, a producer that died holding its lane, or
    /// every producer gone.
    #[error(transparent)]
    FanIn(#[from] FanInError),
    /// A typed receive found a message of another size than the value's (see
    /// [`ipc_core::typed`]).
    #[error("{}a {found}-byte message arrived where a {expected}-byte value was expected", lane.map(|lane| format!("lane {lane}: ")).unwrap_or_default())]
    WrongLength {
        /// The fan-in lane it came from.
        lane: Option<usize>,
        /// Bytes of the value.
        expected: usize,
        /// Bytes of the message.
        found: usize,
    },
}

impl Error {
    /// A typed receive's error, from the lane `lane` of a fan-in region if it names one.
    pub(crate) fn typed(error: RecvError, lane: Option<usize>) -> Self {
        match error {
            RecvError::WrongLength { expected, found } => Self::WrongLength {
                lane,
                expected,
                found,
            },
            RecvError::Read(error) => match (error, lane) {
                (ReadError::Corrupt(corruption), Some(lane)) => {
                    Self::FanIn(FanInError::Lane { lane, corruption })
                }
                (error, _) => Self::Read(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An async program's setup (claiming a side, opening a channel) and its waits end in the
    /// same error type, so `?` works on all of them and the message is the core's.
    #[test]
    fn the_core_s_errors_convert_with_their_message() {
        fn claim() -> Result<(), Error> {
            Err(ClaimError::Taken(ipc_core::role::Role::Producer))?
        }
        let error = claim().unwrap_err();
        assert!(matches!(error, Error::Claim(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            ClaimError::Taken(ipc_core::role::Role::Producer).to_string()
        );
        let bad_name = ipc_core::channel::Duplex::open_or_create("a/b", 4096).unwrap_err();
        let text = bad_name.to_string();
        assert_eq!(Error::from(bad_name).to_string(), text);
        let layout: Error = LayoutError::Misaligned { align: 64 }.into();
        assert!(matches!(layout, Error::Layout(_)));
    }
}
