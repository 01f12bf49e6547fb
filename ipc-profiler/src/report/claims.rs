//! What the comparison document this project grew from claims, kept as data (`claims.json`)
//! with its source named, and which of our mechanisms each of its rows stands for.

use serde::Deserialize;

/// The claims file, parsed.
#[derive(Debug, Deserialize)]
pub struct Claims {
    /// Where the claims come from.
    pub source: String,
    /// Which mechanisms each of the document's rows stands for, and why.
    pub mapping: Vec<Mapping>,
    /// Each figure the document states.
    pub claims: Vec<Claim>,
}

/// One of the document's rows and the mechanisms it is compared with.
#[derive(Debug, Deserialize)]
pub struct Mapping {
    /// The row's name in the document.
    pub row: String,
    /// Our mechanisms.
    pub mechanisms: Vec<String>,
    /// Why they match.
    pub why: String,
}

/// One figure the document states.
#[derive(Debug, Deserialize)]
pub struct Claim {
    /// `latency` (round trip) or `throughput`.
    pub section: String,
    /// The document's row.
    pub row: String,
    /// The message size it is for (none: any size).
    #[serde(default)]
    pub size: Option<usize>,
    /// The figure, in `unit` (the least, where the document gives a bound such as "2+").
    pub value: f64,
    /// The figure as the document writes it, where a number alone would misquote it ("2+").
    #[serde(default)]
    pub quoted: Option<String>,
    /// `ns`, `B/s` or syscalls per message.
    pub unit: String,
}

/// The claims kept in the project.
pub fn load() -> Claims {
    serde_json::from_str(include_str!("claims.json"))
        .expect("claims.json is valid (a test reads it)")
}

impl Claim {
    /// The figure with its unit, as the report shows it.
    pub fn display(&self) -> String {
        if let Some(quoted) = &self.quoted {
            return quoted.clone();
        }
        match self.unit.as_str() {
            "ns" => crate::units::duration_ns(self.value),
            "B/s" => crate::units::byte_rate(self.value),
            _ => crate::units::count(self.value),
        }
    }
}

impl Claims {
    /// The claim of `section` at `size` whose row stands for `mechanism`, if any.
    pub fn for_mechanism(&self, section: &str, mechanism: &str, size: usize) -> Option<&Claim> {
        self.claims.iter().find(|c| {
            c.section == section
                && c.size.is_none_or(|s| s == size)
                && self
                    .mapping
                    .iter()
                    .any(|m| m.row == c.row && m.mechanisms.iter().any(|n| n == mechanism))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_claim_has_a_row_that_maps_to_mechanisms_that_exist() {
        let claims = load();
        assert!(claims.source.contains("grew from"));
        for claim in &claims.claims {
            let mapping = claims.mapping.iter().find(|m| m.row == claim.row);
            let mapping = mapping.unwrap_or_else(|| panic!("no mapping for {}", claim.row));
            for name in &mapping.mechanisms {
                assert!(crate::mechanism::find(name).is_some(), "{name}");
            }
        }
        let pipe = claims.for_mechanism("latency", "pipe", 128).unwrap();
        assert_eq!((pipe.row.as_str(), pipe.value), ("Anonymous Pipe", 500.0));
        assert!(claims.for_mechanism("latency", "pipe", 4096).is_none());
        let any_size = claims.for_mechanism("syscalls", "pipe", 4096).unwrap();
        assert_eq!((any_size.value, any_size.display()), (2.0, "2".to_string()));
        // Quoted as the document writes them: TCP's syscalls are "2+", and the latency table
        // names its machine.
        let tcp = claims.for_mechanism("syscalls", "tcp", 128).unwrap();
        assert_eq!(tcp.display(), "2+");
        assert!(claims.source.contains("Intel i7-9700K, Linux 5.15"));
        let zero_copy = claims
            .mapping
            .iter()
            .find(|m| m.row.contains("zero-copy"))
            .unwrap();
        assert!(zero_copy
            .why
            .contains("copies each message into the ring and out of it"));
    }
}
