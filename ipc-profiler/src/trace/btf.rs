//! Just enough of the kernel's BTF (`/sys/kernel/btf/vmlinux`) to find where a struct keeps a
//! field: the `tp_btf` scheduler programs read `task_struct.pid` at the offset found here.
//!
//! Format: a header, a type section of variable-length records, a string section
//! (<https://docs.kernel.org/bpf/btf.html>). Only struct records are looked into; every other
//! kind is skipped by its size.

/// Where the running kernel describes its types.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;

/// The byte offset of `field` in `struct name`, if the BTF in `data` describes one (a plain,
/// byte-aligned member; a bitfield counts as absent).
pub fn member_offset(data: &[u8], name: &str, field: &str) -> Option<u32> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?));
    if u16_at(0)? != MAGIC {
        return None;
    }
    let header_len = u32_at(4)? as usize;
    let (type_off, type_len) = (u32_at(8)? as usize, u32_at(12)? as usize);
    let str_off = u32_at(16)? as usize;
    let types = header_len + type_off;
    let strings = header_len + str_off;
    let string = |offset: u32| {
        let start = strings + offset as usize;
        let end = start + data.get(start..)?.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&data[start..end]).ok()
    };
    let mut at = types;
    while at + 12 <= types + type_len {
        let name_off = u32_at(at)?;
        let info = u32_at(at + 4)?;
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        let bitfield_offsets = info >> 31 == 1;
        let body = at + 12;
        if kind == KIND_STRUCT && string(name_off) == Some(name) {
            for member in 0..vlen {
                let m = body + member * 12;
                if string(u32_at(m)?) == Some(field) {
                    let bits = u32_at(m + 8)?;
                    let (offset_bits, bitfield_size) = if bitfield_offsets {
                        (bits & 0xff_ffff, bits >> 24)
                    } else {
                        (bits, 0)
                    };
                    return (bitfield_size == 0 && offset_bits % 8 == 0).then_some(offset_bits / 8);
                }
            }
            return None;
        }
        at = body + trailing_len(kind, vlen)?;
    }
    None
}

/// Bytes after the 12-byte common part of a type record of `kind` with `vlen` entries.
fn trailing_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        // int, var, decl_tag: one u32.
        1 | 14 | 17 => 4,
        // ptr, fwd, typedef, volatile, const, restrict, func, float, type_tag: nothing.
        2 | 7..=12 | 16 | 18 => 0,
        // array: element type, index type, count.
        3 => 12,
        // struct, union, datasec, enum64: 12 bytes per entry.
        4 | 5 | 15 | 19 => 12 * vlen,
        // enum, func_proto: 8 bytes per entry.
        6 | 13 => 8 * vlen,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob holding `int` and `struct task { int state; int pid; }`.
    fn tiny_btf() -> Vec<u8> {
        let strings = b"\0int\0task\0state\0pid\0";
        let mut types = Vec::new();
        let mut push = |words: &[u32]| {
            for w in words {
                types.extend_from_slice(&w.to_le_bytes());
            }
        };
        // [1] int: name "int" (1), kind 1, size 4, encoding: 32 bits.
        push(&[1, 1 << 24, 4, 32]);
        // [2] struct task (5), kind 4, vlen 2, size 8; members state (10) at 0, pid (16) at 32.
        push(&[5, (4 << 24) | 2, 8, 10, 1, 0, 16, 1, 32]);
        let mut blob = Vec::new();
        blob.extend_from_slice(&MAGIC.to_le_bytes());
        blob.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            blob.extend_from_slice(&w.to_le_bytes());
        }
        blob.extend_from_slice(&types);
        blob.extend_from_slice(strings);
        blob
    }

    #[test]
    fn finds_a_member_after_skipping_other_types() {
        let blob = tiny_btf();
        assert_eq!(member_offset(&blob, "task", "pid"), Some(4));
        assert_eq!(member_offset(&blob, "task", "state"), Some(0));
        assert_eq!(member_offset(&blob, "task", "tgid"), None);
        assert_eq!(member_offset(&blob, "other", "pid"), None);
    }

    #[test]
    fn refuses_what_is_not_btf() {
        assert_eq!(
            member_offset(b"not btf at all, really", "task", "pid"),
            None
        );
        assert_eq!(member_offset(&tiny_btf()[..30], "task", "pid"), None);
    }

    #[test]
    fn reads_this_kernels_task_struct_when_it_has_btf() {
        let Ok(blob) = std::fs::read(VMLINUX) else {
            return; // A kernel without BTF: the scheduler programs fall back to tracepoints.
        };
        let pid = member_offset(&blob, "task_struct", "pid").expect("task_struct.pid");
        let tgid = member_offset(&blob, "task_struct", "tgid").expect("task_struct.tgid");
        assert_eq!(tgid, pid + 4, "pid and tgid are neighbours in task_struct");
    }
}
