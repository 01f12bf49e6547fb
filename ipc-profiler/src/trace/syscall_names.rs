//! Syscall numbers to names (this machine's architecture), and which calls copy their return
//! value's worth of bytes between user and kernel memory.

/// The name of syscall `nr` on this architecture.
pub fn name(nr: u32) -> String {
    if nr == ipc_ebpf::SYSCALL_NR_OTHER {
        return "other".into();
    }
    match syscalls::Sysno::new(nr as usize) {
        Some(sysno) => sysno.name().to_string(),
        None => format!("syscall_{nr}"),
    }
}

/// True for calls whose figures count bytes copied between user and kernel memory: the
/// read/write family by their positive return value (and `process_vm_writev`/`readv`, which
/// copy between two processes' memory), `msgsnd` and `mq_timedsend` (which return
/// 0) by the length they were given, which the programs record at entry.
pub fn copies_returned_bytes(name: &str) -> bool {
    matches!(
        name,
        "read"
            | "write"
            | "readv"
            | "writev"
            | "pread64"
            | "pwrite64"
            | "preadv"
            | "pwritev"
            | "preadv2"
            | "pwritev2"
            | "recvfrom"
            | "sendto"
            | "recvmsg"
            | "sendmsg"
            | "mq_timedreceive"
            | "msgrcv"
            | "mq_timedsend"
            | "msgsnd"
            | "process_vm_writev"
            | "process_vm_readv"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn names_x86_64_numbers() {
        assert_eq!(name(0), "read");
        assert_eq!(name(1), "write");
        assert_eq!(name(ipc_ebpf::SYSCALL_NR_OTHER), "other");
    }

    #[test]
    fn only_the_read_write_family_copies_its_return_value() {
        assert!(copies_returned_bytes("read"));
        assert!(copies_returned_bytes("recvmsg"));
        assert!(!copies_returned_bytes("futex"));
        assert!(copies_returned_bytes("msgsnd"));
        assert!(!copies_returned_bytes("msgget"));
    }
}
