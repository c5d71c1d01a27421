//! Event timestamps: clients send RFC 3339 strings or Unix epoch seconds (integers or floats),
//! and both mean the same instant. Parsing them here, into one normalized form, keeps the
//! store holding comparable text and gives each rejection a message that names the field.
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Latest epoch second accepted: 9999-12-31T23:59:59Z, the last instant RFC 3339 can write.
/// Anything later is almost always milliseconds or microseconds sent as seconds.
pub const MAX_EPOCH_SECONDS: f64 = 253_402_300_799.0;

/// Why a timestamp was refused; the message completes `events[i].timestamp: ...`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimestampError {
    #[error("expected an RFC 3339 string or Unix epoch seconds, got {0}")]
    WrongType(&'static str),
    #[error("expected an RFC 3339 string or Unix epoch seconds, got the string `{0}`")]
    NotRfc3339(String),
    #[error("Unix epoch seconds must not be negative, got {0}")]
    Negative(f64),
    #[error(
        "Unix epoch seconds must be at most {MAX_EPOCH_SECONDS} (year 9999), got {0}; \
         milliseconds must be divided by 1000"
    )]
    TooLarge(f64),
}

/// Parses a timestamp. `null` means "no timestamp" (as does leaving the field out); the result
/// is RFC 3339 in UTC with as many fraction digits as the input carried.
pub fn parse(value: &Value) -> Result<Option<String>, TimestampError> {
    let instant = match value {
        Value::Null => return Ok(None),
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| TimestampError::NotRfc3339(shorten(text)))?,
        Value::Number(n) => from_epoch_seconds(n)?,
        Value::Bool(_) => return Err(TimestampError::WrongType("a boolean")),
        Value::Array(_) => return Err(TimestampError::WrongType("an array")),
        Value::Object(_) => return Err(TimestampError::WrongType("an object")),
    };
    Ok(Some(instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
}

fn from_epoch_seconds(n: &serde_json::Number) -> Result<DateTime<Utc>, TimestampError> {
    // Integers are taken exactly; floats keep microsecond precision at most (an f64 holds
    // about 16 digits, and today's epoch seconds use 10 of them).
    let (secs, nanos) = if let Some(i) = n.as_i64() {
        (i, 0)
    } else {
        let f = n.as_f64().unwrap_or(f64::INFINITY);
        if f < 0.0 {
            return Err(TimestampError::Negative(f));
        }
        if f > MAX_EPOCH_SECONDS {
            return Err(TimestampError::TooLarge(f));
        }
        let secs = f.floor();
        let micros = ((f - secs) * 1e6).round().min(999_999.0);
        (secs as i64, micros as u32 * 1000)
    };
    if secs < 0 {
        return Err(TimestampError::Negative(secs as f64));
    }
    if secs as f64 > MAX_EPOCH_SECONDS {
        return Err(TimestampError::TooLarge(secs as f64));
    }
    DateTime::from_timestamp(secs, nanos).ok_or(TimestampError::TooLarge(secs as f64))
}

/// Quotes at most 40 characters of a rejected string, so a huge value cannot flood the answer.
fn shorten(text: &str) -> String {
    if text.chars().count() <= 40 {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(40).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rfc3339_and_epoch_seconds_name_the_same_instant() {
        let text = parse(&json!("2026-11-23T10:00:00+01:00")).unwrap();
        let int = parse(&json!(1_795_424_400)).unwrap();
        assert_eq!(text.as_deref(), Some("2026-11-23T09:00:00Z"));
        assert_eq!(text, int);
    }

    #[test]
    fn float_seconds_keep_their_fraction() {
        let t = parse(&json!(1_795_424_400.25)).unwrap();
        assert_eq!(t.as_deref(), Some("2026-11-23T09:00:00.250Z"));
    }

    #[test]
    fn null_means_no_timestamp() {
        assert_eq!(parse(&Value::Null), Ok(None));
    }

    #[test]
    fn other_types_and_out_of_range_numbers_are_refused() {
        assert_eq!(
            parse(&json!(true)),
            Err(TimestampError::WrongType("a boolean"))
        );
        assert_eq!(
            parse(&json!({})),
            Err(TimestampError::WrongType("an object"))
        );
        assert_eq!(
            parse(&json!([1])),
            Err(TimestampError::WrongType("an array"))
        );
        assert!(matches!(
            parse(&json!("yesterday")),
            Err(TimestampError::NotRfc3339(_))
        ));
        assert!(matches!(
            parse(&json!(-1)),
            Err(TimestampError::Negative(_))
        ));
        assert!(matches!(
            parse(&json!(-0.5)),
            Err(TimestampError::Negative(_))
        ));
        // Milliseconds sent as seconds.
        let err = parse(&json!(1_795_424_400_000i64)).unwrap_err();
        assert!(err.to_string().contains("milliseconds"), "{err}");
        assert!(matches!(
            parse(&json!(1e300)),
            Err(TimestampError::TooLarge(_))
        ));
    }
}
