//! Dialect detection (issue 16): a generated corpus of files in every combination of
//! delimiter x quote x header x encoding x line ending x record terminator, each read with no
//! options and compared value by value, names included, with the generator's truth; the
//! warnings for risky guesses; a mixed-dialect job; and options that override detection.

mod common;

use std::path::{Path, PathBuf};

use common::{cell, Pieces};
use dativo_engine::csv::{CsvOptions, CsvReader, DetectedDialect};

const DELIMITERS: [&str; 5] = [",", ";", "\t", "|", "+|"];
/// `None`: no value needs quotes, and none is quoted.
const QUOTES: [Option<char>; 3] = [Some('"'), None, Some('\'')];
#[derive(Debug, Clone, Copy, PartialEq)]
enum Enc {
    Utf8,
    Utf8Bom,
    Utf16LeBom,
    Windows1252,
}
const ENCODINGS: [Enc; 4] = [Enc::Utf8, Enc::Utf8Bom, Enc::Utf16LeBom, Enc::Windows1252];
const LINE_ENDINGS: [&str; 2] = ["\n", "\r\n"];
const TERMINATORS: [Option<&str>; 2] = [None, Some("&|")];
const ROWS: usize = 40;
const NAMES: [&str; 6] = ["id", "amount", "created", "active", "name", "note"];
/// Text that every encoding of the corpus can hold (Windows-1252 included).
const PEOPLE: [&str; 7] = ["José", "Zoë", "Müller", "François", "Ann", "Bjørn", "Renée €"];

#[derive(Debug, Clone, Copy)]
struct Combo {
    delimiter: &'static str,
    quote: Option<char>,
    header: bool,
    encoding: Enc,
    line_ending: &'static str,
    terminator: Option<&'static str>,
}

