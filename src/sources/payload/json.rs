//! JSON rows (`[{..}, ..]`), JSON columns (`{"columns": {..}}`) and NDJSON.
//!
//! Values go straight into one [`Column`] per column (typed Arrow buffers
//! where the values allow, strings borrowed from the body, keys looked up
//! without allocating), then each column is finished as its Arrow array.
//! Row bodies up to 1 MiB are read from simd-json's tape (`tape`); larger
//! ones, NDJSON lines and columnar bodies of the common shape by a
//! [`Scanner`]; anything either is
//! unsure of is read again with serde_json (streamed through serde, no
//! intermediate `serde_json::Value` tree), which also words the errors.
//! The daemon may ask for a row body in two halves on two cores (`halves`).

use std::collections::HashMap;
use std::fmt;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;

use super::cells::{Cell, CellSeed, JsonCell};
use super::column::{Column, ValueSeed};
use super::scan::Scanner;
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
struct Table<'de, 's> {
    /// The model's schema: its columns are filled as its types.
    expected: Option<&'s Schema>,
    names: Vec<String>,
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    columns: Vec<Column<'de>>,
    rows: usize,
    /// The column the next key most likely names: the one after the
    /// previous key's (rows usually list their keys in the same order),
    /// checked before hashing the key.
    next: usize,
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

impl<'de, 's> Table<'de, 's> {
    fn new(body_len: usize, expected: Option<&'s Schema>) -> Self {
        Table {
            expected,
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

    /// Puts `cell` under `key` in row `row` (the row being read); `None` for
    /// a key the row already had or a table past its size: serde_json's
    /// pass then words the error.
    fn put(&mut self, row: usize, key: &str, cell: JsonCell<'de>) -> Option<()> {
        self.slot(row, key)?.push(cell);
        Some(())
    }

    /// The column `key` names, padded to row `row` (the row being read) and
    /// ready for its value; `None` as for [`Table::put`].
    #[inline]
    fn slot(&mut self, row: usize, key: &str) -> Option<&mut Column<'de>> {
        let i = self.column(key).ok()?;
        let column = &mut self.columns[i];
        let len = column.len();
        if len > row {
            return None;
        }
        if len < row {
            column.pad(row);
        }
        Some(column)
    }

    /// The index of the column `name` names (added on first sight).
    /// Inlined for the common case, the guess; the rest stays out of line
    /// (called for every cell, the whole function's prologue was about a
    /// tenth of decoding a rows body: `perf annotate`, `benches/payload.rs`).
    #[inline]
    fn column(&mut self, name: &str) -> Result<usize, PayloadError> {
        let guess = self.next;
        let i = if self.names.get(guess).is_some_and(|n| same(n, name)) {
            guess
        } else {
            self.lookup(name)?
        };
        self.next = i + 1;
        Ok(i)
    }

    #[inline(never)]
    fn lookup(&mut self, name: &str) -> Result<usize, PayloadError> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        self.check_size(self.names.len() + 1, self.rows + 1)?;
        Ok(self.add(name, Column::new(self.target(name))))
    }

    /// The expected type of a column, if the schema has it.
    fn target(&self, name: &str) -> Option<&'s DataType> {
        self.expected
            .and_then(|s| s.field_with_name(name).ok())
            .map(|f| f.data_type())
    }

    fn add(&mut self, name: &str, column: Column<'de>) -> usize {
        let i = self.names.len();
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        self.columns.push(column);
        i
    }

    /// Converts the filled columns into a batch.
    fn finish(self) -> Result<RecordBatch, PayloadError> {
        let rows = self.rows;
        let mut columns = Vec::with_capacity(self.names.len());
        for (name, mut column) in self.names.into_iter().zip(self.columns) {
            column.pad(rows);
            let array = column.finish(&name)?;
            columns.push((name, array));
        }
        assemble(columns, rows)
    }
}

/// `a == b` for short strings like column names, without the call to
/// `memcmp` that `==` makes (measured: 5% of decoding a rows body).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Deserializes one row object into the table (as row `table.rows`).
struct RowSeed<'a, 'de, 's>(&'a mut Table<'de, 's>);

impl<'de> DeserializeSeed<'de> for RowSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let table = self.0;
        let row = table.rows;
        table.next = 0;
        while let Some(i) = map.next_key_seed(KeySeed(table))? {
            let column = &mut table.columns[i];
            if column.len() > row {
                // The value is read first: invalid JSON there wins.
                map.next_value_seed(CellSeed)?;
                table.error = Some(
                    PayloadError::body("the row names this column twice")
                        .at_row(row)
                        .in_column(table.names[i].clone()),
                );
                return Err(de::Error::custom("duplicate key"));
            }
            column.pad(row);
            map.next_value_seed(ValueSeed(column))?;
        }
        Ok(())
    }
}

