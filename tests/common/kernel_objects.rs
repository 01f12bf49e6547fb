//! The eBPF programs, maps and links the kernel holds, by id: shared by the tracer's unit test
//! (attach/detach cycles) and the test that kills a tracer mid-trace.

use std::collections::BTreeSet;

/// The ids of the programs, maps and links the kernel holds, machine-wide ("p12", "m40",
/// "l3"). Ids are not handed out again soon, so the ids present after a test and not before
/// are the objects it made and left, whatever other runs' objects the kernel is still freeing.
pub fn kernel_objects() -> BTreeSet<String> {
    let programs = aya::programs::loaded_programs()
        .flatten()
        .map(|p| format!("p{}", p.id()));
    let maps = aya::maps::loaded_maps()
        .flatten()
        .map(|m| format!("m{}", m.id()));
    let links = aya::programs::loaded_links()
        .flatten()
        .map(|l| format!("l{}", l.id()));
    programs.chain(maps).chain(links).collect()
}

/// What exists now and did not in `before`.
pub fn made_since(before: &BTreeSet<String>) -> Vec<String> {
    kernel_objects().difference(before).cloned().collect()
}

/// The links among `objects`.
pub fn links(objects: &[String]) -> Vec<&String> {
    objects.iter().filter(|o| o.starts_with('l')).collect()
}
