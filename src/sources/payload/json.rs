//! JSON rows (`[{..}, ..]`), JSON columns (`{"columns": {..}}`) and NDJSON.
//!
//! Bodies are streamed through serde into one [`Cell`] vector per column
//! (no intermediate `serde_json::Value` tree, keys looked up without
//! allocating), then each column is converted to its Arrow array.

use std::collections::HashMap;
use std::fmt;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;

use super::cells::{Cell, build_column};
use super::{PayloadError, PayloadFormat, assemble, shorten};

/// Classifies an `application/json` body (BOM already stripped).
pub(super) fn classify(body: &[u8]) -> Result<PayloadFormat, PayloadError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(PayloadError::body("the body is empty (no rows)")),
        Some(b'[') => Ok(PayloadFormat::JsonRows),
        Some(b'{') => {
            let mut found = None;
            let mut de = serde_json::Deserializer::from_slice(body);
            let result = de.deserialize_map(KeyScan(&mut found));
            match (found, result) {
                (Some(format), _) => Ok(format),
                (None, Err(e)) => Err(json_error(&e, Where::Body)),
                (None, Ok(())) => Err(PayloadError::body(
                    "a JSON object body needs a `columns` key (columnar JSON), \
                     `inputs` (KServe v2 inference request) or `outputs` (KServe v2 response)",
                )),
            }
        }
        Some(_) => Err(PayloadError::body(
            "a JSON body must be an array of row objects or an object \
             (`{\"columns\": ..}`, or a KServe v2 request or response)",
        )),
    }
}

/// Reads an object's keys until one names the format; stops there (the
/// deserializer then reports an error that is ignored).
struct KeyScan<'a>(&'a mut Option<PayloadFormat>);

impl<'de> Visitor<'de> for KeyScan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let format = match key.as_ref() {
                "columns" => PayloadFormat::JsonColumns,
                "inputs" => PayloadFormat::KserveRequest,
                "outputs" => PayloadFormat::KserveResponse,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *self.0 = Some(format);
            return Ok(());
        }
        Ok(())
    }
}

/// Where a serde_json error happened, for its message.
pub(super) enum Where {
    /// The whole body (line and column of the body).
    Body,
    /// One NDJSON line (1-based), parsed alone.
    Line(usize),
}

/// Maps a serde_json error to a [`PayloadError`] with its position.
pub(super) fn json_error(e: &serde_json::Error, place: Where) -> PayloadError {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let detail = text.strip_suffix(&suffix).unwrap_or(&text);
    let problem = match e.classify() {
        Category::Data => "does not have the expected shape",
        _ => "is not valid JSON",
    };
    let message = match place {
        Where::Body => format!(
            "body {problem} at line {}, column {}: {detail}",
            e.line(),
            e.column()
        ),
        Where::Line(line) => format!("line {line} {problem} at column {}: {detail}", e.column()),
    };
    PayloadError::body(message)
}

/// Columns being filled, in order of first appearance.
#[derive(Default)]
struct Table {
    names: Vec<String>,
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    cells: Vec<Vec<Cell>>,
    rows: usize,
    /// A structured error raised inside the deserializer.
    error: Option<PayloadError>,
    /// The most cells (columns × rows) the table may grow to.
    max_cells: usize,
}

/// The cell budget of a row-oriented body of `len` bytes: rows with mostly
/// different keys would otherwise pad every column to every row (quadratic
/// memory). A dense table needs at most one cell per 6 bytes (`"a":1,`),
/// so this leaves room for sparse rows.
fn cell_budget(len: usize) -> usize {
    len / 2 + 65_536
}

impl Table {
    fn new(body_len: usize) -> Self {
        Table {
            max_cells: cell_budget(body_len),
            ..Table::default()
        }
    }

    fn check_size(&self, columns: usize, rows: usize) -> Result<(), PayloadError> {
        if columns.saturating_mul(rows) > self.max_cells {
            return Err(PayloadError::body(format!(
                "too sparse: {columns} distinct keys over {rows} rows would need more than \
                 {} cells for a body of this size; send rows that share their keys",
                self.max_cells
            ))
            .at_row(rows.saturating_sub(1)));
        }
        Ok(())
    }

    /// Counts a finished row.
    fn end_row(&mut self) -> Result<(), PayloadError> {
        self.check_size(self.names.len(), self.rows + 1)?;
        self.rows += 1;
        Ok(())
    }

