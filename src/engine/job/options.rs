//! Reader and writer options as users write them — the `engine.options` mappings of a job
//! file, or the same keys as JSON text through the C API and the bindings — turned into
//! [`CsvOptions`] and [`ParquetOptions`]. One set of keys, one set of messages, everywhere.

use crate::csv::{self, CsvOptions, Encoding, OnError};
use crate::parquet::{Compression, ParquetOptions, WriteMode};
use crate::schema::asset::{parse_type, TYPE_NAMES};
use crate::yaml::{from_yaml, suggest};
use crate::{Error, Result};
use arrow_schema::Field;

use super::config::{OnErrorName, ReaderOptions, WriteModeName, WriterOptions};

/// CSV reader options from text: a JSON object (or YAML mapping) with the keys of a job's
/// `source.engine.options`, e.g. `{"delimiter": ";", "null_values": ["", "NA"]}`. Empty text
/// means the defaults. `label` starts every message (e.g. `reader options`). A relative
/// `rejects_path` is relative to the working directory.
pub fn reader_options_from_text(text: &str, label: &str) -> Result<CsvOptions> {
    let parsed: ReaderOptions = if is_blank(text) { ReaderOptions::default() } else { from_object(text, label)? };
    let mut options = csv_options(&parsed).map_err(|m| Error::Config(format!("{label}: {m}")))?;
    options.rejects_path = parsed.rejects_path.filter(|p| !p.trim().is_empty()).map(Into::into);
    options.validate().map_err(|m| Error::Config(format!("{label}: {m}")))?;
    Ok(options)
}

/// Parquet writer options from text: a JSON object (or YAML mapping) with the keys of a job's
/// `target.engine.options`, e.g. `{"compression": "zstd", "compression_level": 3}`. Empty text
/// means the defaults. `label` starts every message.
pub fn writer_options_from_text(text: &str, label: &str) -> Result<ParquetOptions> {
    let parsed: WriterOptions = if is_blank(text) { WriterOptions::default() } else { from_object(text, label)? };
    let options = parquet_options(&parsed).map_err(|m| Error::Config(format!("{label}: {m}")))?;
    options.validate().map_err(|m| Error::Config(format!("{label}: {m}")))?;
    Ok(options)
}

/// Options text that must be an object: a list or a scalar gets a plain message instead of
/// serde's "expected struct ReaderOptions".
fn from_object<T: serde::de::DeserializeOwned>(text: &str, label: &str) -> Result<T> {
    crate::yaml::check_limits(text, label)?;
    if let Ok(value) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) {
        if !value.is_mapping() {
            return Err(Error::Config(format!(
                "{label}: must be a JSON object such as {{\"key\": value}}, got '{}'",
                text.trim()
            )));
        }
    }
    from_yaml(text, label)
}

/// A `column_types` entry as a nullable field of its asset type.
fn pinned_field(name: &str, type_name: &str) -> std::result::Result<Field, String> {
    let data_type = parse_type(type_name).ok_or_else(|| {
        let names: Vec<&str> = TYPE_NAMES.iter().map(|(n, _)| *n).collect();
        let hint = suggest(&type_name.to_ascii_lowercase(), &names)
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        format!("column_types.{name}: unknown type '{type_name}' (valid types: {}){hint}", names.join(", "))
    })?;
    Ok(Field::new(name, data_type, true))
}

/// `""`, whitespace and `{}` all mean "no options".
fn is_blank(text: &str) -> bool {
    let t = text.trim();
    t.is_empty() || t == "{}"
}

