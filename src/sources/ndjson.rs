//! NDJSON: one JSON object per line. Types are inferred from the first
//! `infer_rows` objects (the CSV option, shared); lines are fed to
//! arrow-json's decoder one at a time so syntax errors name their line.
//! Type errors surface when a batch is assembled; the batch's lines are then
//! re-read one by one to find the offending line (error path only).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::json::ReaderBuilder;
use arrow::json::reader::{Decoder, infer_json_schema_from_iterator};
use arrow::record_batch::RecordBatch;

use super::plan::{self, widen};
use super::resolve::InputFile;
use super::{Ctx, Opened, SourceError, io};

pub(super) fn open(files: &[InputFile], ctx: &Ctx) -> Result<Opened, SourceError> {
    let infer_rows = ctx.options.csv.infer_rows;
    let mut merged: Vec<Field> = Vec::new();
    for file in files {
        for field in infer(file, infer_rows)?.fields() {
            // JSON objects carry names, not positions: files may order keys
            // differently or omit some, so schemas merge by name.
            match merged.iter_mut().find(|f| f.name() == field.name()) {
                Some(f) => *f = Field::new(f.name(), widen(f.data_type(), field.data_type()), true),
                None => merged.push(Field::new(field.name(), field.data_type().clone(), true)),
            }
        }
    }
    if merged.is_empty() {
        return Err(SourceError::Malformed {
            path: files[0].name.clone(),
            line: None,
            column: None,
            message: "no JSON objects with fields found".into(),
        });
    }
    for field in &mut merged {
        // Keys that were always null in the sample read as strings.
        if field.data_type() == &DataType::Null {
            *field = Field::new(field.name(), DataType::Utf8, true);
        }
    }
    let schema = Schema::new(merged);
    let projection = Arc::new(ctx.project(&schema, &files[0].name)?);
    // The decoder ignores keys missing from its schema, so projecting is
    // handing it only the wanted fields.
    let read_schema = Arc::new(match &projection.file_indices {
        Some(indices) => schema.project(indices).map_err(|e| SourceError::Other {
            path: files[0].name.clone(),
            message: e.to_string(),
        })?,
        None => schema,
    });
    let partitions = files
        .iter()
        .map(|file| {
            let part = JsonPartition {
                path: file.path.clone(),
                name: file.name.clone(),
                schema: Arc::clone(&read_schema),
                batch_size: ctx.options.batch_size.max(1),
                infer_rows,
                counter: Arc::clone(&ctx.counter),
            };
            plan::partition(
                file,
                file.name.clone(),
                &projection,
                ctx.options.batch_size,
                move || part.open(),
            )
        })
        .collect();
    Ok(Opened {
        schema: Arc::clone(&projection.schema),
        partitions,
        total_bytes: files.iter().map(|f| f.size).sum(),
    })
}

