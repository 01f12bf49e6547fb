//! The loaded eBPF object: its programs, attached only for the traced run, and its maps.

use std::path::PathBuf;

use anyhow::Context;
use aya::maps::{Array, MapData, PerCpuArray, PerCpuValues};
use aya::programs::{BtfTracePoint, RawTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};
use ipc_ebpf::{
    map_names, LatencyHistogram, OnCpu, SchedStat, SyscallStat, MAX_HASHED_THREADS, SYSCALL_SLOTS,
};

use super::ebpf_programs::{
    check_layout, load_btf, load_btf_sched, load_raw, load_sched_tracepoints, load_tracepoint,
    load_tracepoints, ProgramSpec, BTF_SCHED_PROGRAMS, RAW_SYSCALL_PROGRAMS, SCHED_PROCESS_EXIT,
    SCHED_PROCESS_FORK, SCHED_SWITCH, SCHED_WAKEUP, SKB_COPY, SKB_COPY_BTF, SYSCALL_PROGRAMS,
};
use super::registry::Registry;
use super::{btf, ebpf_log, tracefs};
use crate::result::{SchedAttach, SyscallAttach};

/// The eBPF object kept in the repository, rebuilt by `cargo xtask build-ebpf`.
static OBJECT: &[u8] = aya::include_bytes_aligned!("../../../ipc-ebpf/ipc-ebpf.bpf.o");

/// Loaded programs and maps. Dropping it detaches every program and frees every map.
pub struct Tracer {
    /// The attached programs' links: dropping one detaches its program (first, before the
    /// programs themselves go with `ebpf`).
    links: Vec<Box<dyn std::any::Any>>,
    ebpf: Ebpf,
    tracefs: PathBuf,
    /// Whether `sched_switch` is available (context switches, off-CPU time).
    pub sched_available: bool,
    /// Whether `sched_wakeup` is available too (wake-ups, wake-to-run delay).
    pub wakeup_available: bool,
    /// Whether `sched_process_fork` is available (children of a traced program are followed).
    pub fork_available: bool,
    /// Whether `sched_process_exit` is available (exited threads stop being traced).
    exit_available: bool,
    /// Whether `skb_copy_datagram_iovec` is available (bytes copied out of socket buffers).
    pub skb_available: bool,
    /// Whether that program is attached as tp_btf (else as a tracepoint).
    skb_btf: bool,
    /// How the syscall programs are attached.
    pub syscalls_via: SyscallAttach,
    /// How the scheduler programs (`sched_switch`, `sched_wakeup`) are attached.
    pub sched_via: SchedAttach,
    registry: Registry,
    /// The eBPF programs' log, with `--ebpf-log`.
    log: Option<ebpf_log::Logger>,
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
    /// Whether `sched_wakeup` was attached (else the wake-up figures are unknown, not zero).
    pub wakeups_counted: bool,
    /// Bytes copied out of socket buffers, when `skb_copy_datagram_iovec` was attached.
    pub socket_bytes: Option<u64>,
}

