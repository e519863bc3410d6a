//! What the reader learns before any work starts: the header (column names), the sample of
//! the first file used for inference, and the column specs (names and types) the schema is
//! built from — from the options' schema, the pinned types, and inference.

use std::path::Path;

use arrow_schema::Field;

use super::columns::{supported_type, ColumnSpec};
use super::fields::{Dialect, Tokenized};
use super::infer::infer_types;
use super::options::CsvOptions;
use super::reader::Source;
use super::records::{Chunk, Splitter, ANY_BAD};
use super::sniff::DetectedDialect;
use crate::{Error, Result};

pub(crate) fn dialect(o: &CsvOptions) -> Dialect {
    Dialect::new(o.delimiter(), o.quote(), o.escape(), o.null_values.iter().map(|s| s.as_bytes().to_vec()).collect())
}

/// The first record of an input as column names (or, without header, the count of fields).
pub(crate) struct Head {
    pub(crate) names: Vec<String>,
    /// Without a header, the first record is data: it is kept here.
    pub(crate) first_data: Option<Chunk>,
}

pub(crate) fn read_head(splitter: &mut Splitter, name: &str, o: &CsvOptions) -> Result<Head> {
    let chunk = splitter.next_chunk(1).map_err(|e| Error::io("cannot read", Path::new(name), e))?;
    let Some(chunk) = chunk else {
        return Err(Error::Data(format!("{name}: the file is empty (no header and no rows)")));
    };
    let r = chunk.records[0];
    if r.flags & ANY_BAD != 0 {
        let mut t = Tokenized::default();
        // The record is flagged bad, so it is set aside before any field is split.
        super::fields::tokenize(&chunk, &dialect(o), 1, splitter_encoding(splitter), o.max_line_bytes, &mut t);
        let reason = t.bad.first().map(|(_, b)| b.reason_text(None)).unwrap_or_default();
        let what = if o.header() { "header" } else { "first record" };
        return Err(Error::Data(format!("{name}:{}: cannot read the {what}: {reason}", r.line)));
    }
    let rec = &chunk.data[r.start as usize..r.end as usize];
    let d = dialect(o);
    let mut scratch = Vec::new();
    let mut fields = Vec::new();
    let n = d.split_fields(rec, r.start, r.flags & super::records::HAS_QUOTE != 0, &mut scratch, |f| fields.push(f));
    let mut names: Vec<String> = if o.header() {
        fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let s = String::from_utf8_lossy(f.bytes(&chunk.data, &scratch)).trim().to_string();
                if s.is_empty() {
                    format!("column_{}", i + 1)
                } else {
                    s
                }
            })
            .collect()
    } else {
        (1..=n).map(|i| format!("column_{i}")).collect()
    };
    if let Some(given) = &o.column_names {
        if given.len() != names.len() {
            return Err(Error::Config(format!(
                "column_names lists {} names but {name} has {} columns",
                given.len(),
                names.len()
            )));
        }
        names = given.clone();
    }
    // A map, not a scan per name: headers can have 100,000 columns.
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(names.len());
    for (i, a) in names.iter().enumerate() {
        if let Some(&j) = seen.get(a.as_str()) {
            return Err(Error::Schema(format!(
                "{name}: duplicate column name '{a}' (columns {} and {}); rename one in the header or set column_names",
                j + 1,
                i + 1
            )));
        }
        seen.insert(a, i);
    }
    Ok(Head { names, first_data: if o.header() { None } else { Some(chunk) } })
}

fn splitter_encoding(s: &Splitter) -> &'static str {
    s.encoding_name()
}

/// Column names of an input as the reader sees them, and the dialect they were read with.
pub(crate) fn column_names(source: Source, o: &CsvOptions) -> Result<(Vec<String>, DetectedDialect)> {
    o.validate()?;
    let name = source.name();
    let mut opened = source.open(o, &Default::default())?;
    Ok((read_head(&mut opened.splitter, &name, &opened.options)?.names, opened.dialect))
}

/// Column specs from the explicit schema, pinned types and inference, with the columns whose
/// nulls are reported (`warn_null_columns`).
pub(crate) fn column_specs(names: &[String], sample: &[Chunk], file: &str, o: &CsvOptions) -> Result<Vec<ColumnSpec>> {
    let mut specs = typed_columns(names, sample, file, o)?;
    for name in &o.warn_null_columns {
        let Some(spec) = specs.iter_mut().find(|s| &s.name == name) else {
            return Err(Error::Config(format!(
                "warn_null_columns names '{name}', which {file} does not have (columns: {})",
                names.join(", ")
            )));
        };
        spec.warn_null = true;
    }
    Ok(specs)
}

