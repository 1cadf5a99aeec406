//! Column types and the values that fit them.
//!
//! Rules, in the order they are tried for a column (the first that every non-empty value fits wins):
//! boolean (`true`/`false`, any case), int64 (optional sign, digits, no leading zero: `007` stays text),
//! float64 (decimal point or exponent; no leading zeros either), date, timestamp, string.
//! Empty fields are nulls and fit every type. Integers too large for int64 stay text, never a float.
//! Dates: `2024-01-31`, `2024/01/31`, and day or month first with `/`, `.` or `-` (`31/01/2024`,
//! `01/31/2024`). When every value of a column could be read either way (`01/02/2024`), the column stays
//! text and is reported as ambiguous: the user chooses the order, it is never guessed.
//! Timestamps: ISO 8601 with `T` or a space, minutes or seconds, optional fraction and offset; values
//! without an offset are taken as UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Serialize;

/// Order of day, month and year in a date column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum DateOrder {
    /// Year first: `2024-01-31`, `2024/01/31`.
    Ymd,
    /// Day first: `31/01/2024`, `31.01.2024`.
    Dmy,
    /// Month first: `01/31/2024`.
    Mdy,
}

/// The type of a column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "type")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ColumnType {
    /// 64-bit signed integers.
    Int64,
    /// 64-bit floating point.
    Float64 {
        /// Written with a decimal comma (`12,50`), as spreadsheets in many locales export with `;`.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        decimal_comma: bool,
    },
    /// `true` / `false`.
    Boolean,
    /// Calendar dates in the given order.
    Date {
        /// Field order.
        order: DateOrder,
    },
    /// Instants, stored in UTC with microseconds.
    Timestamp,
    /// Text, kept exactly as written.
    String,
}

impl ColumnType {
    /// The name used in previews, errors and overrides (`int64`, `float64`, `boolean`, `date`, `timestamp`, `string`).
    pub fn name(&self) -> &'static str {
        match self {
            ColumnType::Int64 => "int64",
            ColumnType::Float64 { .. } => "float64",
            ColumnType::Boolean => "boolean",
            ColumnType::Date { .. } => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::String => "string",
        }
    }

    /// Parses an override such as `int64`, `string`, `date`, `date:dmy`, `date:mdy`.
    pub fn from_name(name: &str) -> Option<ColumnType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "int64" | "int" | "integer" | "long" => ColumnType::Int64,
            "float64" | "float" | "double" => ColumnType::Float64 {
                decimal_comma: false,
            },
            "float64:comma" | "float:comma" => ColumnType::Float64 {
                decimal_comma: true,
            },
            "boolean" | "bool" => ColumnType::Boolean,
            "date" | "date:ymd" => ColumnType::Date {
                order: DateOrder::Ymd,
            },
            "date:dmy" => ColumnType::Date {
                order: DateOrder::Dmy,
            },
            "date:mdy" => ColumnType::Date {
                order: DateOrder::Mdy,
            },
            "timestamp" | "datetime" => ColumnType::Timestamp,
            "string" | "text" => ColumnType::String,
            _ => return None,
        })
    }

    /// The Delta primitive type this column is stored as (`long`, `double`, `boolean`, `date`,
    /// `timestamp`, `string`).
    pub fn delta_name(&self) -> &'static str {
        match self {
            ColumnType::Int64 => "long",
            ColumnType::Float64 { .. } => "double",
            ColumnType::Boolean => "boolean",
            ColumnType::Date { .. } => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::String => "string",
        }
    }

    /// The column type a Delta primitive type is read back as (the inverse of [`delta_name`]); a
    /// stored date knows no text order, so it reads as year first, and a stored double as written
    /// with a decimal point. `None` for types this crate never writes.
    ///
    /// [`delta_name`]: ColumnType::delta_name
    pub fn from_delta_name(name: &str) -> Option<ColumnType> {
        Some(match name {
            "long" => ColumnType::Int64,
            "double" => ColumnType::Float64 {
                decimal_comma: false,
            },
            "boolean" => ColumnType::Boolean,
            "date" => ColumnType::Date {
                order: DateOrder::Ymd,
            },
            "timestamp" => ColumnType::Timestamp,
            "string" => ColumnType::String,
            _ => return None,
        })
    }

    /// The type a column of this type becomes when `value` (trimmed) does not fit it: int64 widens to
    /// float64 when the value is a number (with a decimal comma only if `decimal_comma_allowed`: the
    /// file's delimiter is not a comma), every other type to string. The lattice is
    /// int64 < float64 < string, and boolean, date, timestamp < string.
    pub fn widen(&self, value: &str, decimal_comma_allowed: bool) -> ColumnType {
        let value = value.trim();
        match self {
            ColumnType::Int64 if parse_float(value).is_some() => ColumnType::Float64 {
                decimal_comma: false,
            },
            ColumnType::Int64 if decimal_comma_allowed && parse_float_comma(value).is_some() => {
                ColumnType::Float64 {
                    decimal_comma: true,
                }
            }
            _ => ColumnType::String,
        }
    }

    /// Whether values inferred as this type can be stored as `wanted` (a dataset's column type), by
    /// widening along the lattice: int64 as float64 or string; float64, boolean, date and timestamp as
    /// string. Answers the type to read this column as, or `None` when it cannot widen to `wanted` (the same type included: nothing to change).
    pub fn widens_to(&self, wanted: &ColumnType) -> Option<ColumnType> {
        match (self, wanted) {
            (ColumnType::Int64, ColumnType::Float64 { .. }) => Some(ColumnType::Float64 {
                decimal_comma: false,
            }),
            (ColumnType::String, _) => None,
            (_, ColumnType::String) => Some(ColumnType::String),
            _ => None,
        }
    }
}

