//! Parsers of the command line's values: rates, percentages, latencies, durations, mechanism
//! lists. Each returns the message clap shows for a value it refuses.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use crate::mechanism;
use crate::result::Pattern;

use super::Mechanisms;

pub(super) fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim_end_matches("/s")
        .parse()
        .map_err(|_| format!("`{text}` is not a number of messages per second"))?;
    if !(1.0..=100_000_000.0).contains(&rate) {
        return Err("a rate must be between 1 and 100,000,000 messages per second".into());
    }
    Ok(rate)
}

pub(super) fn parse_percent(text: &str) -> Result<f64, String> {
    let percent: f64 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{text}` is not a percentage"))?;
    if !(0.0..=1000.0).contains(&percent) {
        return Err("a threshold must be between 0% and 1000%".into());
    }
    Ok(percent / 100.0)
}

/// A latency with a unit (`ns`, `us`/`µs`, `ms`, `s`), in nanoseconds.
pub(super) fn parse_latency(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a latency such as 50us or 2ms"))?;
    let scale = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return Err(format!("`{text}` needs a unit: ns, us, ms or s")),
    };
    if value <= 0.0 {
        return Err("a latency bound must be above zero".into());
    }
    Ok(value * scale)
}

pub(super) fn parse_duration(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.01..=3600.0).contains(&seconds) {
        return Err("a duration must be between 0.01 and 3600 seconds".into());
    }
    Ok(seconds)
}

pub(super) fn parse_mechanisms(text: &str) -> Result<Mechanisms, String> {
    if text == "all" {
        return Ok(Mechanisms(mechanism::all().to_vec()));
    }
    let mut chosen = Vec::new();
    for name in text.split(',').map(str::trim) {
        let found = mechanism::find(name).ok_or_else(|| {
            format!(
                "unknown mechanism `{name}`; valid names: all, {}",
                mechanism::names().join(", ")
            )
        })?;
        chosen.push(found);
    }
    Ok(Mechanisms(chosen))
}

/// `--pattern`: one of the model's patterns, listed with what each measures.
pub(super) fn pattern_parser() -> impl TypedValueParser<Value = Pattern> {
    let names = Pattern::ALL.map(|p| PossibleValue::new(p.name()).help(p.summary()));
    PossibleValuesParser::new(names)
        .map(|name| Pattern::from_name(&name).expect("clap accepts only the names listed"))
}
