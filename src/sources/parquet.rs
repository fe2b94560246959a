//! Parquet: footers are read once at open; each partition is a contiguous
//! range of one file's row groups, read with only the projected columns.
//! When there are fewer row groups than partitions wanted (a 1M-row file is
//! often one group), each group is split into row ranges read with a row
//! selection; with the file's page index the reader decodes only the pages
//! of its range, so both cores work on one group.
//! String columns stored fully dictionary-encoded come out as
//! `Dictionary(Int32, Utf8)` (arrow-rs keeps the file's dictionary when the
//! requested type is a dictionary), which lets consumers work per distinct
//! value instead of per row.

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::basic::Encoding;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, PageIndexPolicy, ParquetMetaData};

use super::plan::{self, Unify, groups_per_partition, split};
use super::resolve::InputFile;
use super::{Ctx, Opened, SourceError, io, no_compression};

const LABEL: &str = "Parquet";

fn corrupt(name: &str, e: impl std::fmt::Display) -> SourceError {
    let text = e.to_string();
    let message = text
        .strip_prefix("Parquet error: ")
        .unwrap_or(&text)
        .to_string();
    SourceError::Corrupt {
        path: name.to_string(),
        format: LABEL,
        message,
    }
}

fn read_error(name: &str, e: ParquetError) -> SourceError {
    match e {
        // The file vanished or the disk failed: not the file's fault.
        ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(source) => SourceError::Io {
                path: name.to_string(),
                source: *source,
            },
            Err(inner) => corrupt(name, inner),
        },
        other => corrupt(name, other),
    }
}

pub(super) fn open(files: &[InputFile], ctx: &Ctx) -> Result<Opened, SourceError> {
    let mut metas = Vec::with_capacity(files.len());
    for file in files {
        no_compression(file)?;
        let handle = io::open_file(&file.path, &file.name)?;
        let meta = plan::guard(&file.name, LABEL, || {
            // The page index lets row-range partitions skip other pages.
            ArrowReaderMetadata::load(
                &handle,
                ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional),
            )
            .map_err(|e| read_error(&file.name, e))
        })?;
        metas.push(meta);
    }
    let schemas: Vec<(&str, Schema)> = files
        .iter()
        .zip(&metas)
        .map(|(f, m)| (f.name.as_str(), m.schema().as_ref().clone()))
        .collect();
    let unified = plan::unify(&schemas, Unify::Exact)?;

    let dictionary = dictionary_columns(&unified, &metas);
    let schema = with_dictionaries(&unified, &dictionary);
    let first = &files[0].name;
    let projection = Arc::new(ctx.project(&schema, first)?);

    // Re-derive each file's reader schema with the dictionary hint.
    let mut readers = Vec::with_capacity(files.len());
    for (file, meta) in files.iter().zip(&metas) {
        let reader = if dictionary.iter().any(|&d| d) {
            let hint = Arc::new(with_dictionaries(meta.schema(), &dictionary));
            let options = ArrowReaderOptions::new().with_schema(hint);
            ArrowReaderMetadata::try_new(Arc::clone(meta.metadata()), options)
                .map_err(|e| corrupt(&file.name, e))?
        } else {
            meta.clone()
        };
        readers.push(reader);
    }

    let roots = projection.file_indices.clone();
    let total_groups: usize = metas.iter().map(|m| m.metadata().num_row_groups()).sum();
    let threads = rayon::current_num_threads();
    let per_partition = groups_per_partition(total_groups, threads);
    // Row ranges per group when groups are too few to keep every core busy.
    let ranges_per_group = if total_groups == 0 {
        1
    } else {
        (2 * threads).div_ceil(total_groups).max(1)
    };
    let min_range_rows = (4 * ctx.options.batch_size.max(1)) as u64;
    let mut partitions = Vec::new();
    let mut total_bytes = 0;
    for (file, reader) in files.iter().zip(readers) {
        let parquet_meta = Arc::clone(reader.metadata());
        let group_bytes = projected_sizes(&parquet_meta, roots.as_deref());
        total_bytes += group_bytes.iter().sum::<u64>();
        // One partition: groups `groups`, optionally only a row range of
        // its single group, with the rows and bytes progress counts.
        let mut push = |groups: Range<usize>,
                        rows: Option<(u64, u64, u64)>,
                        group_rows: Vec<u64>,
                        bytes: Vec<u64>,
                        description: String| {
            let part = RowGroups {
                path: file.path.clone(),
                name: file.name.clone(),
                reader: reader.clone(),
                roots: roots.clone(),
                group_rows,
                group_bytes: bytes,
                groups,
                rows,
                batch_size: ctx.options.batch_size.max(1),
                counter: Arc::clone(&ctx.counter),
            };
            partitions.push(plan::partition(
                file,
                description,
                &projection,
                ctx.options.batch_size,
                move || part.open(),
            ));
        };
        for range in split(parquet_meta.num_row_groups(), per_partition) {
            let group = range.start;
            let rows = parquet_meta.row_group(group).num_rows().max(0) as u64;
            let k = ranges_per_group.min((rows / min_range_rows).max(1) as usize);
            if range.len() == 1 && k > 1 {
                let ranges = split(rows as usize, (rows as usize).div_ceil(k));
                for (i, part) in ranges.into_iter().enumerate() {
                    let (start, len) = (part.start as u64, part.len() as u64);
                    push(
                        range.clone(),
                        Some((start, len, rows)),
                        vec![len],
                        // Bytes pro rata, so progress still sums to the total.
                        vec![share(group_bytes[group], rows, start, len)],
                        format!("{} row group {group} part {}", file.name, i + 1),
                    );
                }
                continue;
            }
            push(
                range.clone(),
                None,
                range
                    .clone()
                    .map(|g| parquet_meta.row_group(g).num_rows().max(0) as u64)
                    .collect(),
                group_bytes[range.clone()].to_vec(),
                format!("{} row groups {}..{}", file.name, range.start, range.end),
            );
        }
    }
    Ok(Opened {
        schema: Arc::clone(&projection.schema),
        partitions,
        total_bytes,
    })
}