/// What inference found for one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inference {
    /// The chosen type.
    pub column_type: ColumnType,
    /// Every date in the column reads both day-first and month-first (the column was left as text).
    pub ambiguous_dates: bool,
    /// Empty fields seen.
    pub nulls: usize,
}

/// Parses an int64 the way inference accepts it: an optional sign and digits, no leading zero
/// (`007` is a code, kept as text), within range.
pub fn parse_int(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    // Four to eight digits (ids, amounts in cents, years): one word, no loop.
    if let Some(value) = right_aligned(digits).map(eight_digits) {
        let value = value? as i64;
        return Some(if negative { -value } else { value });
    }
    // Accumulated negatively, so that i64::MIN fits.
    let mut value: i64 = 0;
    for &b in digits {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_sub(i64::from(digit))?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

/// Parses a float64 the way inference accepts it.
pub fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    match short_decimal(unsigned.as_bytes()) {
        Some(value) if text.starts_with('-') => Some(-value),
        Some(value) => Some(value),
        None => parse_float_general(text),
    }
}

/// [`parse_float`] for every shape: sign, digits, point, exponent, checked byte by byte.
fn parse_float_general(text: &str) -> Option<f64> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text.as_bytes()[1..]),
        b'+' => (false, &text.as_bytes()[1..]),
        _ => (false, text.as_bytes()),
    };
    let first = *unsigned.first()?;
    if !(first.is_ascii_digit() || first == b'.') {
        return None;
    }
    // One pass: only digits, one point, an exponent; remember where the integer part ends, and
    // gather the digits for the fast path below.
    let mut integer_digits = 0;
    let (mut point, mut exponent) = (false, false);
    let (mut mantissa, mut digits, mut decimals) = (0u64, 0u32, 0u32);
    for (i, &b) in unsigned.iter().enumerate() {
        match b {
            b'0'..=b'9' if !exponent => {
                if !point {
                    integer_digits += 1;
                } else {
                    decimals += 1;
                }
                if mantissa != 0 || b != b'0' {
                    digits += 1;
                }
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            }
            b'0'..=b'9' => {}
            b'.' if !point && !exponent => point = true,
            b'e' | b'E' if !exponent && i > 0 => exponent = true,
            b'-' | b'+' if exponent && matches!(unsigned[i - 1], b'e' | b'E') => {}
            _ => return None,
        }
    }
    if integer_digits > 1 && first == b'0' {
        return None; // a code such as 007.5 or 00.5
    }
    if !point && !exponent {
        // A whole number: it is an int64, or, too large for one, text (a float would lose digits).
        return parse_int(text).map(|v| v as f64);
    }
    if !exponent && digits <= 15 && decimals <= 22 && integer_digits + decimals > 0 {
        // Both the digits (below 2^53) and the power of ten are exact doubles, so one correctly
        // rounded division gives the correctly rounded value (Clinger's fast path).
        const POWERS: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ];
        let value = mantissa as f64 / POWERS[decimals as usize];
        return Some(if negative { -value } else { value });
    }
    text.parse().ok()
}

