//! Every unit the profiler reads or writes for people: message sizes on the command line
//! (`128`, `1K`, `64K`, `1M`, binary multiples) and the numbers its tables, pages and answers
//! show (durations, counts, message and byte rates, byte counts).

/// The largest message a run accepts: larger ones are almost surely a typo.
pub const MAX_MESSAGE_SIZE: usize = 64 << 20;

/// Parses a size such as `128`, `4K` or `1M` (K = 1024 bytes, M = 1024 K).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let multiplier: usize = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        _ => {
            return Err(format!(
                "`{text}` is not a size: use bytes, or a K or M suffix (1K = 1024)"
            ))
        }
    };
    let value: usize = digits.parse().map_err(|_| {
        format!("`{text}` is not a size: use bytes, or a K or M suffix (1K = 1024)")
    })?;
    let bytes = value
        .checked_mul(multiplier)
        .filter(|b| *b <= MAX_MESSAGE_SIZE)
        .ok_or_else(|| format!("message size `{text}` is larger than the 64M this tool accepts"))?;
    if bytes == 0 {
        return Err("a message size must be at least 1 byte".into());
    }
    Ok(bytes)
}

/// Formats a byte count the way sizes are written on the command line.
pub fn format_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{}M", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{}K", bytes >> 10)
    } else {
        format!("{bytes}")
    }
}

/// A size for people: `128 B`, `1 KiB`, `1 MiB`.
pub fn size_label(bytes: usize) -> String {
    let short = format_size(bytes);
    match short.strip_suffix(['K', 'M']) {
        Some(number) => format!("{number} {}iB", &short[number.len()..]),
        None => format!("{short} B"),
    }
}

/// `value` formatted by `format`, or "n/a" where the kernel could not say.
pub fn or_na(value: Option<f64>, format: fn(f64) -> String) -> String {
    value.map_or("n/a".to_string(), format)
}

/// Nanoseconds with a unit that keeps three significant digits: `812 ns`, `22.4 µs`, `1.05 ms`.
pub fn duration_ns(ns: f64) -> String {
    // Under a nanosecond is under what any clock here resolves: not 0.599 ns.
    if ns > 0.0 && ns < 1.0 {
        return "< 1 ns".into();
    }
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
pub fn message_rate(value: f64) -> String {
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

/// Bytes per second as `1.32 GB/s`, `512 MB/s` (decimal, as every output of the tool gives a
/// rate of bytes).
pub fn byte_rate(bytes_per_sec: f64) -> String {
    if bytes_per_sec >= 1e9 {
        format!("{:.2} GB/s", bytes_per_sec / 1e9)
    } else {
        format!("{:.0} MB/s", bytes_per_sec / 1e6)
    }
}

/// `count` of things named `plural` (which ends in "s"): `1 client`, `4 clients`.
pub fn counted(count: impl Into<u64>, plural: &str) -> String {
    let count = count.into();
    match count {
        1 => format!("1 {}", plural.strip_suffix('s').unwrap_or(plural)),
        n => format!("{n} {plural}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_suffixed_sizes() {
        assert_eq!(parse_size("128"), Ok(128));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("64k"), Ok(64 * 1024));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
    }

    #[test]
    fn refuses_zero_absurd_and_garbage() {
        assert!(parse_size("0").unwrap_err().contains("at least 1 byte"));
        assert!(parse_size("65M").unwrap_err().contains("larger than"));
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("12Q").unwrap_err().contains("not a size"));
        assert!(parse_size("").is_err());
    }

    #[test]
    fn labels_sizes_for_people() {
        assert_eq!(size_label(128), "128 B");
        assert_eq!(size_label(1024), "1 KiB");
        assert_eq!(size_label(1 << 20), "1 MiB");
    }

    #[test]
    fn formats_round_trip() {
        for text in ["128", "1K", "64K", "1M", "1000"] {
            assert_eq!(format_size(parse_size(text).unwrap()), text);
        }
    }

    #[test]
    fn durations_keep_three_digits() {
        assert_eq!(duration_ns(812.0), "812 ns");
        assert_eq!(duration_ns(22_400.0), "22.4 µs");
        assert_eq!(duration_ns(1_050_000.0), "1.05 ms");
        assert_eq!(duration_ns(3.2e9), "3.20 s");
        assert_eq!(duration_ns(0.599), "< 1 ns");
        assert_eq!(duration_ns(0.0), "0 ns");
    }

    #[test]
    fn counts_and_bytes() {
        assert_eq!(count(2.0), "2");
        assert_eq!(count(1.5), "1.50");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(2048.0), "2.00 KiB");
    }

    #[test]
    fn one_of_a_thing_is_singular() {
        assert_eq!(counted(1u32, "clients"), "1 client");
        assert_eq!(counted(4u32, "clients"), "4 clients");
        assert_eq!(counted(0u32, "subscribers"), "0 subscribers");
    }

    #[test]
    fn rates_of_messages_and_of_bytes_are_told_apart() {
        assert_eq!(message_rate(1_000_000.0), "1.00M");
        assert_eq!(byte_rate(1.32e9), "1.32 GB/s");
        assert_eq!(byte_rate(5.12e8), "512 MB/s");
    }
}
