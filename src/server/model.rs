//! One watched model: its baseline, schema and suites, the open window and
//! its write-ahead log, and what happens when a window closes. Synchronous;
//! the HTTP layer runs it on blocking threads behind a mutex, and a window's
//! close runs on the model's closer thread (`server::closer`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::{ArrayRef, new_null_array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use serde_json::Value;

use super::closer::{CloseHook, Closer, Ledger, Progress, lock};
use super::config::{Check, ModelConfig};
use super::state::{Totals, WindowIndex, WindowInfo, WindowState, window_seq};
use super::wal::{self, Frame, PendingSync, Wal, WalHeader};
use crate::checks::{compare, schema_anomalies};
use crate::expectations::{self, Kind, Suite};
use crate::pipeline::{ProfileRequest, profile_inputs};
use crate::profile::table::{ProfileOptions, TableAccumulator};
use crate::profile::{LogicalType, Profile, io as profile_io};
use crate::schema::Schema;
use crate::validation::{SchemaOutcome, ValidationReport};

mod batch_profile;
mod close;

use batch_profile::batch_profile;
pub(super) use close::{durable_job, finish_window};

/// What the daemon can fail at, with a message that names the file or
/// request.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A bad request body (400).
    #[error("{0}")]
    BadRequest(String),
    /// Loading the model's files failed at start.
    #[error("model `{model}`: {message}")]
    Load { model: String, message: String },
    /// The state directory could not be written (500).
    #[error("{0}")]
    State(String),
}

/// The outcome of one accepted batch.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub rows: usize,
    pub window: String,
    /// The batch's findings in `assay validate`'s JSON shape.
    pub report: Value,
}

/// A window that just closed.
#[derive(Debug, Clone)]
pub struct ClosedWindow {
    pub info: WindowInfo,
    pub profile: Arc<Profile>,
    pub skew: Option<compare::ComparisonReport>,
    pub drift: Option<compare::ComparisonReport>,
    pub validation: ValidationReport,
    /// The model's schema (for out-of-domain metrics).
    pub schema: Option<Schema>,
    /// How long the close took on the closer thread: profile, checks and
    /// report (the state writer writes the profile and the index and syncs
    /// them afterwards).
    pub duration: std::time::Duration,
}

/// The window being filled; once closed, the closer's job.
pub(super) struct OpenWindow {
    id: String,
    start_ms: i64,
    rows: u64,
    batches: u64,
    acc: TableAccumulator,
}

impl OpenWindow {
    /// The window a log holds: its header and batches replayed into a
    /// fresh accumulator.
    fn replay(
        header: &WalHeader,
        batches: &[RecordBatch],
        template: &TableAccumulator,
    ) -> Result<Self, String> {
        let mut window = OpenWindow {
            id: header.window.clone(),
            start_ms: header.start_ms,
            rows: 0,
            batches: batches.len() as u64,
            acc: template.clone(),
        };
        for batch in batches {
            window.acc.update(batch).map_err(|e| e.to_string())?;
            window.rows += batch.num_rows() as u64;
        }
        Ok(window)
    }
}

/// What does not change while the daemon runs: shared by every batch
/// without taking the model's lock.
pub struct ModelSpec {
    pub name: String,
    config: ModelConfig,
    /// The training profile skew is checked against; replaced whole by
    /// `POST /v1/models/NAME/baseline` (`server::baseline`).
    baseline: std::sync::RwLock<Arc<Profile>>,
    schema: Option<Schema>,
    environment: Option<String>,
    /// Table and aggregate expectations (row counts, means), checked on
    /// closed windows: they describe a window, not a 500-row batch.
    window_suite: Option<Suite>,
    /// The row-level ones (map, multi-column, SQL rows, query comparisons),
    /// checked on each batch: a window's profile cannot answer them.
    row_suite: Option<Suite>,
    expected: SchemaRef,
    template: TableAccumulator,
}

