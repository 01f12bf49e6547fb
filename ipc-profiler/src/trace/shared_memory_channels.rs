//! Shared memory as channels: the ends the kernel side found on one shared object (one per
//! process that mapped it or waited in it) make one channel, named by its kind and name, with
//! the futex waits and wakes made inside it. What moves through it the kernel does not see.

use std::collections::BTreeMap;

use ipc_ebpf::{direction, EndInfo, WRITABLE_SHARED};

use super::channel_group::{channel_end, name_of, processes};
use super::channel_group::{EndFigures, SlotProcess};
use crate::result::{Channel, FutexFigures, FutexWord};

/// `super_block.s_magic` of tmpfs, where `shm_open` objects live (`/dev/shm`).
const TMPFS_MAGIC: u64 = 0x0102_1994;

/// The channels the shared-memory `ends` make, one per object that a process can write and
/// that two processes mapped or one made futex calls in (a file one process maps, or a cache
/// file every process maps read-only, is not IPC); `process_of` names each slot.
pub fn channels(
    ends: &[&EndFigures],
    process_of: &impl Fn(u32) -> Option<SlotProcess>,
) -> Vec<Channel> {
    let mut by_object: BTreeMap<u64, Vec<&EndFigures>> = BTreeMap::new();
    for end in ends {
        by_object.entry(end.info.file).or_default().push(end);
    }
    let who = |end: &EndFigures| process_of(end.info.slot).unwrap_or((0, "?".to_string()));
    by_object
        .into_values()
        .filter(|members| {
            let shared = members.iter().any(|e| e.info.slot != members[0].info.slot);
            let written = members
                .iter()
                .any(|e| e.info.shared_flags & WRITABLE_SHARED != 0);
            written && (shared || members.iter().any(|e| made_futex_calls(e)))
        })
        .map(|members| channel(&members, &who))
        .collect()
}

/// True when `end`'s process waited or woke in its shared memory.
fn made_futex_calls(end: &EndFigures) -> bool {
    let s = &end.stat;
    (s.calls.iter().chain(&s.empty_calls)).any(|&n| n != 0)
}

/// The channel of one object's `members`.
fn channel(members: &[&EndFigures], who: &impl Fn(&EndFigures) -> SlotProcess) -> Channel {
    let info = &members[0].info;
    let (kind, title) = kind_and_title(info);
    let (wait, wake) = (direction::IN, direction::OUT);
    let sum = |f: &dyn Fn(&EndFigures) -> u64| -> u64 { members.iter().map(|e| f(e)).sum() };
    let doing = |f: &dyn Fn(&EndFigures) -> bool| -> Vec<String> {
        let ends: Vec<&EndFigures> = members.iter().copied().filter(|e| f(e)).collect();
        processes(&ends, who)
    };
    let futex = FutexFigures {
        waiters: doing(&|e| e.stat.calls[wait] + e.stat.empty_calls[wait] != 0),
        wakers: doing(&|e| e.stat.calls[wake] != 0),
        waits: sum(&|e| e.stat.calls[wait]),
        wait_ns: sum(&|e| e.stat.time_ns[wait]),
        blocked_ns: sum(&|e| e.stat.blocked_ns[wait]),
        waits_not_woken: sum(&|e| e.stat.empty_calls[wait]),
        wakes: sum(&|e| e.stat.calls[wake]),
        woken: sum(&|e| e.stat.wakeups_caused[wake]),
        wake_ns: sum(&|e| e.stat.time_ns[wake]),
        words: words(members),
        wakes_of_nobody: sum(&|e| e.stat.empty_calls[wake]),
    };
    let everyone = processes(members, who);
    let name = match title {
        Some(title) => format!("{kind} {title} {}", everyone.join(", ")),
        None => format!("{kind} {}", everyone.join(", ")),
    };
    Channel {
        kind: kind.to_string(),
        name,
        inodes: vec![info.ino],
        addresses: Vec::new(),
        ends: members.iter().map(|e| channel_end(e, who)).collect(),
        directions: Vec::new(),
        messages: None,
        bytes: None,
        futex: Some(futex),
    }
}

/// The futex words of one object's `members`, each one's calls added over processes, by
/// offset.
fn words(members: &[&EndFigures]) -> Vec<FutexWord> {
    let mut by_offset: BTreeMap<u64, FutexWord> = BTreeMap::new();
    for (offset, stat) in members.iter().flat_map(|e| &e.words) {
        let word = by_offset.entry(*offset).or_insert(FutexWord {
            offset: *offset,
            ..FutexWord::default()
        });
        word.waits += stat.waits;
        word.wakes += stat.wakes;
    }
    by_offset.into_values().collect()
}

