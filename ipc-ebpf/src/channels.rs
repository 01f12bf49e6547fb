//! Channels: which file each descriptor of a traced process is, found in the kernel at the
//! descriptor's first use, and what each call on it moved.
//!
//! A descriptor's file is looked up once (`task->files->fdt->fd[fd]`, then its inode and, for
//! a socket, its peer) and cached per process slot and descriptor in `FD_CACHE` until the
//! descriptor is closed, replaced by `dup2`/`dup3`, or the process's descriptors are replaced
//! wholesale (`execve`, `close_range`: the slot's generation moves on). Each lookup makes an
//! *end* (`ENDS`), whose figures (`END_STATS`, `END_SIZES`) outlive the descriptor: userspace
//! pairs ends into channels afterwards. A call on a cached descriptor costs two array lookups
//! and a few adds.

use aya_ebpf::helpers::{
    bpf_get_current_task, bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes,
    bpf_probe_read_user,
};
use ipc_ebpf::{
    end_kind, fd_cache_index, CachedEnd, EndInfo, KernelOffsets, SyscallInFlight,
    ANON_INODE_FS_MAGIC, FDS_REPLACED, FD_ENDING, MAX_CACHED_FDS, MAX_ENDS, MQUEUE_MAGIC,
    MULTI_MESSAGE_CALLS, NO_FD, PIPEFS_MAGIC, SEMAPHORE_CALLS, SEMBUF_SEM_OP, SENDS_RETURNING_ZERO,
    SHARED_SLOT, SIZE_BUCKETS, SYSV_QUEUE_CALLS,
};

use crate::access::{add, atomic_add};
use crate::{
    CHANNEL_OFFSETS, ENDS, END_CLAIMS, END_SIZES, END_STATS, END_TURNS, FD_CACHE, NEXT_END,
    PROCESSES, SYSV_ENDS,
};

/// `S_IFMT` and the file types an end can be.
const S_IFMT: u16 = 0o170000;
const S_IFIFO: u16 = 0o010000;
const S_IFSOCK: u16 = 0o140000;
const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// The kernel's field offsets, when userspace found them all.
#[inline(always)]
pub(crate) fn offsets() -> Option<KernelOffsets> {
    // SAFETY: a plain read of a global the loader set; volatile so that the compiler does not
    // fold the placeholder value.
    let offsets = unsafe { core::ptr::read_volatile(&CHANNEL_OFFSETS) };
    offsets.complete().then_some(offsets)
}

/// True when the call `nr` is one whose descriptor argument the programs keep.
#[inline(always)]
pub(crate) fn wants_fd(nr: u64) -> bool {
    ipc_ebpf::channel_direction(nr).is_some()
        || FD_ENDING.contains(&nr)
        || SEMAPHORE_CALLS.contains(&nr)
}

