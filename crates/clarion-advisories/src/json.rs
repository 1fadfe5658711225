//! What both readers say about JSON: a value's type in words, and serde_json's message without the
//! position it appends (each reader reports the position its own way).

use serde_json::Value;

/// The name of a JSON value's type, with its article, for "expected a string, not a number".
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json's message for `error` without its trailing " at line L column C".
pub(crate) fn message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    full.strip_suffix(&position).unwrap_or(&full).to_string()
}