pub struct ModelRuntime {
    pub name: String,
    spec: Arc<ModelSpec>,
    window: OpenWindow,
    wal: Wal,
    dir: PathBuf,
    /// The index and the windows closing, shared with the closer (lock
    /// order: the model's lock, then this one; `server::closer`).
    ledger: Arc<Mutex<Ledger>>,
    /// Checks, reports and publishes closed windows off the lock; owns the
    /// previous window's profile (the reference for drift), the state
    /// writer and the rollups.
    closer: Closer,
    /// Problems found while recovering state (reported at start).
    pub notes: Vec<String>,
    /// Labels joined to predictions (`[quality]`).
    quality: Option<Arc<super::labels::ModelQuality>>,
    /// Closed windows' rows kept for retraining (`[data]`).
    data: Option<Arc<super::data::Partitions>>,
}

/// The files and baseline a closed window's page is rendered from.
pub struct WindowPageInputs {
    pub report: PathBuf,
    pub profile: PathBuf,
    pub previous_profile: Option<PathBuf>,
    pub baseline: Arc<Profile>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The Arrow type batches are converted to for a profiled column.
pub(super) fn arrow_type(t: LogicalType) -> Option<DataType> {
    Some(match t {
        LogicalType::Int => DataType::Int64,
        LogicalType::Float => DataType::Float64,
        LogicalType::String => DataType::Utf8,
        LogicalType::Bool => DataType::Boolean,
        LogicalType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        LogicalType::Date => DataType::Date32,
        LogicalType::List => return None,
    })
}

impl ModelRuntime {
    /// Loads the model's files and recovers its state from `state_dir`.
    pub fn load(config: &ModelConfig, state_dir: &Path) -> Result<Self, ServerError> {
        let fail = |message: String| ServerError::Load {
            model: config.name.clone(),
            message,
        };
        let dir = state_dir.join("models").join(&config.name);
        let posted = super::baseline::posted_path(&dir);
        let baseline = if posted.exists() {
            // A baseline posted by a retrain job overrides the configured
            // one until its file is deleted.
            tracing::info!(model = %config.name, file = %posted.display(), "using the baseline posted to /v1/models/{}/baseline (delete the file to use the configured one)", config.name);
            profile_io::load(&posted).map_err(|e| fail(e.to_string()))?
        } else if profile_io::looks_like_profile(&config.baseline) {
            profile_io::load(&config.baseline).map_err(|e| fail(e.to_string()))?
        } else {
            let request = ProfileRequest {
                profile: ProfileOptions {
                    slices: config.slices.clone(),
                    ..ProfileOptions::default()
                },
                ..ProfileRequest::default()
            };
            profile_inputs(
                &[config.baseline.display().to_string()],
                &request,
                |_, _| {},
            )
            .map_err(|e| fail(e.to_string()))?
        };
        let schema = match &config.schema {
            Some(p) => Some(crate::schema::load(p).map_err(|e| fail(e.to_string()))?),
            None => None,
        };
        let environment = config.environment.clone().or_else(|| {
            schema
                .as_ref()
                .filter(|s| s.environments.iter().any(|e| e == "serving"))
                .map(|_| "serving".to_string())
        });
        let mut suites = Vec::new();
        for path in &config.suites {
            suites.push(expectations::load(path).map_err(|e| fail(e.to_string()))?);
        }
        let suite = merge_suites(suites);
        // The window's columns: the baseline's, minus labels (they arrive
        // later, on /v1/labels) and those the schema does not expect in the
        // served environment.
        let fields: Vec<Field> = baseline
            .columns
            .iter()
            .filter(|c| c.role != crate::profile::ColumnRole::Label)
            .filter(|c| {
                match (
                    &schema,
                    &environment,
                    schema.as_ref().and_then(|s| s.feature(&c.name)),
                ) {
                    (Some(s), Some(env), Some(f)) => s.expects(f, Some(env)),
                    _ => true,
                }
            })
            .filter_map(|c| arrow_type(c.logical_type).map(|t| Field::new(&c.name, t, true)))
            .collect();
        let expected: SchemaRef = Arc::new(ArrowSchema::new(fields));
        let mut roles: Vec<_> = baseline
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.role))
            .collect();
        roles.retain(|(n, _)| expected.field_with_name(n).is_ok());
        let options = ProfileOptions {
            roles,
            slices: config.slices.clone(),
            ..ProfileOptions::default()
        };
        let template =
            TableAccumulator::new(&expected, &options).map_err(|e| fail(e.to_string()))?;

