//! `raw_syscalls:sys_enter` and `sys_exit`: each syscall's count, time, latency histogram and
//! bytes moved, for traced threads inside their phase.

use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_ktime_get_ns, bpf_probe_read_kernel},
    macros::{btf_tracepoint, raw_tracepoint, tracepoint},
    programs::{BtfTracePointContext, RawTracePointContext, TracePointContext},
    EbpfContext,
};
use ipc_ebpf::{
    futex, latency_bucket, offsets, syscall_index, SyscallInFlight, EXEC_SYSCALLS, FDS_REPLACED,
    LATENCY_BUCKETS, MAPPING_CHANGES, MAX_TRACED_PROCESSES, NO_FD, PT_REGS_DI, PT_REGS_DX,
    PT_REGS_SI, SEMAPHORE_CALLS, SENDS_RETURNING_ZERO, SYSCALL_NR_OTHER,
};

use crate::access::{add, atomic_add, current_ids, field};
use crate::channels;
use crate::shared_memory;
use crate::threads::{measuring, on_cpu, slot_of, thread};
use crate::{LATENCY, PROCESSES, SCHED, SYSCALLS};

// The syscall programs come three times: as tracepoints (`tp`, which read the event record), as
// raw tracepoints (`raw_tp`, which get the arguments directly and skip building the record, but
// read the saved registers through a helper call) and as `tp_btf` programs (the same arguments,
// typed: the registers are read by plain loads). Userspace attaches the cheapest kind the
// kernel accepts; all share the handlers below.

#[tracepoint]
pub fn sys_enter(ctx: TracePointContext) -> u32 {
    on_sys_enter(&ctx, field::<i64>(&ctx, offsets::SYS_ENTER_ID), |n| {
        field::<u64>(&ctx, offsets::SYS_ENTER_ARGS + 8 * n)
    });
    0
}

#[tracepoint]
pub fn sys_exit(ctx: TracePointContext) -> u32 {
    on_sys_exit(&ctx, field::<i64>(&ctx, offsets::SYS_EXIT_RET));
    0
}

/// `raw_syscalls:sys_enter(struct pt_regs *regs, long id)`.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn sys_enter_raw(ctx: RawTracePointContext) -> i32 {
    let regs: *const u8 = ctx.arg(0);
    let arg = |n: usize| {
        let offset = PT_REGS_ARGS[n % PT_REGS_ARGS.len()];
        // SAFETY: `regs` is the syscall's saved registers; the helper checks the address.
        unsafe { bpf_probe_read_kernel(regs.wrapping_add(offset).cast::<u64>()) }.unwrap_or(0)
    };
    on_sys_enter(&ctx, ctx.arg::<i64>(1), arg);
    0
}

/// `raw_syscalls:sys_exit(struct pt_regs *regs, long ret)`.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn sys_exit_raw(ctx: RawTracePointContext) -> i32 {
    on_sys_exit(&ctx, ctx.arg::<i64>(1));
    0
}

/// `sys_enter(struct pt_regs *regs, long id)`, with `regs` a typed (trusted) pointer.
#[btf_tracepoint(function = "sys_enter")]
pub fn sys_enter_btf(ctx: BtfTracePointContext) -> i32 {
    let regs: *const u8 = ctx.arg(0);
    let arg = |n: usize| {
        let offset = PT_REGS_ARGS[n % PT_REGS_ARGS.len()];
        // SAFETY: `regs` is the kernel's typed pointer to the syscall's saved registers, which
        // the verifier lets a tp_btf program load from (a faulting load reads 0); the offsets
        // are those of the argument registers in x86-64's `struct pt_regs`.
        unsafe { core::ptr::read_volatile(regs.wrapping_add(offset).cast::<u64>()) }
    };
    on_sys_enter(&ctx, ctx.arg::<i64>(1), arg);
    0
}

/// `sys_exit(struct pt_regs *regs, long ret)`.
#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit_btf(ctx: BtfTracePointContext) -> i32 {
    on_sys_exit(&ctx, ctx.arg::<i64>(1));
    0
}

/// The syscall arguments the programs read (the first three), as offsets in `struct pt_regs`.
const PT_REGS_ARGS: [usize; 3] = [PT_REGS_DI, PT_REGS_SI, PT_REGS_DX];

/// Remembers the syscall `nr` the current thread entered, if its process is measuring;
/// `arg(n)` reads its argument `n` (0 to 2).
#[inline(always)]
fn on_sys_enter<C: EbpfContext>(ctx: &C, nr: i64, arg: impl Fn(usize) -> u64) {
    let (fd, arg) = kept_arguments(nr as u64, arg);
    let (tgid, tid) = current_ids();
    let Some(cpu) = on_cpu() else {
        // No fast path: the call is kept in the thread's entry.
        let Some(entry) = thread(tid) else {
            return;
        };
        if measuring(slot_of(ctx, entry, tgid)) {
            entry.call = entered(nr, arg, fd);
        }
        return;
    };
    let slot = if cpu.tid == tid && tid != 0 {
        cpu.slot
    } else {
        let Some(entry) = thread(tid) else {
            return;
        };
        let slot = slot_of(ctx, entry, tgid);
        cpu.tid = tid;
        cpu.slot = slot;
        slot
    };
    cpu.call = if measuring(slot) {
        entered(nr, arg, fd)
    } else {
        SyscallInFlight::default()
    };
}

