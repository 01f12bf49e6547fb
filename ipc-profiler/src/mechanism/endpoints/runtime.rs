//! The tokio runtime of an endpoint of the tokio mechanisms (`shm-tokio`, `uds-tokio`).
//!
//! The controller makes the channel before it forks the workers, but a runtime (its threads,
//! its epoll instance) and the descriptors registered with it must not cross a fork: each
//! endpoint starts its own current-thread runtime on its first send or receive, in the worker
//! that uses it, and every message is one `block_on` of an async send or receive, as a task of a
//! tokio service would await it.

use std::io;

use tokio::runtime::Runtime;

/// An endpoint's async half, built at its first use.
pub enum Lazy<Plain, Started> {
    /// As made in the controller: nothing registered with a runtime yet.
    Plain(Plain),
    /// In its worker: a runtime and what was registered with it.
    Started(Runtime, Started),
    /// A start that failed half way (the endpoint is unusable).
    Broken,
}

impl<Plain, Started> Lazy<Plain, Started> {
    /// The runtime and the started half, starting them with `start` (inside the new runtime)
    /// on first use.
    pub fn get(
        &mut self,
        start: impl FnOnce(Plain) -> io::Result<Started>,
    ) -> io::Result<(&Runtime, &mut Started)> {
        if let Self::Plain(_) = self {
            let Self::Plain(plain) = std::mem::replace(self, Self::Broken) else {
                unreachable!("matched just above");
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let started = {
                let _inside = runtime.enter();
                start(plain)?
            };
            *self = Self::Started(runtime, started);
        }
        match self {
            Self::Started(runtime, started) => Ok((runtime, started)),
            _ => Err(io::Error::other(
                "this endpoint's tokio runtime failed to start earlier",
            )),
        }
    }
}
