//! Labels joined to predictions, and the model's quality and fairness per
//! window (`[models.NAME.quality]`).
//!
//! - At ingest, each row with a request id becomes a pending prediction in
//!   the [`store`] (its quality columns: prediction, scores, slice and
//!   sensitive columns; its label too when the batch carries one), filed
//!   under the window the batch went to: one block appended to the
//!   window's file and synced before the batch is acknowledged.
//! - `POST /v1/labels` ([`http`]) decodes labels (JSON, NDJSON, CSV, Arrow,
//!   Parquet: the ingest decoders), checks them whole, and appends them to
//!   the label log (synced before the 200): no lookup.
//! - Off the request path ([`ModelQuality::join_labels`], every second and
//!   before `GET /quality` answers), the labels accepted since are joined
//!   to their predictions by merging sorted runs, counted (joined,
//!   unmatched by reason), and a label updates the window its prediction
//!   was made in.
//! - A window whose labels changed is recomputed off the request path
//!   ([`ModelQuality::refresh`]): its rows read back from the store into the
//!   library's accumulators (`crate::quality`), finished, compared with the
//!   reference, written to `quality/WINDOW.json` (the report) and
//!   `quality/WINDOW.state.json` (the accumulators, merged for rollups), and
//!   published as metrics.
//! - A window's quality is final at full label coverage or `label_ttl`
//!   after its last prediction; its findings are counted then, once, and
//!   its accumulators merged into the minute, hour and day rollups
//!   ([`rollup`]). The reports are read back at start, so `GET /quality`
//!   answers for every window with files, in the store or not.

mod blocks;
pub mod cell;
pub mod classes;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod rollup;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use serde::{Deserialize, Serialize};

use crate::profile::{ColumnRole, LogicalType, Profile};
use crate::quality::cbpe::{Estimate, Estimator, ScoreAccumulator};
use crate::quality::{
    AlarmOptions, FairnessAccumulator, FairnessReport, QualityAccumulator, QualityReport,
    QualitySpec, ScoreColumns, Task, TaskEvidence, UnlabelledRows, compare_fairness,
    compare_quality, fairness_levels,
};
use crate::server::config::{ModelConfig, QualityConfig};
use crate::server::state::replace_unsynced;
use classes::LabelClasses;
use store::{JoinCounts, PendingStore, WindowMeta};

/// A bad row of a batch or a label body: 400 naming the row and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub message: String,
}

/// The accumulators of one window (or of a rollup of windows).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowState {
    pub quality: QualityAccumulator,
    #[serde(default)]
    pub fairness: Option<FairnessAccumulator>,
    #[serde(default)]
    pub scores: Option<ScoreAccumulator>,
}

