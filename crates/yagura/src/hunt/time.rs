//! Event times: parsing `--from` / `--to` and printing Unix milliseconds as UTC ISO 8601.

use anyhow::{bail, Result};

const MS_PER_DAY: i64 = 86_400_000;

/// Which end of a time range a bound is.
#[derive(Clone, Copy)]
pub enum Bound {
    /// `--from`: a bare date means its first millisecond.
    Start,
    /// `--to`: a bare date means its last millisecond (the whole day is included).
    End,
}

/// Parses an RFC 3339 timestamp (`2020-06-10T02:50:56Z`, offsets allowed) or a bare date
/// (`2020-06-10`, UTC) into Unix milliseconds.
pub fn parse_bound(text: &str, bound: Bound) -> Result<i64> {
    let t = text.trim();
    if t.len() == 10 {
        if let Some(ms) = yagura_normalize::parse_timestamp(&format!("{t}T00:00:00Z")) {
            return Ok(match bound {
                Bound::Start => ms,
                Bound::End => ms + MS_PER_DAY - 1,
            });
        }
    }
    match yagura_normalize::parse_timestamp(t) {
        Some(ms) => Ok(ms),
        None => {
            bail!("invalid time {text:?}: expected RFC 3339 (2020-06-10T02:50:56Z) or YYYY-MM-DD")
        }
    }
}

/// `ms` as `2020-06-10T02:50:56.537Z`.
pub fn format_utc(ms: i64) -> String {
    yagura_normalize::Rfc3339(ms).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let ms = parse_bound("2020-06-10T02:50:56.537Z", Bound::Start).unwrap();
        assert_eq!(format_utc(ms), "2020-06-10T02:50:56.537Z");
        assert_eq!(format_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        let end = parse_bound("2020-06-10", Bound::End).unwrap();
        assert_eq!(format_utc(end), "2020-06-10T23:59:59.999Z");
        assert!(parse_bound("yesterday", Bound::Start).is_err());
    }
}