/// A key: the index of its column (created on first sight).
struct KeySeed<'a, 'de, 's>(&'a mut Table<'de, 's>);

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_, '_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_, '_> {
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
struct RowsSeed<'a, 'de, 's> {
    table: &'a mut Table<'de, 's>,
    failed_row: &'a mut Option<usize>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, 'de, '_> {
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
    // simd-json checks UTF-8 itself (bad bytes fall through to serde_json,
    // which says where they are).
    if let Some(batch) = tape::rows(body, expected) {
        return batch;
    }
    match std::str::from_utf8(body) {
        Ok(text) => {
            let mut table = Table::new(body.len(), expected);
            if scan_rows(text, &mut table).is_some() {
                return table.finish();
            }
            rows_from(
                serde_json::Deserializer::from_str(text),
                body.len(),
                expected,
            )
        }
        Err(_) => rows_from(
            serde_json::Deserializer::from_slice(body),
            body.len(),
            expected,
        ),
    }
}

/// Fills `table` from a rows body with the [`Scanner`] (bodies too large
/// for the tape path); `None` where it gives up (the body is then parsed
/// again with serde_json).
fn scan_rows<'de>(text: &'de str, table: &mut Table<'de, '_>) -> Option<()> {
    let mut s = Scanner::new(text);
    s.ws();
    if !s.eat(b'[') {
        return None;
    }
    s.ws();
    if !s.eat(b']') {
        loop {
            scan_row(&mut s, table)?;
            table.end_row().ok()?;
            s.ws();
            match s.next()? {
                b',' => s.ws(),
                b']' => break,
                _ => return None,
            }
        }
    }
    s.ws();
    s.at_end().then_some(())
}

/// One row object as row `table.rows` (not counted: see `Table::end_row`).
fn scan_row<'de>(s: &mut Scanner<'de>, table: &mut Table<'de, '_>) -> Option<()> {
    if !s.eat(b'{') {
        return None;
    }
    s.ws();
    if s.eat(b'}') {
        return Some(());
    }
    let row = table.rows;
    table.next = 0;
    loop {
        let key = s.string()?;
        s.ws();
        if !s.eat(b':') {
            return None;
        }
        s.ws();
        table.put(row, key, s.scalar()?)?;
        s.ws();
        match s.next()? {
            b',' => s.ws(),
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

// The body is read as text when it is valid UTF-8 (checked once: serde_json
// checks each string of a byte slice on its own, at a cost per string), as
// bytes otherwise so that the error says where the bad byte is.
fn rows_from<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    body_len: usize,
    expected: Option<&Schema>,
) -> Result<RecordBatch, PayloadError> {
    let mut table = Table::new(body_len, expected);
    let mut failed_row = None;
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
    table.finish()
}

/// One JSON object per line; blank lines are skipped (and not counted as rows).
pub(super) fn ndjson(body: &[u8], expected: Option<&Schema>) -> Result<RecordBatch, PayloadError> {
    if let Ok(text) = std::str::from_utf8(body) {
        let mut table = Table::new(body.len(), expected);
        if scan_lines(text, &mut table).is_some() {
            return table.finish();
        }
    }
    let mut table = Table::new(body.len(), expected);
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let row = table.rows;
        // As text when valid UTF-8, like `rows`.
        let result = match std::str::from_utf8(line) {
            Ok(text) => row_from(serde_json::Deserializer::from_str(text), &mut table),
            Err(_) => row_from(serde_json::Deserializer::from_slice(line), &mut table),
        };
        if let Err(e) = result {
            if let Some(error) = table.error.take() {
                return Err(error);
            }
            return Err(json_error(&e, Where::Line(i + 1)).at_row(row));
        }
        table.end_row()?;
    }
    table.finish()
}

/// NDJSON through the [`Scanner`]; `None` where it gives up.
fn scan_lines<'de>(text: &'de str, table: &mut Table<'de, '_>) -> Option<()> {
    for line in text.split('\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let mut s = Scanner::new(line);
        scan_row(&mut s, table)?;
        if !s.at_end() {
            return None;
        }
        table.end_row().ok()?;
    }
    Some(())
}

fn row_from<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    table: &mut Table<'de, '_>,
) -> Result<(), serde_json::Error> {
    RowSeed(table).deserialize(&mut de).and_then(|()| de.end())
}

