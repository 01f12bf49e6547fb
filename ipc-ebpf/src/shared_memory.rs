//! Shared memory: the objects traced processes map shared (memfd, `shm_open`, a file, a System
//! V segment, anonymous memory shared across fork), found from the calls that map them and from
//! the futex calls made on words inside them.
//!
//! An address is turned into its object with `bpf_find_vma`: the mapping that holds it, and
//! that mapping's inode when it is shared. Each process gets one end per object (`SHARED_ENDS`,
//! keyed by process slot and the inode's address, which every process mapping the object
//! shares). The walk costs a few hundred nanoseconds, so a futex word's page is looked up once
//! and cached (`SHARED_PAGES`) until the process's mappings change. Private futexes never get
//! here: their calls keep no address.

use core::ffi::c_void;

use aya_ebpf::bindings::BPF_NOEXIST;
use aya_ebpf::helpers::generated::{bpf_find_vma, bpf_get_current_task_btf};
use ipc_ebpf::{
    direction, end_kind, futex, CachedPage, EndInfo, KernelOffsets, SyscallInFlight, WordStat,
    FDS_REPLACED, MAPPING_CALLS, NO_DESCRIPTOR, PAGE_SIZE, SHARED_SLOT, VM_MAYSHARE, VM_SHARED,
    WRITABLE_SHARED,
};

use crate::access::{add, atomic_add};
use crate::channels::{claim_end, read, read_name};
use crate::{ENDS, END_CLAIMS, END_STATS, FUTEX_WORDS, PROCESSES, SHARED_ENDS, SHARED_PAGES};

/// The kernel's field offsets, when shared memory can be followed here.
#[inline(always)]
fn offsets() -> Option<KernelOffsets> {
    // Read-only data: the verifier knows its value and drops the lookups below on a kernel
    // where userspace left `vma_flags` at 0.
    crate::channels::offsets().filter(KernelOffsets::follows_shared_memory)
}

/// Accounts a finished call of process `slot` that concerns shared memory: a futex call on a
/// shared word, or one that changes the process's mappings (`execve` among them).
#[inline(always)]
pub(crate) fn on_call(slot: u32, call: &SyscallInFlight, took_ns: u64, ret: i64) {
    if slot >= SHARED_SLOT {
        return; // Several processes share that slot: their mappings cannot be told apart.
    }
    if call.nr == futex::SYSCALL {
        on_futex(slot, call, took_ns, ret);
    } else if FDS_REPLACED.contains(&call.nr) {
        // `execve` replaces the mappings (`close_range` only costs a lookup again).
        if ret == 0 {
            next_map_generation(slot);
        }
    } else {
        on_mapping_change(slot, call.nr, ret);
    }
}

/// Counts a finished futex `call` of process `slot` (a shared word: its address in
/// `call.fd`, its operation in `call.arg`) on the shared memory that holds the word.
#[inline(always)]
fn on_futex(slot: u32, call: &SyscallInFlight, took_ns: u64, ret: i64) {
    let Some(direction) = futex::direction(call.arg) else {
        return;
    };
    let Some((end, page_offset)) = end_of_page(slot, call.fd) else {
        return;
    };
    count_word(end, page_offset + (call.fd & (PAGE_SIZE - 1)), direction);
    let Some(stat) = END_STATS.get_ptr_mut(end) else {
        return;
    };
    // SAFETY: this CPU's live element of a per-CPU array; only u64 fields at indices below 2.
    unsafe {
        if direction == direction::IN {
            if ret != 0 {
                // The word had changed, the time ran out, or a signal came.
                add(&raw mut (*stat).empty_calls[direction], 1);
                return;
            }
            add(&raw mut (*stat).blocked_ns[direction], call.off_cpu_ns);
        } else if ret <= 0 {
            add(&raw mut (*stat).empty_calls[direction], 1); // Nobody was waiting.
            return;
        } else {
            add(&raw mut (*stat).wakeups_caused[direction], ret as u64);
        }
        add(&raw mut (*stat).calls[direction], 1);
        add(&raw mut (*stat).time_ns[direction], took_ns);
    }
}

/// Accounts a finished call `nr` of process `slot` that changes its mappings: pages cached
/// before may now be in another mapping, and a new mapping (`ret`: its address) of shared
/// memory makes the process an end on it.
#[inline(always)]
fn on_mapping_change(slot: u32, nr: u64, ret: i64) {
    if ret < 0 {
        return; // Failed: nothing changed.
    }
    next_map_generation(slot);
    // A new mapping's address is above the first page (0 is `munmap`'s success).
    if MAPPING_CALLS.contains(&nr) && ret as u64 >= PAGE_SIZE {
        let _ = end_at(slot, ret as u64);
    }
}

/// Makes every page `slot` has cached stale.
#[inline(always)]
fn next_map_generation(slot: u32) {
    if let Some(info) = PROCESSES.get_ptr_mut(slot) {
        // SAFETY: a live array element; only this process's own events write its slot.
        unsafe { (*info).map_generation = (*info).map_generation.wrapping_add(1) };
    }
}

/// Counts a futex call in `direction` on the word at `offset` in `end`'s object.
#[inline(always)]
fn count_word(end: u32, offset: u64, direction: usize) {
    let key = [u64::from(end), offset];
    if FUTEX_WORDS.get_ptr_mut(&key).is_none() {
        let _ = FUTEX_WORDS.insert(&key, &WordStat::default(), BPF_NOEXIST.into());
    }
    let Some(word) = FUTEX_WORDS.get_ptr_mut(&key) else {
        return; // Every word's counter is taken: the end's figures still count the call.
    };
    // SAFETY: a live hash map value; other CPUs may add to it too, hence the atomic adds.
    unsafe {
        if direction == direction::IN {
            atomic_add(&raw mut (*word).waits, 1);
        } else {
            atomic_add(&raw mut (*word).wakes, 1);
        }
    }
}

