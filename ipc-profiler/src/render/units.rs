//! Human-readable numbers for the table rendering.

/// `value` formatted by `format`, or "n/a" where the kernel could not say.
pub fn or_na(value: Option<f64>, format: fn(f64) -> String) -> String {
    value.map_or("n/a".to_string(), format)
}

/// Nanoseconds with a unit that keeps three significant digits: `812 ns`, `22.4 µs`, `1.05 ms`.
pub fn duration_ns(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", three_digits(value))
}

/// A count with up to three significant digits after the point: `2`, `1.5`, `0.0312`.
pub fn count(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        three_digits(value)
    }
}

/// A rate (messages per second) with a decimal prefix: `1.00M`, `62.9k`, `950`.
pub fn rate(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// Bytes with a binary unit: `512 B`, `1.5 KiB`, `2 MiB`.
pub fn bytes(value: f64) -> String {
    if value < 1024.0 {
        format!("{} B", count(value))
    } else if value < 1024.0 * 1024.0 {
        format!("{} KiB", three_digits(value / 1024.0))
    } else if value < 1024.0 * 1024.0 * 1024.0 {
        format!("{} MiB", three_digits(value / (1024.0 * 1024.0)))
    } else {
        format!("{} GiB", three_digits(value / (1024.0 * 1024.0 * 1024.0)))
    }
}

fn three_digits(value: f64) -> String {
    if value == 0.0 {
        "0".to_string()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_three_digits() {
        assert_eq!(duration_ns(812.0), "812 ns");
        assert_eq!(duration_ns(22_400.0), "22.4 µs");
        assert_eq!(duration_ns(1_050_000.0), "1.05 ms");
        assert_eq!(duration_ns(3.2e9), "3.20 s");
    }

    #[test]
    fn counts_and_bytes() {
        assert_eq!(count(2.0), "2");
        assert_eq!(count(1.5), "1.50");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(2048.0), "2.00 KiB");
    }
}