/// Accounts a finished call of process `slot` to its descriptor's end, or forgets what the
/// call made stale.
#[inline(always)]
pub(crate) fn on_call(slot: u32, tid: u32, call: &SyscallInFlight, took_ns: u64, ret: i64) {
    if slot >= SHARED_SLOT {
        return; // Several processes share that slot: their descriptors cannot be told apart.
    }
    let nr = call.nr;
    if FDS_REPLACED.contains(&nr) {
        if ret == 0 {
            next_generation(slot);
        }
        return;
    }
    if FD_ENDING.contains(&nr) {
        // `close` ends its argument's file even when it fails; `dup2`/`dup3` replace the
        // descriptor they return.
        let fd = if nr == FD_ENDING[0] {
            call.fd
        } else {
            ret as u64
        };
        if ret >= 0 || nr == FD_ENDING[0] {
            forget(slot, fd);
        }
        return;
    }
    if SEMAPHORE_CALLS.contains(&nr) {
        semaphore_call(slot, call, took_ns, ret);
        return;
    }
    let Some(direction) = ipc_ebpf::channel_direction(nr) else {
        return;
    };
    let end = if SYSV_QUEUE_CALLS.contains(&nr) {
        sysv_end(slot, call.fd as u32, end_kind::SYSV_MQ)
    } else if call.fd == NO_FD || call.fd >= u64::from(MAX_CACHED_FDS) {
        return;
    } else {
        end_of(slot, call.fd as u32)
    };
    let Some(end) = end else {
        return;
    };
    let Some(stat) = END_STATS.get_ptr_mut(end) else {
        return;
    };
    let direction = direction & 1;
    // A queue send returns 0 and moved the length it was given.
    let moved = if ret == 0 && SENDS_RETURNING_ZERO.contains(&nr) {
        call.arg as i64
    } else {
        ret
    };
    // SAFETY: `stat` points at this CPU's live element of a per-CPU array; only u64 fields
    // inside it are touched, at indices below 2.
    unsafe {
        if moved <= 0 {
            add(&raw mut (*stat).empty_calls[direction], 1);
            return;
        }
        add(&raw mut (*stat).calls[direction], 1);
        add(&raw mut (*stat).bytes[direction], moved as u64);
        add(&raw mut (*stat).time_ns[direction], took_ns);
        add(&raw mut (*stat).blocked_ns[direction], call.off_cpu_ns);
        let size = moved as u64;
        let min = &raw mut (*stat).min_size[direction];
        if *min == 0 || size < *min {
            *min = size;
        }
        let max = &raw mut (*stat).max_size[direction];
        if size > *max {
            *max = size;
        }
    }
    turn(end, tid, direction, call.start_ns, took_ns);
    if MULTI_MESSAGE_CALLS.contains(&nr) {
        return; // Its return counts messages: no size to put in the histogram.
    }
    if let Some(sizes) = END_SIZES.get_ptr_mut(end) {
        let bucket = ipc_ebpf::latency_bucket(moved as u64) & (SIZE_BUCKETS - 1);
        // SAFETY: a live array element shared by all CPUs, hence the atomic add; both indices
        // are masked into range.
        unsafe {
            let counter = (&raw mut (*sizes).buckets)
                .cast::<u64>()
                .add(direction * SIZE_BUCKETS + bucket);
            atomic_add(counter, 1);
        }
    }
}

/// A send on `end` starts a round trip for the current thread; its next receive on `end` ends
/// it, into the end's round-trip histogram. (Racy between threads sharing one end: a
/// round trip is one thread's send and answer.)
#[inline(always)]
fn turn(end: u32, tid: u32, direction: usize, started_ns: u64, took_ns: u64) {
    let Some(turns) = END_TURNS.get_ptr_mut(end) else {
        return;
    };
    // SAFETY: a live array element; its u32 and u64 fields are plain stores, the histogram's
    // counters atomic adds (other CPUs may add too), at an index masked into range.
    unsafe {
        if direction == ipc_ebpf::direction::OUT {
            (*turns).tid = tid;
            (*turns).sent_ns = started_ns;
        } else if (*turns).tid == tid && (*turns).sent_ns != 0 {
            let ended_ns = started_ns.wrapping_add(took_ns);
            let took = ended_ns.wrapping_sub((*turns).sent_ns);
            (*turns).sent_ns = 0;
            let bucket = ipc_ebpf::latency_bucket(took) & (ipc_ebpf::LATENCY_BUCKETS - 1);
            atomic_add((&raw mut (*turns).buckets).cast::<u64>().add(bucket), 1);
        }
    }
}

/// Counts a wake-up of a traced thread made by the current thread (of process `slot`) from
/// inside `call`, on the call's end, if the call is a channel call on a known descriptor.
#[inline(always)]
pub(crate) fn woke_from(slot: u32, call: &SyscallInFlight) {
    if slot >= SHARED_SLOT {
        return;
    }
    let Some(direction) = ipc_ebpf::channel_direction(call.nr) else {
        return;
    };
    let end = if SYSV_QUEUE_CALLS.contains(&call.nr) {
        known_sysv_end(slot, call.fd as u32, end_kind::SYSV_MQ)
    } else if call.fd < u64::from(MAX_CACHED_FDS) {
        cached_end(slot, call.fd as u32) // None at its first call: found when that call ends.
    } else {
        None
    };
    if let Some(stat) = end.and_then(|end| END_STATS.get_ptr_mut(end)) {
        // SAFETY: this CPU's live element of a per-CPU array; the index is below 2.
        unsafe { add(&raw mut (*stat).wakeups_caused[direction & 1], 1) };
    }
}

