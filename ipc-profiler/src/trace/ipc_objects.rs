//! The IPC objects that outlive their processes (files in `/dev/shm` and `/dev/mqueue`, System
//! V segments, queues and semaphore sets), listed before a program runs and after it ends: what
//! is new at the end was made while it ran and left behind.

use std::collections::BTreeSet;
use std::os::unix::fs::DirEntryExt;
use std::path::Path;

use crate::findings::LeftObject;

/// Every named IPC object on the machine now, as (kind, name, inode or id, creator pid).
#[derive(Debug, Default)]
pub struct Snapshot {
    objects: BTreeSet<(String, String, u64, Option<u32>)>,
}

impl Snapshot {
    /// Lists the objects now; a place that cannot be read (no mqueue filesystem mounted)
    /// lists none.
    pub fn take() -> Self {
        let mut objects = BTreeSet::new();
        for (kind, dir) in [("posix-shm", "/dev/shm"), ("posix-mq", "/dev/mqueue")] {
            for (name, inode) in files(Path::new(dir)) {
                objects.insert((kind.to_string(), name, inode, None));
            }
        }
        for (kind, table, id_column, creator_column) in [
            ("sysv-shm", "shm", "shmid", Some("cpid")),
            ("sysv-mq", "msg", "msqid", None),
            ("sysv-sem", "sem", "semid", None),
        ] {
            let text =
                std::fs::read_to_string(format!("/proc/sysvipc/{table}")).unwrap_or_default();
            for (key, id, creator) in sysv_rows(&text, id_column, creator_column) {
                objects.insert((kind.to_string(), key, id, creator));
            }
        }
        Self { objects }
    }

    /// The objects in `self` (taken later) that `before` did not have.
    pub fn new_since(&self, before: &Snapshot) -> Vec<LeftObject> {
        self.objects
            .difference(&before.objects)
            .map(|(kind, name, ident, creator)| LeftObject {
                kind: kind.clone(),
                name: name.clone(),
                ident: *ident,
                creator: *creator,
            })
            .collect()
    }
}

/// The regular files of `dir`, as (name, inode).
fn files(dir: &Path) -> Vec<(String, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.ino()))
        .collect()
}

/// The rows of a `/proc/sysvipc` table as (key in hex, id, creator pid), its columns found by
/// the header's names.
fn sysv_rows(
    text: &str,
    id_column: &str,
    creator_column: Option<&str>,
) -> Vec<(String, u64, Option<u32>)> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(key_at), Some(id_at)) = (at("key"), at(id_column)) else {
        return Vec::new();
    };
    let creator_at = creator_column.and_then(at);
    lines
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            let key: i64 = cells.get(key_at)?.parse().ok()?;
            let id = cells.get(id_at)?.parse().ok()?;
            let creator = creator_at.and_then(|i| cells.get(i)?.parse().ok());
            Some((format!("0x{:08x}", key as u32), id, creator))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sysv_table_is_read_by_its_header_s_column_names() {
        let text = "       key      shmid perms                  size  cpid  lpid nattch\n\
                    \x20        0         12   600                  4096  4242  4243      0\n\
                    \x20       42         13   600                  4096  77     78       1\n";
        assert_eq!(
            sysv_rows(text, "shmid", Some("cpid")),
            [
                ("0x00000000".to_string(), 12, Some(4242)),
                ("0x0000002a".to_string(), 13, Some(77))
            ]
        );
        assert_eq!(sysv_rows("", "shmid", None), []);
    }

    #[test]
    fn what_is_new_since_an_earlier_snapshot_is_what_was_left() {
        let before = Snapshot {
            objects: [("posix-mq".into(), "old".into(), 1, None)].into(),
        };
        let mut after = Snapshot {
            objects: before.objects.clone(),
        };
        after
            .objects
            .insert(("posix-mq".into(), "new".into(), 2, None));
        let left = after.new_since(&before);
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].name.as_str(), left[0].ident), ("new", 2));
    }
}