/// What call `nr` keeps of its arguments: its descriptor (or futex word) and a second one.
#[inline(always)]
fn kept_arguments(nr: u64, arg: impl Fn(usize) -> u64) -> (u64, u64) {
    if nr == futex::SYSCALL {
        // Only a futex word in shared memory is followed (to its mapping).
        let op = arg(1);
        return if futex::watched(op) {
            (arg(0), op)
        } else {
            (NO_FD, 0)
        };
    }
    if SEMAPHORE_CALLS.contains(&nr) {
        return (arg(0), arg(1)); // The set's id, and where its operations are.
    }
    // The sends that return 0 on success say how much they copy in their third argument.
    let sent_len = if SENDS_RETURNING_ZERO.contains(&nr) {
        arg(2)
    } else {
        0
    };
    // The calls a channel is counted from, or that end one, name their descriptor first.
    let fd = if channels::wants_fd(nr) {
        arg(0)
    } else {
        NO_FD
    };
    (fd, sent_len)
}

/// The syscall `nr` entered now.
#[inline(always)]
fn entered(nr: i64, arg: u64, fd: u64) -> SyscallInFlight {
    SyscallInFlight {
        nr: nr as u64,
        // SAFETY: a helper without arguments.
        start_ns: unsafe { bpf_ktime_get_ns() },
        off_cpu_ns: 0,
        arg,
        fd,
    }
}

/// Counts the syscall the current thread leaves with `ret`, if it entered inside the phase.
#[inline(always)]
fn on_sys_exit<C: EbpfContext>(ctx: &C, ret: i64) {
    let (tgid, tid) = current_ids();
    let fast = match on_cpu() {
        // The call is on this CPU's record: no lookup.
        Some(cpu) if cpu.tid == tid && cpu.call.start_ns != 0 => {
            Some((cpu.slot, core::mem::take(&mut cpu.call)))
        }
        _ => None,
    };
    let (slot, call) = match fast {
        Some(found) => found,
        None => {
            // Switched out inside the call (or no fast path): its entry holds the call.
            let Some(entry) = thread(tid) else {
                return;
            };
            let slot = slot_of(ctx, entry, tgid);
            if entry.call.start_ns == 0 {
                return; // No syscall in flight: it began outside the phase.
            }
            (slot, core::mem::take(&mut entry.call))
        }
    };
    // A call that began inside the phase but ends outside it (the call that closes the phase)
    // is not counted.
    if !measuring(slot) || slot >= MAX_TRACED_PROCESSES {
        return;
    }
    count_syscall(slot, tid, call, ret);
}

/// Adds one completed syscall `nr` of process `slot` to the figures.
#[inline(always)]
fn count_syscall(slot: u32, tid: u32, call: SyscallInFlight, ret: i64) {
    let SyscallInFlight {
        nr,
        start_ns,
        off_cpu_ns,
        arg,
        fd,
    } = call;
    // SAFETY: a helper without arguments.
    let took = unsafe { bpf_ktime_get_ns() }.wrapping_sub(start_ns);
    let index = syscall_index(
        slot,
        if nr < SYSCALL_NR_OTHER as u64 {
            nr as u32
        } else {
            SYSCALL_NR_OTHER
        },
    );
    if let Some(stat) = SYSCALLS.get_ptr_mut(index) {
        // SAFETY: `stat` points at a live per-CPU map value; only its u64 fields are touched.
        unsafe {
            add(&raw mut (*stat).count, 1);
            add(&raw mut (*stat).total_ns, took);
            if ret > 0 {
                add(&raw mut (*stat).ret_sum, ret as u64);
            } else if ret == 0 && SENDS_RETURNING_ZERO.contains(&nr) {
                add(&raw mut (*stat).ret_sum, arg);
            } else if ret < 0 {
                add(&raw mut (*stat).errors, 1);
            }
        }
    }
    if let Some(histogram) = LATENCY.get_ptr_mut(index) {
        let bucket = latency_bucket(took);
        // SAFETY: a live array element shared by all CPUs, hence the atomic add; the bucket
        // index is below LATENCY_BUCKETS.
        unsafe {
            let counter = (&raw mut (*histogram).buckets)
                .cast::<u64>()
                .add(bucket & (LATENCY_BUCKETS - 1));
            atomic_add(counter, 1);
        }
    }
    if off_cpu_ns != 0 {
        if let Some(sched) = SCHED.get_ptr_mut(slot) {
            // SAFETY: a live per-CPU array element for this slot; only this CPU writes it.
            unsafe { add(&raw mut (*sched).off_cpu_in_syscall_ns, off_cpu_ns) };
        }
    }
    if ret == 0 && (nr == EXEC_SYSCALLS[0] || nr == EXEC_SYSCALLS[1]) {
        renamed(slot);
    }
    if nr == futex::SYSCALL || MAPPING_CHANGES.contains(&nr) || FDS_REPLACED.contains(&nr) {
        shared_memory::on_call(slot, &call, took, ret);
    }
    // A futex call keeps its word's address where a descriptor would be.
    if (fd != NO_FD && nr != futex::SYSCALL) || FDS_REPLACED.contains(&nr) {
        channels::on_call(slot, tid, &call, took, ret);
    }
}

/// The process in `slot` ran `execve`: its slot takes the new command name.
#[inline(always)]
fn renamed(slot: u32) {
    if let (Some(info), Ok(comm)) = (PROCESSES.get_ptr_mut(slot), bpf_get_current_comm()) {
        // SAFETY: a live array element; only this process's own events write its slot.
        unsafe { (*info).comm = comm };
    }
}
