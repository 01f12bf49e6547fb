//! Process limits that runs with many processes meet: raised for the run where the kernel
//! allows, and named with the way to raise them where it does not.
//!
//! A request-response run with 100 clients holds every channel's descriptors in the controller
//! before it forks (400 or more for sockets and POSIX queues), past the usual soft limit of 1,024
//! open files; its POSIX queues count against RLIMIT_MSGQUEUE (819,200 bytes by default, about
//! 190 queues of 4 KiB messages). So at start the soft open-file limit is raised to the hard one
//! (any user may), and as root RLIMIT_MSGQUEUE is lifted (root may raise a hard limit). What is
//! still too low gives a result that names the limit, not a failed run.

use std::io;

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Raises the limits this process may raise; what cannot be raised is left as it is.
pub fn raise_for_run() {
    let files = getrlimit(Resource::Nofile);
    if files.current < files.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: files.maximum,
                maximum: files.maximum,
            },
        );
    }
    if rustix::process::geteuid().is_root() {
        let unlimited = Rlimit {
            current: None,
            maximum: None,
        };
        let _ = setrlimit(Resource::Msgqueue, unlimited);
    }
}

/// If `error` says a process limit was met (EMFILE, ENFILE, ENOSPC for queues, EAGAIN from
/// fork), the limit's name and how to raise it; `None` for any other error.
pub fn met_by(error: &anyhow::Error, mechanism: &str) -> Option<String> {
    let forked = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<crate::process::ForkFailed>());
    if let Some(failed) = forked {
        return (failed.0.raw_os_error() == Some(libc::EAGAIN)).then(|| {
            let processes = getrlimit(Resource::Nproc)
                .current
                .map_or("unlimited".into(), |n| n.to_string());
            format!(
                "this run needs more processes than this user may start (RLIMIT_NPROC \
                 {processes}, counting every process of the user; `ulimit -u`) or than the \
                 machine allows (kernel.threads-max, kernel.pid_max)"
            )
        });
    }
    let os = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error)?;
    let files = getrlimit(Resource::Nofile)
        .current
        .map_or("unlimited".into(), |n| n.to_string());
    match os {
        libc::EMFILE if mechanism == "posix-mq" => Some(format!(
            "this run needs more POSIX queue memory than RLIMIT_MSGQUEUE allows ({} bytes; \
             raise it with `ulimit -q`, which needs CAP_SYS_RESOURCE above the hard limit{}) or \
             more open files than RLIMIT_NOFILE ({files}; `ulimit -n`)",
            getrlimit(Resource::Msgqueue)
                .current
                .map_or("unlimited".into(), |n| n.to_string()),
            if rustix::process::geteuid().is_root() {
                ": root could not raise it here"
            } else {
                ""
            }
        )),
        libc::EMFILE => Some(format!(
            "this run needs more open files than RLIMIT_NOFILE allows ({files}): raise it with \
             `ulimit -n` (its hard limit too, as root)"
        )),
        libc::ENFILE => {
            Some("the machine's open-file table is full (fs.file-max): raise it with sysctl".into())
        }
        libc::ENOSPC if mechanism == "posix-mq" => Some(if rustix::process::geteuid().is_root() {
            "the machine allows no more POSIX queues, even to root, whom fs.mqueue.queues_max \
             does not bind: the kernel's own ceiling (1024 queues) or its memory"
                .into()
        } else {
            "the machine allows no more POSIX queues (fs.mqueue.queues_max): raise it with \
             sysctl, or run as root, whom it does not bind"
                .into()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(errno: i32) -> anyhow::Error {
        anyhow::Error::from(io::Error::from_raw_os_error(errno)).context("could not set up")
    }

    #[test]
    fn a_met_limit_is_named_with_the_way_to_raise_it() {
        let files = met_by(&failed(libc::EMFILE), "pipe").unwrap();
        assert!(
            files.contains("RLIMIT_NOFILE") && files.contains("ulimit -n"),
            "{files}"
        );
        let queues = met_by(&failed(libc::EMFILE), "posix-mq").unwrap();
        assert!(
            queues.contains("RLIMIT_MSGQUEUE") && queues.contains("ulimit -q"),
            "{queues}"
        );
        assert!(met_by(&failed(libc::ENFILE), "tcp")
            .unwrap()
            .contains("fs.file-max"));
        assert_eq!(met_by(&failed(libc::EPIPE), "pipe"), None, "not a limit");
        assert_eq!(met_by(&anyhow::anyhow!("no os error"), "pipe"), None);
        let fork = anyhow::Error::new(crate::process::ForkFailed(io::Error::from_raw_os_error(
            libc::EAGAIN,
        )))
        .context("could not fork the client process");
        assert!(met_by(&fork, "uds").unwrap().contains("ulimit -u"));
        // The queue limit is told as it applies to whoever runs: root is not bound by it.
        let full = met_by(&failed(libc::ENOSPC), "posix-mq").unwrap();
        if rustix::process::geteuid().is_root() {
            assert!(full.contains("even to root"), "{full}");
        } else {
            assert!(full.contains("run as root"), "{full}");
        }
    }
}