fn typed_columns(names: &[String], sample: &[Chunk], file: &str, o: &CsvOptions) -> Result<Vec<ColumnSpec>> {
    if let Some(schema) = &o.schema {
        if schema.fields().len() != names.len() {
            return Err(Error::Schema(format!(
                "{file} has {} columns but the schema has {}",
                names.len(),
                schema.fields().len()
            )));
        }
        return schema
            .fields()
            .iter()
            .zip(names)
            .map(|(f, n)| {
                if o.header() && o.column_names.is_none() && f.name() != n {
                    return Err(Error::Schema(format!(
                        "{file}: header column '{n}' does not match schema field '{}'",
                        f.name()
                    )));
                }
                if !supported_type(f.data_type()) {
                    return Err(Error::Config(format!(
                        "column '{}': type {} is not supported",
                        f.name(),
                        f.data_type()
                    )));
                }
                Ok(ColumnSpec {
                    name: f.name().clone(),
                    data_type: f.data_type().clone(),
                    nullable: f.is_nullable(),
                    pinned: true,
                    warn_null: false,
                })
            })
            .collect();
    }
    // Maps, not scans: a file and its asset can have 100,000 columns.
    let present: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
    let pinned: std::collections::HashMap<&str, &Field> =
        o.column_types.iter().map(|f| (f.name().as_str(), f)).collect();
    for f in &o.column_types {
        if !present.contains(f.name().as_str()) {
            return Err(Error::Config(format!(
                "a type is given for column '{}', which {file} does not have (columns: {})",
                f.name(),
                names.join(", ")
            )));
        }
        if !supported_type(f.data_type()) {
            return Err(Error::Config(format!("column '{}': type {} is not supported", f.name(), f.data_type())));
        }
    }
    let needs_inference = names.iter().any(|n| !pinned.contains_key(n.as_str()));
    let inferred =
        if needs_inference { infer_types(sample, &dialect(o), names.len(), o.infer_sample_rows) } else { vec![] };
    Ok(names
        .iter()
        .enumerate()
        .map(|(i, n)| match pinned.get(n.as_str()) {
            Some(f) => ColumnSpec {
                name: n.clone(),
                data_type: f.data_type().clone(),
                nullable: f.is_nullable(),
                pinned: true,
                warn_null: false,
            },
            None => ColumnSpec {
                name: n.clone(),
                data_type: inferred[i].clone(),
                nullable: true,
                pinned: false,
                warn_null: false,
            },
        })
        .collect())
}

/// The sample of the first file used for inference: the chunks after the header, up to
/// `infer_sample_rows` records (none with a full schema). The caller parses these chunks
/// first, so they are not read twice.
pub(crate) fn read_sample(
    splitter: &mut Splitter,
    file: &str,
    options: &CsvOptions,
    mut sample: Vec<Chunk>,
) -> Result<Vec<Chunk>> {
    if options.schema.is_none() {
        let mut sampled: usize = sample.iter().map(|c| c.records.len()).sum();
        while sampled < options.infer_sample_rows {
            match splitter.next_chunk(options.batch_size).map_err(|e| Error::io("cannot read", Path::new(file), e))? {
                Some(c) => {
                    sampled += c.records.len();
                    sample.push(c);
                }
                None => break,
            }
        }
    }
    Ok(sample)
}

pub(crate) fn check_same_columns(first: &[String], other: &[String], first_name: &str, name: &str) -> Result<()> {
    if first == other {
        return Ok(());
    }
    let missing: Vec<&str> = first.iter().filter(|c| !other.contains(c)).map(String::as_str).collect();
    let extra: Vec<&str> = other.iter().filter(|c| !first.contains(c)).map(String::as_str).collect();
    let detail = if missing.is_empty() && extra.is_empty() {
        format!("same columns in another order: {}", other.join(", "))
    } else {
        format!("missing: [{}], extra: [{}]", missing.join(", "), extra.join(", "))
    };
    Err(Error::Schema(format!(
        "{name}: columns differ from {first_name} ({detail}); all files of a job must share one schema"
    )))
}