impl WindowState {
    pub fn merge(&mut self, other: &WindowState) -> Result<(), String> {
        self.quality
            .merge(&other.quality)
            .map_err(|e| e.to_string())?;
        if let (Some(a), Some(b)) = (&mut self.fairness, &other.fairness) {
            a.merge(b).map_err(|e| e.to_string())?;
        }
        if let (Some(a), Some(b)) = (&mut self.scores, &other.scores) {
            a.merge(b).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// One window's quality as `quality/WINDOW.json` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowQuality {
    pub model: String,
    pub window: String,
    /// First and last prediction stored (RFC 3339).
    pub start: String,
    pub end: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub predictions: u64,
    pub labelled: u64,
    pub label_coverage: f64,
    /// Full coverage, or `label_ttl` passed: no label will change it.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// One of the first windows that make the reference (when the baseline
    /// has no labelled predictions).
    #[serde(default)]
    pub reference: bool,
    pub quality: QualityReport,
    #[serde(default)]
    pub fairness: Option<FairnessReport>,
    #[serde(default)]
    pub estimated: Option<Estimate>,
}

/// The reference quality: from the baseline, or the first labelled windows.
#[derive(Clone)]
struct Reference {
    quality: QualityReport,
    fairness: Option<FairnessReport>,
    /// Which windows made it (empty: the baseline).
    windows: Vec<u64>,
}

/// A model's labels and quality.
pub struct ModelQuality {
    pub model: String,
    pub config: QualityConfig,
    spec: QualitySpec,
    /// Configured, or inferred from the baseline; else each window's own.
    task: Option<Task>,
    id_column: String,
    /// The stored columns, in order, with their kept types.
    row_columns: Vec<(String, DataType)>,
    pub label_type: DataType,
    store: PendingStore,
    /// The label values (and predicted classes) the model accepts.
    classes: LabelClasses,
    dir: PathBuf,
    reference: Mutex<Option<Reference>>,
    estimator: Option<Estimator>,
    /// Windows whose labels or predictions changed since their last report.
    dirty: Mutex<BTreeSet<u64>>,
    /// The latest report of each window (small: one per window).
    reports: Mutex<BTreeMap<u64, Arc<WindowQuality>>>,
    /// Final windows whose findings were counted.
    published: Mutex<BTreeSet<u64>>,
    /// Serializes refreshes (the timer and reads).
    refreshing: Mutex<()>,
    /// When the timer may recompute again ([`Self::refresh_paced`]).
    next_paced: Mutex<std::time::Instant>,
    /// What the joins did since the daemon started.
    totals: Mutex<JoinCounts>,
    /// CPU nanoseconds spent joining labels and recomputing windows since
    /// the daemon started (Linux; 0 elsewhere).
    join_cpu_ns: std::sync::atomic::AtomicU64,
    recompute_cpu_ns: std::sync::atomic::AtomicU64,
    rollups: rollup::QualityRollups,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn logical_arrow(t: LogicalType) -> DataType {
    match t {
        LogicalType::Int => DataType::Int64,
        LogicalType::Float => DataType::Float64,
        LogicalType::Bool => DataType::Boolean,
        _ => DataType::Utf8,
    }
}

impl ModelQuality {
    /// Sets up a model's quality from its configuration, its baseline and
    /// the window's Arrow schema; opens the store in `dir`.
    pub fn load(
        config: &ModelConfig,
        quality: &QualityConfig,
        baseline: &Profile,
        expected: &ArrowSchema,
        schema: Option<&crate::schema::Schema>,
        dir: &Path,
    ) -> Result<Self, String> {
        let id_column = config
            .request_id_column
            .clone()
            .ok_or("[quality] needs request_id_column")?;
        let by_role = |role: ColumnRole| {
            baseline
                .columns
                .iter()
                .find(|c| c.role == role)
                .map(|c| (c.name.clone(), c.logical_type))
        };
        let label = match &quality.label {
            Some(l) => l.clone(),
            None => by_role(ColumnRole::Label).map(|(n, _)| n).ok_or(
                "the baseline has no label column: set [quality] label (the column labels fill)",
            )?,
        };
        let (mut prediction, mut score) = (quality.prediction.clone(), quality.score.clone());
        if prediction.is_none()
            && score.is_none()
            && let Some((name, t)) = by_role(ColumnRole::Prediction)
        {
            if t == LogicalType::Float && quality.task != Some(Task::Regression) {
                score = Some(name);
            } else {
                prediction = Some(name);
            }
        }
        if prediction.is_none() && score.is_none() {
            return Err(
                "[quality] needs `score` or `prediction` (the baseline has no prediction column)"
                    .into(),
            );
        }
        let mut spec = QualitySpec::new(&label);
        spec.prediction = prediction;
        spec.scores = score.map_or(ScoreColumns::None, ScoreColumns::Single);
        spec.threshold = quality.threshold;
        spec.positive = quality.positive.clone();
        spec.slices = quality
            .slices
            .clone()
            .unwrap_or_else(|| config.slices.clone());
        spec.sensitive = quality.sensitive.clone();
        spec.min_group_size = quality.min_group_size;
        spec.unlabelled = UnlabelledRows::Skip;
        let type_of = |name: &str| -> DataType {
            match expected.field_with_name(name) {
                Ok(f) => cell::kept_type(f.data_type()),
                Err(_) => baseline
                    .columns
                    .iter()
                    .find(|c| c.name == name)
                    .map_or(DataType::Utf8, |c| logical_arrow(c.logical_type)),
            }
        };
        let label_type = type_of(&label);
        let row_columns: Vec<(String, DataType)> = spec
            .columns()
            .into_iter()
            .filter(|c| *c != label)
            .map(|c| {
                let t = type_of(&c);
                (c, t)
            })
            .collect();
        let dir = dir.join("quality");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let store = PendingStore::open(&dir.join("pending"))?;

        // The reference: the baseline when it is data with labelled
        // predictions.
        let mut task = quality.task;
        let mut reference = None;
        let mut estimator = None;
        if let Some(base) = baseline_reference(&config.baseline, &spec, task)? {
            task = Some(base.quality.task());
            estimator = Estimator::fit(&base.quality).ok();
            reference = Some(Reference {
                quality: base.quality.finish(),
                fairness: base.fairness.as_ref().map(|f| f.finish()),
                windows: Vec::new(),
            });
        }
        if let Some(t) = task {
            spec.check(t).map_err(|e| e.to_string())?;
        }
        // The classes a binary model has: the baseline's and those stored.
        let seen = store.classes()?.into_iter().chain(
            reference
                .iter()
                .flat_map(|r: &Reference| r.quality.classes.iter().cloned()),
        );
        let domain = schema
            .and_then(|s| s.feature(&label))
            .and_then(|f| f.domain.as_ref());
        let classes = LabelClasses::new(task, domain, seen.map(crate::quality::ClassValue::new));
        let rollups = rollup::QualityRollups::new(&dir)?;
        let mut out = Self {
            model: config.name.clone(),
            config: quality.clone(),
            spec,
            task,
            id_column,
            row_columns,
            label_type,
            store,
            classes,
            dir,
            reference: Mutex::new(reference),
            estimator,
            dirty: Mutex::new(BTreeSet::new()),
            reports: Mutex::new(BTreeMap::new()),
            published: Mutex::new(BTreeSet::new()),
            refreshing: Mutex::new(()),
            next_paced: Mutex::new(std::time::Instant::now()),
            totals: Mutex::new(JoinCounts::default()),
            join_cpu_ns: Default::default(),
            recompute_cpu_ns: Default::default(),
            rollups,
        };
        // The reports written before: windows that left the store keep
        // answering; those in it are recomputed below.
        {
            let reports = out.reports.get_mut().map_err(|_| "poisoned")?;
            let names =
                std::fs::read_dir(&out.dir).map_err(|e| format!("{}: {e}", out.dir.display()))?;
            for name in names.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
                if !name.ends_with(".json") || name.ends_with(".state.json") {
                    continue;
                }
                let path = out.dir.join(&name);
                let report: Option<WindowQuality> = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                match report.and_then(|r| Some((crate::server::state::window_seq(&r.window)?, r))) {
                    Some((seq, r)) => {
                        reports.insert(seq, Arc::new(r));
                    }
                    None => {
                        tracing::warn!(file = %path.display(), "not a window quality report: skipped")
                    }
                }
            }
        }
        // After a restart: every window is recomputed; those already final
        // had their findings counted by the previous run.
        let now = crate::server::model::now_ms();
        let metas = out.store.windows()?;
        let ttl = out.ttl_ms();
        {
            let published = out.published.get_mut().map_err(|_| "poisoned")?;
            for (seq, meta) in &metas {
                if meta.expired(now, ttl) || meta.labelled == meta.predictions {
                    published.insert(*seq);
                }
            }
        }
        out.dirty
            .get_mut()
            .map_err(|_| "poisoned")?
            .extend(metas.keys());
        Ok(out)
    }

    pub fn ttl_ms(&self) -> i64 {
        (self.config.label_ttl_seconds as i64).saturating_mul(1000)
    }

    /// What the store knows of window `seq` (none once it left the store)
    /// and its labels by request id, for the retraining data
    /// (`server::data`).
    pub fn window_labels(
        &self,
        seq: u64,
    ) -> Result<(Option<WindowMeta>, store::WindowLabels), String> {
        let meta = self.store.windows()?.remove(&seq);
        Ok((meta, self.store.window_labels(seq)?))
    }

    /// What the store knows of each window it holds.
    pub fn window_metas(&self) -> Result<BTreeMap<u64, WindowMeta>, String> {
        self.store.windows()
    }

    pub fn id_column(&self) -> &str {
        &self.id_column
    }

    pub fn label_column(&self) -> &str {
        &self.spec.label
    }

    /// The label values the model accepts.
    pub fn classes(&self) -> &LabelClasses {
        &self.classes
    }

    /// Stored rows as a batch of the quality columns.
    fn rows_batch(&self, rows: &[store::StoredRow]) -> Result<RecordBatch, String> {
        let mut label = cell::Builder::new(&self.label_type);
        let mut builders: Vec<cell::Builder> = self
            .row_columns
            .iter()
            .map(|(_, t)| cell::Builder::new(t))
            .collect();
        for (row, l) in rows {
            match l.as_deref().and_then(cell::decode) {
                Some((c, _)) => label.push(&c),
                None => label.push(&cell::Cell::Null),
            }
            let mut rest = row.as_slice();
            for b in &mut builders {
                match cell::decode(rest) {
                    Some((c, next)) => {
                        b.push(&c);
                        rest = next;
                    }
                    None => b.push(&cell::Cell::Null),
                }
            }
        }
        let mut fields = vec![Field::new(&self.spec.label, self.label_type.clone(), true)];
        let mut columns = vec![label.finish()];
        for ((name, t), b) in self.row_columns.iter().zip(builders) {
            fields.push(Field::new(name, t.clone(), true));
            columns.push(b.finish());
        }
        RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns).map_err(|e| e.to_string())
    }

    /// A window's accumulators, its rows read back from the store a chunk
    /// at a time (two passes when the task is decided per window).
    fn accumulate_window(&self, seq: u64) -> Result<WindowState, String> {
        const CHUNK: usize = 65_536;
        let task = match self.task {
            Some(t) => t,
            None => {
                let mut evidence = TaskEvidence::default();
                self.store.window_chunks(seq, CHUNK, |rows| {
                    let batch = self.rows_batch(&rows)?;
                    evidence
                        .update(&batch, &self.spec)
                        .map_err(|e| e.to_string())
                })?;
                evidence.decide(&self.spec)
            }
        };
        let mut quality = QualityAccumulator::new(&self.spec, task).map_err(|e| e.to_string())?;
        let mut fairness = if !self.spec.sensitive.is_empty() && task != Task::Multiclass {
            Some(FairnessAccumulator::new(&self.spec, task).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let mut scores = match (&self.spec.scores, task) {
            (ScoreColumns::Single(c), Task::Binary) => Some(ScoreAccumulator::new(c.clone())),
            _ => None,
        };
        self.store.window_chunks(seq, CHUNK, |rows| {
            let batch = self.rows_batch(&rows)?;
            quality.update(&batch).map_err(|e| e.to_string())?;
            if let Some(f) = &mut fairness {
                f.update(&batch).map_err(|e| e.to_string())?;
            }
            if let Some(s) = &mut scores {
                s.update(&batch).map_err(|e| e.to_string())?;
            }
            Ok(())
        })?;
        Ok(WindowState {
            quality,
            fairness,
            scores,
        })
    }

    fn alarm_options(&self) -> AlarmOptions {
        AlarmOptions {
            alpha: self.config.alpha,
            min_effect: self.config.min_effect,
            four_fifths: self.config.four_fifths,
            max_disparity: self.config.max_disparity,
            ..AlarmOptions::default()
        }
    }

    /// Fills the reports' findings: changes against the reference (none
    /// without one), and the opt-in fairness level alarms.
    fn judge(
        &self,
        reference: Option<&Reference>,
        quality: &mut QualityReport,
        fairness: Option<&mut FairnessReport>,
    ) {
        let options = self.alarm_options();
        if let Some(r) = reference {
            match compare_quality(&r.quality, quality, &options) {
                Ok(f) => quality.findings = f,
                Err(e) => tracing::warn!(model = %self.model, "quality comparison: {e}"),
            }
        }
        if let Some(cf) = fairness {
            let mut found = Vec::new();
            if let Some(rf) = reference.and_then(|r| r.fairness.as_ref()) {
                match compare_fairness(rf, cf, &options) {
                    Ok(f) => found = f,
                    Err(e) => tracing::warn!(model = %self.model, "fairness comparison: {e}"),
                }
            }
            found.extend(fairness_levels(cf, &options));
            cf.findings = found;
        }
    }

    fn state_path(&self, window: &str) -> PathBuf {
        self.dir.join(format!("{window}.state.json"))
    }

    fn report_path(&self, window: &str) -> PathBuf {
        self.dir.join(format!("{window}.json"))
    }

    /// The reference from the first `reference_windows` final windows, once
    /// they are final (when the baseline gave none).
    fn reference_from_windows(
        &self,
        metas: &BTreeMap<u64, WindowMeta>,
        now: i64,
    ) -> Option<Reference> {
        let wanted = self.config.reference_windows as usize;
        let firsts: Vec<(&u64, &WindowMeta)> = metas
            .iter()
            .filter(|(_, m)| m.labelled > 0)
            .take(wanted)
            .collect();
        if firsts.len() < wanted
            || !firsts
                .iter()
                .all(|(_, m)| m.labelled == m.predictions || m.expired(now, self.ttl_ms()))
        {
            return None;
        }
        let mut merged: Option<WindowState> = None;
        for (_, m) in &firsts {
            let text = std::fs::read(self.state_path(&m.id)).ok()?;
            let state: WindowState = serde_json::from_slice(&text).ok()?;
            match &mut merged {
                None => merged = Some(state),
                Some(acc) => acc.merge(&state).ok()?,
            }
        }
        let merged = merged?;
        Some(Reference {
            quality: merged.quality.finish(),
            fairness: merged.fairness.as_ref().map(|f| f.finish()),
            windows: firsts.iter().map(|(s, _)| **s).collect(),
        })
    }

    /// Recomputes the windows whose labels changed (and expires windows):
    /// files, metrics, findings of windows that turned final. Returns the
    /// windows recomputed.
    /// [`Self::refresh`] from the timer, paced: a window is recomputed
    /// whole from the store (exact whatever the duplicates), so its cost
    /// grows with the window; after a recomputation that took `t`, the
    /// next waits at least `PACE × t`, which keeps the recomputation under
    /// 1 / (1 + PACE) of a core while labels stream in (the labels are
    /// joined meanwhile; reads of `GET /quality` still recompute at once).
    pub fn refresh_paced(
        &self,
        metrics: &crate::server::Metrics,
        alerts: Option<&crate::alerts::AlertService>,
    ) -> Result<usize, String> {
        const PACE: u32 = 4;
        let started = std::time::Instant::now();
        if started < *self.next_paced.lock().map_err(|_| "poisoned")? {
            // The labels are joined (and counted) meanwhile.
            self.join_labels(metrics)?;
            return Ok(0);
        }
        let done = self.refresh(metrics, alerts);
        let now = std::time::Instant::now();
        *self.next_paced.lock().map_err(|_| "poisoned")? = now + (now - started) * PACE;
        done
    }

    /// Joins the labels accepted since the last join to their predictions
    /// ([`store::PendingStore::join`]): counted in the metrics and the
    /// totals, and their windows marked for recomputation.
    pub fn join_labels(&self, metrics: &crate::server::Metrics) -> Result<JoinCounts, String> {
        let cpu = thread_cpu_ns();
        let counts = self.store.join(self.ttl_ms(), self.config.duplicates)?;
        self.join_cpu_ns.fetch_add(
            thread_cpu_ns().saturating_sub(cpu),
            std::sync::atomic::Ordering::Relaxed,
        );
        let q = &metrics.quality;
        q.labels_joined
            .with_label_values(&[&self.model])
            .inc_by(counts.joined + counts.replaced);
        for (reason, count) in [
            ("unknown", counts.unknown),
            ("expired", counts.expired),
            ("duplicate", counts.duplicate),
        ] {
            q.labels_unmatched
                .with_label_values(&[&self.model, reason])
                .inc_by(count);
        }
        self.totals.lock().map_err(|_| "poisoned")?.add(&counts);
        self.dirty
            .lock()
            .map_err(|_| "poisoned")?
            .extend(counts.windows.iter().copied());
        Ok(counts)
    }

    /// What the joins did since the daemon started.
    pub fn join_totals(&self) -> JoinCounts {
        self.totals.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// CPU seconds spent joining labels, and recomputing windows, since
    /// the daemon started.
    pub fn cpu_seconds(&self) -> (f64, f64) {
        let s = |a: &std::sync::atomic::AtomicU64| {
            a.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9
        };
        (s(&self.join_cpu_ns), s(&self.recompute_cpu_ns))
    }

    pub fn refresh(
        &self,
        metrics: &crate::server::Metrics,
        alerts: Option<&crate::alerts::AlertService>,
    ) -> Result<usize, String> {
        let _guard = self.refreshing.lock().map_err(|_| "poisoned")?;
        self.join_labels(metrics)?;
        let now = crate::server::model::now_ms();
        let ttl = self.ttl_ms();
        let metas = self.store.windows()?;
        // Windows that expired since: their quality turns final.
        {
            let published = self.published.lock().map_err(|_| "poisoned")?;
            let mut dirty = self.dirty.lock().map_err(|_| "poisoned")?;
            for (seq, m) in &metas {
                if !published.contains(seq) && m.expired(now, ttl) {
                    dirty.insert(*seq);
                }
            }
        }
        let todo: Vec<u64> = std::mem::take(&mut *self.dirty.lock().map_err(|_| "poisoned")?)
            .into_iter()
            .collect();
        let mut done = 0;
        let cpu = thread_cpu_ns();
        for seq in &todo {
            let Some(meta) = metas.get(seq) else { continue };
            if let Err(e) = self.refresh_window(*seq, meta, &metas, now, metrics, alerts) {
                tracing::warn!(model = %self.model, window = %meta.id, "window quality: {e}");
            }
            done += 1;
        }
        self.recompute_cpu_ns.fetch_add(
            thread_cpu_ns().saturating_sub(cpu),
            std::sync::atomic::Ordering::Relaxed,
        );
        let pending: u64 = metas
            .values()
            .filter(|m| !m.expired(now, ttl))
            .map(|m| m.predictions - m.labelled.min(m.predictions))
            .sum();
        metrics.quality.pending(&self.model, pending);
        // Windows two label_ttls old leave the store (their files stay).
        self.store.sweep(now, ttl)?;
        Ok(done)
    }

    fn refresh_window(
        &self,
        seq: u64,
        meta: &WindowMeta,
        metas: &BTreeMap<u64, WindowMeta>,
        now: i64,
        metrics: &crate::server::Metrics,
        alerts: Option<&crate::alerts::AlertService>,
    ) -> Result<(), String> {
        let state = self.accumulate_window(seq)?;
        let mut quality = state.quality.finish();
        let mut fairness = state.fairness.as_ref().map(|f| f.finish());
        let estimated = match (&self.estimator, &state.scores) {
            (Some(e), Some(s)) => Some(e.estimate(&s.histogram)),
            _ => None,
        };
        let is_final = meta.labelled >= meta.predictions || meta.expired(now, self.ttl_ms());
        // The reference: the baseline's, or once the first windows are final.
        let reference = {
            let mut r = self.reference.lock().map_err(|_| "poisoned")?;
            if r.is_none()
                && let Ok(text) = serde_json::to_vec(&state)
            {
                // This window's state must be on disk before it can be part
                // of the reference.
                replace_unsynced(&self.state_path(&meta.id), &text)?;
                *r = self.reference_from_windows(metas, now);
            }
            r.clone()
        };
        let in_reference = reference.as_ref().is_some_and(|r| r.windows.contains(&seq));
        if !in_reference {
            self.judge(reference.as_ref(), &mut quality, fairness.as_mut());
        }
        let report = WindowQuality {
            model: self.model.clone(),
            window: meta.id.clone(),
            start: rfc3339(meta.first_ms),
            end: rfc3339(meta.last_ms),
            start_ms: meta.first_ms,
            end_ms: meta.last_ms,
            predictions: meta.predictions,
            labelled: meta.labelled,
            label_coverage: coverage(meta.labelled, meta.predictions),
            is_final,
            reference: in_reference,
            quality,
            fairness,
            estimated,
        };
        let state_text = serde_json::to_vec(&state).map_err(|e| e.to_string())?;
        replace_unsynced(&self.state_path(&meta.id), &state_text)?;
        if is_final {
            // Once per window (the rollups list the windows they hold).
            self.rollups.add(
                &meta.id,
                meta.first_ms,
                meta.predictions,
                meta.labelled,
                &state,
            )?;
        }
        let report_text = serde_json::to_vec_pretty(&report).map_err(|e| e.to_string())?;
        replace_unsynced(&self.report_path(&meta.id), &report_text)?;
        let report = Arc::new(report);
        self.reports
            .lock()
            .map_err(|_| "poisoned")?
            .insert(seq, report.clone());
        // The gauges show the newest window with labels.
        let newest_labelled = metas
            .iter()
            .rev()
            .find(|(_, m)| m.labelled > 0)
            .map(|(s, _)| *s);
        if newest_labelled == Some(seq)
            || (newest_labelled.is_none() && metas.keys().last() == Some(&seq))
        {
            metrics.quality.window(&self.model, &report);
        }
        if is_final && self.published.lock().map_err(|_| "poisoned")?.insert(seq) {
            metrics.count_findings(&self.model, "quality", &report.quality.findings);
            let fairness_findings = report
                .fairness
                .as_ref()
                .map_or(&[][..], |f| &f.findings[..]);
            metrics.count_findings(&self.model, "fairness", fairness_findings);
            for (check, f) in report
                .quality
                .findings
                .iter()
                .map(|f| ("quality", f))
                .chain(fairness_findings.iter().map(|f| ("fairness", f)))
            {
                tracing::warn!(model = %self.model, window = %meta.id, check, "{}", f.explanation);
            }
            // To the alerts, findings or none (a final window without
            // findings makes an open quality alert absent).
            if let Some(alerts) = alerts {
                let window = crate::alerts::WindowRef {
                    model: self.model.clone(),
                    id: meta.id.clone(),
                    start: report.start.clone(),
                    end: report.end.clone(),
                };
                alerts.window_closed(crate::alerts::WindowFindings::from_quality(
                    window,
                    seq,
                    now,
                    &report.quality.findings,
                    fairness_findings,
                ));
            }
        }
        Ok(())
    }

    /// The windows' reports (newest last), as last computed.
    pub fn window_reports(&self) -> Vec<Arc<WindowQuality>> {
        self.reports
            .lock()
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The quality of the windows whose first prediction is in
    /// `[from_ms, to_ms)`: the day, hour and minute rollups wholly inside
    /// the range, and the saved states of the windows they do not hold
    /// (not final yet, or in a period the range cuts), merged: their
    /// quality, fairness and estimate together, with findings against the
    /// reference.
    pub fn rollup(&self, from_ms: i64, to_ms: i64) -> Result<Option<Rollup>, String> {
        let mut windows = Vec::new();
        let mut merged: Option<WindowState> = None;
        let (mut predictions, mut labelled) = (0, 0);
        let mut covered = BTreeSet::new();
        for period in self.rollups.covering(from_ms, to_ms)? {
            match &mut merged {
                None => merged = Some(period.state),
                Some(acc) => acc.merge(&period.state)?,
            }
            predictions += period.predictions;
            labelled += period.labelled;
            windows.extend(period.windows.iter().cloned());
            covered.extend(period.windows);
        }
        for report in self.window_reports() {
            if report.start_ms < from_ms
                || report.start_ms >= to_ms
                || covered.contains(&report.window)
            {
                continue;
            }
            let text = std::fs::read(self.state_path(&report.window))
                .map_err(|e| format!("{}: {e}", report.window))?;
            let state: WindowState =
                serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", report.window))?;
            match &mut merged {
                None => merged = Some(state),
                Some(acc) => acc.merge(&state)?,
            }
            predictions += report.predictions;
            labelled += report.labelled;
            windows.push(report.window.clone());
        }
        let Some(state) = merged else { return Ok(None) };
        windows.sort();
        let mut quality = state.quality.finish();
        let mut fairness = state.fairness.as_ref().map(|f| f.finish());
        let estimated = match (&self.estimator, &state.scores) {
            (Some(e), Some(s)) => Some(e.estimate(&s.histogram)),
            _ => None,
        };
        let reference = self.reference.lock().map_err(|_| "poisoned")?.clone();
        self.judge(reference.as_ref(), &mut quality, fairness.as_mut());
        Ok(Some(Rollup {
            windows,
            predictions,
            labelled,
            label_coverage: coverage(labelled, predictions),
            quality,
            fairness,
            estimated,
        }))
    }
}

/// Several windows' quality merged (`GET /v1/models/{model}/quality`).
#[derive(Debug, Clone, Serialize)]
pub struct Rollup {
    pub windows: Vec<String>,
    pub predictions: u64,
    pub labelled: u64,
    pub label_coverage: f64,
    pub quality: QualityReport,
    pub fairness: Option<FairnessReport>,
    pub estimated: Option<Estimate>,
}

/// The calling thread's CPU time in nanoseconds (`/proc/thread-self/
/// schedstat`, Linux; 0 where it cannot be read).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn coverage(labelled: u64, predictions: u64) -> f64 {
    if predictions == 0 {
        0.0
    } else {
        labelled as f64 / predictions as f64
    }
}

struct BaselineReference {
    quality: QualityAccumulator,
    fairness: Option<FairnessAccumulator>,
}

/// The baseline's quality, when it is data (not a saved profile) with the
/// label and the prediction or score columns.
fn baseline_reference(
    baseline: &Path,
    spec: &QualitySpec,
    task: Option<Task>,
) -> Result<Option<BaselineReference>, String> {
    if crate::profile::io::looks_like_profile(baseline) {
        return Ok(None);
    }
    let inputs = vec![baseline.display().to_string()];
    let options = crate::sources::ReadOptions::default();
    let dataset = crate::sources::open(&inputs, &options).map_err(|e| e.to_string())?;
    if spec
        .columns()
        .iter()
        .any(|c| dataset.schema.field_with_name(c).is_err())
    {
        return Ok(None);
    }
    let mut batches = Vec::new();
    for partition in dataset.partitions {
        for batch in (partition.open)().map_err(|e| e.to_string())? {
            batches.push(batch.map_err(|e| e.to_string())?);
        }
    }
    let mut labelled_spec = spec.clone();
    labelled_spec.unlabelled = UnlabelledRows::Skip;
    let task = match task {
        Some(t) => t,
        None => {
            let mut evidence = TaskEvidence::default();
            for b in &batches {
                evidence
                    .update(b, &labelled_spec)
                    .map_err(|e| format!("baseline: {e}"))?;
            }
            evidence.decide(&labelled_spec)
        }
    };
    let mut quality =
        QualityAccumulator::new(&labelled_spec, task).map_err(|e| format!("baseline: {e}"))?;
    let mut fairness = if !spec.sensitive.is_empty() && task != Task::Multiclass {
        Some(FairnessAccumulator::new(&labelled_spec, task).map_err(|e| format!("baseline: {e}"))?)
    } else {
        None
    };
    for b in &batches {
        quality.update(b).map_err(|e| format!("baseline: {e}"))?;
        if let Some(f) = &mut fairness {
            f.update(b).map_err(|e| format!("baseline: {e}"))?;
        }
    }
    Ok(Some(BaselineReference { quality, fairness }))
}
