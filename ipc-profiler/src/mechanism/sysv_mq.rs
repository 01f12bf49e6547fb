//! `sysv-mq`: one System V message queue carrying both directions as two message types;
//! blocking msgrcv. The queue is removed (IPC_RMID) when the run ends, however it ends.

use std::io;

use super::{Channel, Endpoint, FanInChannel, Mechanism};
use crate::config::BenchConfig;
use crate::run_record::{self, Object};

/// Message type of requests (client to server) and replies.
const TO_SERVER: libc::c_long = 1;
const TO_CLIENT: libc::c_long = 2;
const TYPE_BYTES: usize = std::mem::size_of::<libc::c_long>();

/// A System V queue.
pub struct SysvMq;

struct QueueEnd {
    id: i32,
    send_type: libc::c_long,
    recv_type: libc::c_long,
    /// `[mtype][mtext]`, as msgsnd and msgrcv want it.
    buffer: Vec<u8>,
}

impl Mechanism for SysvMq {
    fn name(&self) -> &'static str {
        "sysv-mq"
    }

    fn available(&self) -> Result<(), String> {
        super::system::kernel_has(
            "/proc/sysvipc/msg",
            "this kernel has no System V IPC (CONFIG_SYSVIPC)",
        )
    }

    fn summary(&self) -> &'static str {
        "System V message queue; msgrcv"
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        let (id, recorded) = create()?;
        let end = || QueueEnd {
            id,
            send_type: TO_SERVER,
            recv_type: TO_SERVER,
            buffer: vec![0u8; TYPE_BYTES + size],
        };
        let ends = (0..writers)
            .map(|_| Box::new(end()) as Box<dyn Endpoint>)
            .collect();
        let mut channel = FanInChannel::new(ends, Box::new(end()));
        channel.cleanup.push(move || remove(id, &recorded));
        Ok(channel)
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        size_limit(config.message_size)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let (id, recorded) = create()?;
        let end = |send_type, recv_type| QueueEnd {
            id,
            send_type,
            recv_type,
            buffer: vec![0u8; TYPE_BYTES + size],
        };
        let mut channel = Channel::new(
            Box::new(end(TO_SERVER, TO_CLIENT)),
            Box::new(end(TO_CLIENT, TO_SERVER)),
        );
        channel.cleanup.push(move || remove(id, &recorded));
        Ok(channel)
    }
}

/// A new private queue, recorded for `ipc-profiler clean` as soon as it exists.
fn create() -> io::Result<(i32, Object)> {
    // SAFETY: plain syscall with constant arguments.
    let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return Err(io::Error::last_os_error());
    }
    let (cuid, ctime) = run_record::queue_identity(id).unwrap_or_default();
    let object = Object::SysvQueue { id, cuid, ctime };
    if let Err(error) = run_record::created(object.clone()) {
        remove(id, &object);
        return Err(error);
    }
    Ok((id, object))
}

/// Removes the queue this run created, and its line in the run's record.
fn remove(id: i32, recorded: &Object) {
    // SAFETY: a null buf is allowed for IPC_RMID.
    unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    run_record::removed(recorded);
}

impl Endpoint for QueueEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        self.buffer[..TYPE_BYTES].copy_from_slice(&self.send_type.to_ne_bytes());
        self.buffer[TYPE_BYTES..TYPE_BYTES + message.len()].copy_from_slice(message);
        loop {
            // SAFETY: the buffer holds an mtype followed by message.len() bytes.
            let rc =
                unsafe { libc::msgsnd(self.id, self.buffer.as_ptr().cast(), message.len(), 0) };
            if rc == 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    fn recv(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        loop {
            // SAFETY: the buffer has room for an mtype and buffer.len() bytes.
            let n = unsafe {
                libc::msgrcv(
                    self.id,
                    self.buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    self.recv_type,
                    0,
                )
            };
            if n >= 0 {
                super::endpoints::check_len(n as usize, buffer.len())?;
                buffer.copy_from_slice(&self.buffer[TYPE_BYTES..TYPE_BYTES + buffer.len()]);
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

/// Why a queue cannot carry `size`-byte messages here, if it cannot.
fn size_limit(size: usize) -> Option<String> {
    let msgmax = super::system::sysctl("/proc/sys/kernel/msgmax").unwrap_or(8192);
    let msgmnb = super::system::sysctl("/proc/sys/kernel/msgmnb").unwrap_or(16384);
    if size > msgmax {
        Some(format!(
            "System V messages are at most kernel.msgmax = {msgmax} bytes"
        ))
    } else if 2 * size > msgmnb {
        Some(format!(
            "two messages must fit a queue of kernel.msgmnb = {msgmnb} bytes"
        ))
    } else {
        None
    }
}