/// The end descriptor `fd` of process `slot` was found to be, while that is still current.
#[inline(always)]
fn cached_end(slot: u32, fd: u32) -> Option<u32> {
    let generation = PROCESSES.get(slot)?.fd_generation;
    let cached = FD_CACHE.get(fd_cache_index(slot, fd))?;
    (cached.generation == generation && cached.end_plus_one != 0).then(|| cached.end_plus_one - 1)
}

/// The end descriptor `fd` of process `slot` is, found and cached at its first use.
#[inline(always)]
fn end_of(slot: u32, fd: u32) -> Option<u32> {
    if let Some(end) = cached_end(slot, fd) {
        return Some(end);
    }
    let generation = PROCESSES.get(slot)?.fd_generation;
    let cached = FD_CACHE.get_ptr_mut(fd_cache_index(slot, fd))?;
    let end = claim_end(slot)?;
    // Written in place: an `EndInfo` is too large for the BPF stack beside everything else.
    let info = ENDS.get_ptr_mut(end)?;
    // SAFETY: a live array element this call just claimed: nothing else writes it.
    if !identify(unsafe { &mut *info }, slot, fd) {
        let _ = END_CLAIMS.remove(&end);
        return None;
    }
    // SAFETY: a live array element; only this process's own calls touch its descriptors'.
    unsafe {
        *cached = CachedEnd {
            generation,
            end_plus_one: end + 1,
        }
    };
    Some(end)
}

/// Counts a finished `semop`/`semtimedop` of process `slot` on its set's end: a post (its first
/// operation adds) as a send, a wait (it takes) as a receive; one that failed (`EAGAIN`, a
/// timeout, a signal) as an empty call.
#[inline(always)]
fn semaphore_call(slot: u32, call: &SyscallInFlight, took_ns: u64, ret: i64) {
    // SAFETY: the helper checks the user address and fails instead of faulting.
    let op = unsafe { bpf_probe_read_user((call.arg + SEMBUF_SEM_OP) as *const i16) };
    let direction = match op {
        Ok(op) if op < 0 => ipc_ebpf::direction::IN,
        Ok(op) if op > 0 => ipc_ebpf::direction::OUT,
        _ => return, // A wait-for-zero, or unreadable operations.
    };
    let Some(end) = sysv_end(slot, call.fd as u32, end_kind::SYSV_SEM) else {
        return;
    };
    let Some(stat) = END_STATS.get_ptr_mut(end) else {
        return;
    };
    // SAFETY: this CPU's live element of a per-CPU array; only u64 fields at indices below 2.
    unsafe {
        if ret != 0 {
            add(&raw mut (*stat).empty_calls[direction], 1);
            return;
        }
        add(&raw mut (*stat).calls[direction], 1);
        add(&raw mut (*stat).time_ns[direction], took_ns);
        add(&raw mut (*stat).blocked_ns[direction], call.off_cpu_ns);
    }
}

/// The end of process `slot` on System V object `id` of `kind` (a queue or a semaphore set),
/// made at its first use (the id names the object everywhere: no walk through the kernel's
/// structures is needed).
#[inline(always)]
fn sysv_end(slot: u32, id: u32, kind: u32) -> Option<u32> {
    if let Some(end) = known_sysv_end(slot, id, kind) {
        return Some(end);
    }
    let key = sysv_key(slot, id, kind);
    let end = claim_end(slot)?;
    let info = ENDS.get_ptr_mut(end)?;
    // SAFETY: a live array element this call just claimed: nothing else writes it.
    unsafe {
        *info = EndInfo::default();
        (*info).slot = slot;
        (*info).fd = id;
        (*info).kind = kind;
        (*info).ino = u64::from(id);
    }
    let _ = SYSV_ENDS.insert(&key, &end, 0);
    Some(end)
}