        let spec = Arc::new(ModelSpec {
            name: config.name.clone(),
            config: config.clone(),
            baseline: std::sync::RwLock::new(Arc::new(baseline)),
            schema,
            environment,
            row_suite: suite.as_ref().and_then(|s| part(s, true)),
            window_suite: suite.as_ref().and_then(|s| part(s, false)),
            expected,
            template,
        });

        std::fs::create_dir_all(&dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
        let quality = match &config.quality {
            Some(q) => Some(Arc::new(
                super::labels::ModelQuality::load(
                    config,
                    q,
                    &spec.baseline(),
                    &spec.expected,
                    spec.schema.as_ref(),
                    &dir,
                )
                .map_err(|e| fail(format!("[quality]: {e}")))?,
            )),
            None => None,
        };
        let data = super::data::Partitions::open(
            &config.name,
            &dir,
            &config.data,
            spec.expected.clone(),
            config.request_id_column.clone(),
            quality.clone(),
        );
        let (mut index, note) = WindowIndex::load(&close::index_path(&dir));
        let mut notes: Vec<String> = note.into_iter().collect();
        notes.extend(wal::remove_released(&dir));
        // Closes a crash interrupted, oldest first: each log is removed
        // once its window's files are durable.
        for log in close::closing_logs(&dir) {
            let (recovered, _) = Wal::read(&log).map_err(&fail)?;
            notes.extend(recovered.notes);
            if let Some(header) = recovered.header {
                notes.push(
                    close::settle(
                        &spec,
                        &dir,
                        &mut index,
                        &header,
                        &recovered.batches,
                        data.as_deref(),
                    )
                    .map_err(&fail)?,
                );
            }
            // A damaged log was moved aside by `read`.
            if log.exists() {
                std::fs::remove_file(&log)
                    .map_err(|e| fail(format!("{}: removing: {e}", log.display())))?;
            }
        }
        let (mut wal, recovered) = Wal::open(&dir.join("open.wal")).map_err(&fail)?;
        notes.extend(recovered.notes);
        let mut window = None;
        if let Some(header) = recovered.header {
            if index.is_closed(&header.window) {
                // Killed after the index named the window closed but before
                // its log was moved aside: its rows are already counted.
                notes.push(
                    close::settle(
                        &spec,
                        &dir,
                        &mut index,
                        &header,
                        &recovered.batches,
                        data.as_deref(),
                    )
                    .map_err(&fail)?,
                );
            } else {
                // The index may lag behind the log after a power cut.
                if let Some(seq) = window_seq(&header.window) {
                    index.next_seq = index.next_seq.max(seq);
                }
                window = Some(
                    OpenWindow::replay(&header, &recovered.batches, &spec.template)
                        .map_err(&fail)?,
                );
            }
        }
        let window = match window {
            Some(w) => w,
            None => {
                let w = new_window(&config.name, &mut index, &spec.template);
                wal.reset(&window_header(&config.name, &w)).map_err(&fail)?;
                index.save(&close::index_path(&dir)).map_err(&fail)?;
                w
            }
        };
        let previous = index
            .closed
            .last()
            .and_then(|w| profile_io::load(&close::profile_path(&dir, &w.id)).ok())
            .map(Arc::new);
        let ledger = Arc::new(Mutex::new(Ledger {
            index,
            closing: Vec::new(),
        }));
        let closer = Closer::start(spec.clone(), &dir, ledger.clone(), previous, data.clone())
            .map_err(&fail)?;
        Ok(Self {
            name: config.name.clone(),
            spec,
            window,
            wal,
            closer,
            dir,
            ledger,
            notes,
            quality,
            data,
        })
    }

    /// The retraining data, when `[models.NAME.data]` is on.
    pub fn data(&self) -> Option<Arc<super::data::Partitions>> {
        self.data.clone()
    }

    /// Labels and quality, when the model has `[quality]`.
    pub fn quality(&self) -> Option<Arc<super::labels::ModelQuality>> {
        self.quality.clone()
    }

    /// The unchanging part, for checking batches without the lock.
    pub fn spec(&self) -> Arc<ModelSpec> {
        self.spec.clone()
    }

    pub fn open_window_rows(&self) -> u64 {
        self.window.rows
    }