/// A plain decimal of 4 to 8 characters with digits on both sides of the point (`631.07`), the
/// usual shape of amounts; `None` for anything else, which the general loop then reads. Parsed as
/// one word, without a branch on where the point is (a mispredicted branch per value costs more
/// than the arithmetic); the result is the general loop's, bit for bit.
#[inline]
fn short_decimal(bytes: &[u8]) -> Option<f64> {
    let n = bytes.len();
    let word = right_aligned(bytes)?;
    // The point: exactly one byte, neither the first character nor the last.
    let x = word ^ 0x2E2E_2E2E_2E2E_2E2E;
    let points =
        !(((x & 0x7F7F_7F7F_7F7F_7F7F) + 0x7F7F_7F7F_7F7F_7F7F) | x | 0x7F7F_7F7F_7F7F_7F7F);
    let at = points.trailing_zeros() / 8;
    let first = 8 - n as u32;
    if points.count_ones() != 1 || at <= first || at == 7 {
        return None;
    }
    if bytes[0] == b'0' && at > first + 1 {
        return None; // a code such as 007.5: the general loop says no
    }
    // Drop the point: the bytes before it move up one.
    let below = word & ((1u64 << (8 * at)) - 1);
    let above = word & !((1u64 << (8 * at + 8)) - 1);
    let mantissa = eight_digits((below << 8) | above | 0x30)?;
    // Below 10^8 and a power of ten up to 10^6: both exact, one correctly rounded division.
    const POWERS: [f64; 8] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];
    Some(mantissa as f64 / POWERS[(7 - at) as usize])
}

/// 4 to 8 bytes right-aligned in a word after '0's (byte 7 holds the last), from two overlapping
/// four-byte reads: no loop over the bytes, whatever their number.
#[inline]
fn right_aligned(bytes: &[u8]) -> Option<u64> {
    let n = bytes.len();
    if !(4..=8).contains(&n) {
        return None;
    }
    let head = u64::from(u32::from_le_bytes(*bytes.first_chunk::<4>()?));
    let tail = u64::from(u32::from_le_bytes(*bytes.last_chunk::<4>()?));
    let pad = 8 * (8 - n) as u32;
    Some(((head << pad) & 0xFFFF_FFFF) | (0x3030_3030 >> (32 - pad)) | (tail << 32))
}

/// The number eight ASCII digits spell (most significant in byte 0), as fast_float reads them;
/// `None` if a byte is not a digit.
#[inline]
fn eight_digits(word: u64) -> Option<u64> {
    if !digits_at(word, u64::MAX) {
        return None;
    }
    let v = word - 0x3030_3030_3030_3030;
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let pairs = 0x0000_00FF_0000_00FF;
    Some(
        (v & pairs)
            .wrapping_mul(0x000F_4240_0000_0064)
            .wrapping_add(((v >> 16) & pairs).wrapping_mul(0x0000_2710_0000_0001))
            >> 32,
    )
}

/// Parses a float64 written with a decimal comma (`12,50`; no thousands separators).
pub fn parse_float_comma(text: &str) -> Option<f64> {
    if text.contains('.') || text.matches(',').count() > 1 {
        return None;
    }
    if text.contains(',') {
        parse_float(&text.replacen(',', ".", 1))
    } else {
        parse_float(text)
    }
}

/// Parses a boolean.
#[inline]
pub fn parse_bool(text: &str) -> Option<bool> {
    // Without a branch on which of the two it is (half of them go each way, and a mispredicted
    // branch costs more than the comparisons): ASCII letters compared with their case bit set.
    let bytes = text.as_bytes();
    let head = u32::from_le_bytes(*bytes.first_chunk::<4>()?) | 0x2020_2020;
    let last = bytes[bytes.len() - 1] | 0x20;
    let is_true = (bytes.len() == 4) & (head == u32::from_le_bytes(*b"true"));
    let is_false = (bytes.len() == 5) & (head == u32::from_le_bytes(*b"fals")) & (last == b'e');
    (is_true | is_false).then_some(is_true)
}

/// Eight bytes from `at` as one little-endian number (byte `k` in bits `8k..8k + 8`).
#[inline]
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let word = bytes.get(at..)?.first_chunk::<8>()?;
    Some(u64::from_le_bytes(*word))
}

/// Whether each byte of `word` that `mask` selects (`0xff` in that byte) is an ASCII digit.
#[inline]
fn digits_at(word: u64, mask: u64) -> bool {
    let high = mask & 0xF0F0_F0F0_F0F0_F0F0;
    let zeros = mask & 0x3030_3030_3030_3030;
    // `0x30..=0x39`: the high half is 3, and adding 6 does not carry out of it. A byte that would
    // carry into the next fails the first test already.
    (word & high) == zeros && (word.wrapping_add(mask & 0x0606_0606_0606_0606) & high) == zeros
}

