//! Reading `schema.toml`: syntax, then types, then rules, each stage
//! reporting every error it can find with its line and column.
//!
//! The document is parsed once into `toml`'s spanned tree. Top-level keys
//! and each feature are deserialized separately, so one bad feature does not
//! hide the problems of the next. Feature order comes from the key positions
//! in the text (the tree itself is sorted by name). Rule violations found by
//! [`validate`] carry key paths, which are mapped back to spans in the tree.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::model::*;
use super::validate::{PathSegment, dotted_path, validate};
use super::write::toml_key;
use super::{Diagnostic, DiagnosticKind, SchemaError};

/// Everything at the top level but `features`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopLevel {
    format: String,
    #[serde(default)]
    environments: Vec<String>,
    #[serde(default)]
    default_environments: Vec<String>,
    #[serde(default)]
    slices: Vec<Vec<String>>,
    #[serde(default)]
    dataset: Dataset,
    skew: Option<DatasetComparator>,
    drift: Option<DatasetComparator>,
    /// Always absent (features are read separately); declared so that an
    /// unknown top-level key's message lists `features` among the known ones.
    #[serde(default, rename = "features")]
    _features: Option<serde::de::IgnoredAny>,
}

/// Reads and parses the schema at `path`.
pub fn load(path: &Path) -> Result<Schema, SchemaError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Read {
        path: display.clone(),
        source,
    })?;
    parse(&text, &display)
}

/// Parses and validates schema text; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<Schema, SchemaError> {
    let locate = Locator::new(text, file);
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        let diagnostics = syntax_errors
            .iter()
            .map(|e| locate.error(DiagnosticKind::Syntax, e.span(), e.message()))
            .collect();
        return Err(SchemaError::Invalid { diagnostics });
    }
    let root_span = root.span();
    let mut top = root.into_inner();
    let mut diagnostics = Vec::new();

    let features = match top.remove("features") {
        None => Vec::new(),
        Some(value) => {
            let span = value.span();
            match value.into_inner() {
                DeValue::Table(table) => read_features(table, &locate, &mut diagnostics),
                other => {
                    let message = format!(
                        "`features` must be a table of feature tables, found {}",
                        other.type_str()
                    );
                    diagnostics.push(locate.error(DiagnosticKind::Type, Some(span), &message));
                    Vec::new()
                }
            }
        }
    };
    let top_level = deserialize::<TopLevel>(
        DeValue::Table(top),
        root_span,
        None,
        &locate,
        &mut diagnostics,
    );
    if !diagnostics.is_empty() {
        // Features were read before the top level: report in file order.
        diagnostics.sort_by_key(|d| (d.line, d.column));
        return Err(SchemaError::Invalid { diagnostics });
    }
    let Some(top_level) = top_level else {
        // deserialize() reports every failure, so this is unreachable in
        // practice; say so rather than panic.
        return Err(SchemaError::Invalid {
            diagnostics: vec![locate.error(DiagnosticKind::Type, None, "unreadable")],
        });
    };
    let schema = Schema {
        format: top_level.format,
        environments: top_level.environments,
        default_environments: top_level.default_environments,
        slices: top_level.slices,
        dataset: top_level.dataset,
        skew: top_level.skew,
        drift: top_level.drift,
        features,
    };

    let problems = validate(&schema);
    if problems.is_empty() {
        return Ok(schema);
    }
    // Re-parse for the spans: the first tree was consumed by deserialization,
    // and schemas are small.
    let (tree, _) = DeTable::parse_recoverable(text);
    let diagnostics = problems
        .iter()
        .map(|p| {
            let message = format!("{}: {}", dotted_path(&p.path), p.message);
            locate.error(
                DiagnosticKind::Rule,
                span_of(tree.get_ref(), &p.path),
                &message,
            )
        })
        .collect();
    Err(SchemaError::Invalid { diagnostics })
}