/// The `SYSV_ENDS` key of process `slot`'s end on object `id` of `kind` (queues and
/// semaphore sets number their ids apart: the kind keeps them apart).
#[inline(always)]
fn sysv_key(slot: u32, id: u32, kind: u32) -> u64 {
    (u64::from(kind) << 48) | (u64::from(slot) << 32) | u64::from(id)
}

/// Process `slot`'s end on System V object `id` of `kind`, if it has used it.
#[inline(always)]
fn known_sysv_end(slot: u32, id: u32, kind: u32) -> Option<u32> {
    // SAFETY: a read of a hash map value the helper returned.
    unsafe { SYSV_ENDS.get(&sysv_key(slot, id, kind)) }.copied()
}

/// Forgets what descriptor `fd` of `slot` was.
#[inline(always)]
fn forget(slot: u32, fd: u64) {
    if fd >= u64::from(MAX_CACHED_FDS) {
        return;
    }
    if let Some(cached) = FD_CACHE.get_ptr_mut(fd_cache_index(slot, fd as u32)) {
        // SAFETY: a live array element of this process's.
        unsafe { *cached = CachedEnd::default() };
    }
}

/// Makes every cached descriptor of `slot` stale.
#[inline(always)]
fn next_generation(slot: u32) {
    if let Some(info) = PROCESSES.get_ptr_mut(slot) {
        // SAFETY: a live array element; only this process's own events write its slot.
        unsafe { (*info).fd_generation = (*info).fd_generation.wrapping_add(1) };
    }
}

/// Claims a free end for `slot`; `None` once all are taken. `NEXT_END` is only a hint of where
/// to start; the claim is the `BPF_NOEXIST` insert.
#[inline(always)]
pub(crate) fn claim_end(slot: u32) -> Option<u32> {
    let next = NEXT_END.get_ptr_mut(0)?;
    // SAFETY: a live, 8-aligned array element; a racy read only costs a retry below.
    let mut end = unsafe { *next } as u32;
    for _ in 0..8 {
        if end >= MAX_ENDS {
            return None;
        }
        if END_CLAIMS
            .insert(&end, &slot, aya_ebpf::bindings::BPF_NOEXIST.into())
            .is_ok()
        {
            // SAFETY: the live element read above; a racy store is only a hint.
            unsafe { *next = u64::from(end) + 1 };
            return Some(end);
        }
        end += 1;
    }
    None
}

/// Reads a `T` at `base + offset` in kernel memory.
#[inline(always)]
pub(crate) fn read<T>(base: u64, offset: u32) -> Option<T> {
    if base == 0 {
        return None;
    }
    // SAFETY: the helper checks the address and fails instead of faulting.
    unsafe { bpf_probe_read_kernel((base + u64::from(offset)) as *const T) }.ok()
}

/// An inet socket's protocol, addresses and ports.
#[inline(always)]
fn inet_addresses(info: &mut EndInfo, sk: u64, o: &KernelOffsets) {
    info.protocol = read(sk, o.sock_protocol).unwrap_or(0);
    info.local_port = read(sk, o.sock_num).unwrap_or(0);
    info.remote_port = u16::from_be(read(sk, o.sock_dport).unwrap_or(0));
    if info.family == AF_INET6 && o.inet6 == 1 {
        info.local_addr = read(sk, o.sock_v6_rcv_saddr).unwrap_or([0; 16]);
        info.remote_addr = read(sk, o.sock_v6_daddr).unwrap_or([0; 16]);
    } else {
        let local: [u8; 4] = read(sk, o.sock_rcv_saddr).unwrap_or([0; 4]);
        let remote: [u8; 4] = read(sk, o.sock_daddr).unwrap_or([0; 4]);
        info.local_addr[..4].copy_from_slice(&local);
        info.remote_addr[..4].copy_from_slice(&remote);
    }
}