/// Reads lines of `reader`, skipping blank ones, handing each non-blank
/// line (trimmed) and its 1-based number to `f` until it returns false.
fn for_each_line(
    reader: &mut impl BufRead,
    name: &str,
    line_no: &mut u64,
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&[u8], u64) -> Result<bool, SourceError>,
) -> Result<(), SourceError> {
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', buf)
            .map_err(|source| SourceError::Io {
                path: name.to_string(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        *line_no += 1;
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        if std::str::from_utf8(line).is_err() {
            return Err(malformed(
                name,
                Some(*line_no),
                None,
                "invalid UTF-8 text".into(),
            ));
        }
        if !f(line, *line_no)? {
            return Ok(());
        }
    }
}

fn malformed(
    name: &str,
    line: Option<u64>,
    column: Option<String>,
    message: String,
) -> SourceError {
    SourceError::Malformed {
        path: name.to_string(),
        line,
        column,
        message,
    }
}

/// Infers one file's schema from its first `infer_rows` objects. Empty
/// files yield an empty schema (they add nothing to the dataset).
fn infer(file: &InputFile, infer_rows: usize) -> Result<Schema, SourceError> {
    let stream = io::open_stream(&file.path, &file.name, Arc::default())?;
    let mut reader = BufReader::new(stream);
    let mut values = Vec::new();
    let (mut line_no, mut buf) = (0, Vec::new());
    for_each_line(
        &mut reader,
        &file.name,
        &mut line_no,
        &mut buf,
        |line, n| {
            if values.is_empty() && line.starts_with(b"[") {
                return Err(malformed(
                    &file.name,
                    Some(n),
                    None,
                    "this looks like a JSON array; assay reads newline-delimited JSON \
                     (one object per line)"
                        .into(),
                ));
            }
            let value: serde_json::Value =
                serde_json::from_slice(line).map_err(|e| invalid_json(&file.name, n, &e))?;
            if !value.is_object() {
                return Err(malformed(
                    &file.name,
                    Some(n),
                    None,
                    "expected a JSON object (NDJSON holds one object per line)".into(),
                ));
            }
            values.push(value);
            Ok(values.len() < infer_rows.max(1))
        },
    )?;
    infer_json_schema_from_iterator(values.into_iter().map(Ok)).map_err(|e| {
        malformed(
            &file.name,
            None,
            None,
            format!("cannot infer column types: {e}"),
        )
    })
}

struct JsonPartition {
    path: PathBuf,
    name: String,
    schema: SchemaRef,
    batch_size: usize,
    infer_rows: usize,
    counter: Arc<AtomicU64>,
}

impl JsonPartition {
    fn decoder(schema: &SchemaRef, batch_size: usize) -> Result<Decoder, ArrowError> {
        ReaderBuilder::new(Arc::clone(schema))
            .with_batch_size(batch_size)
            // Numbers and booleans in a string column read as their text.
            .with_coerce_primitive(true)
            .build_decoder()
    }

    fn open(self) -> Result<plan::RawIter, SourceError> {
        let stream = io::open_stream(&self.path, &self.name, Arc::clone(&self.counter))?;
        let decoder = Self::decoder(&self.schema, self.batch_size)
            .map_err(|e| malformed(&self.name, None, None, e.to_string()))?;
        Ok(Box::new(JsonBatches {
            reader: BufReader::with_capacity(1 << 20, stream),
            decoder,
            part: self,
            line_no: 0,
            buf: Vec::new(),
            done: false,
        }))
    }
}

struct JsonBatches {
    reader: BufReader<Box<dyn Read + Send>>,
    decoder: Decoder,
    part: JsonPartition,
    line_no: u64,
    buf: Vec<u8>,
    done: bool,
}

impl JsonBatches {
    fn read(&mut self) -> Result<Option<RecordBatch>, SourceError> {
        let name = self.part.name.clone();
        let batch_size = self.part.batch_size;
        let decoder = &mut self.decoder;
        let mut first_line = None;
        for_each_line(
            &mut self.reader,
            &name,
            &mut self.line_no,
            &mut self.buf,
            |line, n| {
                first_line.get_or_insert(n);
                // arrow-json's tape decoder tolerates some malformed input
                // (`{"a": 1,,}`), so syntax is checked first, by a parser that
                // builds nothing.
                serde_json::from_slice::<serde::de::IgnoredAny>(line)
                    .map_err(|e| invalid_json(&name, n, &e))?;
                let consumed = decoder
                    .decode(line)
                    .map_err(|e| malformed(&name, Some(n), None, json_message(&e)))?;
                if consumed < line.len() || decoder.has_partial_record() {
                    return Err(malformed(
                        &name,
                        Some(n),
                        None,
                        "expected exactly one complete JSON object on the line".into(),
                    ));
                }
                Ok(decoder.len() < batch_size)
            },
        )?;
        let Some(first_line) = first_line else {
            return Ok(None);
        };
        self.decoder.flush().map_err(|e| self.locate(e, first_line))
    }

    /// Finds which line of `first..=self.line_no` makes the batch fail by
    /// decoding those lines one at a time from a fresh stream.
    fn locate(&self, error: ArrowError, first: u64) -> SourceError {
        let part = &self.part;
        let found = (|| -> Result<Option<SourceError>, SourceError> {
            let stream = io::open_stream(&part.path, &part.name, Arc::default())?;
            let mut reader = BufReader::new(stream);
            let (mut line_no, mut buf, mut found) = (0, Vec::new(), None);
            for_each_line(
                &mut reader,
                &part.name,
                &mut line_no,
                &mut buf,
                |line, n| {
                    if n < first {
                        return Ok(true);
                    }
                    let mut one = JsonPartition::decoder(&part.schema, 1)
                        .map_err(|e| malformed(&part.name, None, None, e.to_string()))?;
                    if let Err(e) = one.decode(line).and_then(|_| one.flush()) {
                        found = Some(line_error(&part.name, n, &e, part.infer_rows));
                    }
                    Ok(found.is_none() && n < self.line_no)
                },
            )?;
            Ok(found)
        })();
        match found {
            Ok(Some(e)) => e,
            // Not reproducible line by line: report the range.
            Ok(None) | Err(_) => malformed(
                &part.name,
                None,
                None,
                format!("lines {first}-{}: {}", self.line_no, json_message(&error)),
            ),
        }
    }
}

/// serde_json's message with its position made relative to the line (its
/// own line number is always 1 here).
fn invalid_json(name: &str, line: u64, e: &serde_json::Error) -> SourceError {
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(what, _)| what);
    malformed(
        name,
        Some(line),
        None,
        format!("invalid JSON at character {}: {what}", e.column()),
    )
}

/// arrow-json's message without its `Json error: ` prefix.
fn json_message(e: &ArrowError) -> String {
    match e {
        ArrowError::JsonError(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A decode error on one line, with the field named when arrow-json says
/// `whilst decoding field 'F': failed to parse V as T`.
fn line_error(name: &str, line: u64, e: &ArrowError, infer_rows: usize) -> SourceError {
    let text = json_message(e);
    let Some(rest) = text.strip_prefix("whilst decoding field '") else {
        return malformed(name, Some(line), None, text);
    };
    let Some((field, detail)) = rest.split_once("': ") else {
        return malformed(name, Some(line), None, text);
    };
    let detail = match detail
        .strip_prefix("failed to parse ")
        .and_then(|d| d.rsplit_once(" as "))
    {
        Some((value, data_type)) => format!("expected {}, found {value}", type_words(data_type)),
        None => detail.to_string(),
    };
    let message = format!("{detail} (the type was inferred from the first {infer_rows} lines)");
    malformed(name, Some(line), Some(field.to_string()), message)
}

fn type_words(data_type: &str) -> String {
    match data_type {
        "Int64" => "an integer".into(),
        "Float64" => "a number".into(),
        "Boolean" => "true or false".into(),
        "Utf8" => "a string".into(),
        other => format!("a value of type {other}"),
    }
}

impl Iterator for JsonBatches {
    type Item = Result<RecordBatch, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.read().transpose();
        if !matches!(result, Some(Ok(_))) {
            self.done = true;
        }
        result
    }
}