/// Whether each top-level string column is dictionary-encoded in every
/// column chunk of every file, with no data page falling back to plain.
fn dictionary_columns(schema: &Schema, metas: &[ArrowReaderMetadata]) -> Vec<bool> {
    schema
        .fields()
        .iter()
        .map(|field| {
            matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) && metas.iter().all(|m| {
                let meta = m.metadata();
                let descr = meta.file_metadata().schema_descr();
                let Some(leaf) = descr.columns().iter().position(|c| {
                    let parts = c.path().parts();
                    parts.len() == 1 && parts[0] == *field.name()
                }) else {
                    return false;
                };
                meta.row_groups()
                    .iter()
                    .all(|rg| all_dictionary(rg.column(leaf)))
            })
        })
        .collect()
}

fn all_dictionary(chunk: &ColumnChunkMetaData) -> bool {
    // Without encoding statistics, a dictionary page is the best evidence;
    // arrow-rs still decodes any plain pages correctly, only slower.
    chunk.dictionary_page_offset().is_some()
        && chunk.page_encoding_stats_mask().is_none_or(|mask| {
            mask.is_only(Encoding::RLE_DICTIONARY) || mask.is_only(Encoding::PLAIN_DICTIONARY)
        })
}

fn with_dictionaries(schema: &Schema, dictionary: &[bool]) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(dictionary)
        .map(|(f, &dict)| {
            let field = f.as_ref().clone();
            if dict {
                let dict_type =
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                field.with_data_type(dict_type)
            } else {
                field
            }
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// Compressed bytes of the projected columns in each row group: what
/// reading the group costs, so progress reaches exactly 100%.
fn projected_sizes(meta: &ParquetMetaData, roots: Option<&[usize]>) -> Vec<u64> {
    let descr = meta.file_metadata().schema_descr();
    meta.row_groups()
        .iter()
        .map(|rg| {
            (0..rg.num_columns())
                .filter(|&leaf| roots.is_none_or(|r| r.contains(&descr.get_column_root_idx(leaf))))
                .map(|leaf| rg.column(leaf).compressed_size().max(0) as u64)
                .sum()
        })
        .collect()
}

struct RowGroups {
    path: std::path::PathBuf,
    name: String,
    reader: ArrowReaderMetadata,
    roots: Option<Vec<usize>>,
    groups: Range<usize>,
    /// Only rows `start..start + len` of the (single) group of `total` rows.
    rows: Option<(u64, u64, u64)>,
    group_rows: Vec<u64>,
    group_bytes: Vec<u64>,
    batch_size: usize,
    counter: Arc<AtomicU64>,
}

impl RowGroups {
    fn open(self) -> Result<plan::RawIter, SourceError> {
        let file: File = io::open_file(&self.path, &self.name)?;
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.reader)
            .with_row_groups(self.groups.collect())
            .with_batch_size(self.batch_size);
        if let Some(roots) = &self.roots {
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
            builder = builder.with_projection(mask);
        }
        if let Some((start, len, total)) = self.rows {
            let selection = RowSelection::from(vec![
                RowSelector::skip(start as usize),
                RowSelector::select(len as usize),
                RowSelector::skip((total - start - len) as usize),
            ]);
            builder = builder.with_row_selection(selection);
        }
        let reader = builder.build().map_err(|e| read_error(&self.name, e))?;
        let name = self.name;
        let counter = self.counter;
        let mut progress = GroupProgress::new(self.group_rows, self.group_bytes);
        Ok(Box::new(reader.map(move |batch| {
            let batch = batch.map_err(|e| corrupt(&name, e))?;
            counter.fetch_add(progress.advance(batch.num_rows() as u64), Ordering::Relaxed);
            Ok(batch)
        })))
    }
}

/// The bytes of rows `start..start + len` of `rows`, pro rata; the last
/// range takes the rounding remainder so the parts sum to `bytes`.
fn share(bytes: u64, rows: u64, start: u64, len: u64) -> u64 {
    let at = |row: u64| (bytes as u128 * row as u128 / rows.max(1) as u128) as u64;
    at(start + len) - at(start)
}

/// Turns rows read into bytes read: a row group's bytes count once all its
/// rows have been handed out.
struct GroupProgress {
    rows: Vec<u64>,
    bytes: Vec<u64>,
    next: usize,
    rows_read: u64,
    rows_counted: u64,
}

impl GroupProgress {
    fn new(rows: Vec<u64>, bytes: Vec<u64>) -> Self {
        Self {
            rows,
            bytes,
            next: 0,
            rows_read: 0,
            rows_counted: 0,
        }
    }

    fn advance(&mut self, rows: u64) -> u64 {
        self.rows_read += rows;
        let mut done = 0;
        while let (Some(&r), Some(&b)) = (self.rows.get(self.next), self.bytes.get(self.next)) {
            if self.rows_counted + r > self.rows_read {
                break;
            }
            self.rows_counted += r;
            done += b;
            self.next += 1;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_range_bytes_sum_to_the_group() {
        let parts = [(0, 333), (333, 333), (666, 334)];
        let total: u64 = parts.iter().map(|&(s, l)| share(1001, 1000, s, l)).sum();
        assert_eq!(total, 1001);
    }

    #[test]
    fn progress_counts_whole_groups() {
        let mut p = GroupProgress::new(vec![10, 10, 5], vec![100, 200, 50]);
        assert_eq!(p.advance(4), 0);
        assert_eq!(p.advance(16), 300);
        assert_eq!(p.advance(5), 50);
    }
}