/// Process `slot`'s end on the shared memory holding `address`, and where the address's page
/// lies in it, from the page cache when the page was looked up since the process's mappings
/// last changed.
#[inline(always)]
fn end_of_page(slot: u32, address: u64) -> Option<(u32, u64)> {
    let generation = PROCESSES.get(slot)?.map_generation;
    let key = [u64::from(slot), address & !(PAGE_SIZE - 1)];
    // SAFETY: a read of a hash map value the helper returned.
    if let Some(cached) = unsafe { SHARED_PAGES.get(&key) } {
        if cached.generation == generation {
            let end = cached.end_plus_one.checked_sub(1)?;
            return Some((end, cached.object_offset));
        }
    }
    let found = end_at(slot, address);
    let cached = CachedPage {
        generation,
        end_plus_one: found.map_or(0, |(end, _)| end + 1),
        object_offset: found.map_or(0, |(_, offset)| offset),
    };
    let _ = SHARED_PAGES.insert(&key, &cached, 0);
    found
}

/// What [`mapping_found`] reads of the mapping `bpf_find_vma` found.
#[repr(C)]
struct Mapping {
    /// Where `vm_flags`, `vm_file`, `vm_start` and `vm_pgoff` are in `vm_area_struct`.
    flags_at: u32,
    file_at: u32,
    start_at: u32,
    pgoff_at: u32,
    /// `vm_flags`, `vm_file`, `vm_start` and `vm_pgoff`.
    flags: u64,
    file: u64,
    start: u64,
    pgoff: u64,
}

/// `bpf_find_vma`'s callback: copies the mapping's flags and file into the caller's
/// [`Mapping`].
#[inline(never)]
extern "C" fn mapping_found(_task: *mut c_void, vma: *mut c_void, found: *mut c_void) -> i64 {
    let found = found.cast::<Mapping>();
    // SAFETY: `found` is the caller's `Mapping` on its stack, passed through the helper; the
    // reads of `vma` go through `bpf_probe_read_kernel`.
    unsafe {
        (*found).flags = read(vma as u64, (*found).flags_at).unwrap_or(0);
        (*found).file = read(vma as u64, (*found).file_at).unwrap_or(0);
        (*found).start = read(vma as u64, (*found).start_at).unwrap_or(0);
        (*found).pgoff = read(vma as u64, (*found).pgoff_at).unwrap_or(0);
    }
    0
}

/// Process `slot`'s end on the shared memory holding `address`, made at its first use, and
/// the offset of the address's page in the object; `None` when the address is in private
/// memory or no mapping.
#[inline(always)]
fn end_at(slot: u32, address: u64) -> Option<(u32, u64)> {
    let o = offsets()?;
    let mut found = Mapping {
        flags_at: o.vma_flags,
        file_at: o.vma_file,
        start_at: o.vma_start,
        pgoff_at: o.vma_pgoff,
        flags: 0,
        file: 0,
        start: 0,
        pgoff: 0,
    };
    // SAFETY: the current task as a BTF pointer (what the helper wants), a callback of the
    // helper's signature, and a context on this stack that outlives the call.
    let status = unsafe {
        bpf_find_vma(
            bpf_get_current_task_btf(),
            address,
            mapping_found as *mut c_void,
            (&raw mut found).cast(),
            0,
        )
    };
    if status != 0 || found.flags & VM_MAYSHARE == 0 || found.file == 0 {
        return None;
    }
    let inode: u64 = read(found.file, o.file_inode)?;
    let page = address & !(PAGE_SIZE - 1);
    let offset = page.wrapping_sub(found.start) + found.pgoff * PAGE_SIZE;
    let writable = if found.flags & VM_SHARED != 0 {
        WRITABLE_SHARED
    } else {
        0
    };
    let key = [u64::from(slot), inode];
    // SAFETY: a read of a hash map value the helper returned.
    if let Some(&end) = unsafe { SHARED_ENDS.get(&key) } {
        if let Some(info) = ENDS.get_ptr_mut(end) {
            // SAFETY: a live array element of this process's end; a plain store of a flag.
            unsafe { (*info).shared_flags |= writable };
        }
        return Some((end, offset));
    }
    let end = claim_end(slot)?;
    let Some(info) = ENDS.get_ptr_mut(end) else {
        let _ = END_CLAIMS.remove(&end);
        return None;
    };
    // SAFETY: a live array element this call just claimed: nothing else writes it. Written in
    // place: an `EndInfo` is too large for the BPF stack beside everything else.
    unsafe {
        describe(&mut *info, slot, found.file, inode, &o);
        (*info).shared_flags = writable;
    }
    let _ = SHARED_ENDS.insert(&key, &end, 0);
    Some((end, offset))
}

/// Describes the shared object `inode` (mapped from `file`) as process `slot`'s end.
#[inline(always)]
fn describe(info: &mut EndInfo, slot: u32, file: u64, inode: u64, o: &KernelOffsets) {
    *info = EndInfo::default();
    info.slot = slot;
    info.fd = NO_DESCRIPTOR;
    info.kind = end_kind::SHARED_MEMORY;
    info.file = inode;
    info.ino = read(inode, o.inode_ino).unwrap_or(0);
    let sb: u64 = read(inode, o.inode_sb).unwrap_or(0);
    info.fs_magic = read(sb, o.sb_magic).unwrap_or(0);
    read_name(info, file, o);
}
