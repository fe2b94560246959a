//! Rewrites arrow-csv's error messages into [`SourceError::Malformed`] with
//! the 1-based line, the column name and what was expected.
//!
//! arrow-csv (60.x) reports, as text:
//! - `incorrect number of fields for line L, expected E got G` (L 1-based, header counted)
//! - `Encountered invalid UTF-8 data for line L and field F` (L 1-based, F 1-based)
//! - `Error while parsing value 'V' as type 'T' for column C at line L. Row data: '...'`
//!   (C 0-based, L 0-based counting the header, i.e. file line L + 1)
//! - `Error parsing column C at line L: ...` (timestamps; same numbering)
//! - at inference, the csv crate's `... UTF-8 error ... at line L` and
//!   `... Expected E records, found G records at line L` (L 1-based)
//!
//! A message that matches none of these is kept whole, still naming the file.
//! Line numbers count records: a quoted field spanning lines counts once.

use arrow::datatypes::DataType;
use arrow::error::ArrowError;

use crate::sources::SourceError;

/// Column facts for messages.
pub(super) struct Columns {
    pub names: Vec<String>,
    pub types: Vec<DataType>,
    /// Columns whose type the user set (no "override it" hint for those).
    pub overridden: Vec<bool>,
    pub infer_rows: usize,
}

impl Columns {
    fn name(&self, index: usize) -> Option<String> {
        self.names.get(index).cloned()
    }
}

/// Maps an arrow-csv error for file `path`. `next_line` is the line of the
/// record after those decoded so far, used when arrow gives no line.
pub(super) fn map(
    e: ArrowError,
    path: &str,
    columns: Option<&Columns>,
    next_line: u64,
) -> SourceError {
    let malformed = |line, column, message| SourceError::Malformed {
        path: path.to_string(),
        line,
        column,
        message,
    };
    let text = match e {
        ArrowError::IoError(_, source) => {
            return SourceError::Io {
                path: path.to_string(),
                source,
            };
        }
        ArrowError::CsvError(s) | ArrowError::ParseError(s) => s,
        other => other.to_string(),
    };
    if let Some((line, expected, got)) = field_count(&text) {
        return malformed(
            Some(line),
            None,
            format!("expected {expected} fields, found {got}"),
        );
    }
    if let Some((line, field)) = invalid_utf8(&text) {
        let column = field
            .checked_sub(1)
            .and_then(|i| columns.and_then(|c| c.name(i)));
        return malformed(Some(line), column, utf8_message());
    }
    if let Some((value, column, line)) = bad_value(&text) {
        let (name, data_type, hint) = describe(columns, column);
        let message = format!(
            "expected {}, found \"{}\"{hint}",
            expected(data_type.as_ref()),
            shorten(value)
        );
        return malformed(Some(line + 1), name, message);
    }
    if let Some((column, line, detail)) = bad_timestamp(&text) {
        let (name, _, hint) = describe(columns, column);
        let found = detail
            .strip_prefix("Error parsing timestamp from '")
            .and_then(|d| d.rsplit_once("': "))
            .map_or_else(
                || detail.to_string(),
                |(value, _)| format!("\"{}\"", shorten(value)),
            );
        let message = format!("expected a timestamp (YYYY-MM-DD HH:MM:SS), found {found}{hint}");
        return malformed(Some(line + 1), name, message);
    }
    if text.contains("UTF-8") {
        // The csv crate (inference) says `invalid UTF-8 in field F` (0-based).
        let column = text
            .split_once("in field ")
            .and_then(|(_, rest)| number(rest))
            .and_then(|(field, _)| columns.and_then(|c| c.name(usize::try_from(field).ok()?)));
        return malformed(trailing_line(&text), column, utf8_message());
    }
    if let Some((expected, got)) = unequal_lengths(&text) {
        return malformed(
            trailing_line(&text),
            None,
            format!("expected {expected} fields, found {got}"),
        );
    }
    if text.contains("part way through record") {
        return malformed(
            Some(next_line),
            None,
            "the file ends inside a record (an unterminated quoted field?)".into(),
        );
    }
    malformed(None, None, text)
}

fn utf8_message() -> String {
    "invalid UTF-8 text (CSV files must be UTF-8 encoded)".into()
}

/// The column's name and type, and a hint to override an inferred type.
fn describe(columns: Option<&Columns>, index: usize) -> (Option<String>, Option<DataType>, String) {
    let Some(c) = columns else {
        return (None, None, String::new());
    };
    let hint = if c.overridden.get(index).copied().unwrap_or(true) {
        String::new()
    } else {
        format!(
            " (the column's type was inferred from the first {} rows; \
             override it, e.g. as string, to read this value)",
            c.infer_rows
        )
    };
    (c.name(index), c.types.get(index).cloned(), hint)
}

/// What a value of `data_type` looks like, in words.
fn expected(data_type: Option<&DataType>) -> &'static str {
    match data_type {
        Some(DataType::Int64) => "an integer",
        Some(DataType::Float64) => "a number",
        Some(DataType::Boolean) => "true or false",
        Some(DataType::Date32) => "a date (YYYY-MM-DD)",
        Some(DataType::Timestamp(..)) => "a timestamp (YYYY-MM-DD HH:MM:SS)",
        _ => "a value of the column's type",
    }
}