/// `{"columns": {"age": [31, 40], ...}, "request_ids": [...]}`.
pub(super) fn columns(
    body: &[u8],
    expected: Option<&Schema>,
) -> Result<(RecordBatch, Option<Vec<String>>), PayloadError> {
    // As text when valid UTF-8, like `rows`.
    match std::str::from_utf8(body) {
        Ok(text) => {
            let mut state = ColumnsBody::default();
            state.table.expected = expected;
            if scan_columns(text, &mut state).is_some() {
                return columns_batch(state);
            }
            columns_from(serde_json::Deserializer::from_str(text), expected)
        }
        Err(_) => columns_from(serde_json::Deserializer::from_slice(body), expected),
    }
}

/// A columnar body with the [`Scanner`], `None` where it gives up (`request_ids`
/// are left to serde_json).
fn scan_columns<'de>(text: &'de str, state: &mut ColumnsBody<'de, '_>) -> Option<()> {
    let mut s = Scanner::new(text);
    s.ws();
    if !s.eat(b'{') {
        return None;
    }
    s.ws();
    if s.string()? != "columns" {
        return None;
    }
    s.ws();
    if !s.eat(b':') {
        return None;
    }
    s.ws();
    if !s.eat(b'{') {
        return None;
    }
    s.ws();
    if !s.eat(b'}') {
        loop {
            let name = s.string()?;
            s.ws();
            if !s.eat(b':') || state.table.index.contains_key(name) {
                return None;
            }
            s.ws();
            if !s.eat(b'[') {
                return None;
            }
            let mut column = Column::new(state.table.target(name));
            s.ws();
            if !s.eat(b']') {
                loop {
                    column.push(s.scalar()?);
                    s.ws();
                    match s.next()? {
                        b',' => s.ws(),
                        b']' => break,
                        _ => return None,
                    }
                }
            }
            state.table.add(name, column);
            s.ws();
            match s.next()? {
                b',' => s.ws(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.ws();
    if !s.eat(b'}') {
        return None;
    }
    s.ws();
    s.at_end().then_some(())
}

fn columns_from<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    expected: Option<&Schema>,
) -> Result<(RecordBatch, Option<Vec<String>>), PayloadError> {
    let mut state = ColumnsBody::default();
    state.table.expected = expected;
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
    columns_batch(state)
}

/// The batch and request ids of a parsed columnar body.
fn columns_batch(
    mut state: ColumnsBody<'_, '_>,
) -> Result<(RecordBatch, Option<Vec<String>>), PayloadError> {
    let table = &mut state.table;
    let rows = match table.columns.first() {
        Some(first) => first.len(),
        None => state.request_ids.as_ref().map_or(0, Vec::len),
    };
    for (name, column) in table.names.iter().zip(&table.columns) {
        if column.len() != rows {
            return Err(PayloadError::body(format!(
                "has {} values, but column `{}` has {rows}",
                column.len(),
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
    Ok((state.table.finish()?, ids))
}

/// A request id from a JSON value: strings as they are, numbers as text,
/// null as "". Arrays and objects are refused (their description returned).
pub(super) fn request_id(cell: Cell) -> Result<String, String> {
    match cell {
        Cell::Null => Ok(String::new()),
        Cell::Str(s) => Ok(s.into_owned()),
        other => match super::cells::to_text(&other) {
            Ok(text) => Ok(text.map(|t| t.into_owned()).unwrap_or_default()),
            Err(()) => Err(other.found()),
        },
    }
}

#[derive(Default)]
struct ColumnsBody<'de, 's> {
    table: Table<'de, 's>,
    request_ids: Option<Vec<Cell>>,
    seen_columns: bool,
    failed_column: Option<String>,
    error: Option<PayloadError>,
}

struct ColumnsVisitor<'a, 'de, 's>(&'a mut ColumnsBody<'de, 's>);

impl<'de> Visitor<'de> for ColumnsVisitor<'_, 'de, '_> {
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

struct ColumnMapSeed<'a, 'de, 's>(&'a mut ColumnsBody<'de, 's>);

impl<'de> DeserializeSeed<'de> for ColumnMapSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ColumnMapSeed<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object mapping column names to arrays of values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let state = self.0;
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            state.failed_column = Some(name.to_string());
            let value = map.next_value_seed(CellSeed)?;
            let table = &mut state.table;
            if table.index.contains_key(name.as_ref()) {
                state.error = Some(PayloadError::body("column given twice").in_column(name));
                return Err(de::Error::custom("duplicate column"));
            }
            match value {
                JsonCell::List(cells) => {
                    // Given explicitly: no padding, no cell budget.
                    let mut column = Column::new(table.target(&name));
                    for cell in cells {
                        column.push(cell);
                    }
                    table.add(&name, column);
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

mod halves;
mod tape;

pub(super) use halves::rows_in_halves;
#[cfg(test)]
mod tests;
