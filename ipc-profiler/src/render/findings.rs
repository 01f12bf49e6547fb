//! The findings of a traced program (the comparison's mistakes it makes), for people: one
//! paragraph each, its evidence and what to do instead.

use crate::result::{Finding, WhatIf};
use crate::units::{count, duration_ns};

/// The findings as text, or a line saying there are none.
pub fn text(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "Findings: none of the comparison's mistakes (docs/diagnosing.md).\n".into();
    }
    let each: Vec<String> = findings
        .iter()
        .map(|f| {
            let what_if = what_if(f)
                .map(|w| format!("    what if: {w}\n"))
                .unwrap_or_default();
            format!(
                "  {}{}: {}\n    -> {}\n{what_if}",
                f.kind,
                f.channel
                    .as_ref()
                    .map(|c| format!(" on {c}"))
                    .unwrap_or_default(),
                f.evidence,
                f.advice
            )
        })
        .collect();
    format!(
        "Findings (the comparison's mistakes, with what shows each; docs/diagnosing.md):\n{}",
        each.concat()
    )
}

/// The sentence of `f`'s what-if, when `--what-if` measured one.
fn what_if(f: &Finding) -> Option<String> {
    f.what_if.as_ref().map(what_if_sentence)
}

/// The what-if in a sentence: "110 round trips of 64 B over tcp; here uds costs 0.62x (p50 31
/// vs 50 µs, measured now, cross-core): about 2.09 ms of the 150 ms traced, 1.01x the round
/// trips per second on this channel, if nothing else limits it".
pub fn what_if_sentence(w: &WhatIf) -> String {
    if let Some(cpu) = &w.cpu {
        return polling_sentence(w, cpu);
    }
    let unit = if w.pattern == "latency" {
        "round trips"
    } else {
        "messages"
    };
    let figure = if w.pattern == "latency" {
        "p50"
    } else {
        "per message"
    };
    let ratio = w.alternative_ns as f64 / w.current_ns.max(1) as f64;
    let outcome = if w.saving_ns > 0 {
        let speedup = match w.speedup {
            Some(x) => format!("{x:.2}x the {unit} per second on this channel, if nothing else limits it"),
            None => "more than the whole time: the benchmark's messages cost more than the program's, no prediction".into(),
        };
        format!(
            "about {} of the {} traced, {speedup}",
            duration_ns(w.saving_ns as f64),
            duration_ns(w.traced_ns as f64),
        )
    } else {
        format!(
            "no saving: {} is not faster here for this traffic",
            w.alternative
        )
    };
    format!(
        "{} {unit} of {} B over {}; here {} costs {ratio:.2}x ({figure} {} vs {}, measured now, \
         {}): {outcome}",
        count(w.messages as f64),
        w.message_size,
        w.current,
        w.alternative,
        duration_ns(w.alternative_ns as f64),
        duration_ns(w.current_ns as f64),
        w.placement,
    )
}

/// A busy-wait's what-if: "it polled at least 400 ms of CPU in the 500 ms traced; sleeping
/// on a futex gives that CPU back: here a round trip over shm-futex costs p50 4.40 µs and
/// 6.10 µs of CPU, against 300 ns and 600 ns over shm-spin (back to back, measured now,
/// cross-core): each message waited for would take 4.10 µs longer".
fn polling_sentence(w: &WhatIf, cpu: &crate::result::CpuPerMessage) -> String {
    let change_ns = w.alternative_ns as i64 - w.current_ns as i64;
    let cost = match change_ns.cmp(&0) {
        std::cmp::Ordering::Greater => format!(
            "each message waited for would take {} longer",
            duration_ns(change_ns as f64)
        ),
        std::cmp::Ordering::Less => format!(
            "each message would come {} sooner (a spinner sharing a CPU with the process it \
             waits for holds that CPU until its time slice ends)",
            duration_ns(-change_ns as f64)
        ),
        std::cmp::Ordering::Equal => "no message would wait longer".into(),
    };
    format!(
        "it polled at least {} of CPU in the {} traced; sleeping on a futex gives that CPU \
         back: here a round trip over {} costs p50 {} and {} of CPU, against {} and {} over {} \
         (back to back, measured now, {}): {cost}",
        duration_ns(w.saving_ns as f64),
        duration_ns(w.traced_ns as f64),
        w.alternative,
        duration_ns(w.alternative_ns as f64),
        duration_ns(cpu.alternative_ns as f64),
        duration_ns(w.current_ns as f64),
        duration_ns(cpu.current_ns as f64),
        w.current,
        w.placement,
    )
}