/// The digit in byte `k` of a word checked by [`digits_at`].
#[inline]
fn digit_at(word: u64, k: u32) -> u32 {
    ((word >> (8 * k)) & 0x0F) as u32
}

fn date_fields(text: &str) -> Option<(u32, u32, u32, bool)> {
    // Returns (first, second, third, year_first) for `d+ sep d+ sep d+` with one separator of `-/.`.
    let bytes = text.as_bytes();
    let mut parts = [0u32; 3];
    let mut lengths = [0usize; 3];
    let mut index = 0;
    let mut separator = None;
    for &b in bytes {
        match b {
            b'0'..=b'9' => {
                parts[index] = parts[index] * 10 + u32::from(b - b'0');
                lengths[index] += 1;
                if lengths[index] > 4 {
                    return None;
                }
            }
            b'-' | b'/' | b'.'
                if index < 2 && lengths[index] > 0 && separator.is_none_or(|s| s == b) =>
            {
                separator = Some(b);
                index += 1;
            }
            _ => return None,
        }
    }
    if index != 2 || lengths[2] == 0 {
        return None;
    }
    match lengths {
        [4, 1..=2, 1..=2] => Some((parts[0], parts[1], parts[2], true)),
        [1..=2, 1..=2, 4] => Some((parts[0], parts[1], parts[2], false)),
        _ => None,
    }
}

/// Parses a date written in `order`.
pub fn parse_date(text: &str, order: DateOrder) -> Option<NaiveDate> {
    let (year, month, day) = date_parts(text, order)?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Parses a date written in `order` to days since 1970-01-01, as Arrow and Parquet store dates.
pub fn parse_date_days(text: &str, order: DateOrder) -> Option<i32> {
    let (year, month, day) = date_parts(text, order)?;
    days_from_civil(year, month, day)
}

fn date_parts(text: &str, order: DateOrder) -> Option<(i32, u32, u32)> {
    let bytes = text.as_bytes();
    if bytes.len() == 10 && order == DateOrder::Ymd {
        // The ISO form `YYYY-MM-DD`, a word at a time: `YYYY-MM-` and `YY-MM-DD`.
        let (head, tail) = (word_at(bytes, 0)?, word_at(bytes, 2)?);
        if (head & 0xFF00_00FF_0000_0000) == 0x2D00_002D_0000_0000
            && digits_at(head, 0x00FF_FF00_FFFF_FFFF)
            && digits_at(tail, 0xFFFF_0000_0000_0000)
        {
            let year = digit_at(head, 0) * 1000
                + digit_at(head, 1) * 100
                + digit_at(head, 2) * 10
                + digit_at(head, 3);
            return Some((
                year as i32,
                digit_at(head, 5) * 10 + digit_at(head, 6),
                digit_at(tail, 6) * 10 + digit_at(tail, 7),
            ));
        }
    }
    let (a, b, c, year_first) = date_fields(text)?;
    match (order, year_first) {
        (DateOrder::Ymd, true) => Some((a as i32, b, c)),
        (DateOrder::Dmy, false) => Some((c as i32, b, a)),
        (DateOrder::Mdy, false) => Some((c as i32, a, b)),
        _ => None,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (years 0 to 9999), or `None`
/// for a day the month does not have. Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i32, month: u32, day: u32) -> Option<i32> {
    // Without branches on the month or the year (months are random in real data, and a branch
    // the processor mispredicts costs more than the arithmetic), and unsigned, so that dividing by
    // a constant is a multiplication.
    const LENGTHS: [u32; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let year = u32::try_from(year).ok().filter(|y| *y <= 9999)?;
    let leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0));
    let length = *LENGTHS.get(month as usize)? + u32::from((month == 2) & leap);
    if day.wrapping_sub(1) >= length {
        return None;
    }
    // Years counted from March (February's length then does not matter), and 400 years later
    // (one whole era, 146,097 days, taken off at the end) so that none is negative.
    let y = year + 400 - u32::from(month <= 2);
    let (era, year_of_era) = (y / 400, y % 400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era) as i32 - 146_097 - 719_468)
}

/// Parses a timestamp to microseconds since the epoch (UTC); a plain ISO date is midnight.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if let Some(micros) = parse_iso_fast(text.as_bytes()) {
        return Some(micros);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.timestamp_micros());
        }
    }
    let naive = text.strip_suffix('Z').unwrap_or(text);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    if naive.len() == 10 {
        return parse_date(naive, DateOrder::Ymd)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_micros());
    }
    None
}

