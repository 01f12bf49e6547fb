//! The findings of a traced program (the comparison's mistakes it makes), for people: one
//! paragraph each, its evidence and what to do instead.

use crate::result::Finding;

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
    f.what_if.as_ref().map(crate::findings::what_if::sentence)
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
        assert_eq!(markdown(&[]), "");
    }
}