/// Long fields are cut so one bad value cannot flood the terminal.
fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        format!("{}...", value.chars().take(MAX).collect::<String>())
    }
}

/// A run of ASCII digits at the start of `s`, and the rest.
fn number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    Some((s[..end].parse().ok()?, &s[end..]))
}

fn field_count(text: &str) -> Option<(u64, u64, String)> {
    let rest = text.strip_prefix("incorrect number of fields for line ")?;
    let (line, rest) = number(rest)?;
    let (expected, rest) = number(rest.strip_prefix(", expected ")?)?;
    let got = rest.strip_prefix(" got ")?;
    Some((line, expected, got.to_string()))
}

fn invalid_utf8(text: &str) -> Option<(u64, usize)> {
    let rest = text.strip_prefix("Encountered invalid UTF-8 data for line ")?;
    let (line, rest) = number(rest)?;
    let (field, _) = number(rest.strip_prefix(" and field ")?)?;
    Some((line, usize::try_from(field).ok()?))
}

/// `Error while parsing value 'V' as type 'T' for column C at line L. Row data: ...`
/// → (V, C, L). The value may itself contain quotes, so the fixed parts are
/// matched from the first ` for column C at line L. Row data:` that parses.
fn bad_value(text: &str) -> Option<(&str, usize, u64)> {
    let body = text.strip_prefix("Error while parsing value '")?;
    let mut search = 0;
    while let Some(found) = body[search..].find("' for column ") {
        let at = search + found;
        search = at + 1;
        let Some((column, rest)) = number(&body[at + "' for column ".len()..]) else {
            continue;
        };
        let Some((line, rest)) = rest.strip_prefix(" at line ").and_then(number) else {
            continue;
        };
        if !rest.starts_with(". Row data: ") {
            continue;
        }
        let Some(type_at) = body[..at].rfind("' as type '") else {
            continue;
        };
        return Some((&body[..type_at], usize::try_from(column).ok()?, line));
    }
    None
}

fn bad_timestamp(text: &str) -> Option<(usize, u64, &str)> {
    let rest = text.strip_prefix("Error parsing column ")?;
    let (column, rest) = number(rest)?;
    let (line, rest) = number(rest.strip_prefix(" at line ")?)?;
    let detail = rest.strip_prefix(": ").unwrap_or(rest);
    let detail = detail.strip_prefix("Parser error: ").unwrap_or(detail);
    Some((usize::try_from(column).ok()?, line, detail))
}

fn unequal_lengths(text: &str) -> Option<(u64, u64)> {
    let at = text.find("Expected ")?;
    let (expected, rest) = number(&text[at + "Expected ".len()..])?;
    let (got, _) = number(rest.strip_prefix(" records, found ")?)?;
    Some((expected, got))
}

fn trailing_line(text: &str) -> Option<u64> {
    let at = text.rfind(" at line ")?;
    number(&text[at + " at line ".len()..]).map(|(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Columns {
        Columns {
            names: vec!["id".into(), "age".into()],
            types: vec![DataType::Int64, DataType::Int64],
            overridden: vec![false, true],
            infer_rows: 100,
        }
    }

    fn message(text: &str) -> String {
        map(
            ArrowError::ParseError(text.into()),
            "d.csv",
            Some(&columns()),
            9,
        )
        .to_string()
    }

    #[test]
    fn parse_errors_name_line_and_column() {
        let m = message(
            "Error while parsing value 'x' for column 1' as type 'Int64' for column 1 at line 16. Row data: '[1, x]'",
        );
        assert_eq!(
            m,
            "d.csv: line 17, column \"age\": expected an integer, found \"x' for column 1\""
        );
        let m = message(
            "Error while parsing value 'abc' as type 'Int64' for column 0 at line 3. Row data: '[abc, 1]'",
        );
        assert!(
            m.starts_with("d.csv: line 4, column \"id\": expected"),
            "{m}"
        );
        assert!(m.contains("inferred from the first 100 rows"), "{m}");
    }

    #[test]
    fn structural_errors_name_the_line() {
        let m = map(
            ArrowError::CsvError("incorrect number of fields for line 5, expected 2 got 3".into()),
            "d.csv",
            Some(&columns()),
            0,
        );
        assert_eq!(m.to_string(), "d.csv: line 5: expected 2 fields, found 3");
        let m = map(
            ArrowError::CsvError("Encountered invalid UTF-8 data for line 7 and field 2".into()),
            "d.csv",
            Some(&columns()),
            0,
        );
        assert!(
            m.to_string()
                .starts_with("d.csv: line 7, column \"age\": invalid UTF-8"),
            "{m}"
        );
        let m = map(
            ArrowError::CsvError("something new".into()),
            "d.csv",
            None,
            0,
        );
        assert_eq!(m.to_string(), "d.csv: something new");
    }
}
