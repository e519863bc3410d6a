//! Parsers from field text to typed values, shared by type inference and column parsing.
//!
//! They work on bytes (no intermediate `String`), accept surrounding spaces and tabs (padded
//! exports are common), and say *why* a value does not fit so the error message can help.

/// Why a field does not parse as the column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not text of this type at all.
    Syntax,
    /// Text of this type, but outside what the Arrow type can hold (e.g. > i64::MAX).
    Range,
}

#[inline]
fn trim(b: &[u8]) -> &[u8] {
    let is_space = |c: &u8| *c == b' ' || *c == b'\t';
    // Almost every field is unpadded: check the two ends before scanning.
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if !is_space(f) && !is_space(l) => return b,
        _ => {}
    }
    let start = b.iter().position(|c| !is_space(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_space(c)).map_or(start, |p| p + 1);
    &b[start..end]
}

pub(crate) fn parse_i64(text: &[u8]) -> Result<i64, Invalid> {
    let b = trim(text);
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return Err(Invalid::Syntax);
    }
    // Up to 18 digits cannot overflow: no checks in the loop.
    if digits.len() <= 18 {
        let mut acc: i64 = 0;
        for &c in digits {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return Err(Invalid::Syntax);
            }
            acc = acc * 10 + d as i64;
        }
        return Ok(if neg { -acc } else { acc });
    }
    // Accumulate negatively so i64::MIN parses without overflow.
    let mut acc: i64 = 0;
    let mut overflow = false;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(Invalid::Syntax);
        }
        if !overflow {
            match acc.checked_mul(10).and_then(|v| v.checked_sub(d as i64)) {
                Some(v) => acc = v,
                None => overflow = true,
            }
        }
    }
    if overflow {
        return Err(Invalid::Range);
    }
    if neg {
        Ok(acc)
    } else {
        acc.checked_neg().ok_or(Invalid::Range)
    }
}

/// True for integers written with a leading zero (`007`, `-01`): identifiers such as zip
/// codes and phone numbers. Inference keeps those as text so the zeros survive.
pub(crate) fn has_leading_zero(text: &[u8]) -> bool {
    let b = trim(text);
    let digits = match b.first() {
        Some(b'-') | Some(b'+') => &b[1..],
        _ => b,
    };
    digits.len() > 1 && digits[0] == b'0'
}

/// Exact powers of ten as doubles (10^22 is the largest one a double holds exactly).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Plain decimals (`-123.45`: at most 15 digits, no exponent) without the general parser.
///
/// Exact by Clinger's fast path: the digits as an integer are below 2^53 and 10^k is exactly
/// representable, so both are exact doubles and one IEEE division rounds correctly — the same
/// result as the general parser. Anything else returns `None` and takes the general path.
#[inline]
fn parse_f64_simple(b: &[u8]) -> Option<f64> {
    let (neg, rest) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut frac_digits = 0usize;
    let mut seen_dot = false;
    for &c in rest {
        if c == b'.' && !seen_dot {
            seen_dot = true;
            continue;
        }
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        mantissa = mantissa * 10 + d as u64;
        digits += 1;
        frac_digits += seen_dot as usize;
        if digits > 15 {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    let v = mantissa as f64 / POW10[frac_digits];
    Some(if neg { -v } else { v })
}

pub(crate) fn parse_f64(text: &[u8]) -> Result<f64, Invalid> {
    let b = trim(text);
    if let Some(v) = parse_f64_simple(b) {
        return Ok(v);
    }
    // Rust's float parser is exact (correctly rounded); it needs &str, and every valid float
    // text is ASCII, so a non-ASCII field is simply a syntax error.
    if !b.is_ascii() {
        return Err(Invalid::Syntax);
    }
    // SAFETY: ASCII bytes are valid UTF-8 (checked just above; cheaper than `from_utf8`).
    let s = unsafe { std::str::from_utf8_unchecked(b) };
    if s.is_empty() {
        return Err(Invalid::Syntax);
    }
    let v = s.parse::<f64>().map_err(|_| Invalid::Syntax)?;
    // A number written with digits that is too large for a double (`1e400`) parses as
    // infinity: out of range, as in DuckDB. Only `inf`/`infinity`/`nan` spelled out (which
    // have no digits) give infinity or NaN. A too small one (`1e-400`) rounds to 0.
    if v.is_infinite() && b.iter().any(u8::is_ascii_digit) {
        return Err(Invalid::Range);
    }
    Ok(v)
}

/// Strict booleans, the only ones inference picks: `true` / `false` in any case.
pub(crate) fn parse_bool_strict(text: &[u8]) -> Option<bool> {
    let b = trim(text);
    // `| 0x20` lowercases ASCII letters; the length check comes first, so it is one compare.
    let lower = |i: usize| b[i] | 0x20;
    match b.len() {
        4 if lower(0) == b't' && lower(1) == b'r' && lower(2) == b'u' && lower(3) == b'e' => Some(true),
        5 if lower(0) == b'f' && lower(1) == b'a' && lower(2) == b'l' && lower(3) == b's' && lower(4) == b'e' => {
            Some(false)
        }
        _ => None,
    }
}

/// Booleans in a column declared boolean: also `t/f`, `yes/no`, `y/n`, `1/0`.
pub(crate) fn parse_bool(text: &[u8]) -> Result<bool, Invalid> {
    if let Some(v) = parse_bool_strict(text) {
        return Ok(v);
    }
    let b = trim(text);
    for (t, v) in [
        (&b"t"[..], true),
        (b"f", false),
        (b"yes", true),
        (b"no", false),
        (b"y", true),
        (b"n", false),
        (b"1", true),
        (b"0", false),
    ] {
        if b.eq_ignore_ascii_case(t) {
            return Ok(v);
        }
    }
    Err(Invalid::Syntax)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (valid for any i32 year).
#[inline]
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year so it starts in March: the leap day is then the last day of the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[inline]
fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            if leap {
                29
            } else {
                28
            }
        }
    }
}

