//! Where the running kernel keeps what identifies a descriptor's file: the field offsets the
//! channel lookup walks (`task->files->fdt->fd[n]`, the file's inode, a socket's peer), read
//! from the kernel's BTF. A kernel without BTF, or one missing a field, gets no channel view
//! (and says which field), never a guess.

use ipc_ebpf::KernelOffsets;

use super::btf::Structs;

/// The offsets in `btf` (the kernel's raw BTF), or the first field it lacks.
pub fn channel_offsets(btf: &[u8]) -> Result<KernelOffsets, String> {
    // Read once: each lookup below walks its records.
    let structs = Structs::parse(btf);
    let member_offset = |name: &str, member: &str| structs.as_ref()?.member_offset(name, member);
    let field = |name: &str, member: &str| {
        member_offset(name, member).ok_or_else(|| format!("{name}.{member}"))
    };
    let sock_common = field("sock", "__sk_common")?;
    let socket_at = field("socket_alloc", "socket")?;
    let inode_at = field("socket_alloc", "vfs_inode")?;
    let offsets = KernelOffsets {
        task_files: field("task_struct", "files")?,
        files_fdt: field("files_struct", "fdt")?,
        fdt_max_fds: field("fdtable", "max_fds")?,
        fdt_fd: field("fdtable", "fd")?,
        file_inode: field("file", "f_inode")?,
        file_private_data: field("file", "private_data")?,
        inode_mode: field("inode", "i_mode")?,
        inode_ino: field("inode", "i_ino")?,
        inode_sb: field("inode", "i_sb")?,
        sb_magic: field("super_block", "s_magic")?,
        socket_type: field("socket", "type")?,
        socket_sk: field("socket", "sk")?,
        sock_family: sock_common + field("sock_common", "skc_family")?,
        sock_socket: field("sock", "sk_socket")?,
        unix_peer: field("unix_sock", "peer")?,
        socket_to_inode: inode_at
            .checked_sub(socket_at)
            .ok_or("socket_alloc.vfs_inode before its socket")?,
        ..KernelOffsets::default()
    };
    let mut offsets = offsets;
    inet_offsets(&member_offset, sock_common, &mut offsets);
    // The file's name (an anonymous inode's `[eventfd]`, a queue's name): optional.
    let name = (|| {
        Some((
            member_offset("file", "f_path")? + member_offset("path", "dentry")?,
            member_offset("dentry", "d_name")? + member_offset("qstr", "name")?,
        ))
    })();
    if let Some((file_dentry, dentry_name)) = name {
        offsets.file_dentry = file_dentry;
        offsets.dentry_name = dentry_name;
    }
    mapping_offsets(btf, &member_offset, &mut offsets);
    if offsets.complete() {
        Ok(offsets)
    } else {
        Err("task_struct.files (at offset 0)".into())
    }
}

/// Adds the inet socket fields (`sock_common` sits at `sock_common` in `sock`), when the BTF
/// has them all; IPv6's apart (a kernel without IPv6 has none).
fn inet_offsets(
    member_offset: &impl Fn(&str, &str) -> Option<u32>,
    sock_common: u32,
    offsets: &mut KernelOffsets,
) {
    let common = |member: &str| Some(sock_common + member_offset("sock_common", member)?);
    let inet = (|| {
        Some((
            member_offset("sock", "sk_protocol")?,
            common("skc_daddr")?,
            common("skc_rcv_saddr")?,
            common("skc_dport")?,
            common("skc_num")?,
        ))
    })();
    if let Some((protocol, daddr, saddr, dport, num)) = inet {
        offsets.inet = 1;
        offsets.sock_protocol = protocol;
        offsets.sock_daddr = daddr;
        offsets.sock_rcv_saddr = saddr;
        offsets.sock_dport = dport;
        offsets.sock_num = num;
    }
    if let (Some(daddr), Some(saddr)) = (common("skc_v6_daddr"), common("skc_v6_rcv_saddr")) {
        offsets.inet6 = 1;
        offsets.sock_v6_daddr = daddr;
        offsets.sock_v6_rcv_saddr = saddr;
    }
}

