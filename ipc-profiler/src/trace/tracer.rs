//! The loaded eBPF object: its programs, attached only for the traced run, and its maps.

use std::path::PathBuf;

use anyhow::Context;
use aya::maps::{Array, MapData, PerCpuArray, PerCpuValues};
use aya::{Btf, Ebpf, EbpfLoader};
use ipc_ebpf::{
    map_names, EndInfo, EndSizes, EndStat, EndTurns, IoUringStat, KernelOffsets, LatencyHistogram,
    OnCpu, SampleStat, SchedStat, SyscallStat, WordStat, MAX_HASHED_THREADS, SYSCALL_SLOTS,
};

use super::channel_group::{self, EndFigures};
use super::ebpf_programs::{self, Feature, Kind, Link, Loaded};
use super::registry::Registry;
use super::{btf, ebpf_log, kernel_offsets, sampling, tracefs};
use crate::result::{SchedAttach, SyscallAttach};

/// The eBPF object kept in the repository, rebuilt by `cargo xtask build-ebpf`.
pub(super) static OBJECT: &[u8] = aya::include_bytes_aligned!("../../../ipc-ebpf/ipc-ebpf.bpf.o");

/// Loaded programs and maps. Dropping it detaches every program and frees every map.
pub struct Tracer {
    /// The attached programs' links: dropping one detaches its program (first, before the
    /// programs themselves go with `ebpf`).
    links: Vec<Link>,
    ebpf: Ebpf,
    tracefs: PathBuf,
    /// Which features' programs loaded, and as which kind.
    loaded: Loaded,
    /// How the syscall programs are attached.
    pub syscalls_via: SyscallAttach,
    /// How the scheduler programs (`sched_switch`, `sched_waking`) are attached.
    pub sched_via: SchedAttach,
    registry: Registry,
    /// The eBPF programs' log, with `--ebpf-log`.
    log: Option<ebpf_log::Logger>,
    /// Why IPC channels cannot be followed here, when they cannot.
    channels_unavailable: Option<String>,
    /// Whether the CPU-clock sampler loaded.
    sampling: bool,
}

/// How the syscall programs attach to `raw_syscalls:sys_enter/sys_exit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Attach {
    /// Raw tracepoints where the kernel allows them, else tracepoints.
    Auto,
    /// Tracepoints: the kernel builds the event record for the program.
    Tp,
    /// Raw tracepoints: the program gets the arguments directly (cheaper).
    RawTp,
}

/// Per-process figures read back from the maps.
#[derive(Debug, Clone)]
pub struct SlotCounts {
    /// Per syscall number (index = number; the last slot collects the rest).
    pub syscalls: Vec<SyscallStat>,
    /// Log2 latency histogram per syscall number, indexed as `syscalls`.
    pub latency: Vec<LatencyHistogram>,
    /// Scheduler figures, when `sched_switch` was attached.
    pub sched: Option<SchedStat>,
    /// The CPU its threads ran on longest, when `sched_switch` was attached and it ran.
    pub main_cpu: Option<u32>,
    /// Whether `sched_waking` was attached (else the wake-up figures are unknown, not zero).
    pub wakeups_counted: bool,
    /// Whether `sched_migrate_task` was attached (else migrations are unknown, not zero).
    pub migrations_counted: bool,
    /// Bytes copied out of socket buffers, when `skb_copy_datagram_iovec` was attached.
    pub socket_bytes: Option<u64>,
    /// io_uring requests submitted and completions posted, when io_uring's tracepoints were
    /// attached.
    pub io_uring: Option<IoUringStat>,
}