/// Describes descriptor `fd` of the current process in `info`; false when it cannot be found.
#[inline(always)]
fn identify(info: &mut EndInfo, slot: u32, fd: u32) -> bool {
    describe(info, slot, fd).is_some()
}

/// [`identify`], with `?` for each read.
#[inline(always)]
fn describe(info: &mut EndInfo, slot: u32, fd: u32) -> Option<()> {
    let o = offsets()?;
    // SAFETY: a helper without arguments.
    let task = unsafe { bpf_get_current_task() };
    let files: u64 = read(task, o.task_files)?;
    let fdt: u64 = read(files, o.files_fdt)?;
    let max_fds: u32 = read(fdt, o.fdt_max_fds)?;
    if fd >= max_fds {
        return None;
    }
    let fd_array: u64 = read(fdt, o.fdt_fd)?;
    let file: u64 = read(fd_array, fd * 8)?;
    let inode: u64 = read(file, o.file_inode)?;
    let mode: u16 = read(inode, o.inode_mode)?;
    *info = EndInfo::default();
    info.slot = slot;
    info.fd = fd;
    info.kind = end_kind::OTHER;
    info.ino = read(inode, o.inode_ino)?;
    info.file = file;
    match mode & S_IFMT {
        S_IFIFO => {
            let sb: u64 = read(inode, o.inode_sb).unwrap_or(0);
            let magic: u64 = read(sb, o.sb_magic).unwrap_or(0);
            info.kind = if magic == PIPEFS_MAGIC {
                end_kind::PIPE
            } else {
                end_kind::FIFO
            };
        }
        S_IFSOCK => {
            let socket: u64 = read(file, o.file_private_data)?;
            info.socket_type = read(socket, o.socket_type).unwrap_or(0);
            let sk: u64 = read(socket, o.socket_sk).unwrap_or(0);
            info.family = read(sk, o.sock_family).unwrap_or(0);
            if info.family == AF_UNIX {
                info.kind = end_kind::UNIX;
                let peer: u64 = read(sk, o.unix_peer).unwrap_or(0);
                let peer_socket: u64 = read(peer, o.sock_socket).unwrap_or(0);
                if peer_socket != 0 {
                    info.peer_ino = read(peer_socket, o.socket_to_inode + o.inode_ino).unwrap_or(0);
                }
            } else if (info.family == AF_INET || info.family == AF_INET6) && o.inet == 1 {
                info.kind = end_kind::INET;
                inet_addresses(info, sk, &o);
            } else {
                info.kind = end_kind::OTHER_SOCKET;
            }
        }
        _ => {
            let sb: u64 = read(inode, o.inode_sb).unwrap_or(0);
            let magic: u64 = read(sb, o.sb_magic).unwrap_or(0);
            if magic == ANON_INODE_FS_MAGIC || magic == MQUEUE_MAGIC {
                read_name(info, file, &o);
                if magic == MQUEUE_MAGIC {
                    info.kind = end_kind::MQUEUE;
                } else if info.name.starts_with(b"[eventfd]") {
                    info.kind = end_kind::EVENTFD;
                }
            }
        }
    }
    Some(())
}

/// The name of `file`'s dentry (`[eventfd]`, a queue's name), cut to `info.name`'s size.
#[inline(always)]
pub(crate) fn read_name(info: &mut EndInfo, file: u64, o: &KernelOffsets) {
    if o.file_dentry == 0 {
        return;
    }
    let dentry: u64 = read(file, o.file_dentry).unwrap_or(0);
    let name: u64 = read(dentry, o.dentry_name).unwrap_or(0);
    if name != 0 {
        // SAFETY: the helper checks the address and stops at the buffer's end.
        let _ = unsafe { bpf_probe_read_kernel_str_bytes(name as *const u8, &mut info.name) };
    }
}
