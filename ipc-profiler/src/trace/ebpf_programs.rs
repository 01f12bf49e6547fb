//! The programs of the eBPF object, one row each: what it counts, how it attaches, the kernel
//! event it needs and the record fields it reads. Loading (with fallbacks and messages),
//! attaching and detaching are loops over [`PROGRAMS`]; adding a program is a row here plus
//! its kernel code (docs/architecture.md has the recipe).

use anyhow::{bail, Context};
use aya::programs::raw_trace_point::RawTracePointLink;
use aya::programs::tp_btf::BtfTracePointLink;
use aya::programs::trace_point::TracePointLink;
use aya::programs::{BtfTracePoint, RawTracePoint, TracePoint};
use aya::{Btf, Ebpf};
use ipc_ebpf::offsets;

use super::tracefs;
use super::Attach;

/// What a group of programs lets the tracer count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// Syscalls and their time (required: without them there is nothing to trace).
    Syscalls,
    /// Context switches and off-CPU time.
    Switches,
    /// Wake-ups and wake-to-run delay (needs `Switches`).
    Wakeups,
    /// Moves of a traced thread from one CPU to another (needs `Switches`).
    Migrations,
    /// Processes a traced process starts are traced too.
    Forks,
    /// An exited thread stops being traced (its id may be reused).
    Exits,
    /// Bytes copied out of socket buffers.
    SocketCopies,
    /// io_uring's requests and completions.
    IoUring,
}

impl Feature {
    /// Every feature, in the order they are loaded (a feature after the one it needs).
    pub const ALL: [Feature; 8] = [
        Self::Syscalls,
        Self::Switches,
        Self::Wakeups,
        Self::Migrations,
        Self::Forks,
        Self::Exits,
        Self::SocketCopies,
        Self::IoUring,
    ];

    /// What the output lacks without it; `None` for the one trace cannot do without.
    fn without(self) -> Option<&'static str> {
        match self {
            Self::Syscalls => None,
            Self::Switches => Some("context switches and off-CPU time are unavailable"),
            Self::Wakeups => Some("wake-ups are unavailable"),
            Self::Migrations => Some("CPU migrations are unavailable"),
            Self::Forks => Some("processes started by a traced program are not followed"),
            Self::Exits => Some("a reused thread id could be counted as traced"),
            Self::SocketCopies => Some("bytes copied out of socket buffers are unavailable"),
            Self::IoUring => Some("io_uring requests and completions are unavailable"),
        }
    }

    /// The feature it builds on, if any.
    fn needs(self) -> Option<Feature> {
        match self {
            Self::Wakeups | Self::Migrations => Some(Self::Switches),
            _ => None,
        }
    }
}

/// How a program attaches to its kernel event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A raw tracepoint: the program gets the event's arguments directly.
    RawTp,
    /// `tp_btf`: called with the typed arguments through a trampoline; needs the kernel's BTF.
    TpBtf,
    /// A tracepoint: the kernel builds the event's record, read at checked offsets.
    Tp,
}

/// One program of the object.
pub struct Program {
    /// Its name in the object.
    pub name: &'static str,
    /// What it counts.
    pub feature: Feature,
    /// How it attaches.
    pub kind: Kind,
    /// The kernel event: tracefs category and event name.
    pub category: &'static str,
    /// The event (for a raw tracepoint and tp_btf, the kernel's tracepoint name).
    pub event: &'static str,
    /// Record fields a tracepoint program reads at fixed offsets: (field, offset, size).
    pub fields: &'static [(&'static str, usize, usize)],
}

