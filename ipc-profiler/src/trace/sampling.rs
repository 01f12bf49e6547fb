//! The CPU-clock sampler: the `cpu_sample` perf event program on a software clock of every
//! online CPU, about a thousand times a second each, counting where traced threads run (the
//! `busy-wait` finding tells polling from computing with it). A kernel or VM without perf
//! events keeps everything else and says so.

use anyhow::Context;
use aya::programs::perf_event::{
    PerfEventConfig, PerfEventLink, PerfEventScope, SamplePolicy, SoftwareEvent,
};
use aya::programs::PerfEvent;
use aya::Ebpf;

/// The program's name in the object.
const PROGRAM: &str = "cpu_sample";
/// Samples a second on each CPU (a prime, so as not to beat with periodic work).
pub const FREQUENCY: u64 = 997;

/// Loads the sampler; `Err` says why it cannot run here.
pub fn load(ebpf: &mut Ebpf) -> Result<(), String> {
    program(ebpf)
        .map_err(|e| format!("{e:#}"))?
        .load()
        .map_err(|e| format!("the kernel refused the perf event program ({e})"))
}

/// Attaches the loaded sampler to every online CPU.
pub fn attach(ebpf: &mut Ebpf) -> anyhow::Result<Vec<PerfEventLink>> {
    let cpus = aya::util::online_cpus().map_err(|(path, e)| anyhow::anyhow!("{path}: {e}"))?;
    let program = program(ebpf)?;
    let mut links = Vec::with_capacity(cpus.len());
    for cpu in cpus {
        let id = program
            .attach(
                PerfEventConfig::Software(SoftwareEvent::CpuClock),
                PerfEventScope::AllProcessesOneCpu { cpu },
                SamplePolicy::Frequency(FREQUENCY),
                false,
            )
            .with_context(|| format!("could not sample CPU {cpu}"))?;
        links.push(program.take_link(id)?);
    }
    Ok(links)
}

fn program(ebpf: &mut Ebpf) -> anyhow::Result<&mut PerfEvent> {
    Ok(ebpf
        .program_mut(PROGRAM)
        .with_context(|| format!("no {PROGRAM} program in the object"))?
        .try_into()?)
}