/// The common shapes, without a general parser: `YYYY-MM-DD[T ]HH:MM[:SS[.f]][Z|±HH:MM]`.
/// Anything else (leap seconds, other offset forms) returns `None` and goes to chrono.
fn parse_iso_fast(b: &[u8]) -> Option<i64> {
    fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
        let part = b.get(at..at + n)?;
        part.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    }
    // `YYYY-MM-` and `DD?HH:MM`, a word each.
    let (date, time) = (word_at(b, 0)?, word_at(b, 8)?);
    if (date & 0xFF00_00FF_0000_0000) != 0x2D00_002D_0000_0000
        || !digits_at(date, 0x00FF_FF00_FFFF_FFFF)
        || !digits_at(time, 0xFFFF_00FF_FF00_FFFF)
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
    {
        return None;
    }
    let year = digit_at(date, 0) * 1000
        + digit_at(date, 1) * 100
        + digit_at(date, 2) * 10
        + digit_at(date, 3);
    let days = days_from_civil(
        year as i32,
        digit_at(date, 5) * 10 + digit_at(date, 6),
        digit_at(time, 0) * 10 + digit_at(time, 1),
    )?;
    let hour = digit_at(time, 3) * 10 + digit_at(time, 4);
    let minute = digit_at(time, 6) * 10 + digit_at(time, 7);
    let mut at = 16;
    let mut second = 0;
    let mut micros = 0u32;
    if b.get(at) == Some(&b':') {
        second = digits(b, at + 1, 2)?;
        at += 3;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while at < b.len() && b[at].is_ascii_digit() {
                if at - start < 6 {
                    micros = micros * 10 + u32::from(b[at] - b'0');
                }
                at += 1;
            }
            let kept = (at - start).min(6);
            if at == start {
                return None;
            }
            micros *= 10u32.pow(6 - kept as u32);
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_seconds: i64 = match b.get(at..) {
        Some([]) | Some([b'Z']) => 0,
        Some([sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]) => {
            let hours = digits(&[*h1, *h2], 0, 2)?;
            let minutes = digits(&[*m1, *m2], 0, 2)?;
            let total = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    let seconds =
        i64::from(days) * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Some(seconds * 1_000_000 + i64::from(micros))
}

/// Whether a (trimmed, non-empty) value can be stored in a column of `column_type`.
pub fn value_fits(text: &str, column_type: &ColumnType) -> bool {
    match column_type {
        ColumnType::Int64 => parse_int(text).is_some(),
        ColumnType::Float64 {
            decimal_comma: false,
        } => parse_float(text).is_some(),
        ColumnType::Float64 {
            decimal_comma: true,
        } => parse_float_comma(text).is_some(),
        ColumnType::Boolean => parse_bool(text).is_some(),
        ColumnType::Date { order } => parse_date(text, *order).is_some(),
        ColumnType::Timestamp => parse_timestamp(text).is_some(),
        ColumnType::String => true,
    }
}

/// Infers a column's type from its values (empty ones are nulls).
pub fn infer_column<'a>(values: impl Iterator<Item = &'a str>) -> Inference {
    infer_column_with(values, false)
}

/// Like [`infer_column`]; `decimal_comma` also allows `12,50` as a float (for files whose delimiter is
/// not a comma, where `1,234` cannot be a thousands separator).
pub fn infer_column_with<'a>(
    values: impl Iterator<Item = &'a str>,
    decimal_comma: bool,
) -> Inference {
    let (mut boolean, mut int, mut float, mut timestamp) = (true, true, true, true);
    let (mut comma_float, mut saw_comma) = (decimal_comma, false);
    let (mut ymd, mut dmy, mut mdy) = (true, true, true);
    let (mut nulls, mut seen) = (0, 0);
    for raw in values {
        let value = raw.trim();
        if value.is_empty() {
            nulls += 1;
            continue;
        }
        seen += 1;
        boolean &= parse_bool(value).is_some();
        int &= int && parse_int(value).is_some();
        float &= float && parse_float(value).is_some();
        if comma_float {
            comma_float = parse_float_comma(value).is_some();
            saw_comma |= value.contains(',');
        }
        if ymd || dmy || mdy {
            ymd &= parse_date(value, DateOrder::Ymd).is_some();
            dmy &= parse_date(value, DateOrder::Dmy).is_some();
            mdy &= parse_date(value, DateOrder::Mdy).is_some();
        }
        timestamp &= timestamp && parse_timestamp(value).is_some();
        if !(boolean || int || float || comma_float || ymd || dmy || mdy || timestamp) {
            break;
        }
    }
    let (column_type, ambiguous_dates) = if seen == 0 {
        (ColumnType::String, false)
    } else if boolean {
        (ColumnType::Boolean, false)
    } else if int {
        (ColumnType::Int64, false)
    } else if float {
        (
            ColumnType::Float64 {
                decimal_comma: false,
            },
            false,
        )
    } else if comma_float && saw_comma {
        (
            ColumnType::Float64 {
                decimal_comma: true,
            },
            false,
        )
    } else if ymd {
        (
            ColumnType::Date {
                order: DateOrder::Ymd,
            },
            false,
        )
    } else if dmy && mdy {
        (ColumnType::String, true)
    } else if dmy {
        (
            ColumnType::Date {
                order: DateOrder::Dmy,
            },
            false,
        )
    } else if mdy {
        (
            ColumnType::Date {
                order: DateOrder::Mdy,
            },
            false,
        )
    } else if timestamp {
        (ColumnType::Timestamp, false)
    } else {
        (ColumnType::String, false)
    };
    Inference {
        column_type,
        ambiguous_dates,
        nulls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_names_read_back_as_the_types_that_wrote_them() {
        for t in [
            ColumnType::Int64,
            ColumnType::Float64 {
                decimal_comma: false,
            },
            ColumnType::Boolean,
            ColumnType::Date {
                order: DateOrder::Ymd,
            },
            ColumnType::Timestamp,
            ColumnType::String,
        ] {
            assert_eq!(ColumnType::from_delta_name(t.delta_name()), Some(t));
        }
        // The text order of a date and the decimal comma are not stored.
        let dmy = ColumnType::Date {
            order: DateOrder::Dmy,
        };
        assert_eq!(
            ColumnType::from_delta_name(dmy.delta_name()),
            Some(ColumnType::Date {
                order: DateOrder::Ymd
            })
        );
        assert_eq!(ColumnType::from_delta_name("binary"), None);
    }

    #[test]
    fn columns_widen_along_the_lattice() {
        let float = ColumnType::Float64 {
            decimal_comma: false,
        };
        let comma = ColumnType::Float64 {
            decimal_comma: true,
        };
        assert_eq!(ColumnType::Int64.widen(" 1.5 ", false), float);
        assert_eq!(ColumnType::Int64.widen("1,5", true), comma);
        assert_eq!(ColumnType::Int64.widen("1,5", false), ColumnType::String);
        assert_eq!(ColumnType::Int64.widen("n/a", true), ColumnType::String);
        assert_eq!(float.widen("2.5e3x", true), ColumnType::String);
        assert_eq!(ColumnType::Boolean.widen("maybe", true), ColumnType::String);

        // A file's column stored as the dataset's type: only upwards.
        assert_eq!(ColumnType::Int64.widens_to(&comma), Some(float.clone()));
        assert_eq!(
            ColumnType::Int64.widens_to(&ColumnType::String),
            Some(ColumnType::String)
        );
        for from in [
            float.clone(),
            ColumnType::Boolean,
            ColumnType::Timestamp,
            ColumnType::Date {
                order: DateOrder::Dmy,
            },
        ] {
            assert_eq!(
                from.widens_to(&ColumnType::String),
                Some(ColumnType::String)
            );
            assert_eq!(from.widens_to(&ColumnType::Int64), None, "{from:?}");
        }
        assert_eq!(float.widens_to(&float), None);
        assert_eq!(ColumnType::String.widens_to(&ColumnType::Int64), None);
        assert_eq!(ColumnType::String.widens_to(&ColumnType::String), None);
        assert_eq!(ColumnType::Int64.widens_to(&ColumnType::Int64), None);
        assert_eq!(ColumnType::Int64.widens_to(&ColumnType::Timestamp), None);
    }

    fn infer(values: &[&str]) -> ColumnType {
        infer_column(values.iter().copied()).column_type
    }

    #[test]
    fn fast_paths_agree_with_the_general_parsers() {
        // Every day of years around the edges of the calendar rules, and invalid days.
        for year in [0, 1, 1900, 1969, 1970, 1999, 2000, 2023, 2024, 2100, 9999] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let want = NaiveDate::from_ymd_opt(year, month, day)
                        .map(|d| chrono::Datelike::num_days_from_ce(&d) - 719_163);
                    assert_eq!(
                        days_from_civil(year, month, day),
                        want,
                        "{year}-{month}-{day}"
                    );
                }
            }
        }
        assert_eq!(parse_date_days("1970-01-02", DateOrder::Ymd), Some(1));
        assert_eq!(parse_date_days("31/12/1969", DateOrder::Dmy), Some(-1));
        assert_eq!(parse_date_days("2023-02-29", DateOrder::Ymd), None);
        for text in [
            "0.1",
            "1234.56",
            "-0.0",
            "+2.5",
            ".5",
            "5.",
            "9007199254740.993",
            "123456789012345.6",
            "0.000000000000000000001",
            "1.7976931348623157",
            "3.14159265358979",
            "1e3",
            "-1.5E-3",
            "00.5",
            "1.2.3",
            ".",
            "-",
            "1e",
            "12a",
        ] {
            let general = if text.starts_with("00") || text == "." || text == "-" {
                None
            } else {
                text.parse::<f64>().ok()
            };
            assert_eq!(
                parse_float(text).map(f64::to_bits),
                general.map(f64::to_bits),
                "{text}"
            );
        }
        for text in [
            "0",
            "-0",
            "+7",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert_eq!(parse_int(text), text.parse().ok(), "{text}");
        }
        for text in ["007", "9223372036854775808", "1_000", "", "-", "1.0", " 1"] {
            assert_eq!(parse_int(text), None, "{text}");
        }
    }

    /// Every string of `alphabet` with a length in `lengths`.
    fn strings(alphabet: &[u8], lengths: std::ops::RangeInclusive<usize>) -> Vec<String> {
        let mut all = Vec::new();
        for n in lengths {
            let mut index = vec![0usize; n];
            loop {
                all.push(index.iter().map(|&i| char::from(alphabet[i])).collect());
                let Some(k) = (0..n).rev().find(|&k| index[k] + 1 < alphabet.len()) else {
                    break;
                };
                index[k] += 1;
                index[k + 1..].iter_mut().for_each(|i| *i = 0);
            }
        }
        all
    }

    #[test]
    fn word_at_a_time_parsers_agree_with_the_byte_by_byte_ones() {
        // Decimals: every string of these bytes up to 9 long, signed and not, bit for bit.
        for text in strings(b"0159.-e", 1..=7)
            .iter()
            .chain(&strings(b"09.", 8..=9))
        {
            for signed in [text.clone(), format!("-{text}"), format!("+{text}")] {
                assert_eq!(
                    parse_float(&signed).map(f64::to_bits),
                    parse_float_general(&signed).map(f64::to_bits),
                    "{signed}"
                );
            }
        }
        // Whole numbers: every string of these bytes up to 7 long, and of digits up to 9.
        for text in strings(b"019-+a", 1..=7)
            .into_iter()
            .chain(strings(b"09", 8..=9))
        {
            let digits = text.strip_prefix(['-', '+']).unwrap_or(&text);
            let code = digits.len() > 1 && digits.starts_with('0');
            let want = if code || !digits.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                text.parse::<i64>().ok()
            };
            assert_eq!(parse_int(&text), want, "{text}");
        }
        assert_eq!(parse_int("12345678"), Some(12_345_678));
        assert_eq!(parse_int("-99999999"), Some(-99_999_999));
        assert_eq!(short_decimal(b"631.07"), Some(631.07));
        assert_eq!(short_decimal(b"9999.999"), Some(9999.999));
        assert_eq!(parse_float("-0.00"), Some(-0.0));
        // Booleans: every case of the two words, and near misses.
        for text in strings(b"tTrRuUeE", 4..=4)
            .iter()
            .chain(&strings(b"fFaAlLsSeE", 5..=5))
        {
            let want = if text.eq_ignore_ascii_case("true") {
                Some(true)
            } else if text.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            };
            assert_eq!(parse_bool(text), want, "{text}");
        }
        for text in [
            "",
            "t",
            "tru",
            "truee",
            "false ",
            "4rue",
            "fals\u{e9}",
            "TRUE\u{0}",
        ] {
            assert_eq!(parse_bool(text), None, "{text:?}");
        }
        // ISO dates and timestamps: each byte of a valid one replaced by each kind of byte.
        let date = "2024-02-29";
        let stamp = "2024-02-29T23:59:58";
        for (good, index) in [(date, 0..10), (stamp, 0..19)] {
            for at in index {
                for b in [
                    b'0', b'9', b'/', b':', b'-', b'T', b' ', b'a', b'\x7f', b'\xaa', 0u8,
                ] {
                    let mut bytes = good.as_bytes().to_vec();
                    bytes[at] = b;
                    let Ok(text) = String::from_utf8(bytes) else {
                        continue;
                    };
                    if good == date {
                        let general = date_fields(&text)
                            .filter(|&(.., year_first)| year_first)
                            .and_then(|(y, m, d, _)| days_from_civil(y as i32, m, d));
                        assert_eq!(parse_date_days(&text, DateOrder::Ymd), general, "{text}");
                    } else {
                        let general = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S")
                            .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S"))
                            .ok()
                            .filter(|_| text.bytes().filter(u8::is_ascii_digit).count() == 14)
                            .map(|t| t.and_utc().timestamp_micros());
                        assert_eq!(parse_iso_fast(text.as_bytes()), general, "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn types_in_order() {
        assert_eq!(infer(&["true", "FALSE", ""]), ColumnType::Boolean);
        assert_eq!(infer(&["1", "-20", "+3", ""]), ColumnType::Int64);
        assert_eq!(
            infer(&["1", "2.5", "1e3", "-0.5"]),
            ColumnType::Float64 {
                decimal_comma: false
            }
        );
        assert_eq!(
            infer(&["2024-01-31", "2024-02-01"]),
            ColumnType::Date {
                order: DateOrder::Ymd
            }
        );
        assert_eq!(
            infer(&["31/01/2024", "01/02/2024"]),
            ColumnType::Date {
                order: DateOrder::Dmy
            }
        );
        assert_eq!(
            infer(&["01/31/2024", "02/01/2024"]),
            ColumnType::Date {
                order: DateOrder::Mdy
            }
        );
        assert_eq!(
            infer(&["2024-01-31T10:00:00Z", "2024-01-31 10:00", "2024-02-01"]),
            ColumnType::Timestamp
        );
        assert_eq!(infer(&["", ""]), ColumnType::String);
        assert_eq!(infer(&["1", "x"]), ColumnType::String);
    }

    #[test]
    fn codes_stay_text() {
        assert_eq!(infer(&["007", "123"]), ColumnType::String);
        assert_eq!(infer(&["02139", "10001"]), ColumnType::String);
        assert_eq!(infer(&["00.5"]), ColumnType::String);
        assert_eq!(
            infer(&["0", "0.5", "10"]),
            ColumnType::Float64 {
                decimal_comma: false
            }
        );
        assert_eq!(
            infer(&["12345678901234567890"]),
            ColumnType::String,
            "too large for int64, and a float would lose digits"
        );
        assert_eq!(infer(&["NaN", "inf"]), ColumnType::String);
    }

    #[test]
    fn decimal_commas_only_where_the_delimiter_allows() {
        let comma = |values: &[&str]| infer_column_with(values.iter().copied(), true).column_type;
        assert_eq!(
            comma(&["12,50", "7", "-0,5"]),
            ColumnType::Float64 {
                decimal_comma: true
            }
        );
        assert_eq!(comma(&["1", "2"]), ColumnType::Int64);
        assert_eq!(comma(&["1,234,567"]), ColumnType::String);
        assert_eq!(comma(&["1,5", "2.5"]), ColumnType::String);
        assert_eq!(comma(&["01,5"]), ColumnType::String, "a code stays a code");
        assert_eq!(
            infer(&["12,50"]),
            ColumnType::String,
            "never with a comma delimiter"
        );
        assert_eq!(parse_float_comma("12,50"), Some(12.5));
    }

    #[test]
    fn ambiguous_dates_are_not_guessed() {
        let inference = infer_column(["01/02/2024", "03/04/2024"].into_iter());
        assert_eq!(inference.column_type, ColumnType::String);
        assert!(inference.ambiguous_dates);
        assert!(!infer_column(["13/02/2024", "03/04/2024"].into_iter()).ambiguous_dates);
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        for text in [
            "2024-01-31T10:00:00Z",
            "2024-01-31 10:00",
            "2024-02-29T23:59:59.123456+02:00",
            "1969-12-31T23:59:59.9999999-05:30",
            "2024-01-31T10:00:00.5",
            "0001-01-01T00:00:00Z",
        ] {
            let slow = DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_micros())
                .ok()
                .or_else(|| {
                    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"]
                        .iter()
                        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
                        .map(|t| t.and_utc().timestamp_micros())
                });
            assert_eq!(parse_iso_fast(text.as_bytes()), slow, "{text}");
        }
        for bad in [
            "2024-02-30T10:00:00Z",
            "2024-01-31T24:00:00Z",
            "2024-01-31T10:00:00+0200",
            "2024-01-31T10:00:60Z",
        ] {
            assert_eq!(parse_iso_fast(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_to_utc_micros() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_timestamp("1970-01-01 01:00:00+01:00"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00.5"), Some(500_000));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400_000_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
