//! The deterministic benchmark file generator (`dativo gen`).
//!
//! [`generate`] writes the reference CSV described in docs/design.md: columns
//! `id,user_id,name,email,amount,quantity,created_at,is_active,country,note`, about 106 bytes
//! per row at 10 million rows (~1.06 GB). The same `rows` always gives the same bytes, and the
//! first N rows of a bigger file are the file of N rows, so benchmark inputs can be regenerated
//! anywhere instead of being shipped.
//!
//! Values come from a small built-in PRNG (splitmix64) and are formatted by hand into a large
//! buffer; the generator runs at several hundred MB/s, so making a 1 GB file takes seconds.
//!
//! The `note` column exercises the CSV edge cases: 10% of notes are empty (null), 5% are quoted
//! and contain a comma (`"late, damaged"`), the rest are plain words. 10% of `created_at` values
//! carry milliseconds (`2024-03-05T14:22:31.250`), the rest whole seconds.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// The header line of the generated file, without the newline.
pub const HEADER: &str = "id,user_id,name,email,amount,quantity,created_at,is_active,country,note";

/// Number of columns of the generated file.
pub const COLUMNS: usize = 10;

/// Fixed seed: the file must be identical on every machine and every run.
const SEED: u64 = 0x6461_7469_766f_2024; // "dativo" + 2024

/// Bytes gathered before handing them to the writer; large writes keep the syscall cost low.
const BUFFER_BYTES: usize = 1 << 20;

const FIRST_NAMES: &[&str] = &[
    "james",
    "mary",
    "robert",
    "patricia",
    "john",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "carlos",
    "maria",
    "ahmed",
    "fatima",
    "wei",
    "mei",
    "hiroshi",
    "yuki",
    "olga",
    "ivan",
    "anna",
    "lars",
    "ingrid",
    "pierre",
];

const LAST_NAMES: &[&str] = &[
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "nguyen",
    "kim",
    "chen",
    "mueller",
    "rossi",
    "dubois",
    "novak",
    "silva",
];

const EMAIL_DOMAINS: &[&str] =
    &["example.com", "mail.test", "shop.example", "corp.example", "inbox.test", "example.org"];

const COUNTRIES: &[&str] =
    &["US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "BR", "MX", "CA", "JP", "KR", "IN", "AU"];

/// Plain notes (no delimiter, no quote).
const NOTES: &[&str] = &[
    "ok",
    "gift wrap",
    "leave at door",
    "express shipping",
    "first order",
    "repeat customer",
    "call before delivery",
    "fragile",
    "no invoice",
    "receipt requested",
    "deliver after 5pm",
    "address verified",
    "promo code applied",
    "backorder",
    "signature required",
    "priority",
];

/// Notes that contain the delimiter and are therefore written quoted.
const QUOTED_NOTES: &[&str] = &[
    "late, damaged",
    "returned, refunded",
    "wrong size, exchanged",
    "call first, then deliver",
    "partial delivery, rest to follow",
    "gift, no price on invoice",
];

/// Cumulative day count at the start of each month of 2024 (a leap year).
const MONTH_START_DAYS: [u32; 13] = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366];

/// splitmix64: tiny, fast, and statistically good enough for test data.
struct SplitMix64(u64);

