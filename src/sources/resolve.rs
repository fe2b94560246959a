//! Turns the user's inputs (files, globs, directories) into a sorted list of
//! data files with their format and hive partition values.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use super::{Format, SourceError};

/// One data file of a dataset.
#[derive(Debug, Clone)]
pub(super) struct InputFile {
    pub path: PathBuf,
    /// The path as shown in messages.
    pub name: String,
    pub size: u64,
    pub format: Format,
    /// Hive `key=value` directory segments between the input root and the
    /// file, in path order; `None` is `__HIVE_DEFAULT_PARTITION__`.
    pub hive: Vec<(String, Option<String>)>,
}

/// Extensions recognised, for the unknown-format message.
pub(super) const SUPPORTED_EXTENSIONS: &str = ".csv, .tsv (CSV); .parquet, .pq (Parquet); \
     .ndjson, .jsonl, .json (NDJSON); .arrow, .feather, .ipc (Arrow IPC file); \
     .arrows (Arrow IPC stream); CSV and NDJSON may end in .gz, .zst or .zstd";

const COMPRESSION_SUFFIXES: [&str; 3] = [".gz", ".zst", ".zstd"];

/// The file name with a compression suffix removed, lowercased, and whether
/// a suffix was there.
fn strip_compression(name: &str) -> (String, bool) {
    let lower = name.to_ascii_lowercase();
    for suffix in COMPRESSION_SUFFIXES {
        if let Some(stem) = lower.strip_suffix(suffix) {
            return (stem.to_string(), true);
        }
    }
    (lower, false)
}

/// Detects the format from a file name: the extension after stripping
/// `.gz` / `.zst` / `.zstd`. `None` when the extension is not one we read.
pub fn detect_format(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?;
    let (stem, _) = strip_compression(name);
    let ext = stem.rsplit_once('.')?.1;
    Some(match ext {
        "csv" | "tsv" => Format::Csv,
        "parquet" | "pq" => Format::Parquet,
        "ndjson" | "jsonl" | "json" => Format::Ndjson,
        "arrow" | "feather" | "ipc" => Format::Ipc,
        "arrows" => Format::IpcStream,
        _ => return None,
    })
}

/// True for `.tsv` files (after stripping a compression suffix): they are
/// read with a tab delimiter.
pub(super) fn is_tsv(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| strip_compression(n).0.ends_with(".tsv"))
}

/// True when the name carries a compression suffix.
pub(super) fn has_compression_suffix(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| strip_compression(n).1)
}

