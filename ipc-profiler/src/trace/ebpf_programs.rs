//! The programs of the eBPF object: which tracepoint each attaches to, the record fields a
//! tracepoint program reads, and how each kind is loaded (with the record layout checked).

use anyhow::{bail, Context};
use aya::programs::{BtfTracePoint, RawTracePoint, TracePoint};
use aya::{Btf, Ebpf};
use ipc_ebpf::offsets;

use super::tracefs;

/// A program of the object and the tracepoint it attaches to.
pub(super) struct ProgramSpec {
    pub(super) name: &'static str,
    pub(super) category: &'static str,
    pub(super) event: &'static str,
    /// Fields it reads at fixed offsets: (field, offset, size).
    pub(super) fields: &'static [(&'static str, usize, usize)],
}

pub(super) const SYSCALL_PROGRAMS: [ProgramSpec; 2] = [
    ProgramSpec {
        name: "sys_enter",
        category: "raw_syscalls",
        event: "sys_enter",
        fields: &[
            ("id", offsets::SYS_ENTER_ID, 8),
            ("args", offsets::SYS_ENTER_ARGS, 48),
        ],
    },
    ProgramSpec {
        name: "sys_exit",
        category: "raw_syscalls",
        event: "sys_exit",
        fields: &[
            ("id", offsets::SYS_EXIT_ID, 8),
            ("ret", offsets::SYS_EXIT_RET, 8),
        ],
    },
];

pub(super) const SCHED_SWITCH: ProgramSpec = ProgramSpec {
    name: "sched_switch",
    category: "sched",
    event: "sched_switch",
    fields: &[
        ("prev_pid", offsets::SWITCH_PREV_PID, 4),
        ("prev_state", offsets::SWITCH_PREV_STATE, 8),
        ("next_pid", offsets::SWITCH_NEXT_PID, 4),
    ],
};

pub(super) const SCHED_WAKEUP: ProgramSpec = ProgramSpec {
    name: "sched_wakeup",
    category: "sched",
    event: "sched_wakeup",
    fields: &[("pid", offsets::WAKEUP_PID, 4)],
};

pub(super) const SKB_COPY: ProgramSpec = ProgramSpec {
    name: "skb_copy_datagram_iovec",
    category: "skb",
    event: "skb_copy_datagram_iovec",
    fields: &[("len", offsets::SKB_COPY_LEN, 4)],
};

pub(super) const SCHED_PROCESS_EXIT: ProgramSpec = ProgramSpec {
    name: "sched_process_exit",
    category: "sched",
    event: "sched_process_exit",
    // It reads no field: the exiting thread is the current one.
    fields: &[],
};

pub(super) const SCHED_PROCESS_FORK: ProgramSpec = ProgramSpec {
    name: "sched_process_fork",
    category: "sched",
    event: "sched_process_fork",
    fields: &[("child_pid", offsets::FORK_CHILD_PID, 4)],
};

/// The socket-copy program as `tp_btf`.
pub(super) const SKB_COPY_BTF: &str = "skb_copy_datagram_iovec_btf";

/// The scheduler programs as `tp_btf`: (program, kernel tracepoint).
pub(super) const BTF_SCHED_PROGRAMS: [(&str, &str); 2] = [
    ("sched_switch_btf", "sched_switch"),
    ("sched_wakeup_btf", "sched_wakeup"),
];

/// The syscall programs as raw tracepoints: (program, raw tracepoint).
pub(super) const RAW_SYSCALL_PROGRAMS: [(&str, &str); 2] =
    [("sys_enter_raw", "sys_enter"), ("sys_exit_raw", "sys_exit")];

/// Loads the scheduler programs as tp_btf.
pub(super) fn load_btf_sched(ebpf: &mut Ebpf, btf: &Btf, wakeup: bool) -> anyhow::Result<()> {
    let wanted = if wakeup { 2 } else { 1 };
    for (name, event) in &BTF_SCHED_PROGRAMS[..wanted] {
        load_btf(ebpf, btf, name, event)?;
    }
    Ok(())
}

/// Loads program `name` as tp_btf for the kernel tracepoint `event`.
pub(super) fn load_btf(ebpf: &mut Ebpf, btf: &Btf, name: &str, event: &str) -> anyhow::Result<()> {
    let program: &mut BtfTracePoint = ebpf
        .program_mut(name)
        .with_context(|| format!("the object has no program {name}"))?
        .try_into()?;
    program
        .load(event, btf)
        .with_context(|| format!("the verifier rejected {name}"))
}