impl SplitMix64 {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (multiply-shift; the bias is far below anything a test could see).
    #[inline]
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    #[inline]
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Append the decimal digits of `v`.
#[inline]
fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Append `v` as exactly two digits (`v < 100`).
#[inline]
fn push_2digits(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'0' + (v / 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

/// Append a word with its first letter upper-cased (`smith` -> `Smith`).
#[inline]
fn push_capitalized(buf: &mut Vec<u8>, word: &str) {
    let bytes = word.as_bytes();
    buf.push(bytes[0].to_ascii_uppercase());
    buf.extend_from_slice(&bytes[1..]);
}

/// Append a 2024 timestamp `YYYY-MM-DDTHH:MM:SS[.mmm]` for `second_of_year`.
fn push_timestamp(buf: &mut Vec<u8>, second_of_year: u32, millis: Option<u32>) {
    let day = second_of_year / 86_400;
    let mut second = second_of_year % 86_400;
    let month = MONTH_START_DAYS.iter().rposition(|&start| start <= day).unwrap_or(0);
    let day_of_month = day - MONTH_START_DAYS[month] + 1;
    buf.extend_from_slice(b"2024-");
    push_2digits(buf, month as u32 + 1);
    buf.push(b'-');
    push_2digits(buf, day_of_month);
    buf.push(b'T');
    push_2digits(buf, second / 3600);
    second %= 3600;
    buf.push(b':');
    push_2digits(buf, second / 60);
    buf.push(b':');
    push_2digits(buf, second % 60);
    if let Some(ms) = millis {
        buf.push(b'.');
        buf.push(b'0' + (ms / 100) as u8);
        push_2digits(buf, ms % 100);
    }
}

/// Append row number `id` (1-based) and its newline.
fn push_row(buf: &mut Vec<u8>, rng: &mut SplitMix64, id: u64) {
    // id
    push_u64(buf, id);
    buf.push(b',');
    // user_id: customers place several orders each
    push_u64(buf, 1 + rng.below(1_000_000));
    buf.push(b',');
    // name
    let first = rng.pick(FIRST_NAMES);
    let last = rng.pick(LAST_NAMES);
    push_capitalized(buf, first);
    buf.push(b' ');
    push_capitalized(buf, last);
    buf.push(b',');
    // email: first.last[N]@domain
    buf.extend_from_slice(first.as_bytes());
    buf.push(b'.');
    buf.extend_from_slice(last.as_bytes());
    let suffix = rng.below(100);
    if suffix < 25 {
        push_u64(buf, suffix);
    }
    buf.push(b'@');
    buf.extend_from_slice(rng.pick(EMAIL_DOMAINS).as_bytes());
    buf.push(b',');
    // amount: 0.01 .. 9999.99, always two decimals
    let cents = 1 + rng.below(999_999);
    push_u64(buf, cents / 100);
    buf.push(b'.');
    push_2digits(buf, (cents % 100) as u32);
    buf.push(b',');
    // quantity: 1..=20
    push_u64(buf, 1 + rng.below(20));
    buf.push(b',');
    // created_at
    let second_of_year = rng.below(366 * 86_400) as u32;
    let r = rng.next_u64();
    let millis = if r % 10 == 0 { Some(((r >> 8) % 1000) as u32) } else { None };
    push_timestamp(buf, second_of_year, millis);
    buf.push(b',');
    // is_active: 80% true
    buf.extend_from_slice(if rng.below(10) < 8 { b"true" } else { b"false" });
    buf.push(b',');
    // country
    buf.extend_from_slice(rng.pick(COUNTRIES).as_bytes());
    buf.push(b',');
    // note: 10% empty, 5% quoted with a comma, 85% plain
    let kind = rng.below(100);
    if kind < 10 {
        // empty
    } else if kind < 15 {
        buf.push(b'"');
        buf.extend_from_slice(rng.pick(QUOTED_NOTES).as_bytes());
        buf.push(b'"');
    } else {
        buf.extend_from_slice(rng.pick(NOTES).as_bytes());
    }
    buf.push(b'\n');
}

/// Write the benchmark CSV with `rows` data rows (plus the header) to `out`.
///
/// Output is gathered in 1 MiB pieces, so `out` needs no buffering of its own.
pub fn generate(rows: u64, out: &mut impl Write) -> io::Result<()> {
    let mut buf = Vec::with_capacity(BUFFER_BYTES + 512);
    buf.extend_from_slice(HEADER.as_bytes());
    buf.push(b'\n');
    let mut rng = SplitMix64(SEED);
    for id in 1..=rows {
        push_row(&mut buf, &mut rng, id);
        if buf.len() >= BUFFER_BYTES {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

/// Write the benchmark CSV to `path` and return its size in bytes.
///
/// The file is written under a temporary name and renamed when complete, so an interrupted run
/// never leaves a truncated file that a later benchmark would mistake for a finished one.
pub fn generate_file(rows: u64, path: &Path) -> io::Result<u64> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        generate(rows, &mut file)?;
        file.sync_all()?;
        let len = file.metadata()?.len();
        drop(file);
        std::fs::rename(&tmp, path)?;
        Ok(len)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(rows: u64) -> String {
        let mut out = Vec::new();
        generate(rows, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Split one line into fields, honouring double quotes (the generator never writes `""`).
    fn fields(line: &str) -> Vec<String> {
        let mut fields = vec![String::new()];
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => fields.push(String::new()),
                c => fields.last_mut().unwrap().push(c),
            }
        }
        assert!(!quoted, "unbalanced quote in {line:?}");
        fields
    }

    #[test]
    fn same_row_count_gives_same_bytes() {
        assert_eq!(generated(5_000), generated(5_000));
    }

    #[test]
    fn a_smaller_file_is_a_prefix_of_a_bigger_one() {
        let small = generated(1_000);
        let big = generated(2_000);
        assert!(big.starts_with(&small));
    }

    #[test]
    fn writes_header_then_exactly_the_requested_rows() {
        for rows in [0u64, 1, 7, 10_000] {
            let text = generated(rows);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[0], HEADER);
            assert_eq!(lines.len() as u64, rows + 1, "rows = {rows}");
            assert!(text.ends_with('\n'));
        }
    }

    #[test]
    fn ids_count_from_one() {
        let text = generated(100);
        for (i, line) in text.lines().skip(1).enumerate() {
            assert_eq!(fields(line)[0], (i + 1).to_string());
        }
    }

    #[test]
    fn every_line_has_every_column() {
        let text = generated(20_000);
        for line in text.lines() {
            assert_eq!(fields(line).len(), COLUMNS, "line {line:?}");
        }
    }

    #[test]
    fn values_have_the_documented_shapes() {
        let text = generated(20_000);
        for line in text.lines().skip(1) {
            let f = fields(line);
            assert!(f[1].parse::<u64>().is_ok(), "user_id {line}");
            assert!(f[3].contains('@'), "email {line}");
            let (int, dec) = f[4].split_once('.').expect("amount has decimals");
            assert!(int.parse::<u64>().is_ok() && dec.len() == 2, "amount {line}");
            let q: u64 = f[5].parse().unwrap();
            assert!((1..=20).contains(&q), "quantity {line}");
            let ts = &f[6];
            assert!(ts.len() == 19 || ts.len() == 23, "created_at {line}");
            assert_eq!(&ts[4..5], "-");
            assert_eq!(&ts[10..11], "T");
            let month: u32 = ts[5..7].parse().unwrap();
            let day: u32 = ts[8..10].parse().unwrap();
            assert!((1..=12).contains(&month) && (1..=31).contains(&day), "created_at {line}");
            assert!(f[7] == "true" || f[7] == "false", "is_active {line}");
            assert_eq!(f[8].len(), 2, "country {line}");
        }
    }

    #[test]
    fn notes_are_ten_percent_empty_and_five_percent_quoted() {
        let rows = 50_000;
        let text = generated(rows);
        let mut empty = 0;
        let mut quoted = 0;
        for line in text.lines().skip(1) {
            if line.ends_with(',') {
                empty += 1;
            } else if line.ends_with('"') {
                quoted += 1;
                assert!(fields(line)[9].contains(','), "quoted note without comma: {line}");
            }
        }
        let empty_share = empty as f64 / rows as f64;
        let quoted_share = quoted as f64 / rows as f64;
        assert!((0.09..0.11).contains(&empty_share), "empty share {empty_share}");
        assert!((0.04..0.06).contains(&quoted_share), "quoted share {quoted_share}");
    }

    #[test]
    fn some_timestamps_have_milliseconds() {
        let text = generated(10_000);
        let with_ms = text.lines().skip(1).filter(|l| fields(l)[6].len() == 23).count();
        assert!((800..1200).contains(&with_ms), "{with_ms} timestamps with milliseconds");
    }

    #[test]
    fn rows_average_about_106_bytes() {
        // Ids are shorter in a small file; correct for the 7-digit ids of the 10M-row file.
        let rows = 100_000u64;
        let text = generated(rows);
        let body = text.len() - HEADER.len() - 1;
        let id_digits: usize = (1..=rows).map(|i| i.to_string().len()).sum();
        let per_row_at_10m = (body - id_digits) as f64 / rows as f64 + 6.89;
        assert!((104.0..108.0).contains(&per_row_at_10m), "{per_row_at_10m} bytes per row");
    }

    #[test]
    fn generate_file_writes_the_same_bytes_and_reports_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.csv");
        let len = generate_file(1_234, &path).unwrap();
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert_eq!(on_disk, generated(1_234));
        assert_eq!(len, on_disk.len() as u64);
        assert!(!dir.path().join("ref.csv.tmp").exists());
    }
}