fn read_features(
    table: DeTable<'_>,
    locate: &Locator<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<FeatureSchema> {
    let mut features: Vec<(usize, FeatureSchema)> = Vec::new();
    for (key, value) in table {
        let position = key.span().start;
        let name = key.into_inner().into_owned();
        let span = value.span();
        let context = format!("features.{}", toml_key(&name));
        if let Some(mut feature) = deserialize::<FeatureSchema>(
            value.into_inner(),
            span,
            Some(&context),
            locate,
            diagnostics,
        ) {
            feature.name = name;
            features.push((position, feature));
        }
    }
    features.sort_by_key(|(position, _)| *position);
    features.into_iter().map(|(_, f)| f).collect()
}

/// Deserializes one subtree, recording a located error on failure; `context`
/// (e.g. `features.age`) prefixes the message, since toml's own messages do
/// not say which table they are about.
fn deserialize<'i, T: Deserialize<'i>>(
    value: DeValue<'i>,
    span: Range<usize>,
    context: Option<&str>,
    locate: &Locator<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<T> {
    match T::deserialize(ValueDeserializer::from(Spanned::new(span.clone(), value))) {
        Ok(v) => Some(v),
        Err(e) => {
            let message = with_suggestion(e.message());
            let message = match context {
                Some(context) => format!("{context}: {message}"),
                None => message,
            };
            // Errors without their own span (rare) point at the subtree.
            diagnostics.push(locate.error(DiagnosticKind::Type, e.span().or(Some(span)), &message));
            None
        }
    }
}

/// serde's "unknown field `presense`, expected one of `type`, ..." gains
/// "did you mean `presence`?" when a known name is within a small edit
/// distance of the unknown one.
pub(crate) fn with_suggestion(message: &str) -> String {
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let is_unknown = message.starts_with("unknown field") || message.starts_with("unknown variant");
    let (Some((unknown, known)), true) = (quoted.split_first(), is_unknown) else {
        return message.to_string();
    };
    match closest(unknown, known) {
        Some(name) => format!("{message}; did you mean `{name}`?"),
        None => message.to_string(),
    }
}

/// The known name nearest to `word`, if near enough to be a typo (at most a
/// third of its characters changed).
pub(crate) fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .min()
        .filter(|(distance, _)| *distance <= (word.chars().count() / 3).max(1))
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters (also for the suggestions of
/// expectation-suite errors).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// The span of the deepest part of `path` present in the tree: the value
/// itself for scalars and arrays, the key for tables (a table's own span is
/// its whole body, while its name is where a reader looks).
pub(crate) fn span_of(root: &DeTable<'_>, path: &[PathSegment]) -> Option<Range<usize>> {
    let mut current: Option<&DeValue<'_>> = None;
    let mut best = None;
    for segment in path {
        let found = match (segment, current) {
            (PathSegment::Key(k), None) => root
                .get_key_value(k.as_str())
                .map(|(key, value)| (key.span(), value)),
            (PathSegment::Key(k), Some(DeValue::Table(table))) => table
                .get_key_value(k.as_str())
                .map(|(key, value)| (key.span(), value)),
            (PathSegment::Index(i), Some(DeValue::Array(items))) => {
                items.get(*i).map(|item| (item.span(), item))
            }
            _ => None,
        };
        let Some((key_span, value)) = found else {
            break;
        };
        best = Some(if value.get_ref().is_table() {
            key_span
        } else {
            value.span()
        });
        current = Some(value.get_ref());
    }
    best
}

/// Turns byte offsets into 1-based line and column (in characters).
pub(crate) struct Locator<'a> {
    text: &'a str,
    file: &'a str,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str, file: &'a str) -> Self {
        Self { text, file }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        // A span never splits a character, but be safe on a bad offset.
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    pub(crate) fn error(
        &self,
        kind: DiagnosticKind,
        span: Option<Range<usize>>,
        message: &str,
    ) -> Diagnostic {
        let (line, column) = match span {
            Some(span) => {
                let (line, column) = self.position(span.start);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        // toml's messages can span lines ("expected ..."); keep one per line.
        let message = message.trim().replace('\n', "; ");
        Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            kind,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("presense", "presence"), 1);
        assert_eq!(edit_distance("strng", "string"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_only_for_close_names() {
        let close = with_suggestion("unknown field `presense`, expected one of `type`, `presence`");
        assert!(close.ends_with("did you mean `presence`?"), "{close}");
        let far = with_suggestion("unknown field `colour`, expected one of `type`, `presence`");
        assert!(!far.contains("did you mean"), "{far}");
        let other = with_suggestion("invalid type: string \"most\", expected f64");
        assert_eq!(other, "invalid type: string \"most\", expected f64");
    }

    #[test]
    fn positions_are_one_based_in_characters() {
        let locate = Locator::new("ab\né=x\n", "f");
        assert_eq!(locate.position(0), (1, 1));
        assert_eq!(locate.position(3), (2, 1));
        // 'é' is two bytes: the '=' after it is the second character.
        assert_eq!(locate.position(5), (2, 2));
    }
}