/// The kind of shared memory an end is on, told by its name and filesystem, and what names it
/// beside its kind (a memfd's or file's name; a System V segment's id).
pub(super) fn kind_and_title(info: &EndInfo) -> (&'static str, Option<String>) {
    let name = name_of(info);
    if let Some(memfd) = name.strip_prefix("memfd:") {
        ("memfd", Some(memfd.to_string()))
    } else if name.starts_with("SYSV") {
        // The kernel names a segment by its key and numbers its inode by its id.
        ("sysv-shm", Some(format!("id {}", info.ino)))
    } else if name == "dev/zero" {
        ("shared-anon", None)
    } else if info.fs_magic == TMPFS_MAGIC {
        ("posix-shm", Some(name))
    } else {
        ("shared-file", Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc_ebpf::end_kind;

    fn end(slot: u32, object: u64, name: &str, magic: u64) -> EndFigures {
        let mut info = EndInfo {
            slot,
            fd: ipc_ebpf::NO_DESCRIPTOR,
            kind: end_kind::SHARED_MEMORY,
            ino: 1000 + object,
            file: object,
            fs_magic: magic,
            shared_flags: WRITABLE_SHARED,
            ..EndInfo::default()
        };
        info.name[..name.len()].copy_from_slice(name.as_bytes());
        EndFigures {
            info,
            ..EndFigures::default()
        }
    }

    fn names(slot: u32) -> Option<SlotProcess> {
        Some((
            100 + slot,
            ["producer", "consumer"][slot as usize].to_string(),
        ))
    }

    #[test]
    fn two_processes_mapping_one_memfd_are_one_channel_with_its_futex_calls() {
        let mut producer = end(0, 7, "memfd:ring", TMPFS_MAGIC);
        let word = |waits, wakes| ipc_ebpf::WordStat { waits, wakes };
        producer.words = vec![(64, word(0, 40)), (4100, word(3, 0))];
        producer.stat.calls[direction::OUT] = 40;
        producer.stat.wakeups_caused[direction::OUT] = 40;
        producer.stat.empty_calls[direction::OUT] = 3;
        let mut consumer = end(1, 7, "memfd:ring", TMPFS_MAGIC);
        consumer.words = vec![(64, word(42, 0))];
        consumer.stat.calls[direction::IN] = 40;
        consumer.stat.empty_calls[direction::IN] = 2;
        consumer.stat.blocked_ns[direction::IN] = 9_000;
        let mut other = end(1, 8, "dev/zero", TMPFS_MAGIC);
        other.stat.empty_calls[direction::OUT] = 1;
        let unused = end(1, 9, "data.bin", 0xEF53);
        let mut cache = [
            end(0, 10, "gconv-modules", 0xEF53),
            end(1, 10, "gconv-modules", 0xEF53),
        ];
        for read_only in &mut cache {
            read_only.info.shared_flags = 0;
        }
        let found = channels(
            &[&producer, &consumer, &other, &unused, &cache[0], &cache[1]],
            &names,
        );
        assert_eq!(
            found.len(),
            2,
            "a file one process maps, or all map read-only, is not a channel"
        );
        let ring = found.iter().find(|c| c.kind == "memfd").unwrap();
        assert_eq!(ring.name, "memfd ring producer(100), consumer(101)");
        assert_eq!((ring.messages, ring.bytes), (None, None));
        assert_eq!(ring.ends.len(), 2);
        assert!(ring.ends.iter().all(|e| e.fd.is_none()));
        let futex = ring.futex.as_ref().unwrap();
        assert_eq!(futex.waiters, ["consumer(101)"]);
        assert_eq!(futex.wakers, ["producer(100)"]);
        assert_eq!(
            (futex.waits, futex.waits_not_woken, futex.blocked_ns),
            (40, 2, 9_000)
        );
        assert_eq!(
            (futex.wakes, futex.woken, futex.wakes_of_nobody),
            (40, 40, 3)
        );
        let words: Vec<(u64, u64, u64)> = futex
            .words
            .iter()
            .map(|w| (w.offset, w.waits, w.wakes))
            .collect();
        assert_eq!(
            words,
            [(64, 42, 40), (4100, 3, 0)],
            "each word's calls, over processes"
        );
        let anon = found.iter().find(|c| c.kind == "shared-anon").unwrap();
        assert_eq!(anon.name, "shared-anon consumer(101)");
    }

    #[test]
    fn each_kind_of_shared_memory_is_told_by_its_name_and_filesystem() {
        let kind = |name: &str, magic: u64| kind_and_title(&end(0, 1, name, magic).info);
        assert_eq!(
            kind("SYSV0000002a", TMPFS_MAGIC),
            ("sysv-shm", Some("id 1001".into()))
        );
        assert_eq!(
            kind("ipc-ring", TMPFS_MAGIC),
            ("posix-shm", Some("ipc-ring".into()))
        );
        assert_eq!(
            kind("data.bin", 0xEF53),
            ("shared-file", Some("data.bin".into()))
        );
    }
}
