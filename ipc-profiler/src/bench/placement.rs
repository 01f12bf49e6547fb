//! Where the worker processes run: chosen explicitly, reported with every result.

use crate::config::{CpuPlan, Placement};
use crate::usage_error::{usage_bail, UsageError};

/// Turns a placement and an optional explicit CPU list into a plan, checking the CPUs exist
/// and this process may use them.
pub fn resolve(placement: Placement, explicit: &[usize]) -> Result<CpuPlan, UsageError> {
    let allowed = allowed_cpus();
    for cpu in explicit {
        if !allowed.contains(cpu) {
            usage_bail!(
                "CPU {cpu} is not available: this process may use CPUs {}",
                list(&allowed)
            );
        }
    }
    if let Some((i, cpu)) = explicit
        .iter()
        .enumerate()
        .find(|(i, c)| explicit[..*i].contains(c))
    {
        usage_bail!(
            "CPU {cpu} is listed twice in --cpus (at places {} and {})",
            explicit.iter().position(|c| c == cpu).unwrap_or(0) + 1,
            i + 1
        );
    }
    let cpus = if explicit.is_empty() {
        &allowed[..]
    } else {
        explicit
    };
    let plan = match placement {
        Placement::Unpinned => {
            if !explicit.is_empty() {
                usage_bail!("--cpus cannot be used with --placement unpinned");
            }
            CpuPlan { placement, client: None, server: None }
        }
        Placement::SameCore => {
            let cpu = *cpus.first().ok_or_else(|| UsageError("no CPU is available".into()))?;
            CpuPlan { placement, client: Some(cpu), server: Some(cpu) }
        }
        Placement::CrossCore => match cpus {
            [a, b, ..] if a != b => CpuPlan { placement, client: Some(*a), server: Some(*b) },
            _ => usage_bail!(
                "cross-core placement needs two different CPUs, but only {} {} available; use --placement same-core",
                list(cpus),
                if cpus.len() == 1 { "is" } else { "are" }
            ),
        },
    };
    Ok(plan)
}

/// The placement a run gets when none is asked: one CPU per side where `explicit` (or else this
/// process's affinity) gives two different CPUs, else both on the one there is.
pub fn default_placement(explicit: &[usize]) -> Placement {
    let allowed = allowed_cpus();
    let cpus = if explicit.is_empty() {
        &allowed[..]
    } else {
        explicit
    };
    match cpus {
        [a, b, ..] if a != b => Placement::CrossCore,
        _ => Placement::SameCore,
    }
}

/// Pins the calling process to `cpu`.
pub fn pin(cpu: usize) -> std::io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)?;
    Ok(())
}

fn allowed_cpus() -> Vec<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU)
            .filter(|&c| set.is_set(c))
            .collect(),
        Err(_) => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    }
}

fn list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_cpus_must_exist() {
        let error = resolve(Placement::CrossCore, &[0, 4095]).unwrap_err();
        assert!(error.0.contains("CPU 4095 is not available"), "{error}");
    }

    #[test]
    fn cross_core_needs_two_distinct_cpus_and_a_list_names_each_once() {
        let error = resolve(Placement::CrossCore, &[0]).unwrap_err();
        assert!(error.0.contains("two different CPUs"), "{error}");
        let error = resolve(Placement::CrossCore, &[0, 0]).unwrap_err();
        assert!(error.0.contains("CPU 0 is listed twice"), "{error}");
    }

    #[test]
    fn with_no_placement_asked_one_cpu_means_same_core() {
        assert_eq!(default_placement(&[0]), Placement::SameCore);
        let allowed = allowed_cpus();
        let expected = if allowed.len() >= 2 {
            Placement::CrossCore
        } else {
            Placement::SameCore
        };
        assert_eq!(default_placement(&[]), expected, "allowed: {allowed:?}");
    }

    #[test]
    fn same_core_puts_both_on_the_first_cpu() {
        let plan = resolve(Placement::SameCore, &[0]).unwrap();
        assert_eq!((plan.client, plan.server), (Some(0), Some(0)));
        assert_eq!(plan.to_string(), "same-core (cpu 0)");
    }

    #[test]
    fn unpinned_refuses_a_cpu_list() {
        assert!(resolve(Placement::Unpinned, &[0]).is_err());
        assert_eq!(
            resolve(Placement::Unpinned, &[]).unwrap().to_string(),
            "unpinned"
        );
    }
}