/// Every program, a feature's rows in order of preference (the cheapest first).
pub const PROGRAMS: &[Program] = &[
    Program {
        name: "sys_enter_btf",
        feature: Feature::Syscalls,
        kind: Kind::TpBtf,
        category: "raw_syscalls",
        event: "sys_enter",
        fields: &[],
    },
    Program {
        name: "sys_exit_btf",
        feature: Feature::Syscalls,
        kind: Kind::TpBtf,
        category: "raw_syscalls",
        event: "sys_exit",
        fields: &[],
    },
    Program {
        name: "sys_enter_raw",
        feature: Feature::Syscalls,
        kind: Kind::RawTp,
        category: "raw_syscalls",
        event: "sys_enter",
        fields: &[],
    },
    Program {
        name: "sys_exit_raw",
        feature: Feature::Syscalls,
        kind: Kind::RawTp,
        category: "raw_syscalls",
        event: "sys_exit",
        fields: &[],
    },
    Program {
        name: "sys_enter",
        feature: Feature::Syscalls,
        kind: Kind::Tp,
        category: "raw_syscalls",
        event: "sys_enter",
        fields: &[
            ("id", offsets::SYS_ENTER_ID, 8),
            ("args", offsets::SYS_ENTER_ARGS, 48),
        ],
    },
    Program {
        name: "sys_exit",
        feature: Feature::Syscalls,
        kind: Kind::Tp,
        category: "raw_syscalls",
        event: "sys_exit",
        fields: &[
            ("id", offsets::SYS_EXIT_ID, 8),
            ("ret", offsets::SYS_EXIT_RET, 8),
        ],
    },
    Program {
        name: "sched_switch_btf",
        feature: Feature::Switches,
        kind: Kind::TpBtf,
        category: "sched",
        event: "sched_switch",
        fields: &[],
    },
    Program {
        name: "sched_switch",
        feature: Feature::Switches,
        kind: Kind::Tp,
        category: "sched",
        event: "sched_switch",
        fields: &[
            ("prev_pid", offsets::SWITCH_PREV_PID, 4),
            ("prev_state", offsets::SWITCH_PREV_STATE, 8),
            ("next_pid", offsets::SWITCH_NEXT_PID, 4),
        ],
    },
    Program {
        name: "sched_waking_btf",
        feature: Feature::Wakeups,
        kind: Kind::TpBtf,
        category: "sched",
        event: "sched_waking",
        fields: &[],
    },
    Program {
        name: "sched_waking",
        feature: Feature::Wakeups,
        kind: Kind::Tp,
        category: "sched",
        event: "sched_waking",
        fields: &[("pid", offsets::WAKEUP_PID, 4)],
    },
    Program {
        name: "sched_migrate_task_btf",
        feature: Feature::Migrations,
        kind: Kind::TpBtf,
        category: "sched",
        event: "sched_migrate_task",
        fields: &[],
    },
    Program {
        name: "sched_migrate_task",
        feature: Feature::Migrations,
        kind: Kind::Tp,
        category: "sched",
        event: "sched_migrate_task",
        fields: &[("pid", offsets::MIGRATE_PID, 4)],
    },
    Program {
        name: "sched_process_fork",
        feature: Feature::Forks,
        kind: Kind::Tp,
        category: "sched",
        event: "sched_process_fork",
        fields: &[("child_pid", offsets::FORK_CHILD_PID, 4)],
    },
    Program {
        name: "sched_process_exit",
        feature: Feature::Exits,
        kind: Kind::Tp,
        category: "sched",
        event: "sched_process_exit",
        // It reads no field: the exiting thread is the current one.
        fields: &[],
    },
    Program {
        name: "skb_copy_datagram_iovec_btf",
        feature: Feature::SocketCopies,
        kind: Kind::TpBtf,
        category: "skb",
        event: "skb_copy_datagram_iovec",
        fields: &[],
    },
    Program {
        name: "skb_copy_datagram_iovec",
        feature: Feature::SocketCopies,
        kind: Kind::Tp,
        category: "skb",
        event: "skb_copy_datagram_iovec",
        fields: &[("len", offsets::SKB_COPY_LEN, 4)],
    },
    Program {
        name: "io_uring_submit_req",
        feature: Feature::IoUring,
        kind: Kind::Tp,
        category: "io_uring",
        event: "io_uring_submit_req",
        // It reads no field: the submitting thread is the current one.
        fields: &[],
    },
    Program {
        name: "io_uring_complete",
        feature: Feature::IoUring,
        kind: Kind::Tp,
        category: "io_uring",
        event: "io_uring_complete",
        fields: &[],
    },
];

/// The features that loaded, and as which kind.
#[derive(Debug, Default)]
pub struct Loaded(Vec<(Feature, Kind)>);

impl Loaded {
    /// How `feature`'s programs were loaded, if they were.
    pub fn kind(&self, feature: Feature) -> Option<Kind> {
        self.0.iter().find(|(f, _)| *f == feature).map(|(_, k)| *k)
    }

