//! An epoll set over a fan-in reader's connections, one per writer: which one has something
//! to read next, and retiring one whose writer has finished.

use std::io;
use std::os::fd::AsFd;

use rustix::event::epoll;

/// The connections of one reader, by index.
pub struct ReadySet {
    epoll: std::os::fd::OwnedFd,
    /// Where `epoll_wait` reports, allocated once (the wait is on every message's path).
    events: Vec<epoll::Event>,
    open: usize,
}

impl ReadySet {
    /// A set watching `connections` for input, each known by its index.
    pub fn new<F: AsFd>(connections: &[F]) -> io::Result<Self> {
        let set = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        for (index, connection) in connections.iter().enumerate() {
            epoll::add(
                &set,
                connection,
                epoll::EventData::new_u64(index as u64),
                epoll::EventFlags::IN,
            )?;
        }
        Ok(Self {
            epoll: set,
            events: Vec::with_capacity(1),
            open: connections.len(),
        })
    }

    /// The index of the next connection with something to read (or its end of file).
    pub fn ready(&mut self) -> io::Result<usize> {
        loop {
            self.events.clear();
            let events = rustix::buffer::spare_capacity(&mut self.events);
            match epoll::wait(&self.epoll, events, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            if let Some(event) = self.events.first() {
                return Ok(event.data.u64() as usize);
            }
        }
    }

    /// Stops watching `connection`, whose writer has finished; end of file once none is left.
    pub fn retire(&mut self, connection: impl AsFd) -> io::Result<()> {
        // Out of the set first: another process may still hold a copy of it, which would keep
        // it in the set, always ready.
        epoll::delete(&self.epoll, connection)?;
        self.open -= 1;
        if self.open == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}
