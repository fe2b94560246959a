//! CSV: type inference from a sample, then streaming decode with arrow-csv.
//! arrow-csv's errors name a column by index and count lines from 0 after
//! the header; they are rewritten here to name the column and the 1-based
//! line of the file (see [`errors`]).

mod errors;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use arrow::csv::ReaderBuilder;
use arrow::csv::reader::{Decoder, Format as CsvFormat};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use regex::Regex;

use super::plan::{self, Unify};
use super::resolve::{InputFile, is_tsv};
use super::{CsvOptions, Ctx, Opened, SourceError, io};
use errors::Columns;

/// Parses a type override name (`int`, `float`, `string`, `bool`,
/// `timestamp`, `date` and a few synonyms).
pub fn parse_type_name(name: &str) -> Option<DataType> {
    Some(match name.to_ascii_lowercase().as_str() {
        "int" | "integer" | "int64" | "long" => DataType::Int64,
        "float" | "double" | "float64" | "number" => DataType::Float64,
        "string" | "str" | "utf8" | "text" => DataType::Utf8,
        "bool" | "boolean" => DataType::Boolean,
        "timestamp" | "datetime" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "date" => DataType::Date32,
        _ => return None,
    })
}

/// The per-file reading parameters.
#[derive(Clone)]
struct Dialect {
    delimiter: u8,
    has_header: bool,
    quote: u8,
    nulls: Regex,
}

impl Dialect {
    fn new(options: &CsvOptions, path: &Path, nulls: &Regex) -> Self {
        // `.tsv` means tab unless the user chose a delimiter of their own.
        let delimiter = if is_tsv(path) && options.delimiter == b',' {
            b'\t'
        } else {
            options.delimiter
        };
        Self {
            delimiter,
            has_header: options.has_header,
            quote: options.quote,
            nulls: nulls.clone(),
        }
    }
}

/// One regular expression matching the empty field and every null marker.
fn null_regex(values: &[String], file: &str) -> Result<Regex, SourceError> {
    let alternatives: Vec<String> = std::iter::once(String::new())
        .chain(values.iter().map(|v| regex::escape(v)))
        .collect();
    Regex::new(&format!("^(?:{})$", alternatives.join("|"))).map_err(|e| SourceError::Other {
        path: file.to_string(),
        message: format!("invalid CSV null markers: {e}"),
    })
}

pub(super) fn open(files: &[InputFile], ctx: &Ctx) -> Result<Opened, SourceError> {
    let options = &ctx.options.csv;
    let first = &files[0].name;
    let nulls = null_regex(&options.null_values, first)?;
    let mut schemas = Vec::with_capacity(files.len());
    for file in files {
        let dialect = Dialect::new(options, &file.path, &nulls);
        schemas.push((
            file.name.as_str(),
            infer(file, &dialect, options.infer_rows)?,
        ));
    }
    let unified = plan::unify(&schemas, Unify::Widen)?;
    let (schema, overridden) = apply_overrides(&unified, &options.type_overrides, first)?;
    let schema = Arc::new(schema);
    let projection = Arc::new(ctx.project(&schema, first)?);
    let columns = Arc::new(Columns {
        names: schema.fields().iter().map(|f| f.name().clone()).collect(),
        types: schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect(),
        overridden,
        infer_rows: options.infer_rows,
    });
    let partitions = files
        .iter()
        .map(|file| {
            let reader = CsvPartition {
                path: file.path.clone(),
                name: file.name.clone(),
                dialect: Dialect::new(options, &file.path, &nulls),
                schema: Arc::clone(&schema),
                file_indices: projection.file_indices.clone(),
                batch_size: ctx.options.batch_size.max(1),
                columns: Arc::clone(&columns),
                counter: Arc::clone(&ctx.counter),
            };
            plan::partition(
                file,
                file.name.clone(),
                &projection,
                ctx.options.batch_size,
                move || reader.open(),
            )
        })
        .collect();
    Ok(Opened {
        schema: Arc::clone(&projection.schema),
        partitions,
        total_bytes: files.iter().map(|f| f.size).sum(),
    })
}

