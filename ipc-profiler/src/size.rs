//! Message sizes on the command line: `128`, `1K`, `64K`, `1M` (binary multiples).

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
}