/// Files that are not data: hidden files, and the markers and logs that
/// Spark, Hadoop and friends leave next to data (`_SUCCESS`, `_metadata`,
/// `_committed_*`, ...), all of which start with `.` or `_`.
fn is_skipped(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Resolves inputs into data files, sorted within each input, each file once.
pub(super) fn resolve(
    inputs: &[String],
    forced: Option<Format>,
) -> Result<Vec<InputFile>, SourceError> {
    if inputs.is_empty() {
        return Err(SourceError::NoFiles {
            input: "(no input)".into(),
            message: "no input files were given".into(),
        });
    }
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    for input in inputs {
        let path = Path::new(input);
        let found = if path.is_file() {
            file_entry(path.to_path_buf(), Vec::new(), forced, true)?
                .into_iter()
                .collect()
        } else if path.is_dir() {
            let found = walk(path, forced)?;
            if found.is_empty() {
                return Err(SourceError::NoFiles {
                    input: input.clone(),
                    message: format!(
                        "the directory holds no data files (looked for {SUPPORTED_EXTENSIONS})"
                    ),
                });
            }
            found
        } else if has_glob_chars(input) {
            let found = expand_glob(input, forced)?;
            if found.is_empty() {
                return Err(SourceError::NoFiles {
                    input: input.clone(),
                    message: "the pattern matched no data files".into(),
                });
            }
            found
        } else {
            return Err(SourceError::NotFound {
                path: input.clone(),
            });
        };
        for file in found {
            // Overlapping inputs (`data/` and `data/*.csv`) must not count a file twice.
            let key = std::fs::canonicalize(&file.path).unwrap_or_else(|_| file.path.clone());
            if seen.insert(key) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

/// Builds the entry for one file. `explicit` files (named by the user) must
/// have a known format; files found by walking or globbing are skipped when
/// they do not, so stray READMEs next to data do no harm.
fn file_entry(
    path: PathBuf,
    hive: Vec<(String, Option<String>)>,
    forced: Option<Format>,
    explicit: bool,
) -> Result<Option<InputFile>, SourceError> {
    let name = path.display().to_string();
    let format = match forced.or_else(|| detect_format(&path)) {
        Some(f) => f,
        None if explicit => return Err(SourceError::UnknownFormat { path: name }),
        None => return Ok(None),
    };
    let size = std::fs::metadata(&path)
        .map_err(|source| SourceError::Io {
            path: name.clone(),
            source,
        })?
        .len();
    Ok(Some(InputFile {
        path,
        name,
        size,
        format,
        hive,
    }))
}

/// Walks a directory recursively in sorted order, taking hive values from
/// the directory names below `root`.
fn walk(root: &Path, forced: Option<Format>) -> Result<Vec<InputFile>, SourceError> {
    let mut out = Vec::new();
    walk_into(root, root, forced, &mut out)?;
    Ok(out)
}

fn walk_into(
    root: &Path,
    dir: &Path,
    forced: Option<Format>,
    out: &mut Vec<InputFile>,
) -> Result<(), SourceError> {
    let io_err = |source| SourceError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err)?;
    entries.sort();
    for path in entries {
        let skip = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(is_skipped);
        if skip {
            continue;
        }
        if path.is_dir() {
            walk_into(root, &path, forced, out)?;
        } else if path.is_file() {
            let hive = hive_segments(root, &path);
            out.extend(file_entry(path, hive, forced, false)?);
        }
    }
    Ok(())
}

fn expand_glob(pattern: &str, forced: Option<Format>) -> Result<Vec<InputFile>, SourceError> {
    let paths = glob::glob(pattern).map_err(|e| SourceError::Other {
        path: pattern.to_string(),
        message: format!("invalid glob pattern: {e}"),
    })?;
    let mut matched = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| {
            let path = e.path().display().to_string();
            SourceError::Io {
                path,
                source: e.into(),
            }
        })?;
        matched.push(path);
    }
    matched.sort();
    // Hive segments count from the pattern's literal directory prefix, so
    // `data/*/part.csv` over `data/year=2024/part.csv` yields `year`.
    let base: PathBuf = Path::new(pattern)
        .components()
        .take_while(|c| !has_glob_chars(&c.as_os_str().to_string_lossy()))
        .collect();
    let mut out = Vec::new();
    for path in matched {
        if path.is_dir() {
            let mut inner = Vec::new();
            walk_into(&base, &path, forced, &mut inner)?;
            out.extend(inner);
        } else if path.is_file() {
            let hive = hive_segments(&base, &path);
            out.extend(file_entry(path, hive, forced, false)?);
        }
    }
    Ok(out)
}

/// The `key=value` directory segments of `file` below `root`.
fn hive_segments(root: &Path, file: &Path) -> Vec<(String, Option<String>)> {
    let Ok(rel) = file.strip_prefix(root) else {
        return Vec::new();
    };
    let Some(parent) = rel.parent() else {
        return Vec::new();
    };
    parent
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .filter_map(|segment| {
            let (key, value) = segment.split_once('=')?;
            if key.is_empty() {
                return None;
            }
            let value = (value != "__HIVE_DEFAULT_PARTITION__").then(|| percent_decode(value));
            Some((key.to_string(), value))
        })
        .collect()
}

/// Decodes `%XX` escapes as Hive and Spark write them; a `%` not followed by
/// two hex digits stays as it is, and invalid UTF-8 is replaced rather than
/// failing, since a partition value is only a label.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_through_compression_suffixes() {
        let f = |s: &str| detect_format(Path::new(s));
        assert_eq!(f("a/b.CSV"), Some(Format::Csv));
        assert_eq!(f("b.tsv.gz"), Some(Format::Csv));
        assert_eq!(f("b.jsonl.zst"), Some(Format::Ndjson));
        assert_eq!(f("b.json.zstd"), Some(Format::Ndjson));
        assert_eq!(f("b.feather"), Some(Format::Ipc));
        assert_eq!(f("b.arrows"), Some(Format::IpcStream));
        assert_eq!(f("b.parquet"), Some(Format::Parquet));
        assert_eq!(f("b.txt"), None);
        assert_eq!(f("csv"), None);
        assert!(is_tsv(Path::new("x.TSV.gz")));
    }

    #[test]
    fn hive_segments_are_decoded() {
        let root = Path::new("data");
        let file = Path::new("data/city=New%20York/day=__HIVE_DEFAULT_PARTITION__/x/p.csv");
        assert_eq!(
            hive_segments(root, file),
            vec![
                ("city".to_string(), Some("New York".to_string())),
                ("day".to_string(), None)
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a%2Fb%zz"), "a/b%zz");
    }
}