impl Tracer {
    /// Checks privileges and the kernel, and loads the object (nothing is attached yet).
    pub fn load(attach: Attach, ebpf_log: bool) -> anyhow::Result<Self> {
        super::privileges::check()?;
        let tracefs = tracefs::ensure_mounted()?;
        let sched_available = tracefs::has_event(&tracefs, "sched", "sched_switch");
        if !sched_available {
            eprintln!("ipc-profiler: sched:sched_switch is missing on this kernel: context switches and off-CPU time are unavailable");
        }
        let wakeup_available =
            sched_available && tracefs::has_event(&tracefs, "sched", "sched_wakeup");
        if sched_available && !wakeup_available {
            eprintln!("ipc-profiler: sched:sched_wakeup is missing on this kernel: wake-ups are unavailable");
        }
        let fork_available = tracefs::has_event(&tracefs, "sched", "sched_process_fork");
        let exit_available = tracefs::has_event(&tracefs, "sched", "sched_process_exit");
        if fork_available {
            check_layout(&tracefs, &SCHED_PROCESS_FORK)?;
        }
        let skb_available = tracefs::has_event(&tracefs, "skb", "skb_copy_datagram_iovec");

        raise_memlock_limit();
        // `--attach tp` asks for tracepoints everywhere; otherwise the scheduler programs try
        // tp_btf, which needs the kernel's BTF (for the types and for task_struct.pid).
        let kernel_btf = match attach {
            Attach::Tp => None,
            _ => kernel_btf(),
        };
        let pid_offset = kernel_btf.as_ref().map_or(0, |(_, offset)| *offset);
        let table_len = thread_table_len();
        let mut loader = EbpfLoader::new();
        // The loader reads the kernel's BTF too unless it is given the copy already parsed.
        if let Some((btf, _)) = &kernel_btf {
            loader.btf(Some(btf));
        }
        let mut ebpf = loader
            .map_max_entries(map_names::THREAD_TABLE, table_len.unwrap_or(1))
            .map_max_entries(map_names::THREADS, if table_len.is_some() { 1 } else { MAX_HASHED_THREADS })
            .override_global("THREADS_BY_INDEX", &u32::from(table_len.is_some()), true)
            .override_global("TASK_PID_OFFSET", &pid_offset, true)
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
        let sched_via = match (&kernel_btf, sched_available) {
            (Some((btf, _)), true) => match load_btf_sched(&mut ebpf, btf, wakeup_available) {
                Ok(()) => SchedAttach::TpBtf,
                Err(error) => {
                    eprintln!("ipc-profiler: tp_btf is refused here ({error:#}); using tracepoints for the scheduler");
                    load_sched_tracepoints(&mut ebpf, &tracefs, wakeup_available)?;
                    SchedAttach::Tp
                }
            },
            _ => {
                if sched_available {
                    load_sched_tracepoints(&mut ebpf, &tracefs, wakeup_available)?;
                }
                SchedAttach::Tp
            }
        };
        if fork_available {
            load_tracepoint(&mut ebpf, SCHED_PROCESS_FORK.name)?;
        }
        if exit_available {
            load_tracepoint(&mut ebpf, SCHED_PROCESS_EXIT.name)?;
        }
        // The socket-copy program follows the scheduler's: tp_btf when that worked.
        let skb_btf = skb_available
            && sched_via == SchedAttach::TpBtf
            && kernel_btf.as_ref().is_some_and(|(btf, _)| {
                load_btf(&mut ebpf, btf, SKB_COPY_BTF, SKB_COPY.event).is_ok()
            });
        if skb_available && !skb_btf {
            check_layout(&tracefs, &SKB_COPY)?;
            load_tracepoint(&mut ebpf, SKB_COPY.name)?;
        }
        let syscalls_via = match attach {
            Attach::RawTp => {
                load_raw(&mut ebpf)?;
                SyscallAttach::RawTp
            }
            Attach::Tp => {
                load_tracepoints(&mut ebpf, &tracefs)?;
                SyscallAttach::Tp
            }
            Attach::Auto => match load_raw(&mut ebpf) {
                Ok(()) => SyscallAttach::RawTp,
                Err(error) => {
                    eprintln!("ipc-profiler: raw tracepoints are refused here ({error:#}); using tracepoints");
                    load_tracepoints(&mut ebpf, &tracefs)?;
                    SyscallAttach::Tp
                }
            },
        };
        Ok(Self {
            ebpf,
            tracefs,
            sched_available,
            wakeup_available,
            fork_available,
            exit_available,
            skb_available,
            skb_btf,
            syscalls_via,
            sched_via,
            registry,
            links: Vec::new(),
            log,
        })
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
        flag.set(0, u32::from(on && self.sched_available), 0)?;
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
        let mut tracepoints: Vec<&ProgramSpec> = Vec::new();
        let mut btf_programs: Vec<(&'static str, &'static str)> = Vec::new();
        if self.sched_via == SchedAttach::Tp {
            if self.sched_available {
                tracepoints.push(&SCHED_SWITCH);
            }
            if self.wakeup_available {
                tracepoints.push(&SCHED_WAKEUP);
            }
        } else {
            let wanted = if self.wakeup_available { 2 } else { 1 };
            btf_programs.extend_from_slice(&BTF_SCHED_PROGRAMS[..wanted]);
        }
        if self.fork_available {
            tracepoints.push(&SCHED_PROCESS_FORK);
        }
        if self.exit_available {
            tracepoints.push(&SCHED_PROCESS_EXIT);
        }
        if self.skb_btf {
            btf_programs.push((SKB_COPY_BTF, SKB_COPY.event));
        } else if self.skb_available {
            tracepoints.push(&SKB_COPY);
        }
        for (name, event) in btf_programs {
            let program: &mut BtfTracePoint = self
                .ebpf
                .program_mut(name)
                .context("program vanished")?
                .try_into()?;
            let id = program
                .attach()
                .with_context(|| format!("could not attach tp_btf {event}"))?;
            self.links.push(Box::new(program.take_link(id)?));
        }
        if self.syscalls_via == SyscallAttach::Tp {
            tracepoints.extend(SYSCALL_PROGRAMS.iter());
        } else {
            for (name, tracepoint) in RAW_SYSCALL_PROGRAMS {
                let program: &mut RawTracePoint = self
                    .ebpf
                    .program_mut(name)
                    .context("program vanished")?
                    .try_into()?;
                let id = program
                    .attach(tracepoint)
                    .with_context(|| format!("could not attach to raw tracepoint {tracepoint}"))?;
                self.links.push(Box::new(program.take_link(id)?));
            }
        }
        for spec in tracepoints {
            let program: &mut TracePoint = self
                .ebpf
                .program_mut(spec.name)
                .context("program vanished")?
                .try_into()?;
            let id = program.attach(spec.category, spec.event).with_context(|| {
                format!(
                    "could not attach to tracepoint {}:{} (tracefs at {})",
                    spec.category,
                    spec.event,
                    self.tracefs.display()
                )
            })?;
            self.links.push(Box::new(program.take_link(id)?));
        }
        // Threads switched out inside a syscall are now noticed: the fast path is safe.
        self.set_fast_path(true)
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
        let sched = if self.sched_available {
            let map: PerCpuArray<&MapData, SchedStat> =
                PerCpuArray::try_from(self.ebpf.map(map_names::SCHED).context("no SCHED map")?)?;
            let values = map.get(&slot, 0)?;
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
                    }),
            )
        } else {
            None
        };
        let socket_bytes = if self.skb_available {
            let map: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(
                self.ebpf
                    .map(map_names::SKB_COPIED)
                    .context("no SKB_COPIED map")?,
            )?;
            Some(map.get(&slot, 0)?.iter().sum())
        } else {
            None
        };
        Ok(SlotCounts {
            syscalls: per_nr,
            latency,
            sched,
            wakeups_counted: self.wakeup_available,
            socket_bytes,
        })
    }
}

/// The largest `pid_max` for which the threads live in an array indexed by thread id
/// (56 bytes an entry: 14 MiB at most).
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

/// The kernel's BTF and `task_struct.pid`'s offset in it, if the kernel has BTF.
fn kernel_btf() -> Option<(Btf, u32)> {
    let raw = std::fs::read(btf::VMLINUX).ok()?;
    let offset = btf::member_offset(&raw, "task_struct", "pid")?;
    Some((Btf::parse(&raw, aya::Endianness::default()).ok()?, offset))
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