/// CsvOptions from `source.engine.options`; errors start with the key name.
pub(crate) fn csv_options(o: &ReaderOptions) -> std::result::Result<CsvOptions, String> {
    let o = &o.clone().flattened();
    let mut c = CsvOptions::default();
    // Unset dialect keys are detected from the file; a value given always wins.
    if let Some(d) = &o.delimiter {
        c.delimiter = Some(csv::parse_separator("delimiter", d)?);
    }
    if let Some(t) = &o.record_terminator {
        c.record_terminator =
            Some(if t.is_empty() { None } else { Some(csv::parse_separator("record_terminator", t)?) });
    }
    if let Some(q) = &o.quote {
        c.quote = Some(csv::parse_char("quote", q)?);
    }
    if let Some(e) = &o.escape {
        c.escape = Some(csv::parse_char("escape", e)?);
    }
    if let Some(e) = &o.comment {
        c.comment = csv::parse_char("comment", e)?;
    }
    if let Some(h) = o.header {
        c.has_header = Some(h);
    }
    if let Some(names) = &o.column_names {
        if names.is_empty() {
            return Err("column_names: give at least one name, or remove the key".into());
        }
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                return Err(format!("column_names[{i}] is empty"));
            }
            if names[..i].contains(n) {
                return Err(format!("column_names: '{n}' appears twice"));
            }
        }
        c.column_names = Some(names.clone());
    }
    if let Some(v) = &o.null_values {
        c.null_values = v.clone();
    }
    if let Some(types) = &o.column_types {
        c.column_types =
            types.iter().map(|(name, type_name)| pinned_field(name, type_name)).collect::<Result<_, _>>()?;
    }
    if let Some(n) = o.skip_rows {
        c.skip_rows = n;
    }
    if let Some(n) = o.batch_size {
        c.batch_size = n;
    }
    if let Some(n) = o.infer_sample_rows {
        if n == 0 {
            return Err("infer_sample_rows must be at least 1".into());
        }
        c.infer_sample_rows = n;
    }
    if let Some(e) = &o.encoding {
        c.encoding = Encoding::parse(e)?;
    }
    if let Some(e) = o.on_error {
        c.on_error = match e {
            OnErrorName::Fail => OnError::Fail,
            OnErrorName::Skip => OnError::Skip,
            OnErrorName::Reject => OnError::Reject,
        };
    }
    if let Some(n) = o.max_rejects {
        c.max_rejects = Some(n);
    }
    if let Some(n) = o.max_line_bytes {
        c.max_line_bytes = n;
    }
    if let Some(n) = o.threads {
        if let Some(m) = csv::check_threads("threads", n) {
            return Err(m);
        }
        c.threads = n;
    }
    Ok(c)
}

/// ParquetOptions from `target.engine.options`; errors start with the key name.
pub(crate) fn parquet_options(o: &WriterOptions) -> std::result::Result<ParquetOptions, String> {
    let o = &o.clone().flattened();
    let mut p = ParquetOptions::default();
    match (&o.compression, o.compression_level) {
        (Some(name), level) => {
            p.compression = Compression::from_name(name, level).map_err(|e| format!("compression: {e}"))?;
        }
        (None, Some(level)) => {
            return Err(format!("compression_level: {level} given without compression (levels apply to gzip and zstd)"))
        }
        (None, None) => {}
    }
    if let Some(n) = o.row_group_size {
        if n == 0 {
            return Err("row_group_size must be at least 1".into());
        }
        p.row_group_size = n;
    }
    if let Some(n) = o.max_rows_per_file {
        if n == 0 {
            return Err("max_rows_per_file must be at least 1".into());
        }
        p.max_rows_per_file = Some(n);
    }
    if let Some(mb) = o.max_file_size_mb {
        if !(mb > 0.0 && mb.is_finite()) {
            return Err(format!("max_file_size_mb must be a positive number, got {mb}"));
        }
        p.max_bytes_per_file = Some(((mb * 1024.0 * 1024.0) as u64).max(1));
    }
    if let Some(columns) = o.partition_by_default.as_ref().filter(|c| !c.is_empty()) {
        return Err(format!(
            "partition_by_default: [{}]: partitioned output is only written by jobs (target.partitioning); \
             remove the key, or set it to []",
            columns.join(", ")
        ));
    }
    if let Some(n) = o.max_open_partitions {
        if n == 0 {
            return Err("max_open_partitions must be at least 1".into());
        }
        p.max_open_partitions = n;
    }
    if let Some(s) = o.statistics {
        p.statistics = s;
    }
    if let Some(a) = o.adaptive_compression {
        p.adaptive_compression = a;
    }
    if let Some(n) = o.threads {
        if let Some(m) = csv::check_threads("threads", n) {
            return Err(m);
        }
        p.threads = n;
    }
    if let Some(m) = o.write_mode {
        p.write_mode = match m {
            WriteModeName::Overwrite => WriteMode::Overwrite,
            WriteModeName::Append => WriteMode::Append,
        };
    }
    Ok(p)
}
