//! Timestamps of text logs: month names, civil dates, RFC 3339 output.

pub(crate) use crate::time::{civil_from_days, days_from_civil, Rfc3339};

/// Year of a Unix-milliseconds instant.
pub(crate) fn year_of(ms: i64) -> i64 {
    civil_from_days(ms.div_euclid(86_400_000)).0
}

/// `Jan`..`Dec` (any case) as 1..=12.
pub(crate) fn month(b: &[u8]) -> Option<i64> {
    let m = match b.get(..3)? {
        [a, b, c] => [
            a.to_ascii_lowercase(),
            b.to_ascii_lowercase(),
            c.to_ascii_lowercase(),
        ],
        _ => return None,
    };
    Some(match &m {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// Decimal digits `b[from..from+len]`.
pub(crate) fn digits(b: &[u8], from: usize, len: usize) -> Option<i64> {
    let d = b.get(from..from + len)?;
    d.iter().try_fold(0i64, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

/// `hh:mm:ss` at `b[at..]`, as milliseconds of the day, plus an optional `.fff…` / `,fff…`
/// fraction. Returns (millis, bytes consumed).
pub(crate) fn clock(b: &[u8], at: usize) -> Option<(i64, usize)> {
    let h = digits(b, at, 2)?;
    let mi = digits(b, at + 3, 2)?;
    let s = digits(b, at + 6, 2)?;
    if b.get(at + 2) != Some(&b':') || b.get(at + 5) != Some(&b':') || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = at + 8;
    let mut ms = 0;
    if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                ms = ms * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        for _ in (i - start).min(3)..3 {
            ms *= 10;
        }
    }
    Some((((h * 60 + mi) * 60 + s) * 1000 + ms, i - at))
}

/// A `+hhmm` / `-hh:mm` / `Z` zone at `b[at..]`: (offset minutes, bytes consumed).
pub(crate) fn zone(b: &[u8], at: usize) -> Option<(i64, usize)> {
    match b.get(at)? {
        b'Z' | b'z' => Some((0, 1)),
        &sign @ (b'+' | b'-') => {
            let h = digits(b, at + 1, 2)?;
            let (m, len) = if b.get(at + 3) == Some(&b':') {
                (digits(b, at + 4, 2)?, 6)
            } else {
                (digits(b, at + 3, 2)?, 5)
            };
            let off = h * 60 + m;
            Some((if sign == b'-' { -off } else { off }, len))
        }
        _ => None,
    }
}

/// Unix ms of a civil date and time of day (`ms_of_day`), at `offset_min` from UTC.
pub(crate) fn to_ms(y: i64, m: i64, d: i64, ms_of_day: i64, offset_min: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400_000 + ms_of_day - offset_min * 60_000)
}

/// ISO 8601 at the start of `s` (`2024-01-02T03:04:05.123456+01:00`, `2024-01-02 03:04:05`,
/// no zone = UTC): (Unix ms, bytes consumed).
pub(crate) fn iso_prefix(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    let y = digits(b, 0, 4)?;
    let m = digits(b, 5, 2)?;
    let d = digits(b, 8, 2)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    let (day_ms, len) = clock(b, 11)?;
    let mut i = 11 + len;
    let (off, zlen) = zone(b, i).unwrap_or((0, 0));
    i += zlen;
    Some((to_ms(y, m, d, day_ms, off)?, i))
}

/// Any timestamp text found in JSON documents: ISO 8601 / RFC 3339 (also with a space before
/// the zone, `2024-01-15 10:30:45 +0000`), or Unix seconds / milliseconds as a number.
pub(crate) fn lenient(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(ms) = crate::parse_timestamp(s) {
        return Some(ms);
    }
    let (ms, used) = iso_prefix(s)?;
    let rest = s[used..].trim_start();
    if rest.is_empty() {
        return Some(ms);
    }
    let (off, zlen) = zone(rest.as_bytes(), 0)?;
    (zlen == rest.len()).then(|| ms - off * 60_000)
}

/// Unix epoch seconds with a fraction (`1521911799.739898`) as ms.
pub(crate) fn epoch_secs(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|c| c.is_ascii_digit()) || int.len() > 12 {
        return None;
    }
    let mut ms: i64 = int.parse::<i64>().ok()? * 1000;
    let mut mul = 100;
    for c in frac.bytes().take(3) {
        if !c.is_ascii_digit() {
            return None;
        }
        ms += i64::from(c - b'0') * mul;
        mul /= 10;
    }
    Some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_formats() {
        for days in [-1000, 0, 1, 59, 365, 11_016, 20_000, 30_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(Rfc3339(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Rfc3339(1_761_399_873_440).to_string(),
            "2025-10-25T13:44:33.440Z"
        );
        assert_eq!(
            iso_prefix("2021-01-01T00:00:00.5+01:00 x").map(|p| p.1),
            Some(27)
        );
        assert_eq!(
            lenient("2024-01-15 10:30:45 +0100"),
            Some(1_705_311_045_000)
        );
        assert_eq!(epoch_secs("1521911799.739898"), Some(1_521_911_799_739));
        assert_eq!(month(b"Dec"), Some(12));
    }
}
