//! `leaked-object`: a named IPC object the program made and left when it ended (the
//! comparison's Mistake 4): System V ids, POSIX queues and `/dev/shm` files outlive their
//! processes, take kernel memory and limits, and can be opened by the next run by mistake.

use crate::result::{Channel, Finding};

/// An IPC object that was not there before the program ran and still is after it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftObject {
    /// `posix-shm`, `posix-mq`, `sysv-shm`, `sysv-mq`, `sysv-sem`.
    pub kind: String,
    /// Its file name, or a System V object's key (`0x0000002a`).
    pub name: String,
    /// Its inode (a file's) or id (a System V object's).
    pub ident: u64,
    /// The process that made it, where the kernel says (a System V segment's `cpid`).
    pub creator: Option<u32>,
}

/// A named object a traced process used, as the kernel side found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedObject {
    /// As [`LeftObject::kind`].
    pub kind: String,
    /// Its inode or id.
    pub ident: u64,
    /// The process, as `name(pid)`.
    pub by: String,
}

/// A finding for each object in `left` the program is known to have made or used: its creator
/// is one of `traced`, or a traced process used it (`used`: same kind and inode or id). An
/// object nothing ties to the program (another program's, made meanwhile) is no finding. The
/// finding names the object's channel when it is one of `channels`.
pub fn find(
    left: &[LeftObject],
    used: &[UsedObject],
    traced: &[u32],
    channels: &[Channel],
) -> Vec<Finding> {
    left.iter()
        .filter_map(|object| {
            let users: Vec<&str> = used
                .iter()
                .filter(|u| u.kind == object.kind && u.ident == object.ident)
                .map(|u| u.by.as_str())
                .collect();
            let made_by = object.creator.filter(|pid| traced.contains(pid));
            let who = match made_by {
                Some(pid) => format!("made by pid {pid}"),
                None if !users.is_empty() => format!("used by {}", users.join(", ")),
                None => return None,
            };
            let channel = channels
                .iter()
                .find(|c| c.kind == object.kind && c.inodes.first() == Some(&object.ident));
            let what = match object.kind.as_str() {
                "posix-shm" => format!("/dev/shm/{}", object.name),
                "posix-mq" => format!("/dev/mqueue/{}", object.name),
                _ => format!("{} id {} (key {})", object.kind, object.ident, object.name),
            };
            Some(Finding {
                kind: "leaked-object".into(),
                channel: channel.map(|c| c.name.clone()),
                evidence: format!("{what} is still there after the program ended; {who}"),
                advice: advice(&object.kind).into(),
                polling_ns: None,
                what_if: None,
            })
        })
        .collect()
}

/// How to not leave an object of `kind` behind.
fn advice(kind: &str) -> &'static str {
    match kind {
        "posix-shm" => "shm_unlink it once every process has opened it (or use a memfd, which goes when its last descriptor closes)",
        "posix-mq" => "mq_unlink it once every process has opened it",
        "sysv-shm" => "mark it with shmctl(IPC_RMID) once attached: it goes when the last process detaches",
        _ => "remove it with msgctl/semctl(IPC_RMID) when done, also on the error paths",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left(kind: &str, ident: u64, creator: Option<u32>) -> LeftObject {
        LeftObject {
            kind: kind.into(),
            name: "jobs".into(),
            ident,
            creator,
        }
    }

    fn used(kind: &str, ident: u64) -> UsedObject {
        UsedObject {
            kind: kind.into(),
            ident,
            by: "a(1)".into(),
        }
    }

    #[test]
    fn an_object_the_program_used_or_made_is_found_with_what_ties_it() {
        let mut queue = crate::findings::sample::channel("posix-mq", "posix-mq /jobs", 5, 64);
        queue.inodes = vec![77];
        let found = find(
            &[left("posix-mq", 77, None)],
            &[used("posix-mq", 77)],
            &[1, 2],
            &[queue],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, "leaked-object");
        assert!(
            found[0]
                .evidence
                .starts_with("/dev/mqueue/jobs is still there"),
            "{found:?}"
        );
        assert!(found[0].evidence.ends_with("used by a(1)"), "{found:?}");
        assert_eq!(found[0].channel.as_deref(), Some("posix-mq /jobs"));
        let made = find(&[left("sysv-shm", 12, Some(2))], &[], &[1, 2], &[]);
        assert!(made[0].evidence.contains("made by pid 2"), "{made:?}");
        assert!(made[0].advice.contains("IPC_RMID"));
    }

    #[test]
    fn an_object_nothing_ties_to_the_program_is_no_finding() {
        let found = find(
            &[left("posix-mq", 77, None), left("sysv-shm", 12, Some(999))],
            &[used("posix-mq", 78), used("posix-shm", 77)],
            &[1, 2],
            &[],
        );
        assert_eq!(found, []);
    }
}