    /// Adds a prepared batch to the open window (durably), starting the
    /// window's close when its row limit is reached: the rotation happens
    /// here, the checks and the report on the closer thread, so the batch
    /// that fills a window does not wait for them.
    pub fn commit(&mut self, prepared: PreparedBatch) -> Result<BatchOutcome, ServerError> {
        let (outcome, sync) = self.commit_deferred(prepared, false)?;
        sync.wait().map_err(ServerError::State)?;
        Ok(outcome)
    }

    /// [`ModelRuntime::commit`] without waiting for the batch's log frame
    /// to be durable: the caller releases the model's lock, waits on the
    /// [`PendingSync`] and only then acknowledges the batch. Meanwhile the
    /// batch is in the open window, as after a `kill -9` the log replays
    /// it if its frame reached the disk: a batch whose sync failed or never
    /// finished was never acknowledged, so counting it is at most what a
    /// client's retry of an unanswered batch already risks.
    ///
    /// With `overlap`, the sync starts at once on a thread of its own and
    /// runs while the batch is merged ([`wal::Durability::start`]).
    pub fn commit_deferred(
        &mut self,
        prepared: PreparedBatch,
        overlap: bool,
    ) -> Result<(BatchOutcome, PendingSync), ServerError> {
        let durability = self
            .wal
            .write_frame(&prepared.frame)
            .map_err(ServerError::State)?;
        let sync = if overlap {
            durability.start()
        } else {
            PendingSync::Later(durability)
        };
        self.window
            .acc
            .merge(&prepared.acc)
            .map_err(|e| ServerError::State(e.to_string()))?;
        let rows = prepared.rows;
        self.window.rows += rows as u64;
        self.window.batches += 1;
        let window = self.window.id.clone();
        if let Some(limit) = self.spec.config.window.rows
            && self.window.rows >= limit
        {
            self.start_close()?;
        }
        Ok((
            BatchOutcome {
                rows,
                window,
                report: prepared.report.to_json(),
            },
            sync,
        ))
    }

    /// Whether the time policy says the open window should close.
    pub fn due(&self, now_ms: i64) -> bool {
        self.window.rows > 0
            && self
                .spec
                .config
                .window
                .seconds
                .is_some_and(|s| now_ms - self.window.start_ms >= s as i64 * 1000)
    }

    /// Lets the background threads finish what is queued (at shutdown):
    /// the closer publishes every pending close, then the state writer and
    /// the rollups finish theirs.
    pub fn finish_background(&mut self) {
        self.closer.finish();
    }

    /// Installs the hook told of every published close (the daemon's
    /// metrics and log). It runs on the closer thread and must not take
    /// this model's lock.
    pub(crate) fn on_close(&self, hook: CloseHook) {
        self.closer.on_close(hook);
    }

    /// How far the closer has got: reads wait on it, without the model's
    /// lock, for the closes submitted before they began.
    pub(crate) fn close_progress(&self) -> Arc<Progress> {
        self.closer.progress()
    }

    /// Waits until every close started so far is published (tests). Holding
    /// the model's lock meanwhile keeps ingest out: the daemon's reads use
    /// [`ModelRuntime::close_progress`] instead.
    #[cfg(test)]
    pub fn wait_for_closes(&self) {
        let progress = self.closer.progress();
        progress.wait_for(progress.mark());
    }

    /// Rows, batches and windows since the state directory was created:
    /// every closed or closing window's plus the open window's (recovered
    /// from its log after a restart).
    pub fn totals(&self) -> Totals {
        let closed = lock(&self.ledger).totals();
        Totals {
            rows: closed.rows + self.window.rows,
            batches: closed.batches + self.window.batches,
            windows: closed.windows,
        }
    }

    /// The closed windows, those closing, and the open one, newest last.
    pub fn windows(&self) -> Vec<WindowInfo> {
        let mut out = {
            let ledger = lock(&self.ledger);
            let mut out = ledger.index.closed.clone();
            out.extend(ledger.closing.iter().cloned());
            out
        };
        out.push(WindowInfo {
            id: self.window.id.clone(),
            model: self.name.clone(),
            start: rfc3339(self.window.start_ms),
            end: None,
            rows: self.window.rows,
            batches: self.window.batches,
            state: WindowState::Open,
            report: None,
            alerts: false,
        });
        out
    }