/// The findings as a Markdown list (nothing when there are none).
pub fn markdown(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let each: Vec<String> = findings
        .iter()
        .map(|f| {
            let on = f
                .channel
                .as_ref()
                .map(|c| format!(" on `{c}`"))
                .unwrap_or_default();
            let what_if = what_if(f)
                .map(|w| format!(" What if: {w}."))
                .unwrap_or_default();
            format!(
                "- **{}**{on}: {} Instead: {}.{what_if}\n",
                f.kind, f.evidence, f.advice
            )
        })
        .collect();
    format!("\nFindings:\n\n{}", each.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_finding_shows_its_kind_channel_evidence_and_advice_and_none_says_so() {
        let finding = Finding {
            kind: "tcp-loopback".into(),
            channel: Some("tcp 127.0.0.1:1 <-> 127.0.0.1:2 (loopback)".into()),
            evidence: "220 messages over TCP".into(),
            advice: "use a Unix domain socket".into(),
            polling_ns: None,
            what_if: None,
        };
        let shown = text(std::slice::from_ref(&finding));
        assert!(shown.contains("tcp-loopback on tcp 127.0.0.1:1"), "{shown}");
        assert!(
            shown.contains("220 messages over TCP\n    -> use a Unix"),
            "{shown}"
        );
        assert!(markdown(&[finding]).contains("- **tcp-loopback** on `tcp 127.0.0.1:1"));
        assert!(text(&[]).starts_with("Findings: none"));
    }

    fn what_if(saving_ns: i64, speedup: Option<f64>) -> WhatIf {
        WhatIf {
            current: "tcp".into(),
            alternative: "uds".into(),
            pattern: "latency".into(),
            message_size: 64,
            placement: "cross-core (cpus 0,1)".into(),
            current_ns: 50_000,
            alternative_ns: 31_000,
            messages: 110,
            traced_ns: 9_000_000,
            saving_ns,
            speedup,
            cpu: None,
        }
    }

    #[test]
    fn a_what_if_says_the_saving_against_the_traced_time_or_that_there_is_none() {
        let said = what_if_sentence(&what_if(2_090_000, Some(9.0 / 6.91)));
        assert!(
            said.starts_with("110 round trips of 64 B over tcp; here uds costs 0.62x"),
            "{said}"
        );
        assert!(
            said.contains("about 2.09 ms of the 9.00 ms traced, 1.30x the round trips per second"),
            "{said}"
        );
        assert!(what_if_sentence(&what_if(10_000_000, None)).contains("no prediction"));
        assert!(what_if_sentence(&what_if(-5, None)).contains("no saving"));
        assert_eq!(markdown(&[]), "");
    }

    #[test]
    fn a_busy_wait_s_what_if_says_the_cpu_it_would_give_back_and_the_latency_it_costs() {
        let mut polling = what_if(400_000_000, None);
        (polling.current, polling.alternative) = ("shm-spin".into(), "shm-futex".into());
        (polling.current_ns, polling.alternative_ns) = (300, 4_400);
        polling.cpu = Some(crate::result::CpuPerMessage {
            current_ns: 600,
            alternative_ns: 6_100,
        });
        let said = what_if_sentence(&polling);
        assert!(
            said.starts_with("it polled at least 400 ms of CPU in the 9.00 ms traced"),
            "{said}"
        );
        assert!(
            said.contains(
                "a round trip over shm-futex costs p50 4.40 µs and 6.10 µs of CPU, against \
                 300 ns and 600 ns over shm-spin (back to back, measured now, cross-core (cpus \
                 0,1)): each message waited for would take 4.10 µs longer"
            ),
            "{said}"
        );
        (polling.current_ns, polling.alternative_ns) = (8_000_000, 4_400);
        let said = what_if_sentence(&polling);
        assert!(
            said.contains("each message would come 8.00 ms sooner"),
            "{said}"
        );
    }
}
