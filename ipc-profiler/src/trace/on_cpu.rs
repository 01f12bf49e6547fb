//! Each traced process's time on a CPU as the CPU-clock sampler saw it, with the shared memory
//! it could be polling, its `sched_yield` calls: what the `busy-wait` finding reads.

use super::attribution::TracedProcessFigures;
use super::channel_group::process_label;
use super::registry::{comm_of, SlotOwner};
use super::tracer::Tracer;

/// x86-64's `sched_yield`.
const SCHED_YIELD: usize = 24;

/// Each traced process's time on a CPU as the samples saw it, with the shared memory it (or
/// the process that started it, whose mappings it inherits) used; empty without the sampler.
/// `figures` are the processes' counts already read for the report (their `sched_yield`s).
pub fn on_cpu(
    tracer: &Tracer,
    owners: &[SlotOwner],
    figures: &[TracedProcessFigures],
    used: &[crate::findings::UsedObject],
    seconds: f64,
) -> anyhow::Result<Vec<crate::findings::OnCpu>> {
    let label = |slot: u32| {
        owners
            .iter()
            .find(|o| o.slot == slot)
            .map(|o| process_label(o.process.tgid, &comm_of(&o.process)))
    };
    let mut addresses = tracer.sampled_addresses()?;
    let mut found = Vec::new();
    for owner in owners {
        let Some(samples) = tracer.samples(owner.slot)? else {
            return Ok(Vec::new());
        };
        let me = label(owner.slot);
        let parent = label(owner.process.parent_slot);
        let shared_memory: Vec<String> = used
            .iter()
            .filter(|u| !matches!(u.kind.as_str(), "posix-mq" | "sysv-mq" | "sysv-sem"))
            .filter(|u| Some(&u.by) == me.as_ref() || Some(&u.by) == parent.as_ref())
            .map(|u| format!("{} [{}]", u.kind, u.ident))
            .collect();
        let yields = figures
            .iter()
            .find(|f| f.pid == owner.process.tgid)
            .and_then(|f| f.counts.syscalls.get(SCHED_YIELD))
            .map_or(0, |s| s.count);
        found.push(crate::findings::OnCpu {
            process: me.unwrap_or_default(),
            samples: samples.samples,
            user_samples: samples.user_samples,
            pause_samples: samples.pause_samples,
            hottest_addresses: addresses
                .remove(&owner.slot)
                .unwrap_or_default()
                .into_iter()
                .take(crate::findings::LOOP_ADDRESSES)
                .collect(),
            frequency: super::sampling::FREQUENCY,
            yields,
            seconds,
            shared_memory,
        });
    }
    Ok(found)
}
