//! Which threads and processes the kernel side traces, and whose measured phase is open.
//!
//! Userspace registers the first processes (a benchmark's workers, a `--pid`, a started
//! command): one `THREADS` entry per thread, a `PROCESSES` slot, the phase flag. Threads and
//! processes they start are added by the kernel side as they appear.

use anyhow::Context;
use aya::maps::{Array, HashMap, MapData};
use aya::Ebpf;
use ipc_ebpf::{map_names, ProcessSlot, ThreadState, SHARED_SLOT};

/// The maps that say what is traced.
pub struct Registry {
    threads: Threads,
    phase: Array<MapData, u32>,
    processes: Array<MapData, ProcessSlot>,
    next_slot: Array<MapData, u64>,
    claims: HashMap<MapData, u32, u32>,
}

/// Where the kernel side keeps its traced threads.
enum Threads {
    /// A hash map keyed by thread id.
    Hash(HashMap<MapData, u32, ThreadState>),
    /// An array indexed by thread id (when `pid_max` is small enough).
    Table(Array<MapData, ThreadState>),
}

/// A process slot in use, read back at the end of a trace.
#[derive(Debug, Clone)]
pub struct SlotOwner {
    /// The slot.
    pub slot: u32,
    /// Who holds it.
    pub process: ProcessSlot,
}

impl Registry {
    /// Takes the registry maps out of the loaded object.
    pub fn take_from(ebpf: &mut Ebpf, by_index: bool) -> anyhow::Result<Self> {
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .with_context(|| format!("the eBPF object has no {name} map"))
        };
        Ok(Self {
            threads: if by_index {
                Threads::Table(Array::try_from(take(map_names::THREAD_TABLE)?)?)
            } else {
                Threads::Hash(HashMap::try_from(take(map_names::THREADS)?)?)
            },
            phase: Array::try_from(take(map_names::PHASE)?)?,
            processes: Array::try_from(take(map_names::PROCESSES)?)?,
            next_slot: Array::try_from(take(map_names::NEXT_SLOT)?)?,
            claims: HashMap::try_from(take(map_names::CLAIMS)?)?,
        })
    }

    /// Traces process `pid` (every thread it has now, and what it starts later) in `slot`.
    pub fn register(&mut self, pid: u32, slot: u32, parent_slot: u32) -> anyhow::Result<()> {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        // Descriptors cached under an earlier holder of the slot are stale.
        let fd_generation = self
            .processes
            .get(&slot, 0)
            .map_or(0, |old| old.fd_generation.wrapping_add(1));
        let mut process = ProcessSlot {
            tgid: pid,
            parent_slot,
            fd_generation,
            map_generation: fd_generation,
            comm: [0; 16],
        };
        let name = comm.trim_end().as_bytes();
        let n = name.len().min(15);
        process.comm[..n].copy_from_slice(&name[..n]);
        self.claims
            .insert(slot, pid, 0)
            .context("could not claim a process slot")?;
        self.processes
            .set(slot, process, 0)
            .context("could not record the traced process")?;
        // A thread running now is on a CPU from now on as far as the on-CPU figure goes; one
        // that is not has this overwritten when it next comes on (bpf_ktime_get_ns is
        // CLOCK_MONOTONIC).
        let entry = ThreadState {
            tgid: pid,
            slot,
            on_cpu_since_ns: monotonic_ns(),
            ..ThreadState::default()
        };
        for tid in threads_of(pid) {
            match &mut self.threads {
                Threads::Hash(map) => map.insert(tid, entry, 0),
                Threads::Table(table) => table.set(tid, entry, 0),
            }
            .context("could not register a thread with the tracer")?;
        }
        Ok(())
    }

    /// Opens or closes the measured phase of `slot`.
    pub fn set_phase(&mut self, slot: u32, measuring: bool) -> anyhow::Result<()> {
        self.phase
            .set(slot, u32::from(measuring), 0)
            .map_err(|e| anyhow::anyhow!("could not switch tracing for this process: {e}"))
    }

    /// Says that userspace uses slots `0..used`: the kernel side looks for free slots after
    /// them (each registration claims its slot).
    pub fn reserve_slots(&mut self, used: u32) -> anyhow::Result<()> {
        self.next_slot
            .set(0, u64::from(used), 0)
            .context("could not set the first free process slot")
    }

    /// The slots in use, in slot order: those claimed, and the shared last one if any process
    /// had to use it.
    pub fn owners(&self) -> anyhow::Result<Vec<SlotOwner>> {
        let mut slots: Vec<u32> = self.claims.keys().collect::<Result<_, _>>()?;
        if self.processes.get(&SHARED_SLOT, 0)?.tgid != 0 {
            slots.push(SHARED_SLOT);
        }
        slots.sort_unstable();
        slots.dedup();
        slots
            .into_iter()
            .map(|slot| {
                Ok(SlotOwner {
                    slot,
                    process: self.processes.get(&slot, 0)?,
                })
            })
            .collect()
    }
}

impl Registry {
    /// The time the threads of `tgid` traced in `slot` have been on a CPU since they last came
    /// onto one, up to `until_ns` (CLOCK_MONOTONIC), for those on one still: the scheduler
    /// programs add a stretch when it ends, and these have not ended (a process that spins
    /// from before it was traced to after would show none of its time otherwise). A thread
    /// asleep since it was registered still holds its registration time, but is not running
    /// (`/proc/PID/task/TID/stat`), so it adds nothing.
    pub fn still_on_cpu_ns(&self, tgid: u32, slot: u32, until_ns: u64) -> u64 {
        threads_of(tgid)
            .into_iter()
            .filter(|tid| running(tgid, *tid))
            .filter_map(|tid| {
                let entry = match &self.threads {
                    Threads::Hash(map) => map.get(&tid, 0).ok(),
                    Threads::Table(table) => table.get(&tid, 0).ok(),
                }?;
                let since = entry.on_cpu_since_ns;
                (entry.tgid == tgid && entry.slot == slot && since != 0 && since < until_ns)
                    .then(|| until_ns - since)
            })
            .sum()
    }
}

/// Whether thread `tid` of `pid` is running (or ready to), as /proc says: state `R`.
fn running(pid: u32, tid: u32) -> bool {
    state(&format!("/proc/{pid}/task/{tid}/stat")).is_some_and(|state| state == "R")
}

/// The scheduler state (`R`, `S`, `D`, ...) in the /proc `stat` file at `path`, if readable.
pub(super) fn state(path: &str) -> Option<String> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The state follows the command name, which is in parentheses and may hold any byte.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().next().map(str::to_string)
}

/// CLOCK_MONOTONIC now, in ns: the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The thread ids of `pid` now (just `pid` when /proc cannot say).
fn threads_of(pid: u32) -> Vec<u32> {
    let mut tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if !tids.contains(&pid) {
        tids.push(pid);
    }
    tids
}

/// A process's command name from a [`ProcessSlot`].
pub fn comm_of(process: &ProcessSlot) -> String {
    let end = process.comm.iter().position(|&b| b == 0).unwrap_or(16);
    String::from_utf8_lossy(&process.comm[..end]).into_owned()
}