#[inline(always)]
fn digits(b: &[u8], n: usize) -> Option<u32> {
    let b = b.get(..n)?;
    let mut v = 0u32;
    let mut bad = 0u8;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        bad |= (d > 9) as u8;
        v = v * 10 + d as u32;
    }
    // One branch for all the digits: the common case (all digits) runs straight through.
    if bad != 0 {
        None
    } else {
        Some(v)
    }
}

/// `YYYY-MM-DD` at the start of `b`: (days since epoch, bytes used).
#[inline]
fn date_prefix(b: &[u8]) -> Result<(i64, usize), Invalid> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(Invalid::Syntax);
    }
    let year = digits(b, 4).ok_or(Invalid::Syntax)? as i64;
    let month = digits(&b[5..], 2).ok_or(Invalid::Syntax)?;
    let day = digits(&b[8..], 2).ok_or(Invalid::Syntax)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(Invalid::Range);
    }
    Ok((days_from_civil(year, month, day), 10))
}

/// ISO date `YYYY-MM-DD` as days since 1970-01-01 (Arrow Date32).
pub(crate) fn parse_date(text: &[u8]) -> Result<i32, Invalid> {
    let b = trim(text);
    let (days, used) = date_prefix(b)?;
    if used != b.len() {
        return Err(Invalid::Syntax);
    }
    Ok(days as i32)
}

/// `YYYY-MM-DD[T ]HH:MM:SS` exactly (the common export layout), no offset; `None` for anything
/// else, which takes the general path (which also words range errors).
#[inline]
fn parse_timestamp_simple(b: &[u8]) -> Option<i64> {
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b'T' && b[10] != b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = digits(b, 4)? as i64;
    let (month, day) = (digits(&b[5..], 2)?, digits(&b[8..], 2)?);
    let (hour, minute, second) = (digits(&b[11..], 2)?, digits(&b[14..], 2)?, digits(&b[17..], 2)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None; // the general path reports the range error
    }
    let secs = days_from_civil(year, month, day) * 86_400 + (hour * 3600 + minute * 60 + second) as i64;
    Some(secs * 1_000_000)
}

/// Parsed timestamp: microseconds since the epoch in UTC, and whether the text carried an
/// explicit offset (`Z`, `+02:00`, ...).
pub(crate) fn parse_timestamp(text: &[u8]) -> Result<(i64, bool), Invalid> {
    let b = trim(text);
    match parse_timestamp_simple(b) {
        Some(v) => Ok((v, false)),
        None => parse_timestamp_general(b),
    }
}

