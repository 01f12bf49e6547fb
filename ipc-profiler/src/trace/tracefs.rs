//! tracefs: where it is (mounting it when it is not), and the record layout of a tracepoint.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

const CANDIDATES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The tracefs mount point, mounting tracefs at `/sys/kernel/tracing` if it is not mounted.
pub fn ensure_mounted() -> anyhow::Result<PathBuf> {
    if let Some(found) = find() {
        return Ok(found);
    }
    let target = Path::new(CANDIDATES[0]);
    let mounted = rustix::mount::mount(
        "nodev",
        target,
        "tracefs",
        rustix::mount::MountFlags::empty(),
        None,
    );
    // Another tracer started at the same moment may have mounted it first (EBUSY here).
    if let (Err(_), Some(found)) = (&mounted, find()) {
        return Ok(found);
    }
    mounted.with_context(|| {
        format!(
            "tracefs is not mounted and mounting it failed; mount it with \
                 `mount -t tracefs nodev {}`",
            target.display()
        )
    })?;
    match find() {
        Some(found) => Ok(found),
        None => bail!(
            "tracefs was mounted at {} but has no events directory",
            target.display()
        ),
    }
}

fn find() -> Option<PathBuf> {
    CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("events").is_dir())
}

/// True when `category:event` exists on this kernel.
pub fn has_event(tracefs: &Path, category: &str, event: &str) -> bool {
    tracefs.join("events").join(category).join(event).is_dir()
}

/// Offset and size of `field` in the record of `category:event`.
pub fn field_layout(
    tracefs: &Path,
    category: &str,
    event: &str,
    field: &str,
) -> anyhow::Result<(usize, usize)> {
    let path = tracefs
        .join("events")
        .join(category)
        .join(event)
        .join("format");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {}", path.display()))?;
    parse_field(&text, field).with_context(|| {
        format!(
            "{category}:{event} has no field `{field}` in {}",
            path.display()
        )
    })
}

/// Finds `field` in a tracepoint `format` file and returns its offset and size.
fn parse_field(format: &str, field: &str) -> Option<(usize, usize)> {
    format.lines().find_map(|line| {
        let mut parts = line.trim().split(';').map(str::trim);
        let declaration = parts.next()?.strip_prefix("field:")?;
        let name = declaration.rsplit(' ').next()?;
        let name = name.split('[').next()?;
        if name != field {
            return None;
        }
        let mut offset = None;
        let mut size = None;
        for part in parts {
            if let Some(v) = part.strip_prefix("offset:") {
                offset = v.parse().ok();
            } else if let Some(v) = part.strip_prefix("size:") {
                size = v.parse().ok();
            }
        }
        Some((offset?, size?))
    })
}

#[cfg(test)]
mod tests {
    use super::parse_field;

    const SCHED_SWITCH: &str = "name: sched_switch\nID: 372\nformat:\n\
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
        \tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
        \tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\
        \tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n";

    #[test]
    fn finds_fields_by_name() {
        assert_eq!(parse_field(SCHED_SWITCH, "prev_pid"), Some((24, 4)));
        assert_eq!(parse_field(SCHED_SWITCH, "prev_state"), Some((32, 8)));
        assert_eq!(parse_field(SCHED_SWITCH, "prev_comm"), Some((8, 16)));
        assert_eq!(parse_field(SCHED_SWITCH, "next_pid"), None);
    }
}
