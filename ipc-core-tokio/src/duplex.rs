//! An async end of a one-call duplex channel.

use ipc_core::channel::DuplexEnd;

use crate::{AsyncConsumer, AsyncProducer, Error};

/// The end of a duplex channel made with
/// [`Duplex::memfd_async`](ipc_core::channel::Duplex::memfd_async) naming it, as a side that
/// awaits room and a side that awaits messages. Both sleep on the end's one eventfd (a ring
/// wakes both registrations; each looks, and the one with nothing to do sleeps again), and each
/// owns a share of the mapping, so they move into `tokio::spawn` together or apart. Call it
/// inside a tokio runtime (in a forked worker: after the fork).
///
/// ```
/// use ipc_core::channel::{AsyncEnds, Duplex};
/// use ipc_core::wait::Wait;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let channel = Duplex::memfd_async(4096, AsyncEnds::First)?;
/// let (mut replies, mut requests) = ipc_core_tokio::async_end(channel.first_end()?)?;
/// let mut client = channel.second_end()?; // a plain end: another process, or here a thread
/// let asked = std::thread::spawn(move || {
///     client.send_value(&20u64, &Wait::futex()).unwrap();
///     client.recv_value::<u64>(&Wait::futex()).unwrap()
/// });
/// let served = tokio::spawn(async move {
///     let n = requests.recv_value::<u64>().await?;
///     replies.send_value(&(n + 1)).await
/// });
/// served.await??;
/// assert_eq!(asked.join().unwrap(), 21);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`Error::NotAnEventfdSide`] for an end that does not sleep on an eventfd; then as
/// [`AsyncProducer::new`] and [`AsyncConsumer::new`].
pub fn async_end(
    end: DuplexEnd,
) -> Result<(AsyncProducer<'static>, AsyncConsumer<'static>), Error> {
    let (producer, consumer, eventfd, mapping) = end.into_parts()?;
    let eventfd = eventfd.ok_or(Error::NotAnEventfdSide("duplex end"))?;
    let sending = AsyncProducer::new(producer, eventfd.try_clone()?)?.holding(mapping.clone());
    let receiving = AsyncConsumer::new(consumer, eventfd)?.holding(mapping);
    Ok((sending, receiving))
}
