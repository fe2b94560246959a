//! Byte-level plumbing shared by the readers: progress counting and
//! transparent gzip / zstd decompression.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::SourceError;

/// Counts the bytes that pass through it into the dataset's shared
/// `bytes_read`, so a progress bar can follow any reader built on top.
pub(super) struct CountingReader<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub(super) fn new(inner: R, counter: Arc<AtomicU64>) -> Self {
        Self { inner, counter }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for CountingReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// The compression of a text or stream file, told by its first bytes rather
/// than its name, so a mislabelled file still reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn sniff(head: &[u8]) -> Self {
        // Neither magic can start UTF-8 text (0x8b and 0xb5 are continuation
        // bytes), so sniffing never misreads a plain CSV or JSON file.
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Rewrites decompressor errors so the final message says what went wrong
/// in words a user can act on, not just "corrupt deflate stream".
struct DecompressErrors<R> {
    inner: R,
    compression: Compression,
}

impl<R: Read> Read for DecompressErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} decompression failed (the file is truncated or not valid {} data): {e}",
                    self.compression.name(),
                    self.compression.name()
                ),
            )
        })
    }
}

pub(super) fn open_file(path: &Path, name: &str) -> Result<File, SourceError> {
    File::open(path).map_err(|source| SourceError::Io {
        path: name.to_string(),
        source,
    })
}

/// Opens `path` as a byte stream: counted on the raw (compressed) bytes so
/// progress matches file sizes, then decompressed when the content is gzip
/// or zstd. Nothing is read ahead beyond the decoders' own buffers.
pub(super) fn open_stream(
    path: &Path,
    name: &str,
    counter: Arc<AtomicU64>,
) -> Result<Box<dyn Read + Send>, SourceError> {
    let io_err = |source| SourceError::Io {
        path: name.to_string(),
        source,
    };
    let mut file = open_file(path, name)?;
    let mut head = [0u8; 4];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]).map_err(io_err)? {
            0 => break,
            n => filled += n,
        }
    }
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let raw = BufReader::with_capacity(256 * 1024, CountingReader::new(file, counter));
    let compression = Compression::sniff(&head[..filled]);
    Ok(match compression {
        Compression::None => Box::new(raw),
        // Multi-member gzip (concatenated or bgzip files) is common for logs.
        Compression::Gzip => Box::new(DecompressErrors {
            inner: flate2::bufread::MultiGzDecoder::new(raw),
            compression,
        }),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(raw).map_err(io_err)?;
            Box::new(DecompressErrors {
                inner: decoder,
                compression,
            })
        }
    })
}
