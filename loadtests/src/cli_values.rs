//! The value parsers of the command line's numeric flags (rates, user and worker counts,
//! durations, percentages), shared by every subcommand's arguments.
//!
//! A flag's value is judged while clap parses it, so a value out of range is a usage error
//! (exit 2, naming the flag and the value) before a scenario is read or a target reached:
//! `skein capacity --max-rate 0` refuses at once instead of first finding the host
//! unreachable. Each parser says what it accepts and gives an example; zero, negative and
//! not-a-number values are refused wherever they mean nothing. Flags that take a negative
//! looking value set `allow_negative_numbers`, so `-5` reaches the parser (and its message)
//! instead of being taken for a flag.
use std::time::Duration;

use crate::scenario::{parse_duration, shape};

/// A number, or the message saying what to write instead.
fn number(text: &str, what: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| format!("`{text}` is not a number; give {what}"))
}

/// A number `accept` takes, or the message saying what to write instead.
fn real(text: &str, what: &str, accept: fn(f64) -> bool, example: &str) -> Result<f64, String> {
    let x = number(text, what)?;
    if !accept(x) {
        return Err(format!("{x} is out of range; give {what}, e.g. {example}"));
    }
    Ok(x)
}

/// A whole number from `least` to `most`, or the message saying what to write instead.
fn whole_number(
    text: &str,
    what: &str,
    least: f64,
    most: f64,
    example: u64,
) -> Result<u64, String> {
    let n = number(text, what)?;
    if n.fract() != 0.0 || !(least..=most).contains(&n) {
        return Err(format!("{n} is not usable; give {what}, e.g. {example}"));
    }
    Ok(n as u64)
}

/// Arrivals per second (`--rate`, `--max-rate`): above 0, at most [`shape::MAX_RATE`].
pub fn arrival_rate(text: &str) -> Result<f64, String> {
    let what = format!(
        "arrivals per second above 0 and at most {}",
        shape::MAX_RATE
    );
    real(text, &what, |r| r > 0.0 && r <= shape::MAX_RATE, "50")
}

/// Users started per second (`--spawn-rate`): above 0 and finite.
pub fn spawn_rate(text: &str) -> Result<f64, String> {
    let what = "users started per second, above 0";
    real(text, what, |r| r > 0.0 && r.is_finite(), "10")
}

/// A user count (`--users`, `--max-users`): 1 to [`shape::MAX_USERS`].
pub fn user_count(text: &str) -> Result<u64, String> {
    let what = format!("a user count from 1 to {}", shape::MAX_USERS);
    let n = whole_number(text, &what, 1.0, u64::MAX as f64, 20)?;
    if n > shape::MAX_USERS {
        return Err(shape::too_many_users(n));
    }
    Ok(n)
}

/// The first load a capacity search tries (`--start`): arrivals per second or users, above 0.
pub fn positive_load(text: &str) -> Result<f64, String> {
    let what = "a load above 0 (arrivals per second or users)";
    real(text, what, |l| l > 0.0 && l.is_finite(), "10")
}

/// A worker count (`--expect-workers`): at least 1.
pub fn worker_count(text: &str) -> Result<usize, String> {
    whole_number(
        text,
        "a worker count of at least 1",
        1.0,
        u32::MAX as f64,
        4,
    )
    .map(|n| n as usize)
}

/// A duration above zero (`--run-time`, `--step-time`, `--budget`, timeouts), written as
/// [`parse_duration`] reads it.
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(format!(
            "`{text}` is zero; give a positive duration, e.g. `30s`"
        ));
    }
    Ok(d)
}

/// Whole seconds, at least 1 (`--live-every`).
pub fn whole_seconds(text: &str) -> Result<u64, String> {
    whole_number(text, "whole seconds, at least 1", 1.0, u32::MAX as f64, 5)
}

/// A count of 0 or more (`--min-requests`).
pub fn count(text: &str) -> Result<u64, String> {
    whole_number(
        text,
        "a whole number of 0 or more",
        0.0,
        u64::MAX as f64,
        20,
    )
}

/// A percentage of 0 or more (`compare`'s thresholds): 0 means any change counts.
pub fn percentage(text: &str) -> Result<f64, String> {
    real(
        text,
        "a percentage of 0 or more",
        |p| p >= 0.0 && p.is_finite(),
        "10",
    )
}

/// A number of standard errors, 0 or more (`--noise-z`).
pub fn standard_errors(text: &str) -> Result<f64, String> {
    let what = "a number of standard errors, 0 or more";
    real(text, what, |z| z >= 0.0 && z.is_finite(), "2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_positive_and_bounded() {
        assert_eq!(arrival_rate("50").unwrap(), 50.0);
        assert_eq!(arrival_rate(" 0.5 ").unwrap(), 0.5);
        assert_eq!(arrival_rate("1e6").unwrap(), 1e6);
        for bad in ["0", "-5", "NaN", "inf", "1e9", "fast", ""] {
            assert!(arrival_rate(bad).is_err(), "{bad}");
        }
        assert!(arrival_rate("-5").unwrap_err().contains("above 0"));
        assert!(arrival_rate("x").unwrap_err().contains("not a number"));
        assert_eq!(spawn_rate("2.5").unwrap(), 2.5);
        for bad in ["0", "-1", "NaN", "inf"] {
            assert!(spawn_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_are_whole_and_at_least_one() {
        assert_eq!(user_count("20").unwrap(), 20);
        assert_eq!(user_count("100000").unwrap(), 100_000);
        for bad in ["0", "-3", "1.5", "NaN", "many"] {
            assert!(user_count(bad).is_err(), "{bad}");
        }
        assert!(user_count("1000000000000")
            .unwrap_err()
            .contains("GiB of memory"));
        assert_eq!(worker_count("4").unwrap(), 4);
        for bad in ["0", "-1", "2.5", "NaN"] {
            assert!(worker_count(bad).is_err(), "{bad}");
        }
        assert_eq!(count("0").unwrap(), 0);
        for bad in ["-1", "2.5", "NaN", "many"] {
            assert!(count(bad).is_err(), "{bad}");
        }
        assert_eq!(whole_seconds("5").unwrap(), 5);
        for bad in ["0", "-5", "0.5"] {
            assert!(whole_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loads_durations_and_percentages() {
        assert_eq!(positive_load("12.5").unwrap(), 12.5);
        for bad in ["0", "-1", "NaN", "inf"] {
            assert!(positive_load(bad).is_err(), "{bad}");
        }
        assert_eq!(positive_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(
            positive_duration("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert!(positive_duration("0s").unwrap_err().contains("is zero"));
        assert!(positive_duration("0").is_err());
        assert!(positive_duration("-5s").is_err());
        assert_eq!(percentage("0").unwrap(), 0.0);
        assert_eq!(percentage("12.5").unwrap(), 12.5);
        for bad in ["-1", "NaN", "inf", "ten"] {
            assert!(percentage(bad).is_err(), "{bad}");
        }
        assert_eq!(standard_errors("2").unwrap(), 2.0);
        for bad in ["-2", "NaN"] {
            assert!(standard_errors(bad).is_err(), "{bad}");
        }
    }
}