    /// Whether `feature`'s programs were loaded.
    pub fn has(&self, feature: Feature) -> bool {
        self.kind(feature).is_some()
    }
}

/// An attached program; dropping it detaches the program.
pub enum Link {
    /// A tracepoint's link.
    Tp(#[allow(dead_code)] TracePointLink),
    /// A raw tracepoint's link.
    RawTp(#[allow(dead_code)] RawTracePointLink),
    /// A tp_btf program's link.
    TpBtf(#[allow(dead_code)] BtfTracePointLink),
    /// The CPU-clock sampler's link on one CPU.
    Perf(#[allow(dead_code)] aya::programs::perf_event::PerfEventLink),
}

/// Whether `kind` may be used for `feature` under the user's `--attach` choice.
fn allowed(kind: Kind, feature: Feature, attach: Attach, btf: Option<&Btf>) -> bool {
    match (attach, kind) {
        (Attach::Tp, Kind::Tp) => true,
        (Attach::Tp, _) => false,
        (Attach::RawTp, Kind::Tp | Kind::TpBtf) if feature == Feature::Syscalls => false,
        (_, Kind::TpBtf) => btf.is_some(),
        _ => true,
    }
}

/// Loads each feature's programs as the first kind that the user allows and the kernel
/// accepts, saying on standard error what falls back or is unavailable. Only a failure of the
/// syscall programs is an error.
pub fn load_all(
    ebpf: &mut Ebpf,
    tracefs: &std::path::Path,
    btf: Option<&Btf>,
    attach: Attach,
) -> anyhow::Result<Loaded> {
    let mut loaded = Loaded::default();
    for feature in Feature::ALL {
        if feature.needs().is_some_and(|needed| !loaded.has(needed)) {
            continue;
        }
        let rows: Vec<&Program> = PROGRAMS.iter().filter(|p| p.feature == feature).collect();
        if let Some(missing) = rows
            .iter()
            .find(|p| !tracefs::has_event(tracefs, p.category, p.event))
        {
            let Some(without) = feature.without() else {
                bail!(
                    "this kernel has no tracepoint {}:{}, which trace needs",
                    missing.category,
                    missing.event
                );
            };
            eprintln!(
                "ipc-profiler: {}:{} is missing on this kernel: {without}",
                missing.category, missing.event
            );
            continue;
        }
        let mut kinds: Vec<Kind> = Vec::new();
        for row in &rows {
            if allowed(row.kind, feature, attach, btf) && !kinds.contains(&row.kind) {
                kinds.push(row.kind);
            }
        }
        for (i, &kind) in kinds.iter().enumerate() {
            let mut of_kind = rows.iter().filter(|p| p.kind == kind);
            match of_kind.try_for_each(|p| load(ebpf, tracefs, btf, p)) {
                Ok(()) => {
                    loaded.0.push((feature, kind));
                    break;
                }
                Err(error) => match (kinds.get(i + 1), feature.without()) {
                    (Some(next), _) => eprintln!(
                        "ipc-profiler: {kind:?} is refused here for {feature:?} ({error:#}); using {next:?}"
                    ),
                    (None, None) => return Err(error),
                    (None, Some(without)) => eprintln!("ipc-profiler: {error:#}: {without}"),
                },
            }
        }
    }
    Ok(loaded)
}

/// Loads one program as its kind, after checking a tracepoint's record layout.
fn load(
    ebpf: &mut Ebpf,
    tracefs: &std::path::Path,
    btf: Option<&Btf>,
    row: &Program,
) -> anyhow::Result<()> {
    let program = ebpf
        .program_mut(row.name)
        .with_context(|| format!("the eBPF object has no program {}", row.name))?;
    let loaded = match row.kind {
        Kind::Tp => {
            check_layout(tracefs, row)?;
            TryInto::<&mut TracePoint>::try_into(program)?.load()
        }
        Kind::RawTp => TryInto::<&mut RawTracePoint>::try_into(program)?.load(),
        Kind::TpBtf => {
            let btf = btf.context("tp_btf needs the kernel's BTF")?;
            TryInto::<&mut BtfTracePoint>::try_into(program)?.load(row.event, btf)
        }
    };
    loaded.with_context(|| format!("the verifier rejected {}", row.name))
}

/// Attaches every loaded program; the links detach them when dropped.
pub fn attach_all(
    ebpf: &mut Ebpf,
    loaded: &Loaded,
    tracefs: &std::path::Path,
) -> anyhow::Result<Vec<Link>> {
    let mut links = Vec::new();
    for row in PROGRAMS {
        if loaded.kind(row.feature) != Some(row.kind) {
            continue;
        }
        let program = ebpf.program_mut(row.name).context("program vanished")?;
        let what = || {
            format!(
                "could not attach {} to {}:{}",
                row.name, row.category, row.event
            )
        };
        links.push(match row.kind {
            Kind::Tp => {
                let program: &mut TracePoint = program.try_into()?;
                let id = program
                    .attach(row.category, row.event)
                    .with_context(|| format!("{} (tracefs at {})", what(), tracefs.display()))?;
                Link::Tp(program.take_link(id)?)
            }
            Kind::RawTp => {
                let program: &mut RawTracePoint = program.try_into()?;
                let id = program.attach(row.event).with_context(what)?;
                Link::RawTp(program.take_link(id)?)
            }
            Kind::TpBtf => {
                let program: &mut BtfTracePoint = program.try_into()?;
                let id = program.attach().with_context(what)?;
                Link::TpBtf(program.take_link(id)?)
            }
        });
    }
    Ok(links)
}

/// Refuses a kernel whose record layout differs from the offsets a program reads at.
pub fn check_layout(tracefs: &std::path::Path, row: &Program) -> anyhow::Result<()> {
    if !tracefs::has_event(tracefs, row.category, row.event) {
        bail!(
            "this kernel has no tracepoint {}:{}, which trace needs",
            row.category,
            row.event
        );
    }
    for &(field, offset, size) in row.fields {
        let found = tracefs::field_layout(tracefs, row.category, row.event, field)?;
        if found != (offset, size) {
            bail!(
                "{}:{} field {field} is at offset {} size {} on this kernel, not {offset}/{size} as the eBPF programs expect",
                row.category,
                row.event,
                found.0,
                found.1
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake tracefs with one `format` file for raw_syscalls:sys_exit, in a private directory
    /// removed when the returned value is dropped.
    fn fake_tracefs(format: Option<&str>) -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .unwrap();
        let event = root.path().join("events/raw_syscalls/sys_exit");
        std::fs::create_dir_all(&event).unwrap();
        if let Some(text) = format {
            std::fs::write(event.join("format"), text).unwrap();
        }
        root
    }

    fn row(name: &str) -> &'static Program {
        PROGRAMS.iter().find(|p| p.name == name).unwrap()
    }

    #[test]
    fn every_feature_has_a_tracepoint_fallback_and_the_object_every_program() {
        for feature in Feature::ALL {
            let rows: Vec<_> = PROGRAMS.iter().filter(|p| p.feature == feature).collect();
            assert!(!rows.is_empty(), "{feature:?} has no program");
            assert!(
                rows.iter().any(|p| p.kind == Kind::Tp),
                "{feature:?} has no tracepoint"
            );
            // One kernel event per feature and kind pair, so availability is one check.
            assert!(rows.iter().all(|p| p.category == rows[0].category));
        }
        let object = aya_obj::Object::parse(super::super::tracer::OBJECT).unwrap();
        for program in PROGRAMS {
            assert!(
                object.programs.contains_key(program.name),
                "the eBPF object has no program {}",
                program.name
            );
        }
    }

    const SYS_EXIT: &str = "\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\
                            \tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n";

    #[test]
    fn accepts_the_layout_the_programs_expect() {
        let root = fake_tracefs(Some(SYS_EXIT));
        check_layout(root.path(), row("sys_exit")).unwrap();
    }

    #[test]
    fn refuses_a_moved_field_and_names_it() {
        let moved = SYS_EXIT.replace("offset:16", "offset:24");
        let root = fake_tracefs(Some(&moved));
        let error = check_layout(root.path(), row("sys_exit"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("field ret is at offset 24"), "{error}");
    }

    #[test]
    fn refuses_a_missing_tracepoint() {
        let root = fake_tracefs(None);
        let error = check_layout(root.path(), row("sched_switch"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "this kernel has no tracepoint sched:sched_switch, which trace needs"
        );
    }
}