impl Combo {
    fn all() -> Vec<Combo> {
        let mut out = Vec::new();
        for delimiter in DELIMITERS {
            for quote in QUOTES {
                for header in [true, false] {
                    for encoding in ENCODINGS {
                        for line_ending in LINE_ENDINGS {
                            for terminator in TERMINATORS {
                                out.push(Combo { delimiter, quote, header, encoding, line_ending, terminator });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn file_name(&self, i: usize) -> String {
        format!("{i:03}.csv")
    }
}

/// The file's text, and what reading it must give: column names and every row's cells as
/// `tests/common`'s `cell` shows them.
struct Generated {
    text: String,
    names: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn generate(c: &Combo) -> Generated {
    let d = c.delimiter;
    let le = c.line_ending;
    let end = format!("{}{le}", c.terminator.unwrap_or(""));
    let quote = |s: &str| match c.quote {
        Some(q) => format!("{q}{}{q}", s.replace(q, &format!("{q}{q}"))),
        None => s.to_string(),
    };
    let mut text = String::new();
    if c.header {
        text.push_str(&NAMES.join(d));
        text.push_str(&end);
    }
    let mut rows = Vec::new();
    for i in 0..ROWS {
        let id = 100 + i as i64 * 7;
        let amount = (i as f64 * 37.0) % 1000.0 / 4.0 + 0.5;
        let day = 1 + i % 28;
        let active = i % 3 != 0;
        let name = PEOPLE[i % PEOPLE.len()];
        // Notes: with a quote character, some hold the delimiter, the quote itself, a line
        // break; without one, only a record terminator lets a line break in unquoted.
        let (note_text, note_written): (Option<String>, String) = match (c.quote, i % 20) {
            (_, 6) => (None, String::new()), // empty: null
            (Some(q), 3 | 9 | 13) => {
                let t = format!("late{d} damaged");
                let t = if i % 20 == 9 { format!("say {q}hi{q}") } else { t };
                (Some(t.clone()), quote(&t))
            }
            (Some(_), 17) => {
                let t = format!("two{le}lines");
                (Some(t.clone()), quote(&t))
            }
            (None, 17) if c.terminator.is_some() => {
                let t = format!("two{le}lines");
                (Some(t.clone()), t)
            }
            _ => {
                let t = format!("note {i}");
                (Some(t.clone()), t)
            }
        };
        let fields = [
            id.to_string(),
            format!("{amount:.2}"),
            format!("2024-01-{day:02}"),
            active.to_string(),
            name.to_string(),
            note_written,
        ];
        text.push_str(&fields.join(d));
        text.push_str(&end);
        rows.push(vec![
            id.to_string(),
            amount.to_string(),
            format!("d{}", 19723 + day as i64 - 1),
            active.to_string(),
            name.to_string(),
            note_text.unwrap_or_else(|| "null".into()),
        ]);
    }
    let names = if c.header {
        NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        (1..=NAMES.len()).map(|i| format!("column_{i}")).collect()
    };
    Generated { text, names, rows }
}

fn encode(text: &str, e: Enc) -> Vec<u8> {
    match e {
        Enc::Utf8 => text.as_bytes().to_vec(),
        Enc::Utf8Bom => [b"\xEF\xBB\xBF", text.as_bytes()].concat(),
        Enc::Utf16LeBom => {
            let mut v = vec![0xFF, 0xFE];
            for u in text.encode_utf16() {
                v.extend_from_slice(&u.to_le_bytes());
            }
            v
        }
        Enc::Windows1252 => {
            let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
            assert!(!unmappable, "the corpus text fits Windows-1252");
            bytes.into_owned()
        }
    }
}

/// Read a file with no options: its column names and rows, as `cell` shows them.
fn read_all(path: &Path) -> dativo_engine::Result<(Vec<String>, Vec<Vec<String>>, DetectedDialect)> {
    let reader = CsvReader::open(&[path.to_path_buf()], CsvOptions::default())?;
    let names = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
    let dialect = reader.dialect().clone();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch?;
        for r in 0..batch.num_rows() {
            rows.push(batch.columns().iter().map(|a| cell(a.as_ref(), r)).collect());
        }
    }
    Ok((names, rows, dialect))
}

#[test]
fn every_generated_dialect_reads_correctly_with_no_options() {
    let dir = tempfile::tempdir().unwrap();
    let combos = Combo::all();
    let mut failures = Vec::new();
    for (i, c) in combos.iter().enumerate() {
        let g = generate(c);
        let path = dir.path().join(c.file_name(i));
        std::fs::write(&path, encode(&g.text, c.encoding)).unwrap();
        let outcome = match read_all(&path) {
            Err(e) => Err(format!("error: {e}")),
            Ok((names, _, d)) if names != g.names => Err(format!("names {names:?} ({})", d.describe())),
            Ok((_, rows, d)) if rows != g.rows => {
                let at = rows.iter().zip(&g.rows).position(|(a, b)| a != b);
                Err(format!(
                    "{} rows, expected {}; first difference at row {at:?}: {:?} ({})",
                    rows.len(),
                    g.rows.len(),
                    at.map(|k| (&rows[k], &g.rows[k])),
                    d.describe()
                ))
            }
            Ok((_, _, d)) => {
                let want_quote = c.quote.map_or(b'"', |q| q as u8);
                assert_eq!(d.delimiter, c.delimiter.as_bytes(), "{c:?}");
                assert_eq!(d.quote, Some(want_quote), "{c:?}");
                assert_eq!(d.header, c.header, "{c:?}");
                assert_eq!(d.record_terminator.as_deref(), c.terminator.map(str::as_bytes), "{c:?}");
                let single_byte_warning = d.warnings.iter().any(|w| w.contains("Windows-1252"));
                assert_eq!(single_byte_warning, c.encoding == Enc::Windows1252, "{c:?}: {:?}", d.warnings);
                Ok(())
            }
        };
        if let Err(why) = outcome {
            failures.push(format!("{c:?}: {why}"));
        }
    }
    let ok = combos.len() - failures.len();
    println!("dialect corpus: {ok} of {} files read correctly with no options", combos.len());
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), combos.len(), failures.join("\n"));
}

/// A pipe is sampled once: the sniffer's sample is split, not read again.
#[test]
fn detection_works_on_a_pipe_read_in_small_pieces() {
    let c = Combo {
        delimiter: "+|",
        quote: Some('"'),
        header: true,
        encoding: Enc::Utf16LeBom,
        line_ending: "\r\n",
        terminator: Some("&|"),
    };
    let g = generate(&c);
    let input = Pieces::new(&encode(&g.text, c.encoding), &[1, 7, 3]);
    let reader = CsvReader::from_reader("pipe", Box::new(input), CsvOptions::default()).unwrap();
    assert_eq!(reader.dialect().delimiter, b"+|");
    let names: Vec<String> = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, g.names);
    let rows: Vec<Vec<String>> = reader
        .flat_map(|b| {
            let b = b.unwrap();
            (0..b.num_rows()).map(move |r| b.columns().iter().map(|a| cell(a.as_ref(), r)).collect::<Vec<_>>())
        })
        .collect();
    assert_eq!(rows, g.rows);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_single_column_and_a_header_with_other_delimiters_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let one = write(dir.path(), "one.csv", "name\nAnn\nBob\n");
    let r = CsvReader::open(&[one], CsvOptions::default()).unwrap();
    assert!(r.dialect().warnings.iter().any(|w| w.contains("reads as a single column")), "{:?}", r.dialect());

    let tabs = write(dir.path(), "tabs.csv", "id,first\tlast\n1,Ann Lee\n2,Bob Ray\n");
    let r = CsvReader::open(&[tabs], CsvOptions::default()).unwrap();
    assert_eq!(r.dialect().delimiter, b",");
    let w = &r.dialect().warnings;
    assert!(w.iter().any(|w| w.contains("the header holds \"\\t\"") && w.contains("first\\tlast")), "{w:?}");
}

#[test]
fn files_of_one_reader_with_different_dialects_are_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.csv", "id,name\n1,x\n2,y\n");
    let b = write(dir.path(), "b.csv", "id;name\n3;z\n4;w\n");
    let e = CsvReader::open(&[a.clone(), b.clone()], CsvOptions::default()).err().expect("an error").to_string();
    assert!(e.contains(&a.display().to_string()) && e.contains(&b.display().to_string()), "{e}");
    assert!(e.contains("delimiter \",\"") && e.contains("delimiter \";\""), "{e}");
    // The same dialect in both: one reader, both files.
    let c = write(dir.path(), "c.csv", "id,name\n5,v\n");
    let r = CsvReader::open(&[a, c], CsvOptions::default()).unwrap();
    assert_eq!(r.map(|b| b.unwrap().num_rows()).sum::<usize>(), 3);
}

#[test]
fn given_options_override_detection() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "semi.csv", "id;name\n1;x\n2;y\n");
    // Given a comma, the file is one column named "id;name" (and that is warned about).
    let o = CsvOptions { delimiter: Some(b",".to_vec()), ..Default::default() };
    let (names, rows, d) = read_with(&p, o);
    assert_eq!((names, rows.len()), (vec!["id;name".to_string()], 2));
    assert!(!d.detected.contains(&"delimiter") && d.detected.contains(&"header"));
    assert!(d.warnings.iter().any(|w| w.contains("single column")));
    // Given no header, the first line is data.
    let o = CsvOptions { has_header: Some(false), ..Default::default() };
    let (names, rows, d) = read_with(&p, o);
    assert_eq!(
        (names, rows[0].clone()),
        (vec!["column_1".to_string(), "column_2".into()], vec!["id".into(), "name".into()])
    );
    assert_eq!(d.delimiter, b";");
    // Given no quoting, quotes are data.
    let q = write(dir.path(), "q.csv", "id,name\n1,\"x\"\n");
    let (_, rows, _) = read_with(&q, CsvOptions { quote: Some(None), ..Default::default() });
    assert_eq!(rows, vec![vec!["1".to_string(), "\"x\"".into()]]);
    // A multi-character delimiter and terminator, given.
    let m = write(dir.path(), "m.csv", "a+|b&|\n1+|x\ny&|\n");
    let o = CsvOptions {
        delimiter: Some(b"+|".to_vec()),
        record_terminator: Some(Some(b"&|".to_vec())),
        has_header: Some(true),
        quote: Some(Some(b'"')),
        ..Default::default()
    };
    let (names, rows, d) = read_with(&m, o);
    assert_eq!((names, rows), (vec!["a".to_string(), "b".into()], vec![vec!["1".to_string(), "x\ny".into()]]));
    assert!(d.detected.is_empty());
}

fn read_with(path: &Path, o: CsvOptions) -> (Vec<String>, Vec<Vec<String>>, DetectedDialect) {
    let reader = CsvReader::open(&[path.to_path_buf()], o).unwrap();
    let names = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
    let d = reader.dialect().clone();
    let rows = reader
        .flat_map(|b| {
            let b = b.unwrap();
            (0..b.num_rows()).map(move |r| b.columns().iter().map(|a| cell(a.as_ref(), r)).collect::<Vec<_>>())
        })
        .collect();
    (names, rows, d)
}