/// Loads the scheduler programs as tracepoints, after checking the records they read.
pub(super) fn load_sched_tracepoints(
    ebpf: &mut Ebpf,
    tracefs: &std::path::Path,
    wakeup: bool,
) -> anyhow::Result<()> {
    check_layout(tracefs, &SCHED_SWITCH)?;
    load_tracepoint(ebpf, SCHED_SWITCH.name)?;
    if wakeup {
        check_layout(tracefs, &SCHED_WAKEUP)?;
        load_tracepoint(ebpf, SCHED_WAKEUP.name)?;
    }
    Ok(())
}

pub(super) fn load_tracepoint(ebpf: &mut Ebpf, name: &str) -> anyhow::Result<()> {
    let program: &mut TracePoint = ebpf
        .program_mut(name)
        .with_context(|| format!("the object has no program {name}"))?
        .try_into()?;
    program
        .load()
        .with_context(|| format!("the verifier rejected {name}"))
}

/// Loads the syscall programs as tracepoints, after checking the records they read.
pub(super) fn load_tracepoints(ebpf: &mut Ebpf, tracefs: &std::path::Path) -> anyhow::Result<()> {
    for spec in &SYSCALL_PROGRAMS {
        check_layout(tracefs, spec)?;
        load_tracepoint(ebpf, spec.name)?;
    }
    Ok(())
}

/// Loads the syscall programs as raw tracepoints.
pub(super) fn load_raw(ebpf: &mut Ebpf) -> anyhow::Result<()> {
    for (name, _) in RAW_SYSCALL_PROGRAMS {
        let program: &mut RawTracePoint = ebpf
            .program_mut(name)
            .with_context(|| format!("the object has no program {name}"))?
            .try_into()?;
        program
            .load()
            .with_context(|| format!("the verifier rejected {name}"))?;
    }
    Ok(())
}

/// Refuses a kernel whose record layout differs from the offsets the programs read at.
pub(super) fn check_layout(tracefs: &std::path::Path, spec: &ProgramSpec) -> anyhow::Result<()> {
    if !tracefs::has_event(tracefs, spec.category, spec.event) {
        bail!(
            "this kernel has no tracepoint {}:{}, which trace needs",
            spec.category,
            spec.event
        );
    }
    for &(field, offset, size) in spec.fields {
        let found = tracefs::field_layout(tracefs, spec.category, spec.event, field)?;
        if found != (offset, size) {
            bail!(
                "{}:{} field {field} is at offset {} size {} on this kernel, not {offset}/{size} as the eBPF programs expect",
                spec.category,
                spec.event,
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
    use std::path::PathBuf;

    /// A fake tracefs with one `format` file for raw_syscalls:sys_exit.
    fn fake_tracefs(format: Option<&str>) -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "ipc-profiler-fake-tracefs-{}-{}",
            std::process::id(),
            format.map_or(0, str::len)
        ));
        let event = root.join("events/raw_syscalls/sys_exit");
        std::fs::create_dir_all(&event).unwrap();
        if let Some(text) = format {
            std::fs::write(event.join("format"), text).unwrap();
        }
        root
    }

    const SYS_EXIT: &str = "\tfield:long id;\toffset:8;\tsize:8;\tsigned:1;\n\
                            \tfield:long ret;\toffset:16;\tsize:8;\tsigned:1;\n";

    #[test]
    fn accepts_the_layout_the_programs_expect() {
        let root = fake_tracefs(Some(SYS_EXIT));
        check_layout(&root, &SYSCALL_PROGRAMS[1]).unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn refuses_a_moved_field_and_names_it() {
        let moved = SYS_EXIT.replace("offset:16", "offset:24");
        let root = fake_tracefs(Some(&moved));
        let error = check_layout(&root, &SYSCALL_PROGRAMS[1])
            .unwrap_err()
            .to_string();
        assert!(error.contains("field ret is at offset 24"), "{error}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn refuses_a_missing_tracepoint() {
        let root = fake_tracefs(None);
        let error = check_layout(&root, &SCHED_SWITCH).unwrap_err().to_string();
        assert_eq!(
            error,
            "this kernel has no tracepoint sched:sched_switch, which trace needs"
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
