//! Quality rollups: the accumulators of final windows merged per minute,
//! hour and day (`quality/rollups/minute-YYYYMMDDHHMM.json`,
//! `hour-YYYYMMDDHH.json`, `day-YYYYMMDD.json`), as profiles are
//! (`server::rollup`). A window counts in the periods of its first
//! prediction, once it is final (before, its labels still change it);
//! merging is the accumulators' own, exact, so a period's quality equals
//! that of all its windows' labelled predictions together.
//!
//! Each file lists the windows merged into it, so adding a window twice
//! (a restart between the minute's file and the day's) does nothing: at
//! every start the final windows are added again and only the missing
//! ones count. Files are replaced atomically (written, synced, renamed).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::WindowState;

/// The levels: name, and the start of the period holding a time.
const LEVELS: [&str; 3] = ["minute", "hour", "day"];

/// One period's merged quality.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeriodQuality {
    pub level: String,
    /// The period: [start_ms, end_ms).
    pub start_ms: i64,
    pub end_ms: i64,
    pub windows: BTreeSet<String>,
    pub predictions: u64,
    pub labelled: u64,
    pub state: WindowState,
}

/// The period of `level` holding `ms`: its name and [start, end) in ms.
fn period(level: &str, ms: i64) -> Option<(String, i64, i64)> {
    let t: DateTime<Utc> = DateTime::from_timestamp_millis(ms)?;
    let (start, end, name) = match level {
        "minute" => {
            let s = Utc
                .with_ymd_and_hms(t.year(), t.month(), t.day(), t.hour(), t.minute(), 0)
                .single()?;
            (s, s + chrono::Duration::minutes(1), s.format("%Y%m%d%H%M"))
        }
        "hour" => {
            let s = Utc
                .with_ymd_and_hms(t.year(), t.month(), t.day(), t.hour(), 0, 0)
                .single()?;
            (s, s + chrono::Duration::hours(1), s.format("%Y%m%d%H"))
        }
        _ => {
            let s = Utc
                .with_ymd_and_hms(t.year(), t.month(), t.day(), 0, 0, 0)
                .single()?;
            (s, s + chrono::Duration::days(1), s.format("%Y%m%d"))
        }
    };
    Some((
        format!("{level}-{name}"),
        start.timestamp_millis(),
        end.timestamp_millis(),
    ))
}

pub struct QualityRollups {
    dir: PathBuf,
}

impl QualityRollups {
    pub fn new(quality_dir: &Path) -> Result<Self, String> {
        let dir = quality_dir.join("rollups");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn read(&self, name: &str) -> Result<Option<PeriodQuality>, String> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Merges a final window into its minute, hour and day (where it is not
    /// yet).
    pub fn add(
        &self,
        window: &str,
        start_ms: i64,
        predictions: u64,
        labelled: u64,
        state: &WindowState,
    ) -> Result<(), String> {
        for level in LEVELS {
            let Some((name, start, end)) = period(level, start_ms) else {
                continue;
            };
            let mut merged = match self.read(&name)? {
                Some(p) if p.windows.contains(window) => continue,
                Some(mut p) => {
                    p.state.merge(state)?;
                    p
                }
                None => PeriodQuality {
                    level: level.to_string(),
                    start_ms: start,
                    end_ms: end,
                    windows: BTreeSet::new(),
                    predictions: 0,
                    labelled: 0,
                    state: state.clone(),
                },
            };
            merged.windows.insert(window.to_string());
            merged.predictions += predictions;
            merged.labelled += labelled;
            let bytes = serde_json::to_vec(&merged).map_err(|e| e.to_string())?;
            crate::server::state::write_atomic(&self.path(&name), &bytes)?;
        }
        Ok(())
    }

    /// The largest periods wholly inside [from_ms, to_ms) that have a file,
    /// days first, then hours and minutes outside those days: none
    /// overlaps another. (Only the files chosen are read: a period's
    /// bounds are in its name.)
    pub fn covering(&self, from_ms: i64, to_ms: i64) -> Result<Vec<PeriodQuality>, String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| format!("{}: {e}", self.dir.display()))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect();
        names.sort();
        let mut chosen: Vec<(String, i64, i64)> = Vec::new();
        for level in ["day", "hour", "minute"] {
            for name in names.iter().filter(|n| n.starts_with(level)) {
                let Some((start, end)) = bounds(name) else {
                    continue;
                };
                let inside = start >= from_ms && end <= to_ms;
                let overlaps = chosen.iter().any(|(_, s, e)| start < *e && *s < end);
                if inside && !overlaps {
                    chosen.push((name.clone(), start, end));
                }
            }
        }
        let mut out = Vec::new();
        for (name, _, _) in chosen {
            if let Some(p) = self.read(&name)? {
                out.push(p);
            }
        }
        Ok(out)
    }
}

/// A period's [start, end) in ms from its name (`hour-2026010203`).
fn bounds(name: &str) -> Option<(i64, i64)> {
    let (level, stamp) = name.split_once('-')?;
    let padded = format!("{stamp:0<12}");
    let t = chrono::NaiveDateTime::parse_from_str(&padded, "%Y%m%d%H%M").ok()?;
    let (_, start, end) = period(level, t.and_utc().timestamp_millis())?;
    // The name must be the period's own (a day's name padded is its start).
    (period(level, start)?.0 == name).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_named_and_bounded_in_utc() {
        // 2026-01-02T03:04:05.678Z
        let ms = 1_767_323_045_678;
        assert_eq!(
            period("minute", ms).unwrap(),
            (
                "minute-202601020304".into(),
                1_767_323_040_000,
                1_767_323_100_000
            )
        );
        assert_eq!(period("hour", ms).unwrap().0, "hour-2026010203");
        let (name, start, end) = period("day", ms).unwrap();
        assert_eq!((name.as_str(), end - start), ("day-20260102", 86_400_000));
        assert_eq!(bounds("day-20260102"), Some((start, end)));
        assert_eq!(
            bounds("minute-202601020304"),
            Some((1_767_323_040_000, 1_767_323_100_000))
        );
        assert_eq!(
            bounds("hour-2026010203").map(|(s, e)| e - s),
            Some(3_600_000)
        );
        assert_eq!(bounds("day-2026010"), None);
    }
}
