//! Writing asset files: the YAML `dativo infer` prints.

use arrow_schema::Schema;

use super::asset;

/// An asset file (Dativo format) for `schema`, every column optional: what `dativo infer`
/// prints for users to review, edit and pin.
pub fn asset_yaml(name: &str, source: &str, sample_rows: usize, schema: &Schema) -> String {
    let mut out = format!(
        "# Inferred by `dativo infer` from {source} (sampling up to {sample_rows} rows).\n\
         # Review the types, mark columns that must never be empty `required: true`,\n\
         # and point a job's `asset_path` at this file to pin the schema.\n\
         asset:\n  name: {}\n  version: \"1.0\"\n  schema:\n",
        yaml_string(name)
    );
    for field in schema.fields() {
        let type_name = asset::type_name(field.data_type());
        out.push_str(&format!("    - {{name: {}, type: {type_name}, required: false}}\n", yaml_string(field.name())));
    }
    out
}

/// `text` as a YAML scalar: bare when that reads back as the same string, double-quoted otherwise.
fn yaml_string(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "nan" | "inf"
        );
    if plain {
        return text.to_string();
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_are_quoted_only_when_needed() {
        assert_eq!(yaml_string("order_id"), "order_id");
        assert_eq!(yaml_string("yes"), "\"yes\"");
        assert_eq!(yaml_string("1st"), "\"1st\"");
        assert_eq!(yaml_string("unit price"), "\"unit price\"");
        assert_eq!(yaml_string("a\"b"), "\"a\\\"b\"");
        assert_eq!(yaml_string(""), "\"\"");
    }
}