    fn column(&mut self, name: &str) -> Result<usize, PayloadError> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        self.check_size(self.names.len() + 1, self.rows + 1)?;
        let i = self.names.len();
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        self.cells.push(Vec::new());
        Ok(i)
    }

    /// Converts the filled columns into a batch.
    fn finish(mut self, expected: Option<&Schema>) -> Result<RecordBatch, PayloadError> {
        let rows = self.rows;
        let mut columns = Vec::with_capacity(self.names.len());
        for (name, mut cells) in self.names.drain(..).zip(self.cells.drain(..)) {
            cells.resize(rows, Cell::Null);
            let target = expected
                .and_then(|s| s.field_with_name(&name).ok())
                .map(|f| f.data_type());
            let array = build_column(&cells, &name, target)?;
            columns.push((name, array));
        }
        assemble(columns, rows)
    }
}

/// Deserializes one row object into the table (as row `table.rows`).
struct RowSeed<'a>(&'a mut Table);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let table = self.0;
        let row = table.rows;
        while let Some(i) = map.next_key_seed(KeySeed(table))? {
            let value: Cell = map.next_value()?;
            let column = &mut table.cells[i];
            if column.len() > row {
                table.error = Some(
                    PayloadError::body("the row names this column twice")
                        .at_row(row)
                        .in_column(table.names[i].clone()),
                );
                return Err(de::Error::custom("duplicate key"));
            }
            column.resize(row, Cell::Null);
            column.push(value);
        }
        Ok(())
    }
}

/// A key: the index of its column (created on first sight).
struct KeySeed<'a>(&'a mut Table);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        self.0.column(v).map_err(|e| {
            self.0.error = Some(e);
            E::custom("too many columns")
        })
    }
}

/// The row array: rows one after the other; remembers the failing row.
struct RowsSeed<'a> {
    table: &'a mut Table,
    failed_row: &'a mut Option<usize>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of row objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            match seq.next_element_seed(RowSeed(self.table)) {
                Ok(Some(())) => {
                    if let Err(e) = self.table.end_row() {
                        self.table.error = Some(e);
                        return Err(de::Error::custom("too many cells"));
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    *self.failed_row = Some(self.table.rows);
                    return Err(e);
                }
            }
        }
    }
}

/// `[{"age": 31, ...}, ...]`: keys may differ per row (missing = null).
pub(super) fn rows(body: &[u8], expected: Option<&Schema>) -> Result<RecordBatch, PayloadError> {
    let mut table = Table::new(body.len());
    let mut failed_row = None;
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = RowsSeed {
        table: &mut table,
        failed_row: &mut failed_row,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Err(e) = result {
        if let Some(error) = table.error.take() {
            return Err(error);
        }
        let mut error = json_error(&e, Where::Body);
        error.row = failed_row;
        return Err(error);
    }
    table.finish(expected)
}

/// One JSON object per line; blank lines are skipped (and not counted as rows).
pub(super) fn ndjson(body: &[u8], expected: Option<&Schema>) -> Result<RecordBatch, PayloadError> {
    let mut table = Table::new(body.len());
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let row = table.rows;
        let mut de = serde_json::Deserializer::from_slice(line);
        let result = RowSeed(&mut table)
            .deserialize(&mut de)
            .and_then(|()| de.end());
        if let Err(e) = result {
            if let Some(error) = table.error.take() {
                return Err(error);
            }
            return Err(json_error(&e, Where::Line(i + 1)).at_row(row));
        }
        table.end_row()?;
    }
    table.finish(expected)
}

/// `{"columns": {"age": [31, 40], ...}, "request_ids": [...]}`.
pub(super) fn columns(
    body: &[u8],
    expected: Option<&Schema>,
) -> Result<(RecordBatch, Option<Vec<String>>), PayloadError> {
    let mut state = ColumnsBody::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = de
        .deserialize_map(ColumnsVisitor(&mut state))
        .and_then(|()| de.end());
    if let Err(e) = result {
        if let Some(error) = state.error.take() {
            return Err(error);
        }
        let error = json_error(&e, Where::Body);
        return Err(match state.failed_column.take() {
            Some(c) => error.in_column(c),
            None => error,
        });
    }
    let table = &mut state.table;
    let rows = match table.cells.first() {
        Some(first) => first.len(),
        None => state.request_ids.as_ref().map_or(0, Vec::len),
    };
    for (name, cells) in table.names.iter().zip(&table.cells) {
        if cells.len() != rows {
            return Err(PayloadError::body(format!(
                "has {} values, but column `{}` has {rows}",
                cells.len(),
                table.names[0]
            ))
            .in_column(name.clone()));
        }
    }
    table.rows = rows;
    let ids = match state.request_ids {
        None => None,
        Some(cells) => {
            if cells.len() != rows {
                return Err(PayloadError::body(format!(
                    "`request_ids` has {} values for {rows} rows",
                    cells.len()
                )));
            }
            let mut ids = Vec::with_capacity(rows);
            for (row, cell) in cells.into_iter().enumerate() {
                ids.push(request_id(cell).map_err(|found| {
                    PayloadError {
                        expected: Some("a string".into()),
                        ..PayloadError::body(format!(
                            "`request_ids`: expected a string, found {found}"
                        ))
                    }
                    .at_row(row)
                })?);
            }
            Some(ids)
        }
    };
    Ok((state.table.finish(expected)?, ids))
}

