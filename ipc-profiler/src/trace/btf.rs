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
const KIND_UNION: u32 = 5;

/// The byte offset of `field` in `struct name`, if the BTF in `data` describes one (a plain,
/// byte-aligned member; a bitfield counts as absent). A field inside an anonymous struct or
/// union member is found too, at its offset from the start of `name`.
pub fn member_offset(data: &[u8], name: &str, field: &str) -> Option<u32> {
    Structs::parse(data)?.member_offset(name, field)
}

/// A BTF blob read once, for many lookups (each [`member_offset`] reads the whole blob).
pub struct Structs<'a>(Types<'a>);

impl<'a> Structs<'a> {
    /// The blob's type records; `None` when `data` is not BTF.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        Types::parse(data).map(Self)
    }

    /// As [`member_offset`].
    pub fn member_offset(&self, name: &str, field: &str) -> Option<u32> {
        let id = self.0.struct_named(name)?;
        self.0.member(id, field, 0, 0)
    }
}

/// The type records of a BTF blob, by id.
struct Types<'a> {
    data: &'a [u8],
    strings: usize,
    /// Where record `id` starts (`records[id - 1]`; id 0 is `void`).
    records: Vec<usize>,
}

impl<'a> Types<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        let mut types = Self {
            data,
            strings: 0,
            records: Vec::new(),
        };
        if types.u16_at(0)? != MAGIC {
            return None;
        }
        let header_len = types.u32_at(4)? as usize;
        let (type_off, type_len) = (types.u32_at(8)? as usize, types.u32_at(12)? as usize);
        types.strings = header_len + types.u32_at(16)? as usize;
        let start = header_len + type_off;
        let mut at = start;
        while at + 12 <= start + type_len {
            let info = types.u32_at(at + 4)?;
            types.records.push(at);
            at += 12 + trailing_len((info >> 24) & 0x1f, (info & 0xffff) as usize)?;
        }
        Some(types)
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        Some(u16::from_le_bytes(
            self.data.get(at..at + 2)?.try_into().ok()?,
        ))
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        Some(u32::from_le_bytes(
            self.data.get(at..at + 4)?.try_into().ok()?,
        ))
    }

    fn string(&self, offset: u32) -> Option<&'a str> {
        let start = self.strings + offset as usize;
        let end = start + self.data.get(start..)?.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&self.data[start..end]).ok()
    }

    /// (kind, vlen, whether member offsets carry bitfield sizes) of record `id`.
    fn kind(&self, id: u32) -> Option<(u32, usize, bool)> {
        let at = *self.records.get((id as usize).checked_sub(1)?)?;
        let info = self.u32_at(at + 4)?;
        Some((
            (info >> 24) & 0x1f,
            (info & 0xffff) as usize,
            info >> 31 == 1,
        ))
    }

    /// The id of the first struct named `name`.
    fn struct_named(&self, name: &str) -> Option<u32> {
        (1..=self.records.len() as u32).find(|&id| {
            self.kind(id)
                .is_some_and(|(kind, _, _)| kind == KIND_STRUCT)
                && self.string(self.u32_at(self.records[id as usize - 1]).unwrap_or(0))
                    == Some(name)
        })
    }

    /// The offset of `field` in struct or union `id` (which starts `base` bytes into the
    /// outer struct), looking into anonymous members up to a few levels deep.
    fn member(&self, id: u32, field: &str, base: u32, depth: u32) -> Option<u32> {
        let (kind, vlen, bitfield_offsets) = self.kind(id)?;
        if !(kind == KIND_STRUCT || kind == KIND_UNION) || depth > 4 {
            return None;
        }
        let body = self.records[id as usize - 1] + 12;
        for member in 0..vlen {
            let m = body + member * 12;
            let name = self.string(self.u32_at(m)?)?;
            let bits = self.u32_at(m + 8)?;
            let (offset_bits, bitfield_size) = if bitfield_offsets {
                (bits & 0xff_ffff, bits >> 24)
            } else {
                (bits, 0)
            };
            if name == field {
                return (bitfield_size == 0 && offset_bits % 8 == 0)
                    .then_some(base + offset_bits / 8);
            }
            if name.is_empty() && offset_bits % 8 == 0 {
                let inner = self.u32_at(m + 4)?;
                if let Some(found) = self.member(inner, field, base + offset_bits / 8, depth + 1) {
                    return Some(found);
                }
            }
        }
        None
    }
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

    /// A BTF blob holding `int`, `struct task { int state; int pid; }` and
    /// `struct file { int mode; union { int inode; int other; }; }`.
    fn tiny_btf() -> Vec<u8> {
        let strings = b"\0int\0task\0state\0pid\0file\0mode\0inode\0other\0";
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
        // [3] an anonymous union (kind 5), vlen 2, size 4: inode (30) and other (36), both at 0.
        push(&[0, (5 << 24) | 2, 4, 30, 1, 0, 36, 1, 0]);
        // [4] struct file (20), vlen 2, size 8: mode (25) at 0, the union [3] at 32 bits.
        push(&[20, (4 << 24) | 2, 8, 25, 1, 0, 0, 3, 32]);
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
    fn finds_a_member_inside_an_anonymous_union_at_its_offset_in_the_outer_struct() {
        let blob = tiny_btf();
        assert_eq!(member_offset(&blob, "file", "mode"), Some(0));
        assert_eq!(member_offset(&blob, "file", "inode"), Some(4));
        assert_eq!(member_offset(&blob, "file", "other"), Some(4));
        assert_eq!(member_offset(&blob, "file", "pid"), None);
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