/// Every layout `parse_timestamp` accepts, with the reason when the text is not one.
fn parse_timestamp_general(b: &[u8]) -> Result<(i64, bool), Invalid> {
    let (days, mut i) = date_prefix(b)?;
    let mut micros_of_day: i64 = 0;
    let mut has_offset = false;
    if i < b.len() {
        if b[i] != b'T' && b[i] != b't' && b[i] != b' ' {
            return Err(Invalid::Syntax);
        }
        i += 1;
        let rest = &b[i..];
        if rest.len() < 5 || rest[2] != b':' {
            return Err(Invalid::Syntax);
        }
        let hour = digits(rest, 2).ok_or(Invalid::Syntax)?;
        let minute = digits(&rest[3..], 2).ok_or(Invalid::Syntax)?;
        i += 5;
        let mut second = 0;
        if b.get(i) == Some(&b':') {
            second = digits(&b[i + 1..], 2).ok_or(Invalid::Syntax)?;
            i += 3;
        }
        let mut frac_micros: i64 = 0;
        if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                // Digits past microseconds are truncated (Arrow/Parquet microsecond precision).
                if i - start < 6 {
                    frac_micros = frac_micros * 10 + (b[i] - b'0') as i64;
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 {
                return Err(Invalid::Syntax);
            }
            for _ in n..6 {
                frac_micros *= 10;
            }
        }
        // 24:00:00 is not accepted; 60 seconds (leap second) is not representable either.
        if hour > 23 || minute > 59 || second > 59 {
            return Err(Invalid::Range);
        }
        micros_of_day = ((hour as i64 * 60 + minute as i64) * 60 + second as i64) * 1_000_000 + frac_micros;
        // Optional offset, possibly after one space: Z, +HH, +HHMM, +HH:MM, or "UTC".
        let mut j = i;
        if b.get(j) == Some(&b' ') {
            j += 1;
        }
        if j < b.len() {
            let off = &b[j..];
            let offset_secs: i64 = if off == b"Z" || off == b"z" || off.eq_ignore_ascii_case(b"UTC") {
                0
            } else if off[0] == b'+' || off[0] == b'-' {
                let sign = if off[0] == b'-' { -1 } else { 1 };
                let o = &off[1..];
                let (h, m) = match o.len() {
                    2 => (digits(o, 2), Some(0)),
                    4 => (digits(o, 2), digits(&o[2..], 2)),
                    5 if o[2] == b':' => (digits(o, 2), digits(&o[3..], 2)),
                    _ => (None, None),
                };
                let (h, m) = (h.ok_or(Invalid::Syntax)?, m.ok_or(Invalid::Syntax)?);
                if h > 18 || m > 59 {
                    return Err(Invalid::Range);
                }
                sign * (h as i64 * 3600 + m as i64 * 60)
            } else {
                return Err(Invalid::Syntax);
            };
            has_offset = true;
            micros_of_day -= offset_secs * 1_000_000;
            i = b.len();
        }
        if i != b.len() {
            return Err(Invalid::Syntax);
        }
    }
    days.checked_mul(86_400_000_000)
        .and_then(|d| d.checked_add(micros_of_day))
        .map(|v| (v, has_offset))
        .ok_or(Invalid::Range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_timestamp_path_agrees_with_the_general_one() {
        // Texts in and around the fast path's layout: digits out of range, wrong separators,
        // fractions of 0-10 digits, a '.' or ',' and an offset now and then.
        let mut state = 7u64;
        let mut next = |m: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let (mut fast, mut checked) = (0, 0);
        for _ in 0..300_000 {
            let pick = |options: &[&str], k: u64| options[k as usize % options.len()].to_string();
            let mut t = format!(
                "{:04}{}{:02}-{:02}{}{:02}:{:02}:{:02}",
                1900 + next(200),
                pick(&["-", "-", "-", "/"], next(4)),
                next(14),
                next(33),
                pick(&["T", " ", "T", "t"], next(4)),
                next(26),
                next(62),
                next(62),
            );
            if next(3) == 0 {
                t.push_str(&pick(&[".", ".", ","], next(3)));
                for _ in 0..next(11) {
                    t.push(if next(30) == 0 { 'x' } else { char::from(b'0' + next(10) as u8) });
                }
            }
            if next(10) == 0 {
                t.push_str(&pick(&["Z", "+02:00", " UTC"], next(3)));
            }
            if let Some(v) = parse_timestamp_simple(t.as_bytes()) {
                fast += 1;
                assert_eq!(parse_timestamp_general(t.as_bytes()), Ok((v, false)), "{t}");
            }
            checked += 1;
        }
        assert!(fast > checked / 5, "the fast path took {fast} of {checked}");
    }

    #[test]
    fn integers_agree_with_the_standard_library_on_every_length_and_byte() {
        // Random texts of 0-20 bytes from digits, signs, spaces and bytes next to '0'-'9'
        // ('/', ':', 0xB0-0xB9 with the high bit set), checked against str::parse on the
        // trimmed text: the value, or Syntax vs Range.
        use std::num::IntErrorKind::{NegOverflow, PosOverflow};
        let alphabet: Vec<u8> = b"0123456789012345678999-+ /:".iter().copied().chain([0xB0, 0xB9]).collect();
        let mut state = 99u64;
        let mut next = |m: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % m
        };
        for _ in 0..200_000 {
            let len = next(21);
            let text: Vec<u8> = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let trimmed = trim(&text);
            let expected = match std::str::from_utf8(trimmed).ok().map(str::parse::<i64>) {
                Some(Ok(v)) => Ok(v),
                Some(Err(e)) if matches!(e.kind(), PosOverflow | NegOverflow) => Err(Invalid::Range),
                _ => Err(Invalid::Syntax),
            };
            assert_eq!(parse_i64(&text), expected, "{:?}", String::from_utf8_lossy(&text));
        }
        for v in [0i64, 7, 10, 99, 1234, 9_999_999, 10_000_000, 99_999_999, 100_000_000, i64::MAX, i64::MIN] {
            assert_eq!(parse_i64(v.to_string().as_bytes()), Ok(v));
        }
    }

    #[test]
    fn integers_parse_with_sign_spaces_and_range_checks() {
        assert_eq!(parse_i64(b"42"), Ok(42));
        assert_eq!(parse_i64(b"0000000000000001"), Ok(1));
        assert_eq!(parse_i64(b"9999999999999999"), Ok(9_999_999_999_999_999));
        assert_eq!(parse_i64(b"12345678901234567"), Ok(12_345_678_901_234_567));
        assert_eq!(parse_i64(b" -7\t"), Ok(-7));
        assert_eq!(parse_i64(b"+5"), Ok(5));
        assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), Err(Invalid::Range));
        assert_eq!(parse_i64(b"99999999999999999999999"), Err(Invalid::Range));
        assert_eq!(parse_i64(b"1.5"), Err(Invalid::Syntax));
        assert_eq!(parse_i64(b"-"), Err(Invalid::Syntax));
        assert_eq!(parse_i64(b""), Err(Invalid::Syntax));
        assert!(has_leading_zero(b"007"));
        assert!(!has_leading_zero(b"0"));
        assert!(!has_leading_zero(b"70"));
    }

    #[test]
    fn the_decimal_fast_path_matches_the_general_parser() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200_000 {
            let int = next() % 10u64.pow((next() % 12) as u32);
            let frac_len = (next() % 5) as usize;
            let frac = next() % 10u64.pow(frac_len as u32);
            let sign = if next() % 3 == 0 { "-" } else { "" };
            let text = if frac_len == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac:0frac_len$}") };
            let want: f64 = text.parse().unwrap();
            assert_eq!(parse_f64(text.as_bytes()), Ok(want), "{text}");
        }
        for text in ["0.1", "1.", ".5", "123456789012345", "1234567890123456", "0.30000000000000004", "1e3", "-0.0"] {
            assert_eq!(parse_f64(text.as_bytes()), Ok(text.parse::<f64>().unwrap()), "{text}");
        }
        assert_eq!(parse_f64(b"1.2.3"), Err(Invalid::Syntax));
        assert_eq!(parse_f64(b"."), Err(Invalid::Syntax));
        assert_eq!(parse_f64(b"-"), Err(Invalid::Syntax));
    }

    #[test]
    fn floats_and_booleans() {
        assert_eq!(parse_f64(b"1.25"), Ok(1.25));
        assert_eq!(parse_f64(b"-3e2"), Ok(-300.0));
        assert_eq!(parse_f64(b"abc"), Err(Invalid::Syntax));
        assert_eq!(parse_f64(b"1e400"), Err(Invalid::Range));
        assert_eq!(parse_f64(b"-1.5e309"), Err(Invalid::Range));
        assert_eq!(parse_f64(format!("1{}", "0".repeat(400)).as_bytes()), Err(Invalid::Range));
        assert_eq!(parse_f64(b"1.7976931348623157e308"), Ok(f64::MAX));
        assert_eq!(parse_f64(b"1e-400"), Ok(0.0));
        assert_eq!(parse_f64(b"inf"), Ok(f64::INFINITY));
        assert_eq!(parse_f64(b"-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(parse_f64(b"NaN").unwrap().is_nan());
        assert_eq!(parse_bool_strict(b"TRUE"), Some(true));
        assert_eq!(parse_bool_strict(b"1"), None);
        assert_eq!(parse_bool_strict(b"False"), Some(false));
        assert_eq!(parse_bool_strict(b"trUE "), Some(true));
        assert_eq!(parse_bool_strict(b"tru"), None);
        assert_eq!(parse_bool_strict(b"truth"), None);
        assert_eq!(parse_bool(b"no"), Ok(false));
        assert_eq!(parse_bool(b"maybe"), Err(Invalid::Syntax));
    }

    #[test]
    fn dates_are_checked_against_the_calendar() {
        assert_eq!(parse_date(b"1970-01-01"), Ok(0));
        assert_eq!(parse_date(b"2024-02-29"), Ok(19782));
        assert_eq!(parse_date(b"2023-02-29"), Err(Invalid::Range));
        assert_eq!(parse_date(b"2024-13-01"), Err(Invalid::Range));
        assert_eq!(parse_date(b"1969-12-31"), Ok(-1));
        assert_eq!(parse_date(b"2024-1-01"), Err(Invalid::Syntax));
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
    }

    #[test]
    fn timestamps_accept_t_or_space_fractions_and_offsets() {
        let day = 19782i64 * 86_400_000_000; // 2024-02-29
        assert_eq!(parse_timestamp(b"2024-02-29T00:00:00"), Ok((day, false)));
        assert_eq!(parse_timestamp(b"2024-02-29 01:02:03.5"), Ok((day + 3_723_500_000, false)));
        assert_eq!(parse_timestamp(b"2024-02-29T01:02"), Ok((day + 3_720_000_000, false)));
        assert_eq!(parse_timestamp(b"2024-02-29T01:00:00Z"), Ok((day + 3_600_000_000, true)));
        assert_eq!(parse_timestamp(b"2024-02-29T03:00:00+02:00"), Ok((day + 3_600_000_000, true)));
        assert_eq!(parse_timestamp(b"2024-02-29T00:30:00-0030"), Ok((day + 3_600_000_000, true)));
        assert_eq!(parse_timestamp(b"2024-02-29 01:00:00 UTC"), Ok((day + 3_600_000_000, true)));
        // Seven fractional digits (SQL Server datetime2) are truncated to microseconds.
        assert_eq!(parse_timestamp(b"2024-02-29T00:00:00.1234567"), Ok((day + 123_456, false)));
        assert_eq!(parse_timestamp(b"2024-02-29"), Ok((day, false)));
        assert_eq!(parse_timestamp(b"2024-02-29T25:00:00"), Err(Invalid::Range));
        assert_eq!(parse_timestamp(b"2023-02-29T01:00:00"), Err(Invalid::Range));
        assert_eq!(parse_timestamp(b"2024-02-29 01:02:03"), Ok((day + 3_723_000_000, false)));
        assert_eq!(parse_timestamp(b"2024-02-29T01:02:0x"), Err(Invalid::Syntax));
        assert_eq!(parse_timestamp(b"2024-02-29X01:00"), Err(Invalid::Syntax));
        assert_eq!(parse_timestamp(b"2024-02-29T01:00:00+2"), Err(Invalid::Syntax));
        assert_eq!(parse_timestamp(b"1900-01-01T00:00:00"), Ok((days_from_civil(1900, 1, 1) * 86_400_000_000, false)));
    }
}