impl Tracer {
    /// Checks privileges and the kernel, and loads the object (nothing is attached yet).
    pub fn load(attach: Attach, ebpf_log: bool) -> anyhow::Result<Self> {
        super::privileges::check()?;
        let tracefs = tracefs::ensure_mounted()?;
        raise_memlock_limit();
        // `--attach tp` asks for tracepoints everywhere; otherwise tp_btf programs are tried
        // first, which needs the kernel's BTF (for the types and for task_struct.pid).
        let kernel_btf = match attach {
            Attach::Tp => None,
            _ => kernel_btf(),
        };
        let pid_offset = kernel_btf.as_ref().map_or(0, |btf| btf.pid_offset);
        let channel_offsets = match &kernel_btf {
            Some(btf) => btf.channels.clone(),
            None if attach == Attach::Tp => Err("`--attach tp`, which reads no BTF".to_string()),
            None => Err(format!("no BTF at {}", btf::VMLINUX)),
        };
        let channels_unavailable = channel_offsets.as_ref().err().map(|why| {
            if why.contains('.') {
                kernel_offsets::unavailable(why)
            } else {
                format!("IPC channels cannot be found ({why}), only syscalls counted")
            }
        });
        if let Ok(offsets) = &channel_offsets {
            if !offsets.follows_shared_memory() {
                eprintln!(
                    "note: shared memory is not followed on this kernel (it lacks bpf_find_vma, \
                     Linux 5.17 and later, or its BTF does not describe vm_area_struct): \
                     channels show descriptors and queues only"
                );
            }
        }
        let table_len = thread_table_len();
        let mut loader = EbpfLoader::new();
        // The loader reads the kernel's BTF too unless it is given the copy already parsed.
        if let Some(kernel) = &kernel_btf {
            loader.btf(Some(&kernel.btf));
        }
        let offsets = channel_offsets.unwrap_or_default();
        let mut ebpf = loader
            .map_max_entries(map_names::THREAD_TABLE, table_len.unwrap_or(1))
            .map_max_entries(map_names::THREADS, if table_len.is_some() { 1 } else { MAX_HASHED_THREADS })
            .override_global("THREADS_BY_INDEX", &u32::from(table_len.is_some()), true)
            .override_global("TASK_PID_OFFSET", &pid_offset, true)
            .override_global("CHANNEL_OFFSETS", &offsets, true)
            .override_global(aya_log::LEVEL, &ebpf_log::level(ebpf_log), false)
            .load(OBJECT)
            .map_err(|e| {
                anyhow::anyhow!("the kernel refused the eBPF object ({e}); is BPF enabled (CONFIG_BPF_SYSCALL) and not locked down?")
            })?;
        let registry = Registry::take_from(&mut ebpf, table_len.is_some())?;
        let log = if ebpf_log {
            Some(
                aya_log::EbpfLogger::init_with_logger(&mut ebpf, ebpf_log::StderrLog)
                    .context("could not read the eBPF programs' log")?,
            )
        } else {
            None
        };
        let btf = kernel_btf.as_ref().map(|kernel| &kernel.btf);
        let loaded = ebpf_programs::load_all(&mut ebpf, &tracefs, btf, attach)?;
        let sampling = match sampling::load(&mut ebpf) {
            Ok(()) => true,
            Err(why) => {
                eprintln!("note: CPU-clock samples unavailable ({why}): a busy-wait cannot be told from computing");
                false
            }
        };
        let syscalls_via = match loaded.kind(Feature::Syscalls) {
            Some(Kind::Tp) => SyscallAttach::Tp,
            Some(Kind::TpBtf) => SyscallAttach::TpBtf,
            _ => SyscallAttach::RawTp,
        };
        let sched_via = match loaded.kind(Feature::Switches) {
            Some(Kind::TpBtf) => SchedAttach::TpBtf,
            _ => SchedAttach::Tp,
        };
        Ok(Self {
            ebpf,
            tracefs,
            loaded,
            syscalls_via,
            sched_via,
            registry,
            links: Vec::new(),
            sampling,
            log,
            channels_unavailable,
        })
    }

    /// Why IPC channels cannot be followed on this kernel, when they cannot.
    pub fn channels_unavailable(&self) -> Option<&str> {
        self.channels_unavailable.as_deref()
    }