    /// The report file of a closed window.
    pub fn report_path(&self, id: &str) -> Option<PathBuf> {
        lock(&self.ledger)
            .index
            .is_closed(id)
            .then(|| close::report_path(&self.dir, id))
    }

    /// What the page of closed window `id` is drawn from (`GET
    /// /ui/reports/{id}`): its report file, its profile, the previous
    /// closed window's profile (drift's reference) and the baseline (skew's).
    pub fn page_inputs(&self, id: &str) -> Option<WindowPageInputs> {
        let ledger = lock(&self.ledger);
        let closed = &ledger.index.closed;
        let at = closed.iter().position(|w| w.id == id)?;
        Some(WindowPageInputs {
            report: close::report_path(&self.dir, id),
            profile: close::profile_path(&self.dir, id),
            previous_profile: at
                .checked_sub(1)
                .map(|p| close::profile_path(&self.dir, &closed[p].id)),
            baseline: self.spec.baseline(),
        })
    }

    pub fn latest_report_path(&self) -> Option<PathBuf> {
        lock(&self.ledger)
            .index
            .closed
            .last()
            .map(|w| close::report_path(&self.dir, &w.id))
    }

    /// The model's directory in the state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn labels_path(&self) -> PathBuf {
        self.dir.join("labels.ndjson")
    }
}

/// The checks a model runs and the expectation types each can fail with:
/// the closed label sets of its findings counter (`server::metric_labels`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckPlan {
    pub batch_schema: bool,
    /// Types of the row-level expectations checked on each batch.
    pub batch_expectations: Vec<String>,
    pub window_schema: bool,
    /// Types of the table and aggregate expectations checked per window.
    pub window_expectations: Vec<String>,
    pub skew: bool,
    pub drift: bool,
}

