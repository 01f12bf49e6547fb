//! `posix-mq`: a POSIX message queue in each direction; blocking mq_receive. The queues'
//! names are unlinked as soon as both are open, so nothing is left in /dev/mqueue.

use std::ffi::CString;
use std::io;

use super::{Channel, Endpoint, FanInChannel, Mechanism};
use crate::config::BenchConfig;
use crate::run_record::{self, Object};

/// Two POSIX queues.
pub struct PosixMq;

struct MqEnd {
    send: libc::mqd_t,
    recv: libc::mqd_t,
}

/// CAP_SYS_RESOURCE lifts the queue limits for a process that has it.
const CAP_SYS_RESOURCE: u32 = 24;
/// The kernel's hard ceiling on a message, whatever the privileges.
const HARD_MSGSIZE_MAX: usize = 16 << 20;

impl Mechanism for PosixMq {
    fn name(&self) -> &'static str {
        "posix-mq"
    }

    fn available(&self) -> Result<(), String> {
        super::system::kernel_has(
            "/proc/sys/fs/mqueue",
            "this kernel has no POSIX message queues (CONFIG_POSIX_MQUEUE)",
        )
    }

    fn summary(&self) -> &'static str {
        "POSIX message queue pair; mq_receive"
    }

    fn connect_fan_in(&self, size: usize, writers: usize) -> io::Result<FanInChannel> {
        let queue = open(size, "fan-in")?;
        let end = || -> io::Result<MqEnd> {
            Ok(MqEnd {
                send: duplicate(queue)?,
                recv: duplicate(queue)?,
            })
        };
        let ends = (0..writers)
            .map(|_| Ok(Box::new(end()?) as Box<dyn Endpoint>))
            .collect::<io::Result<Vec<_>>>();
        let reader = end();
        // SAFETY: every endpoint holds its own duplicates; this descriptor is no longer needed.
        unsafe { libc::close(queue) };
        Ok(FanInChannel::new(ends?, Box::new(reader?)))
    }

    fn refuses(&self, config: &BenchConfig) -> Option<String> {
        size_limit(config.message_size)
    }

    fn connect(&self, size: usize) -> io::Result<Channel> {
        let to_server = open(size, "s")?;
        let to_client = match open(size, "c") {
            Ok(q) => q,
            Err(e) => {
                // SAFETY: closes the descriptor opened above.
                unsafe { libc::mq_close(to_server) };
                return Err(e);
            }
        };
        // Each endpoint owns its own descriptors (closing the unused endpoint in a worker must
        // not close the other's): the server gets duplicates.
        let client = MqEnd {
            send: to_server,
            recv: to_client,
        };
        let server = MqEnd {
            send: duplicate(to_client)?,
            recv: duplicate(to_server)?,
        };
        Ok(Channel::new(Box::new(client), Box::new(server)))
    }
}

/// Creates a queue for `size`-byte messages and unlinks its name at once.
fn open(size: usize, suffix: &str) -> io::Result<libc::mqd_t> {
    let text = format!("/ipc-profiler-{}-{suffix}", std::process::id());
    let name = CString::new(text.as_str()).expect("no NUL in the name");
    // Recorded before it exists, for `ipc-profiler clean`: a run killed before the unlink
    // below leaves the name.
    let recorded = Object::PosixQueue { name: text };
    run_record::created(recorded.clone())?;
    // SAFETY: an all-zero mq_attr is valid; the fields that matter are set below.
    let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
    attr.mq_maxmsg = 1;
    attr.mq_msgsize = size as libc::c_long;
    // SAFETY: a valid name and attribute struct.
    let queue = unsafe {
        libc::mq_open(
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC,
            0o600 as libc::mode_t,
            &attr as *const libc::mq_attr,
        )
    };
    if queue < 0 {
        let error = io::Error::last_os_error();
        run_record::removed(&recorded);
        return Err(error);
    }
    // SAFETY: the name created above; the open descriptor keeps the queue alive.
    unsafe { libc::mq_unlink(name.as_ptr()) };
    run_record::removed(&recorded);
    Ok(queue)
}

/// A second descriptor for an open queue (an mqd_t is a file descriptor on Linux).
fn duplicate(queue: libc::mqd_t) -> io::Result<libc::mqd_t> {
    // SAFETY: duplicates an open descriptor; F_DUPFD_CLOEXEC keeps close-on-exec.
    let copy = unsafe { libc::fcntl(queue, libc::F_DUPFD_CLOEXEC, 0) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(copy)
}

fn has_capability(cap: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << cap) != 0)
}

impl Endpoint for MqEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: a valid queue and a buffer of message.len() bytes.
            if unsafe { libc::mq_send(self.send, message.as_ptr().cast(), message.len(), 0) } == 0 {
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
            // SAFETY: a valid queue; the buffer is exactly the queue's message size.
            let n = unsafe {
                libc::mq_receive(
                    self.recv,
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                super::endpoints::check_len(n as usize, buffer.len())?;
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

impl Drop for MqEnd {
    fn drop(&mut self) {
        // SAFETY: closes this process's descriptors; the other end holds its own.
        unsafe {
            libc::mq_close(self.send);
            libc::mq_close(self.recv);
        }
    }
}

/// Why a queue cannot carry `size`-byte messages here, if it cannot.
fn size_limit(size: usize) -> Option<String> {
    let max = super::system::sysctl("/proc/sys/fs/mqueue/msgsize_max").unwrap_or(8192);
    if size > HARD_MSGSIZE_MAX {
        Some(format!(
            "POSIX queue messages are at most {HARD_MSGSIZE_MAX} bytes"
        ))
    } else if size > max && !has_capability(CAP_SYS_RESOURCE) {
        Some(format!(
            "POSIX queue messages are at most fs.mqueue.msgsize_max = {max} bytes here"
        ))
    } else {
        None
    }
}