    /// Every end the kernel side found (a process's descriptor onto an open file, from its
    /// first use to its close) with its figures summed over CPUs.
    pub fn ends(&self) -> anyhow::Result<Vec<EndFigures>> {
        let map = |name: &str| {
            self.ebpf
                .map(name)
                .with_context(|| format!("no {name} map"))
        };
        let claims: aya::maps::HashMap<&MapData, u32, u32> =
            aya::maps::HashMap::try_from(map(map_names::END_CLAIMS)?)?;
        let infos: Array<&MapData, EndInfo> = Array::try_from(map(map_names::ENDS)?)?;
        let stats: PerCpuArray<&MapData, EndStat> =
            PerCpuArray::try_from(map(map_names::END_STATS)?)?;
        let sizes: Array<&MapData, EndSizes> = Array::try_from(map(map_names::END_SIZES)?)?;
        let turns: Array<&MapData, EndTurns> = Array::try_from(map(map_names::END_TURNS)?)?;
        let words: aya::maps::HashMap<&MapData, [u64; 2], WordStat> =
            aya::maps::HashMap::try_from(map(map_names::FUTEX_WORDS)?)?;
        let mut words_of: std::collections::BTreeMap<u32, Vec<(u64, WordStat)>> =
            std::collections::BTreeMap::new();
        for entry in words.iter() {
            let ([end, offset], stat) = entry?;
            words_of.entry(end as u32).or_default().push((offset, stat));
        }
        let mut ends: Vec<u32> = claims.keys().collect::<Result<_, _>>()?;
        ends.sort_unstable();
        ends.into_iter()
            .map(|end| {
                let mut stat = EndStat::default();
                for cpu in stats.get(&end, 0)?.iter() {
                    channel_group::add_cpu(&mut stat, cpu);
                }
                Ok(EndFigures {
                    info: infos.get(&end, 0)?,
                    stat,
                    sizes: sizes.get(&end, 0)?,
                    turns: turns.get(&end, 0)?.buckets,
                    words: words_of.remove(&end).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Switches the per-CPU syscall fast path on or off, clearing its records: it is only
    /// right while `sched_switch` is traced (a thread leaving the CPU inside a syscall must take
    /// its call along).
    fn set_fast_path(&mut self, on: bool) -> anyhow::Result<()> {
        let mut records: PerCpuArray<&mut MapData, OnCpu> = PerCpuArray::try_from(
            self.ebpf
                .map_mut(map_names::ON_CPU)
                .context("no ON_CPU map")?,
        )?;
        let cpus = aya::util::nr_cpus().map_err(|(_, e)| e)?;
        records.set(0, PerCpuValues::try_from(vec![OnCpu::default(); cpus])?, 0)?;
        let mut flag: Array<&mut MapData, u32> = Array::try_from(
            self.ebpf
                .map_mut(map_names::SWITCHES_TRACED)
                .context("no SWITCHES_TRACED map")?,
        )?;
        flag.set(0, u32::from(on && self.loaded.has(Feature::Switches)), 0)?;
        Ok(())
    }

    /// Detaches every attached program (the maps and their contents stay).
    pub fn detach(&mut self) -> anyhow::Result<()> {
        self.flush_log();
        self.set_fast_path(false)?;
        self.links.clear();
        Ok(())
    }

    /// Attaches every loaded program.
    pub fn attach(&mut self) -> anyhow::Result<()> {
        self.links = ebpf_programs::attach_all(&mut self.ebpf, &self.loaded, &self.tracefs)?;
        if self.sampling {
            match sampling::attach(&mut self.ebpf) {
                Ok(links) => self.links.extend(links.into_iter().map(Link::Perf)),
                Err(why) => {
                    eprintln!("note: CPU-clock samples unavailable ({why:#}): a busy-wait cannot be told from computing");
                    self.sampling = false;
                }
            }
        }
        // Threads switched out inside a syscall are now noticed: the fast path is safe.
        self.set_fast_path(true)
    }

    /// Where the CPU-clock samples found process `slot`'s threads, summed over CPUs; `None`
    /// when the sampler is not running.
    pub fn samples(&self, slot: u32) -> anyhow::Result<Option<SampleStat>> {
        if !self.sampling {
            return Ok(None);
        }
        let map: PerCpuArray<&MapData, SampleStat> = PerCpuArray::try_from(
            self.ebpf
                .map(map_names::SAMPLES)
                .context("no SAMPLES map")?,
        )?;
        let mut total = SampleStat::default();
        for cpu in map.get(&slot, 0)?.iter() {
            total.samples += cpu.samples;
            total.user_samples += cpu.user_samples;
            total.pause_samples += cpu.pause_samples;
        }
        Ok(Some(total))
    }

    /// Each process slot's user-mode samples by instruction address, most sampled first; empty
    /// when the sampler is not running.
    pub fn sampled_addresses(
        &self,
    ) -> anyhow::Result<std::collections::HashMap<u32, Vec<(u64, u64)>>> {
        let mut by_slot: std::collections::HashMap<u32, Vec<(u64, u64)>> = Default::default();
        if !self.sampling {
            return Ok(by_slot);
        }
        let map: aya::maps::HashMap<&MapData, [u64; 2], u64> = aya::maps::HashMap::try_from(
            self.ebpf
                .map(map_names::SAMPLED_ADDRESSES)
                .context("no SAMPLED_ADDRESSES map")?,
        )?;
        for entry in map.iter() {
            let ([slot, ip], samples) = entry?;
            by_slot.entry(slot as u32).or_default().push((ip, samples));
        }
        for addresses in by_slot.values_mut() {
            addresses.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        Ok(by_slot)
    }

    /// What the kernel side traces: registrations and phases.
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Prints what the eBPF programs logged since the last call (with `--ebpf-log`).
    pub fn flush_log(&mut self) {
        if let Some(log) = &mut self.log {
            log.flush();
        }
    }

    /// Sums the per-CPU figures of process slot `slot`.
    pub fn counts(&self, slot: u32) -> anyhow::Result<SlotCounts> {
        let syscalls: PerCpuArray<&MapData, SyscallStat> = PerCpuArray::try_from(
            self.ebpf
                .map(map_names::SYSCALLS)
                .context("no SYSCALLS map")?,
        )?;
        let histograms: Array<&MapData, LatencyHistogram> = Array::try_from(
            self.ebpf
                .map(map_names::LATENCY)
                .context("no LATENCY map")?,
        )?;
        let mut per_nr = Vec::with_capacity(SYSCALL_SLOTS as usize);
        let mut latency = Vec::with_capacity(SYSCALL_SLOTS as usize);
        for nr in 0..SYSCALL_SLOTS {
            let index = ipc_ebpf::syscall_index(slot, nr);
            latency.push(histograms.get(&index, 0)?);
            let values = syscalls.get(&index, 0)?;
            per_nr.push(
                values
                    .iter()
                    .fold(SyscallStat::default(), |sum, v| SyscallStat {
                        count: sum.count + v.count,
                        total_ns: sum.total_ns + v.total_ns,
                        ret_sum: sum.ret_sum + v.ret_sum,
                        errors: sum.errors + v.errors,
                    }),
            );
        }
        let mut main_cpu = None;
        let sched = if self.loaded.has(Feature::Switches) {
            let map: PerCpuArray<&MapData, SchedStat> =
                PerCpuArray::try_from(self.ebpf.map(map_names::SCHED).context("no SCHED map")?)?;
            let values = map.get(&slot, 0)?;
            main_cpu = longest_on(values.iter().map(|v| v.on_cpu_ns));
            Some(
                values
                    .iter()
                    .fold(SchedStat::default(), |sum, v| SchedStat {
                        voluntary_switches: sum.voluntary_switches + v.voluntary_switches,
                        involuntary_switches: sum.involuntary_switches + v.involuntary_switches,
                        off_cpu_ns: sum.off_cpu_ns + v.off_cpu_ns,
                        off_cpu_in_syscall_ns: sum.off_cpu_in_syscall_ns + v.off_cpu_in_syscall_ns,
                        wakeups: sum.wakeups + v.wakeups,
                        wake_to_run_ns: sum.wake_to_run_ns + v.wake_to_run_ns,
                        on_cpu_ns: sum.on_cpu_ns + v.on_cpu_ns,
                        migrations: sum.migrations + v.migrations,
                    }),
            )
        } else {
            None
        };
        let socket_bytes = if self.loaded.has(Feature::SocketCopies) {
            let map: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(
                self.ebpf
                    .map(map_names::SKB_COPIED)
                    .context("no SKB_COPIED map")?,
            )?;
            Some(map.get(&slot, 0)?.iter().sum())
        } else {
            None
        };
        let io_uring = if self.loaded.has(Feature::IoUring) {
            let map: PerCpuArray<&MapData, IoUringStat> = PerCpuArray::try_from(
                self.ebpf
                    .map(map_names::IO_URING)
                    .context("no IO_URING map")?,
            )?;
            Some(
                map.get(&slot, 0)?
                    .iter()
                    .fold(IoUringStat::default(), |sum, v| IoUringStat {
                        submissions: sum.submissions + v.submissions,
                        completions: sum.completions + v.completions,
                    }),
            )
        } else {
            None
        };
        Ok(SlotCounts {
            syscalls: per_nr,
            latency,
            sched,
            main_cpu,
            wakeups_counted: self.loaded.has(Feature::Wakeups),
            migrations_counted: self.loaded.has(Feature::Migrations),
            socket_bytes,
            io_uring,
        })
    }
}

/// The CPU (index) with the most on-CPU time of `per_cpu`, when any has some.
fn longest_on(per_cpu: impl Iterator<Item = u64>) -> Option<u32> {
    per_cpu
        .enumerate()
        .filter(|&(_, ns)| ns > 0)
        .max_by_key(|&(cpu, ns)| (ns, std::cmp::Reverse(cpu)))
        .map(|(cpu, _)| cpu as u32)
}

/// The largest `pid_max` for which the threads live in an array indexed by thread id
/// (72 bytes an entry: 18 MiB at most).
const MAX_TABLE_LEN: u32 = 1 << 18;

/// Entries of a thread table indexed by thread id, if this kernel's `pid_max` allows one.
/// `IPC_PROFILER_THREADS=hash` forces the hash map (the tests use it to cover both).
fn thread_table_len() -> Option<u32> {
    if std::env::var_os("IPC_PROFILER_THREADS").is_some_and(|v| v == "hash") {
        return None;
    }
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (pid_max <= MAX_TABLE_LEN).then_some(pid_max)
}

/// What the tracer takes from the kernel's BTF.
struct KernelBtf {
    btf: Btf,
    /// `task_struct.pid`'s offset.
    pid_offset: u32,
    /// The channel lookup's offsets, or the first field missing.
    channels: Result<KernelOffsets, String>,
}

/// The kernel's BTF and the offsets found in it, if the kernel has BTF.
fn kernel_btf() -> Option<KernelBtf> {
    let raw = std::fs::read(btf::VMLINUX).ok()?;
    let pid_offset = btf::member_offset(&raw, "task_struct", "pid")?;
    Some(KernelBtf {
        btf: Btf::parse(&raw, aya::Endianness::default()).ok()?,
        pid_offset,
        channels: kernel_offsets::channel_offsets(&raw),
    })
}

/// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; later ones ignore it. Raising it
/// can fail without CAP_SYS_RESOURCE, which is harmless on those later kernels.
fn raise_memlock_limit() {
    let unlimited = rustix::process::Rlimit {
        current: None,
        maximum: None,
    };
    let _ = rustix::process::setrlimit(rustix::process::Resource::Memlock, unlimited);
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.flush_log();
    }
}

#[cfg(test)]
#[path = "../../../tests/common/kernel_objects.rs"]
mod kernel_objects;

#[cfg(test)]
mod tests {
    use super::kernel_objects::{kernel_objects, links, made_since};
    use super::*;

    /// Attach/detach cycles the leak test runs: 100 by default (a cycle takes about 175 ms
    /// here, most of it the kernel detaching), `IPC_PROFILER_LEAK_CYCLES=1000` for the long run.
    fn leak_cycles() -> usize {
        std::env::var("IPC_PROFILER_LEAK_CYCLES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100)
    }

    #[test]
    fn the_main_cpu_is_the_one_with_the_most_on_cpu_time() {
        assert_eq!(
            longest_on([0, 5, 9, 9].into_iter()),
            Some(2),
            "a tie: the lower"
        );
        assert_eq!(longest_on([0, 0].into_iter()), None, "never ran");
    }

    #[test]
    fn attach_detach_cycles_leave_nothing_in_the_kernel() {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test loads eBPF programs and must run as root (CI does): `sudo cargo test`"
        );
        let before = kernel_objects();
        {
            let mut tracer = Tracer::load(Attach::Auto, false).unwrap();
            assert!(
                links(&made_since(&before)).is_empty(),
                "loading attaches nothing"
            );
            for cycle in 0..leak_cycles() {
                tracer.attach().unwrap();
                tracer.detach().unwrap();
                if cycle % 10 == 0 {
                    let left = made_since(&before);
                    assert!(links(&left).is_empty(), "cycle {cycle} left a link");
                }
            }
            tracer.attach().unwrap();
            assert!(!links(&made_since(&before)).is_empty(), "attach made links");
        }
        // Dropping the tracer detaches and unloads everything; the kernel frees programs and
        // maps once their last reference goes, at once usually; a program attached through
        // a trampoline (tp_btf) waits for an RCU tasks grace period first. A leak never goes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        while !made_since(&before).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(
            made_since(&before),
            Vec::<String>::new(),
            "programs, maps and links left"
        );
    }
}