impl ModelSpec {
    /// The training profile windows are compared with (skew).
    pub fn baseline(&self) -> Arc<Profile> {
        self.baseline
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `profile` in the baseline's place (the next window's skew uses
    /// it).
    pub(super) fn swap_baseline(&self, profile: Profile) {
        *self.baseline.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(profile);
    }

    /// The window's columns (what a new baseline must describe).
    pub(super) fn window_schema(&self) -> &SchemaRef {
        &self.expected
    }

    /// What [`ModelSpec::prepare`] and a window close will check.
    pub fn check_plan(&self) -> CheckPlan {
        let checks = &self.config.checks;
        let types = |suite: &Option<Suite>| {
            let mut out: Vec<String> = suite
                .iter()
                .flat_map(|s| s.expectations.iter().map(|e| e.type_name.clone()))
                .collect();
            out.sort();
            out.dedup();
            out
        };
        CheckPlan {
            batch_schema: checks.per_batch.contains(&Check::Schema) && self.schema.is_some(),
            batch_expectations: if checks.per_batch.contains(&Check::Expectations) {
                types(&self.row_suite)
            } else {
                Vec::new()
            },
            window_schema: checks.per_window.contains(&Check::Schema) && self.schema.is_some(),
            window_expectations: if checks.per_window.contains(&Check::Expectations) {
                types(&self.window_suite)
            } else {
                Vec::new()
            },
            skew: checks.per_window.contains(&Check::Skew),
            drift: checks.per_window.contains(&Check::Drift),
        }
    }

    /// How many closed windows the index keeps.
    pub(super) fn keep_windows(&self) -> usize {
        self.config.window.keep as usize
    }

    /// The Arrow schema batches are converted to (for payload decoding).
    pub fn expected_schema(&self) -> &ArrowSchema {
        &self.expected
    }

    pub fn request_id_column(&self) -> Option<&str> {
        self.config.request_id_column.as_deref()
    }

    /// Checks a decoded batch on its own (no lock needed): the batch's
    /// findings and its profile over the window's columns. `ipc_stream` is
    /// the batch as an IPC stream when the body was one
    /// ([`crate::sources::payload::DecodedBatch::ipc_stream`]): the log takes it as it is.
    pub fn prepare(
        &self,
        batch: &RecordBatch,
        ipc_stream: Option<Bytes>,
    ) -> Result<PreparedBatch, ServerError> {
        let conformed = self.conform(batch)?;
        let mut acc = self.template.clone();
        acc.update(&conformed)
            .map_err(|e| ServerError::BadRequest(e.to_string()))?;
        let mut report = ValidationReport::default();
        if self.config.checks.per_batch.contains(&Check::Schema)
            && let Some(schema) = &self.schema
        {
            // The batch as it came, so new and missing columns show.
            let own =
                batch_profile(batch, &acc).map_err(|e| ServerError::BadRequest(e.to_string()))?;
            report.schema = Some(SchemaOutcome {
                file: "schema".into(),
                environment: self.environment.clone(),
                rows: batch.num_rows() as u64,
                findings: schema_anomalies(&own, schema, self.environment.as_deref()),
            });
        }
        if self.config.checks.per_batch.contains(&Check::Expectations)
            && let Some(suite) = &self.row_suite
        {
            report.suite = Some(
                expectations::evaluate_batches(suite, std::slice::from_ref(batch))
                    .map_err(|e| ServerError::BadRequest(e.to_string()))?,
            );
        }
        // Framed here, outside the model's lock: the commit only writes
        // and syncs it.
        let frame = match ipc_stream {
            Some(stream) => Frame::of_stream(stream),
            None => Frame::encode(&conformed).map_err(ServerError::State)?,
        };
        Ok(PreparedBatch {
            rows: conformed.num_rows(),
            frame,
            acc,
            report,
        })
    }

    /// Columns of the expected schema, converted or filled with nulls;
    /// columns the window does not track are left out (the batch's own
    /// findings report them).
    fn conform(&self, batch: &RecordBatch) -> Result<RecordBatch, ServerError> {
        let columns: Vec<ArrayRef> = self
            .expected
            .fields()
            .iter()
            .map(|f| match batch.column_by_name(f.name()) {
                Some(col) if col.data_type() == f.data_type() => Ok(col.clone()),
                Some(col) => cast(col, f.data_type()).map_err(|e| {
                    ServerError::BadRequest(format!(
                        "column `{}`: expected {}, found {}: {e}",
                        f.name(),
                        f.data_type(),
                        col.data_type()
                    ))
                }),
                None => Ok(new_null_array(f.data_type(), batch.num_rows())),
            })
            .collect::<Result<_, _>>()?;
        RecordBatch::try_new(self.expected.clone(), columns)
            .map_err(|e| ServerError::BadRequest(e.to_string()))
    }
}

/// A batch checked and profiled, ready to be committed.
pub struct PreparedBatch {
    rows: usize,
    frame: Frame,
    acc: TableAccumulator,
    report: ValidationReport,
}

/// The log header of a window.
fn window_header(model: &str, window: &OpenWindow) -> WalHeader {
    WalHeader {
        model: model.to_string(),
        window: window.id.clone(),
        start_ms: window.start_ms,
    }
}

fn new_window(model: &str, index: &mut WindowIndex, template: &TableAccumulator) -> OpenWindow {
    index.next_seq += 1;
    OpenWindow {
        id: format!("{model}-{:06}", index.next_seq),
        start_ms: now_ms(),
        rows: 0,
        batches: 0,
        acc: template.clone(),
    }
}

/// The row-level expectations of a suite (`row_level`) or the others, if
/// there are any.
fn part(suite: &Suite, row_level: bool) -> Option<Suite> {
    let expectations: Vec<_> = suite
        .expectations
        .iter()
        .filter(|e| {
            let rows = matches!(
                e.kind,
                Kind::Map { .. }
                    | Kind::Multi { .. }
                    | Kind::UnexpectedRows { .. }
                    | Kind::QueryComparison { .. }
            );
            rows == row_level
        })
        .cloned()
        .collect();
    (!expectations.is_empty()).then(|| Suite {
        expectations,
        ..suite.clone()
    })
}

/// Several suites as one (their expectations in order).
fn merge_suites(mut suites: Vec<Suite>) -> Option<Suite> {
    let mut first = if suites.is_empty() {
        return None;
    } else {
        suites.remove(0)
    };
    for s in suites {
        first.name = format!("{}+{}", first.name, s.name);
        first.expectations.extend(s.expectations);
    }
    Some(first)
}