/// A request id from a JSON value: strings as they are, numbers as text,
/// null as "". Arrays and objects are refused (their description returned).
pub(super) fn request_id(cell: Cell) -> Result<String, String> {
    match cell {
        Cell::Null => Ok(String::new()),
        Cell::Str(s) => Ok(s),
        other => match super::cells::to_text(&other) {
            Ok(text) => Ok(text.map(|t| t.into_owned()).unwrap_or_default()),
            Err(()) => Err(other.found()),
        },
    }
}

#[derive(Default)]
struct ColumnsBody {
    table: Table,
    request_ids: Option<Vec<Cell>>,
    seen_columns: bool,
    failed_column: Option<String>,
    error: Option<PayloadError>,
}

struct ColumnsVisitor<'a>(&'a mut ColumnsBody);

impl<'de> Visitor<'de> for ColumnsVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with `columns`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "columns" if !state.seen_columns => {
                    state.seen_columns = true;
                    map.next_value_seed(ColumnMapSeed(state))?;
                }
                "request_ids" if state.request_ids.is_none() => {
                    state.request_ids = Some(map.next_value()?);
                }
                other => {
                    state.error = Some(PayloadError::body(format!(
                        "unexpected key `{}` in a columnar JSON body (accepted: `columns`, `request_ids`, each once)",
                        shorten(other, 40)
                    )));
                    return Err(de::Error::custom("unexpected key"));
                }
            }
        }
        Ok(())
    }
}

struct ColumnMapSeed<'a>(&'a mut ColumnsBody);