/// Adds what turns an address into its shared memory (a mapping's flags and file), when the
/// kernel has `bpf_find_vma` (Linux 5.17 and later) to find the mapping: without it the
/// programs never take that path (the verifier drops it), and shared memory is not shown.
fn mapping_offsets(
    btf: &[u8],
    member_offset: &impl Fn(&str, &str) -> Option<u32>,
    offsets: &mut KernelOffsets,
) {
    if !has_find_vma(btf) {
        return;
    }
    let vma = |member: &str| member_offset("vm_area_struct", member);
    let found = (|| {
        Some((
            vma("vm_flags")?,
            vma("vm_file")?,
            vma("vm_start")?,
            vma("vm_pgoff")?,
        ))
    })();
    if let Some((flags, file, start, pgoff)) = found {
        offsets.vma_flags = flags;
        offsets.vma_file = file;
        offsets.vma_start = start;
        offsets.vma_pgoff = pgoff;
    }
}

/// True when the kernel's helpers include `bpf_find_vma` (its BTF names every helper in
/// `enum bpf_func_id`).
fn has_find_vma(btf: &[u8]) -> bool {
    const NAME: &[u8] = b"\0BPF_FUNC_find_vma\0";
    btf.windows(NAME.len()).any(|window| window == NAME)
}

/// Why channels cannot be followed on this kernel, for the report: `missing` names a field.
pub fn unavailable(missing: &str) -> String {
    format!(
        "this kernel's BTF ({}) does not describe {missing}: IPC channels cannot be found, only \
         syscalls counted",
        super::btf::VMLINUX
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kernel_describes_every_field_the_channel_lookup_walks() {
        let blob = std::fs::read(super::super::btf::VMLINUX)
            .expect("this kernel has BTF (/sys/kernel/btf/vmlinux), as the tracer needs");
        let offsets = channel_offsets(&blob).unwrap_or_else(|missing| panic!("{missing}"));
        // Sanity, not layout: each is inside its struct, and a socket's inode follows it.
        assert!(offsets.socket_to_inode > 0);
        assert!(offsets.inode_ino > offsets.inode_mode, "{offsets:?}");
        assert_eq!((offsets.inet, offsets.inet6), (1, 1), "{offsets:?}");
        // skc_rcv_saddr follows skc_daddr in their address pair; skc_num follows skc_dport.
        assert_eq!(
            offsets.sock_rcv_saddr,
            offsets.sock_daddr + 4,
            "{offsets:?}"
        );
        assert_eq!(offsets.sock_num, offsets.sock_dport + 2, "{offsets:?}");
        assert!(
            offsets.file_dentry != 0 && offsets.dentry_name != 0,
            "{offsets:?}"
        );
        // Linux 6.18 has bpf_find_vma (5.17+): shared memory is followed.
        assert!(offsets.follows_shared_memory(), "{offsets:?}");
        assert!(offsets.vma_pgoff > offsets.vma_start, "{offsets:?}");
    }

    #[test]
    fn a_kernel_without_bpf_find_vma_does_not_follow_shared_memory() {
        let blob = std::fs::read(super::super::btf::VMLINUX).expect("this kernel has BTF");
        // The same BTF with the helper's name spelled otherwise: as a kernel before 5.17.
        let needle = b"BPF_FUNC_find_vma";
        let mut older = blob.clone();
        let at = older
            .windows(needle.len())
            .position(|window| window == needle)
            .expect("this kernel's BTF names bpf_find_vma");
        older[at] = b'X';
        let offsets = channel_offsets(&older).expect("descriptors are still followed");
        assert!(!offsets.follows_shared_memory(), "{offsets:?}");
    }

    #[test]
    fn a_blob_that_is_not_btf_names_the_first_field_missing() {
        assert_eq!(channel_offsets(b"nothing").unwrap_err(), "sock.__sk_common");
    }
}
