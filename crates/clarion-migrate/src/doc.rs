//! An Alertmanager configuration read as a tree whose every key and item keeps its line, so a setting the
//! migration cannot carry over is named where it was written. Scalars keep their text and whether they
//! were quoted: a plain `true` or `30` is read as YAML reads it when written out again, a quoted one stays
//! text.

use saphyr::{MarkedYaml, ScalarStyle, ScanError, YamlData, YamlLoader};
use saphyr_parser::Parser;

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Null,
    /// A scalar as written; `plain` when it was not quoted.
    Text {
        text: String,
        plain: bool,
    },
    Seq(Vec<Item>),
    Map(Vec<Entry>),
}

/// An item of a sequence with its 1-based line.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub line: usize,
    pub doc: Doc,
}

/// A key of a mapping (its text), the line of the key, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub value: Doc,
}

/// Why a text is not YAML; line and column are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads the first YAML document of `text`; an empty text is [`Doc::Null`].
pub fn read(text: &str) -> Result<Doc, YamlProblem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new_from_str(text);
    let mut loader: YamlLoader<MarkedYaml> = YamlLoader::default();
    loader.early_parse(false);
    let loaded = parser.load(&mut loader, true);
    if let Some(e) = loader.error() {
        return Err(problem(e));
    }
    loaded.map_err(|e| problem(&e))?;
    Ok(loader.into_documents().first().map_or(Doc::Null, convert))
}

fn problem(e: &ScanError) -> YamlProblem {
    YamlProblem { line: e.marker().line().max(1), column: e.marker().col() + 1, message: e.info().to_string() }
}

fn line_of(n: &MarkedYaml) -> usize {
    n.span.start.line().max(1)
}

fn convert(n: &MarkedYaml) -> Doc {
    match &n.data {
        YamlData::Representation(text, style, tag) => {
            let plain = *style == ScalarStyle::Plain && tag.is_none();
            if plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                Doc::Null
            } else {
                Doc::Text { text: text.to_string(), plain }
            }
        }
        YamlData::Value(scalar) => match scalar {
            saphyr::Scalar::Null => Doc::Null,
            saphyr::Scalar::String(s) => Doc::Text { text: s.to_string(), plain: false },
            saphyr::Scalar::Boolean(b) => Doc::Text { text: b.to_string(), plain: true },
            saphyr::Scalar::Integer(i) => Doc::Text { text: i.to_string(), plain: true },
            saphyr::Scalar::FloatingPoint(f) => Doc::Text { text: f.to_string(), plain: true },
        },
        YamlData::Sequence(items) => {
            Doc::Seq(items.iter().map(|i| Item { line: line_of(i), doc: convert(i) }).collect())
        }
        YamlData::Mapping(map) => Doc::Map(
            map.iter()
                .map(|(k, v)| {
                    let key = match convert(k) {
                        Doc::Text { text, .. } => text,
                        Doc::Null => String::new(),
                        _ => "(a key that is not text)".to_string(),
                    };
                    Entry { key, line: line_of(k), value: convert(v) }
                })
                .collect(),
        ),
        YamlData::Tagged(_, inner) => convert(inner),
        YamlData::Alias(_) | YamlData::BadValue => Doc::Null,
    }
}

impl Doc {
    /// The entries of a mapping; none for anything else.
    pub fn entries(&self) -> &[Entry] {
        match self {
            Doc::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The items of a sequence; none for anything else.
    pub fn items(&self) -> &[Item] {
        match self {
            Doc::Seq(items) => items,
            _ => &[],
        }
    }

    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries().iter().find(|e| e.key == key)
    }

    /// The text of a scalar.
    pub fn text(&self) -> Option<&str> {
        match self {
            Doc::Text { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The node as a YAML value to write out: plain scalars read as YAML reads them (`true`, `30`, `5m`),
    /// quoted ones as text.
    pub fn to_value(&self) -> serde_yaml::Value {
        match self {
            Doc::Null => serde_yaml::Value::Null,
            Doc::Text { text, plain: true } => {
                serde_yaml::from_str(text).unwrap_or_else(|_| serde_yaml::Value::String(text.clone()))
            }
            Doc::Text { text, plain: false } => serde_yaml::Value::String(text.clone()),
            Doc::Seq(items) => serde_yaml::Value::Sequence(items.iter().map(|i| i.doc.to_value()).collect()),
            Doc::Map(entries) => serde_yaml::Value::Mapping(
                entries.iter().map(|e| (serde_yaml::Value::String(e.key.clone()), e.value.to_value())).collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_items_keep_their_lines_and_scalars_their_quoting() -> Result<(), YamlProblem> {
        let doc = read("a: 1\nb:\n  - 'x'\n  - true\nc: ~\n")?;
        let entries = doc.entries();
        assert_eq!(
            entries.iter().map(|e| (e.key.as_str(), e.line)).collect::<Vec<_>>(),
            [("a", 1), ("b", 2), ("c", 5)]
        );
        let items = doc.get("b").map(|e| e.value.items().to_vec()).unwrap_or_default();
        assert_eq!(items.iter().map(|i| i.line).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(items[0].doc, Doc::Text { text: "x".into(), plain: false });
        assert_eq!(items[1].doc.to_value(), serde_yaml::Value::Bool(true));
        assert_eq!(doc.get("c").map(|e| &e.value), Some(&Doc::Null));
        assert_eq!(read("")?, Doc::Null);
        let bad = read("a: [1, 2\n").expect_err("unclosed flow sequence");
        assert!(bad.line >= 1, "{bad:?}");
        Ok(())
    }
}
