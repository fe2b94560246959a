//! Arrow IPC. The file format has a footer listing its record batches, so a
//! file splits into partitions of contiguous batches; the stream format is
//! read front to back (and may be gzip/zstd-compressed).

use std::io::{BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use arrow::ipc::reader::{FileReader, StreamReader};

use super::plan::{self, Unify, groups_per_partition, split};
use super::resolve::InputFile;
use super::{Ctx, Opened, SourceError, io, no_compression};

fn corrupt(file: &InputFile, e: ArrowError) -> SourceError {
    corrupt_named(&file.name, file.format.label(), e)
}

fn corrupt_named(name: &str, format: &'static str, e: ArrowError) -> SourceError {
    let message = match e {
        ArrowError::IoError(msg, source) if source.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("unexpected end of file ({msg})")
        }
        ArrowError::IoError(_, source) => source.to_string(),
        ArrowError::IpcError(s) | ArrowError::ParseError(s) => s,
        other => other.to_string(),
    };
    SourceError::Corrupt {
        path: name.to_string(),
        format,
        message,
    }
}

fn file_reader(
    file: &InputFile,
    counter: Arc<AtomicU64>,
    projection: Option<Vec<usize>>,
) -> Result<FileReader<BufReader<io::CountingReader<std::fs::File>>>, SourceError> {
    let handle = io::open_file(&file.path, &file.name)?;
    let reader = BufReader::new(io::CountingReader::new(handle, counter));
    plan::guard(&file.name, file.format.label(), || {
        FileReader::try_new(reader, projection).map_err(|e| corrupt(file, e))
    })
}

pub(super) fn open_file_format(files: &[InputFile], ctx: &Ctx) -> Result<Opened, SourceError> {
    let mut schemas = Vec::with_capacity(files.len());
    let mut batch_counts = Vec::with_capacity(files.len());
    for file in files {
        no_compression(file)?;
        let reader = file_reader(file, Arc::default(), None)?;
        schemas.push((file.name.as_str(), reader.schema().as_ref().clone()));
        batch_counts.push(reader.num_batches());
    }
    let projection = Arc::new(project(files, schemas, ctx)?);
    let per_partition =
        groups_per_partition(batch_counts.iter().sum(), rayon::current_num_threads());
    let mut partitions = Vec::new();
    for (file, &batches) in files.iter().zip(&batch_counts) {
        for range in split(batches, per_partition) {
            let file_copy = file.clone();
            let counter = Arc::clone(&ctx.counter);
            let indices = projection.file_indices.clone();
            let description = format!(
                "{} record batches {}..{}",
                file.name, range.start, range.end
            );
            partitions.push(plan::partition(
                file,
                description,
                &projection,
                ctx.options.batch_size,
                move || {
                    // Bytes are credited per batch as a share of the file
                    // size (the footer is read by every partition, so
                    // counting raw reads would overshoot).
                    let mut reader = file_reader(&file_copy, Arc::default(), indices)?;
                    reader
                        .set_index(range.start)
                        .map_err(|e| corrupt(&file_copy, e))?;
                    let (size, total) = (file_copy.size, batches as u64);
                    let mut index = range.start as u64;
                    let iter = reader.take(range.len()).map(move |batch| {
                        let batch = batch.map_err(|e| corrupt(&file_copy, e))?;
                        let share = size * (index + 1) / total - size * index / total;
                        counter.fetch_add(share, Ordering::Relaxed);
                        index += 1;
                        Ok(batch)
                    });
                    Ok(Box::new(iter) as plan::RawIter)
                },
            ));
        }
    }
    Ok(Opened {
        schema: Arc::clone(&projection.schema),
        partitions,
        total_bytes: files.iter().map(|f| f.size).sum(),
    })
}

pub(super) fn open_stream_format(files: &[InputFile], ctx: &Ctx) -> Result<Opened, SourceError> {
    let mut schemas = Vec::with_capacity(files.len());
    for file in files {
        let reader = stream_reader(&file.path, &file.name, Arc::default(), None)?;
        schemas.push((file.name.as_str(), reader.schema().as_ref().clone()));
    }
    let projection = Arc::new(project(files, schemas, ctx)?);
    let partitions = files
        .iter()
        .map(|file| {
            let (path, name) = (file.path.clone(), file.name.clone());
            let counter = Arc::clone(&ctx.counter);
            let indices = projection.file_indices.clone();
            plan::partition(
                file,
                file.name.clone(),
                &projection,
                ctx.options.batch_size,
                move || {
                    let reader = stream_reader(&path, &name, counter, indices)?;
                    let label = super::Format::IpcStream.label();
                    let iter = reader.map(move |b| b.map_err(|e| corrupt_named(&name, label, e)));
                    Ok(Box::new(iter) as plan::RawIter)
                },
            )
        })
        .collect();
    Ok(Opened {
        schema: Arc::clone(&projection.schema),
        partitions,
        total_bytes: files.iter().map(|f| f.size).sum(),
    })
}

fn stream_reader(
    path: &std::path::Path,
    name: &str,
    counter: Arc<AtomicU64>,
    projection: Option<Vec<usize>>,
) -> Result<StreamReader<BufReader<Box<dyn Read + Send>>>, SourceError> {
    let stream = io::open_stream(path, name, counter)?;
    let label = super::Format::IpcStream.label();
    plan::guard(name, label, || {
        StreamReader::try_new(BufReader::new(stream), projection)
            .map_err(|e| corrupt_named(name, label, e))
    })
}

fn project(
    files: &[InputFile],
    schemas: Vec<(&str, Schema)>,
    ctx: &Ctx,
) -> Result<plan::Projection, SourceError> {
    let unified = plan::unify(&schemas, Unify::Exact)?;
    ctx.project(&unified, &files[0].name)
}
