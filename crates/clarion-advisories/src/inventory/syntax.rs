//! The syntaxes inventories come in — UTF-8 text, JSON, TOML — and typed access to their fields.
//!
//! **Every failure here is an `InventoryError` that says where: syntax errors with the line and column,
//! a missing or wrong-typed field with its path (`package[3].version`) and, in TOML, its line.** Paths are
//! built as the reader descends, `key`, `key[3]` and `key["name"]`, indexes counting from 0.

use std::ops::Range;

use serde_json::{Map, Value};
use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

use super::InventoryError;

/// The bytes as text: UTF-8, a leading byte-order mark dropped, not blank.
pub(super) fn text(bytes: &[u8]) -> Result<&str, InventoryError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(InventoryError::new("the file is UTF-16 text: save it as UTF-8"));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) if text.trim().is_empty() => Err(InventoryError::new("the file is empty")),
        Ok(text) => Ok(text),
        Err(error) => {
            let valid = &bytes[..error.valid_up_to()];
            // `valid_up_to` ends on a character boundary, so this prefix is text.
            let prefix = std::str::from_utf8(valid).unwrap_or_default();
            let (line, column) = line_column(prefix, prefix.len());
            let byte = bytes.get(error.valid_up_to()).copied().unwrap_or_default();
            Err(InventoryError {
                line: Some(line),
                column: Some(column),
                field: None,
                message: format!("not UTF-8 text (byte 0x{byte:02x}): is this a lockfile or an SBOM?"),
            })
        }
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text` (clamped to the text).
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A JSON document (serde_json bounds its nesting at 128 levels, so no input exhausts the stack).
pub(super) fn json(text: &str) -> Result<Value, InventoryError> {
    serde_json::from_str(text).map_err(|error| {
        let message = crate::json::message(&error);
        let line = (error.line() > 0).then_some(error.line());
        let column = line.filter(|_| error.column() > 0).map(|line| char_column(text, line, error.column()));
        InventoryError { line, column, field: None, message: format!("not valid JSON: {message}") }
    })
}

/// The column in characters of serde_json's 1-based byte column `byte_column` on 1-based `line`.
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(line_text) = text.split('\n').nth(line.saturating_sub(1)) else { return byte_column };
    let mut end = byte_column.saturating_sub(1).min(line_text.len());
    while !line_text.is_char_boundary(end) {
        end -= 1;
    }
    line_text[..end].chars().count() + 1
}

/// A JSON object and its path in the document.
#[derive(Debug, Clone)]
pub(super) struct JsonObject<'d> {
    pub(super) object: &'d Map<String, Value>,
    pub(super) path: String,
}

impl<'d> JsonObject<'d> {
    /// The document's top level, which must be an object.
    pub(super) fn root(document: &'d Value) -> Result<JsonObject<'d>, InventoryError> {
        match document {
            Value::Object(object) => Ok(JsonObject { object, path: String::new() }),
            other => Err(InventoryError::new(format!(
                "expected a JSON object at the top, not {}",
                crate::json::type_name(other)
            ))),
        }
    }

    /// `value` at `path`, which must be an object.
    pub(super) fn at(value: &'d Value, path: String) -> Result<JsonObject<'d>, InventoryError> {
        match value {
            Value::Object(object) => Ok(JsonObject { object, path }),
            other => {
                Err(InventoryError::field(path, format!("expected an object, not {}", crate::json::type_name(other))))
            }
        }
    }

    /// The path of `key` in this object: `key` at the top, `path.key` below.
    pub(super) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> InventoryError {
        InventoryError::field(self.key_path(key), format!("expected {expected}, not {}", crate::json::type_name(found)))
    }

    /// `key`'s value, of any type; `null` counts as absent.
    pub(super) fn get(&self, key: &str) -> Option<&'d Value> {
        self.object.get(key).filter(|value| !value.is_null())
    }

    pub(super) fn str(&self, key: &str) -> Result<Option<&'d str>, InventoryError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    pub(super) fn required_str(&self, key: &str) -> Result<&'d str, InventoryError> {
        self.str(key)?.ok_or_else(|| InventoryError::field(self.key_path(key), "missing"))
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, InventoryError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.wrong_type(key, "a boolean", other)),
        }
    }

    pub(super) fn array(&self, key: &str) -> Result<Option<&'d [Value]>, InventoryError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong_type(key, "an array", other)),
        }
    }

    pub(super) fn object(&self, key: &str) -> Result<Option<JsonObject<'d>>, InventoryError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(object)) => Ok(Some(JsonObject { object, path: self.key_path(key) })),
            Some(other) => Err(self.wrong_type(key, "an object", other)),
        }
    }

    /// The objects of the array under `key` (none when absent), each with its path `key[i]`.
    pub(super) fn objects(&self, key: &str) -> Result<Vec<JsonObject<'d>>, InventoryError> {
        let Some(items) = self.array(key)? else { return Ok(Vec::new()) };
        let path = self.key_path(key);
        items.iter().enumerate().map(|(index, item)| JsonObject::at(item, format!("{path}[{index}]"))).collect()
    }

    /// The strings of the array under `key` (none when absent).
    pub(super) fn strings(&self, key: &str) -> Result<Vec<&'d str>, InventoryError> {
        let Some(items) = self.array(key)? else { return Ok(Vec::new()) };
        let path = self.key_path(key);
        items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(text) => Ok(text.as_str()),
                other => Err(InventoryError::field(
                    format!("{path}[{index}]"),
                    format!("expected a string, not {}", crate::json::type_name(other)),
                )),
            })
            .collect()
    }
}

/// A parsed TOML document, kept with its text so errors can name lines (the `toml` crate bounds nesting,
/// so no input exhausts the stack).
#[derive(Debug)]
pub(super) struct Toml<'t> {
    text: &'t str,
    root: Spanned<DeTable<'t>>,
}

impl<'t> Toml<'t> {
    pub(super) fn parse(text: &'t str) -> Result<Toml<'t>, InventoryError> {
        match DeTable::parse(text) {
            Ok(root) => Ok(Toml { text, root }),
            Err(error) => {
                let (line, column) = match error.span() {
                    Some(span) => {
                        let (line, column) = line_column(text, span.start);
                        (Some(line), Some(column))
                    }
                    None => (None, None),
                };
                Err(InventoryError {
                    line,
                    column,
                    field: None,
                    message: format!("not valid TOML: {}", error.message()),
                })
            }
        }
    }

    pub(super) fn text(&self) -> &'t str {
        self.text
    }

    pub(super) fn root(&self) -> &DeTable<'t> {
        self.root.get_ref()
    }

    /// The top-level table, for typed access.
    pub(super) fn top(&self) -> TomlTable<'_, 't> {
        TomlTable { document: self, table: self.root.get_ref(), span: self.root.span(), path: String::new() }
    }

    fn error(&self, span: Range<usize>, field: String, message: String) -> InventoryError {
        let (line, column) = line_column(self.text, span.start);
        InventoryError { line: Some(line), column: Some(column), field: Some(field), message }
    }
}

/// The name of a TOML value's type, with its article.
fn toml_type(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// A TOML table, where it is in the text and its path in the document.
#[derive(Debug, Clone)]
pub(super) struct TomlTable<'d, 't> {
    document: &'d Toml<'t>,
    table: &'d DeTable<'t>,
    span: Range<usize>,
    pub(super) path: String,
}

impl<'d, 't> TomlTable<'d, 't> {
    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Spanned<DeValue<'t>>) -> InventoryError {
        let message = format!("expected {expected}, not {}", toml_type(found.get_ref()));
        self.document.error(found.span(), self.key_path(key), message)
    }

    /// An error about this table's `key` (located at the value when present, else at the table).
    pub(super) fn error(&self, key: &str, message: impl Into<String>) -> InventoryError {
        let span = self.table.get(key).map_or_else(|| self.span.clone(), |value| value.span());
        self.document.error(span, self.key_path(key), message.into())
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub(super) fn str(&self, key: &str) -> Result<Option<&'d str>, InventoryError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(value) => match value.get_ref() {
                DeValue::String(text) => Ok(Some(text.as_ref())),
                _ => Err(self.wrong_type(key, "a string", value)),
            },
        }
    }

    /// A string that must be present and not blank.
    pub(super) fn required_str(&self, key: &str) -> Result<&'d str, InventoryError> {
        match self.str(key)? {
            None => Err(self.error(key, "missing")),
            Some(text) if text.trim().is_empty() => Err(self.error(key, "empty")),
            Some(text) => Ok(text),
        }
    }

    pub(super) fn integer(&self, key: &str) -> Result<Option<i64>, InventoryError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(value) => match value.get_ref() {
                DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
                    .map(Some)
                    .map_err(|_| self.error(key, "integer out of range")),
                _ => Err(self.wrong_type(key, "an integer", value)),
            },
        }
    }

    pub(super) fn table(&self, key: &str) -> Result<Option<TomlTable<'d, 't>>, InventoryError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(value) => match value.get_ref() {
                DeValue::Table(table) => {
                    Ok(Some(TomlTable { document: self.document, table, span: value.span(), path: self.key_path(key) }))
                }
                _ => Err(self.wrong_type(key, "a table", value)),
            },
        }
    }

    /// The keys of this table and the tables under them (each must be a table).
    pub(super) fn keys(&self) -> impl Iterator<Item = &'d str> + use<'d, 't> {
        self.table.keys().map(|key| key.get_ref().as_ref())
    }

    fn array(&self, key: &str) -> Result<Option<&'d DeArray<'t>>, InventoryError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(value) => match value.get_ref() {
                DeValue::Array(items) => Ok(Some(items)),
                _ => Err(self.wrong_type(key, "an array", value)),
            },
        }
    }

    /// The tables of the array under `key` (none when absent), each with its path `key[i]`.
    pub(super) fn tables(&self, key: &str) -> Result<Vec<TomlTable<'d, 't>>, InventoryError> {
        let Some(items) = self.array(key)? else { return Ok(Vec::new()) };
        let path = self.key_path(key);
        items
            .iter()
            .enumerate()
            .map(|(index, item)| match item.get_ref() {
                DeValue::Table(table) => Ok(TomlTable {
                    document: self.document,
                    table,
                    span: item.span(),
                    path: format!("{path}[{index}]"),
                }),
                other => Err(self.document.error(
                    item.span(),
                    format!("{path}[{index}]"),
                    format!("expected a table, not {}", toml_type(other)),
                )),
            })
            .collect()
    }

    /// The strings of the array under `key` (none when absent).
    pub(super) fn strings(&self, key: &str) -> Result<Vec<&'d str>, InventoryError> {
        let Some(items) = self.array(key)? else { return Ok(Vec::new()) };
        let path = self.key_path(key);
        items
            .iter()
            .enumerate()
            .map(|(index, item)| match item.get_ref() {
                DeValue::String(text) => Ok(text.as_ref()),
                other => Err(self.document.error(
                    item.span(),
                    format!("{path}[{index}]"),
                    format!("expected a string, not {}", toml_type(other)),
                )),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_lines_from_one_and_columns_in_characters() {
        let text = "ab\nçé-x\n";
        let cases = [(0, (1, 1)), (2, (1, 3)), (3, (2, 1)), (7, (2, 3)), (8, (2, 4)), (9, (2, 5)), (99, (3, 1))];
        for (offset, expected) in cases {
            assert_eq!(line_column(text, offset), expected, "offset {offset}");
        }
        // Inside a multi-byte character: the character's own column.
        assert_eq!(line_column(text, 4), (2, 1));
    }

    #[test]
    fn json_errors_count_columns_in_characters() {
        let error = json("{\"é\": x}").err();
        assert_eq!(error.map(|e| (e.line, e.column)), Some((Some(1), Some(7))));
    }

    #[test]
    fn invalid_utf8_names_its_line_and_column() {
        let error = text(b"a\nbc\xFFd").err();
        assert_eq!(error.map(|e| (e.line, e.column)), Some((Some(2), Some(3))));
    }
}