/// Infers one file's schema from its first `infer_rows` rows, streaming
/// through the (decompressed) content, then normalises the types: every
/// timestamp becomes microseconds so files agree whatever their precision.
fn infer(file: &InputFile, dialect: &Dialect, infer_rows: usize) -> Result<Schema, SourceError> {
    // Inference bytes are not progress: count them into a throwaway counter.
    let stream = io::open_stream(&file.path, &file.name, Arc::default())?;
    let format = CsvFormat::default()
        .with_header(dialect.has_header)
        .with_delimiter(dialect.delimiter)
        .with_quote(dialect.quote)
        .with_null_regex(dialect.nulls.clone());
    let (schema, _) = format.infer_schema(stream, Some(infer_rows)).map_err(|e| {
        // Name the column in the message: read just the header (which did
        // decode, or the error would be on line 1) to learn the names.
        let names = io::open_stream(&file.path, &file.name, Arc::default())
            .ok()
            .and_then(|header| format.infer_schema(header, Some(0)).ok())
            .map(|(s, _)| s.fields().iter().map(|f| f.name().clone()).collect());
        let columns = names.map(|names: Vec<String>| errors::Columns {
            overridden: vec![false; names.len()],
            types: vec![DataType::Utf8; names.len()],
            names,
            infer_rows,
        });
        errors::map(e, &file.name, columns.as_ref(), 0)
    })?;
    if schema.fields().is_empty() {
        return Err(SourceError::Malformed {
            path: file.name.clone(),
            line: None,
            column: None,
            message: "the file is empty (no header row)".into(),
        });
    }
    let mut seen = std::collections::HashSet::new();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            // Excel starts UTF-8 files with a byte-order mark; it is not
            // part of the first column's name.
            let raw = if i == 0 {
                f.name().trim_start_matches('\u{feff}')
            } else {
                f.name()
            };
            // pandas writes an unnamed index column; give it a usable name.
            let name = if raw.trim().is_empty() {
                format!("column_{}", i + 1)
            } else {
                raw.to_string()
            };
            if !seen.insert(name.clone()) {
                return Err(SourceError::Malformed {
                    path: file.name.clone(),
                    line: Some(1),
                    column: Some(name),
                    message: "the header names this column twice".into(),
                });
            }
            let data_type = match f.data_type() {
                DataType::Timestamp(..) => DataType::Timestamp(TimeUnit::Microsecond, None),
                other => other.clone(),
            };
            Ok(Field::new(name, data_type, true))
        })
        .collect::<Result<_, _>>()?;
    Ok(Schema::new(fields))
}

/// Applies type overrides to the unified schema; columns with no value in
/// the sample (still `Null`) become Utf8. Returns which columns were
/// overridden, so errors can suggest an override only where it helps.
fn apply_overrides(
    schema: &Schema,
    overrides: &[(String, String)],
    file: &str,
) -> Result<(Schema, Vec<bool>), SourceError> {
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Null => Field::new(f.name(), DataType::Utf8, true),
            _ => f.as_ref().clone(),
        })
        .collect();
    let mut overridden = vec![false; fields.len()];
    for (column, type_name) in overrides {
        let Ok(i) = schema.index_of(column) else {
            let available: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
            return Err(SourceError::ColumnNotFound {
                path: file.to_string(),
                column: column.clone(),
                available: available.join(", "),
            });
        };
        let data_type = parse_type_name(type_name).ok_or_else(|| SourceError::Other {
            path: file.to_string(),
            message: format!(
                "unknown type \"{type_name}\" for column \"{column}\"; \
                 expected one of int, float, string, bool, timestamp, date"
            ),
        })?;
        fields[i] = Field::new(column, data_type, true);
        overridden[i] = true;
    }
    Ok((Schema::new(fields), overridden))
}

/// Everything needed to read one file, moved to the reading thread.
struct CsvPartition {
    path: std::path::PathBuf,
    name: String,
    dialect: Dialect,
    schema: SchemaRef,
    file_indices: Option<Vec<usize>>,
    batch_size: usize,
    columns: Arc<Columns>,
    counter: Arc<std::sync::atomic::AtomicU64>,
}

impl CsvPartition {
    fn open(self) -> Result<plan::RawIter, SourceError> {
        let stream = io::open_stream(&self.path, &self.name, self.counter)?;
        let mut builder = ReaderBuilder::new(self.schema)
            .with_header(self.dialect.has_header)
            // Names were checked at inference (and blank ones renamed).
            .with_header_validation(false)
            .with_delimiter(self.dialect.delimiter)
            .with_quote(self.dialect.quote)
            .with_null_regex(self.dialect.nulls)
            .with_batch_size(self.batch_size);
        if let Some(indices) = self.file_indices {
            builder = builder.with_projection(indices);
        }
        Ok(Box::new(CsvBatches {
            reader: BufReader::with_capacity(1 << 20, stream),
            decoder: builder.build_decoder(),
            name: self.name,
            columns: self.columns,
            header_lines: u64::from(self.dialect.has_header),
            rows_done: 0,
            batch_size: self.batch_size,
            done: false,
        }))
    }
}

struct CsvBatches {
    reader: BufReader<Box<dyn Read + Send>>,
    decoder: Decoder,
    name: String,
    columns: Arc<Columns>,
    header_lines: u64,
    /// Data rows handed out so far, to place errors arrow-csv cannot.
    rows_done: u64,
    batch_size: usize,
    done: bool,
}

impl CsvBatches {
    fn read(&mut self) -> Result<Option<RecordBatch>, SourceError> {
        loop {
            let buf = self.reader.fill_buf().map_err(|source| SourceError::Io {
                path: self.name.clone(),
                source,
            })?;
            let decoded = self.decoder.decode(buf).map_err(|e| self.error(e))?;
            self.reader.consume(decoded);
            // An empty buffer tells the decoder the input ended (it then
            // returns 0); a full batch is flushed before reading on.
            if decoded == 0 || self.decoder.capacity() == 0 {
                break;
            }
        }
        let batch = self.decoder.flush().map_err(|e| self.error(e))?;
        if let Some(b) = &batch {
            self.rows_done += b.num_rows() as u64;
        }
        Ok(batch)
    }

    fn error(&self, e: arrow::error::ArrowError) -> SourceError {
        // The record after the rows buffered so far, for errors arrow-csv
        // reports without a line.
        let buffered = (self.batch_size - self.decoder.capacity()) as u64;
        let next_line = self.header_lines + self.rows_done + buffered + 1;
        errors::map(e, &self.name, Some(&self.columns), next_line)
    }
}

impl Iterator for CsvBatches {
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
