//! Human durations in scenario files and on the command line: `90`, `30s`, `5m`, `1h30m`.
use std::time::Duration;

/// The longest duration Skein accepts anywhere (a run, a stage, a think time): 31 days.
/// Longer ones are typos or overflow bait, and would not fit the reports' time axis.
pub const MAX_DURATION: Duration = Duration::from_secs(31 * 24 * 3600);

/// Parses `text` or says what is wrong with it.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || {
        format!("`{text}` is not a duration; write seconds (`90`) or units: `30s`, `5m`, `1h30m`, `500ms`")
    };
    let too_long = || {
        format!(
            "`{text}` is longer than the longest duration Skein accepts ({}); write a shorter one",
            format_duration(MAX_DURATION)
        )
    };
    let checked = |secs: f64| -> Result<Duration, String> {
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(bad());
        }
        match Duration::try_from_secs_f64(secs) {
            Ok(d) if d <= MAX_DURATION => Ok(d),
            _ => Err(too_long()),
        }
    };
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return checked(secs);
    }
    let mut total = Duration::ZERO;
    let mut number = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit_secs = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(checked(value * unit_secs)?)
            .filter(|d| *d <= MAX_DURATION)
            .ok_or_else(too_long)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// `1h02m03s`-style display, shortest form.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) if d.subsec_millis() > 0 && sec < 10 => format!("{:.1}s", d.as_secs_f64()),
        (0, 0, sec) => format!("{sec}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_plain_seconds() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("-3").is_err());
        assert!(parse_duration("10x").is_err());
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        for text in [
            "1e30",
            "99999999999999999999h",
            "10000000000000000000",
            "inf",
            "NaN",
            "744h1s",
            "1e308h",
            "31d",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        assert_eq!(parse_duration("744h").unwrap(), MAX_DURATION);
        assert!(parse_duration("1e30").unwrap_err().contains("longest"));
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(3725)), "1h02m05s");
    }
}