impl<'de> DeserializeSeed<'de> for ColumnMapSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ColumnMapSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object mapping column names to arrays of values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            state.failed_column = Some(name.to_string());
            let value: Cell = map.next_value()?;
            let table = &mut state.table;
            if table.index.contains_key(name.as_ref()) {
                state.error = Some(PayloadError::body("column given twice").in_column(name));
                return Err(de::Error::custom("duplicate column"));
            }
            match value {
                Cell::List(cells) => {
                    // Given explicitly: no padding, no cell budget.
                    table.index.insert(name.to_string(), table.names.len());
                    table.names.push(name.to_string());
                    table.cells.push(cells);
                }
                other => {
                    let expected = "an array of values".to_string();
                    state.error = Some(PayloadError {
                        row: None,
                        column: Some(name.to_string()),
                        message: format!("expected {expected}, found {}", other.found()),
                        expected: Some(expected),
                    });
                    return Err(de::Error::custom("column is not an array"));
                }
            }
            state.failed_column = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Field, Float64Type, Int64Type};

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn rows_infer_types_and_fill_missing_keys() {
        let body = br#"[{"age": 31, "income": 5000.5, "sex": "F"},
                        {"age": 40, "sex": "M", "vip": true},
                        {"income": 12, "age": null}]"#;
        let b = rows(body, None).unwrap();
        let names: Vec<_> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["age", "income", "sex", "vip"]);
        assert_eq!(b.num_rows(), 3);
        assert_eq!(b.column(0).data_type(), &DataType::Int64);
        assert_eq!(b.column(1).data_type(), &DataType::Float64);
        assert_eq!(b.column(2).data_type(), &DataType::Utf8);
        assert_eq!(b.column(3).data_type(), &DataType::Boolean);
        assert_eq!(
            b.column(1)
                .as_primitive::<Float64Type>()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(5000.5), None, Some(12.0)]
        );
        assert_eq!(b.column(3).null_count(), 2);
    }

    #[test]
    fn rows_follow_expected_types() {
        let expected = schema(&[
            ("age", DataType::Int64),
            ("income", DataType::Float64),
            ("code", DataType::Utf8),
        ]);
        let body = br#"[{"age": 31.0, "income": 5000, "code": 7}, {"age": 2, "code": "x"}]"#;
        let b = rows(body, Some(&expected)).unwrap();
        assert_eq!(b.column(0).data_type(), &DataType::Int64);
        assert_eq!(b.column(1).data_type(), &DataType::Float64);
        assert_eq!(
            b.column(2).as_string::<i32>().iter().collect::<Vec<_>>(),
            vec![Some("7"), Some("x")]
        );
        let e = rows(br#"[{"age": 1}, {"age": "abc"}]"#, Some(&expected)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 1, column `age`: expected an integer, found \"abc\""
        );
    }

    #[test]
    fn rows_errors() {
        let e = rows(b"[{\"a\": 1},\n {\"a\": 2,}]", None).unwrap_err();
        assert_eq!(e.row, Some(1));
        assert!(
            e.message
                .starts_with("body is not valid JSON at line 2, column"),
            "{e}"
        );
        let e = rows(br#"[{"a": 1}, 5]"#, None).unwrap_err();
        assert_eq!(e.row, Some(1));
        assert!(e.message.contains("expected a row object"), "{e}");
        let e = rows(br#"[{"a": 1, "a": 2}]"#, None).unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(0), Some("a")));
        let e = rows(br#"[{"a": {"b": 1}}]"#, None).unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(0), Some("a")));
        let e = rows(br#"[{"a": 1}] x"#, None).unwrap_err();
        assert!(e.message.contains("trailing"), "{e}");
        let b = rows(br#"[{"a": [1, 2]}, {"a": []}]"#, None).unwrap();
        assert!(matches!(b.column(0).data_type(), DataType::List(_)));
    }

    #[test]
    fn sparse_rows_are_bounded() {
        let mut body = String::from("[");
        for i in 0..5000 {
            body.push_str(&format!("{}{{\"k{i}\": 1}}", if i > 0 { "," } else { "" }));
        }
        body.push(']');
        let e = rows(body.as_bytes(), None).unwrap_err();
        assert!(e.message.starts_with("too sparse"), "{e}");
        // A modestly sparse body is fine.
        let b = rows(br#"[{"a": 1}, {"b": 2}, {"c": 3}]"#, None).unwrap();
        assert_eq!((b.num_rows(), b.num_columns()), (3, 3));
    }

    #[test]
    fn columns_body() {
        let body = br#"{"columns": {"sex": ["F", "M"], "age": [31, 40]}, "request_ids": ["a", 7]}"#;
        let (b, ids) = columns(body, None).unwrap();
        assert_eq!(b.schema().field(0).name(), "sex");
        assert_eq!(
            b.column(1).as_primitive::<Int64Type>().values().to_vec(),
            vec![31, 40]
        );
        assert_eq!(ids, Some(vec!["a".to_string(), "7".to_string()]));
        let expected = schema(&[("age", DataType::Float64)]);
        let (b, _) = columns(body, Some(&expected)).unwrap();
        assert_eq!(b.column(1).data_type(), &DataType::Float64);

        let e = columns(br#"{"columns": {"a": [1, 2], "b": [1]}}"#, None).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("b"));
        assert!(
            e.to_string().contains("has 1 values, but column `a` has 2"),
            "{e}"
        );
        let e = columns(br#"{"columns": {"a": 1}}"#, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "column `a`: expected an array of values, found 1"
        );
        let e = columns(br#"{"columns": {"a": [1, 2]}, "x": 1}"#, None).unwrap_err();
        assert!(e.to_string().contains("`x`"), "{e}");
        let e = columns(br#"{"columns": {"a": [1, 2]}, "request_ids": ["a"]}"#, None).unwrap_err();
        assert!(e.to_string().contains("request_ids"), "{e}");
        let e = columns(br#"{"columns": {"a": [1, "x"]}}"#, None).unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(1), Some("a")));
    }

    #[test]
    fn ndjson_lines() {
        let body = b"{\"a\": 1, \"b\": \"x\"}\r\n\n{\"a\": 2.5}\n";
        let b = ndjson(body, None).unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column(0).data_type(), &DataType::Float64);
        let e = ndjson(b"{\"a\": 1}\n\n{\"a\": }\n", None).unwrap_err();
        assert_eq!(e.row, Some(1));
        assert!(
            e.to_string().starts_with("row 1: line 3 is not valid JSON"),
            "{e}"
        );
        let expected = schema(&[("a", DataType::Int64)]);
        let e = ndjson(b"{\"a\": 1}\n{\"a\": true}", Some(&expected)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 1, column `a`: expected an integer, found true"
        );
    }
}
