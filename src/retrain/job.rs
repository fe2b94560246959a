//! One retrain job, step by step, each step recorded in the job's
//! `report.json`: assemble → validate → train → evaluate → gate →
//! register (→ promote). Data that fails validation stops the job before
//! training; the gate decides promotion.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::RecordBatch;
use serde::Serialize;
use serde_json::{Value, json};

use super::RetrainJobError;
use super::assemble::{assemble, partition_date, within_lookback};
use super::config::JobConfig;
use super::gate::{self, Decision};
use super::prediction_schema::check_predictions;
use super::registry::{Champion, ModelRegistry};
use crate::checks::anomalies::{applicable_slices, has_errors, schema_anomalies};
use crate::pipeline::{ProfileRequest, profile_inputs};
use crate::profile::{ProfileOptions, io as profile_io};
use crate::quality::FairnessAccumulator;
use crate::quality::report::Metrics;
use crate::sinks::write_atomic;
use crate::sources::ReadOptions;
use crate::train::data::split_holdout;
use crate::train::evaluate::{evaluate, quality_spec};
use crate::train::{self, RetrainRecord, SavedModel};
use crate::validation::{SchemaOutcome, ValidationReport};

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Registered and made the champion.
    Promoted,
    /// The gate or validation said no.
    Rejected,
    /// The job could not run to a decision (bad data, an error).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promoted => "promoted",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

/// What a job is asked to do.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub id: String,
    /// Data beyond the configured baseline (partitions), oldest first.
    pub data: Vec<String>,
    /// What asked for it (the webhook's reason, or `run`).
    pub trigger: Value,
    /// The daemon's window range (`{"from", "to"}`; null for `retrain run`).
    pub windows: Value,
}

/// A finished job.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub outcome: Outcome,
    pub version: Option<u64>,
    pub reasons: Vec<String>,
    pub report: Value,
    /// The new version's training profile, on promotion.
    pub profile_path: Option<PathBuf>,
}

/// The job's `report.json`, built as it goes.
struct Report {
    path: PathBuf,
    value: Value,
    log: Box<dyn FnMut(&str) + Send>,
}

impl Report {
    fn step(&mut self, name: &str, status: &str, seconds: f64, detail: Value) {
        (self.log)(&format!("{name}: {status}"));
        self.value["steps"]
            .as_array_mut()
            .expect("steps is an array")
            .push(json!({"step": name, "status": status, "seconds": seconds, "detail": detail}));
        self.save();
    }

    fn save(&self) {
        let text = serde_json::to_string_pretty(&self.value).expect("serialisable");
        if let Err(e) = write_atomic(&self.path, text.as_bytes()) {
            tracing::error!("cannot write {}: {e}", self.path.display());
        }
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs `request` under `config`; `log` receives one line per event.
pub fn run(
    config: &JobConfig,
    request: &JobRequest,
    log: Box<dyn FnMut(&str) + Send>,
) -> Result<JobResult, RetrainJobError> {
    let work = config.registry.join("jobs").join(&request.id);
    std::fs::create_dir_all(&work).map_err(|source| RetrainJobError::Io {
        path: work.display().to_string(),
        source,
    })?;
    let mut report = Report {
        path: work.join("report.json"),
        value: json!({
            "job": request.id, "model": config.model, "trigger": request.trigger,
            "started_at": now_rfc3339(), "steps": [],
        }),
        log,
    };
    report.save();
    let result = steps(config, request, &work, &mut report);
    let (outcome, version, reasons, profile_path) = match &result {
        Ok(r) => (r.0, r.1, r.2.clone(), r.3.clone()),
        Err(e) => {
            (report.log)(&format!("failed: {e}"));
            (Outcome::Failed, None, vec![e.to_string()], None)
        }
    };
    report.value["outcome"] = json!(outcome.as_str());
    report.value["version"] = json!(version);
    report.value["reasons"] = json!(reasons);
    report.value["finished_at"] = json!(now_rfc3339());
    report.save();
    if let Some(v) = version {
        // The version's copy, with the outcome (the registry's record).
        let path = ModelRegistry::new(&config.registry, &config.model)
            .version_dir(v)
            .join("report.json");
        let text = serde_json::to_string_pretty(&report.value).expect("serialisable");
        write_atomic(&path, text.as_bytes()).map_err(|source| RetrainJobError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    result.map(|_| JobResult {
        outcome,
        version,
        reasons,
        report: report.value,
        profile_path,
    })
}

type Steps = (Outcome, Option<u64>, Vec<String>, Option<PathBuf>);

fn steps(
    config: &JobConfig,
    request: &JobRequest,
    work: &Path,
    report: &mut Report,
) -> Result<Steps, RetrainJobError> {
    let schema_bytes = std::fs::read(&config.schema).map_err(|source| RetrainJobError::Io {
        path: config.schema.display().to_string(),
        source,
    })?;
    let schema =
        crate::schema::load(&config.schema).map_err(|e| RetrainJobError::Data(e.to_string()))?;
    let label = config.train.label.as_str();

    // 1. Assemble.
    let started = Instant::now();
    let (data, outside) =
        within_lookback(&request.data, config.lookback_seconds, chrono::Utc::now());
    let mut inputs: Vec<String> = config
        .baseline
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    inputs.extend(data);
    let (loaded, mut assembly) =
        assemble(&inputs, &schema, label, config.request_id_column.as_deref())?;
    assembly.outside_lookback = outside;
    let assembled = work.join("assembled.parquet");
    write_parquet(&loaded.batch, &assembled)?;
    report.step(
        "assemble",
        "ok",
        started.elapsed().as_secs_f64(),
        serde_json::to_value(&assembly).expect("serialisable"),
    );

    // 2. Validate before training.
    let started = Instant::now();
    let assembled_input = vec![assembled.display().to_string()];
    let columns: Vec<&str> = assembly.columns.iter().map(String::as_str).collect();
    let profile = profile_inputs(
        &assembled_input,
        &ProfileRequest {
            profile: ProfileOptions {
                slices: applicable_slices(&schema, &columns),
                ..ProfileOptions::default()
            },
            ..ProfileRequest::default()
        },
        |_, _| {},
    )?;
    let findings = schema_anomalies(&profile, &schema, config.environment.as_deref());
    let mut validation = ValidationReport {
        schema: Some(SchemaOutcome {
            file: config.schema.display().to_string(),
            environment: config.environment.clone(),
            rows: profile.rows,
            findings,
        }),
        suite: None,
    };
    let mut suites = Vec::new();
    let mut suites_ok = true;
    for path in &config.suites {
        let suite =
            crate::expectations::load(path).map_err(|e| RetrainJobError::Data(e.to_string()))?;
        let result =
            crate::expectations::validate_suite(&assembled_input, &ReadOptions::default(), &suite)
                .map_err(|e| RetrainJobError::Data(e.to_string()))?;
        suites_ok &= result.success;
        suites.push(
            json!({"suite": path.display().to_string(), "success": result.success,
                           "result": serde_json::to_value(&result).unwrap_or(Value::Null)}),
        );
        validation.suite = Some(result);
    }
    let schema_ok = !validation
        .schema
        .as_ref()
        .is_some_and(|s| has_errors(&s.findings));
    let schema_json = {
        let mut v = validation.clone();
        v.suite = None;
        v.to_json()
    };
    let valid = schema_ok && suites_ok;
    report.step(
        "validate",
        if valid { "ok" } else { "failed" },
        started.elapsed().as_secs_f64(),
        json!({"success": valid, "schema": schema_json, "suites": suites}),
    );
    if !valid {
        let mut reasons =
            vec!["the assembled data failed validation: no training on bad data".to_string()];
        if let Some(s) = &validation.schema {
            reasons.extend(
                s.findings
                    .iter()
                    .filter(|f| f.severity == crate::checks::Severity::Error)
                    .map(|f| match &f.feature {
                        Some(feature) => format!("schema: `{feature}`: {}", f.explanation),
                        None => format!("schema: {}", f.explanation),
                    }),
            );
        }
        if !suites_ok {
            reasons.push("an expectation suite failed".into());
        }
        return Ok((Outcome::Rejected, None, reasons, None));
    }

    // 3. Train.
    let started = Instant::now();
    let mut challenger = train::train(
        &schema,
        &train::sha256_hex(&schema_bytes),
        &loaded,
        &config.train,
    )?;
    report.step(
        "train",
        "ok",
        started.elapsed().as_secs_f64(),
        json!({"model": challenger.card.model, "layers": challenger.card.layers,
               "fit": challenger.card.training.fit, "lineage": challenger.card.lineage}),
    );

    // 4. Evaluate challenger and champion on the same holdout.
    let started = Instant::now();
    let (_, holdout) = split_holdout(&loaded.batch, config.train.holdout_share)?;
    let registry = ModelRegistry::new(&config.registry, &config.model);
    let champion_pointer = registry.champion()?;
    let challenger_quality = challenger
        .card
        .holdout
        .clone()
        .ok_or_else(|| RetrainJobError::Data("the holdout is empty".into()))?;
    let challenger_disparities = disparities(&challenger, &holdout, &config.sensitive)?;
    let mut champion_eval = None;
    let mut champion_error = None;
    if let Some(pointer) = &champion_pointer {
        let dir = registry.version_dir(pointer.version);
        let evaluated = SavedModel::load(&dir).and_then(|m| {
            let q = evaluate(&m, &holdout, "the holdout")?;
            let d = disparities(&m, &holdout, &config.sensitive)?;
            Ok((q, d))
        });
        match evaluated {
            Ok(e) => champion_eval = Some(e),
            Err(e) => champion_error = Some(format!("champion v{}: {e}", pointer.version)),
        }
    }
    let evaluated = json!({
        "holdout_rows": holdout.num_rows(),
        "challenger": {"metrics": challenger_quality.summary.metrics, "disparities": challenger_disparities},
        "champion": champion_eval.as_ref().map(|(q, d)| json!({
            "version": champion_pointer.as_ref().map(|c| c.version),
            "metrics": q.summary.metrics, "disparities": d})),
        "champion_error": champion_error,
    });
    report.step(
        "evaluate",
        if champion_error.is_some() {
            "failed"
        } else {
            "ok"
        },
        started.elapsed().as_secs_f64(),
        evaluated.clone(),
    );

    // 5. Gate.
    let has_champion = champion_pointer.is_some();
    let decision = match &champion_error {
        Some(e) => Decision {
            promote: false,
            reasons: vec![format!(
                "the champion could not be evaluated on the holdout: {e}"
            )],
            checks: Vec::new(),
            prediction_schema: None,
        },
        None => {
            let mut checks = Vec::new();
            for g in &config.gate_metrics {
                let champion = champion_eval
                    .as_ref()
                    .and_then(|(q, _)| q.summary.metrics.get(&g.name));
                let challenger = challenger_quality.summary.metrics.get(&g.name);
                checks.push(gate::check(g, "metric", challenger, champion, has_champion));
            }
            for g in &config.gate_disparities {
                let champion = champion_eval.as_ref().and_then(|(_, d)| d.get(&g.name));
                let challenger = challenger_disparities.get(&g.name);
                checks.push(gate::check(
                    g,
                    "disparity",
                    challenger,
                    champion,
                    has_champion,
                ));
            }
            gate::decide(checks, has_champion)
        }
    };
    let predictions = challenger.predict(&holdout, "the holdout")?;
    let decision = decision.with_prediction_schema(check_predictions(
        &schema,
        challenger.card.target.task(),
        &predictions,
    ));
    report.step(
        "gate",
        if decision.promote {
            "promote"
        } else {
            "reject"
        },
        0.0,
        serde_json::to_value(&decision).expect("serialisable"),
    );
    report.value["gate"] = serde_json::to_value(&decision).expect("serialisable");

    // 6. Register (every trained challenger; only a promoted one is champion).
    let started = Instant::now();
    let (train_part, _) = split_holdout(&loaded.batch, config.train.holdout_share)?;
    let training_metrics = evaluate(&challenger, &train_part, "the training split")?;
    let days: Vec<_> = inputs.iter().filter_map(|p| partition_date(p)).collect();
    challenger.card.retrain = Some(RetrainRecord {
        job: request.id.clone(),
        trigger: request.trigger.clone(),
        data: json!({
            "windows": request.windows,
            "partition_days": {
                "from": days.iter().min().map(|d| d.to_string()),
                "to": days.iter().max().map(|d| d.to_string()),
            },
            "lookback_seconds": config.lookback_seconds,
            "assembly": assembly,
            "train_rows": challenger.card.lineage.train_rows,
            "holdout_rows": challenger.card.lineage.holdout_rows,
        }),
        training_metrics: serde_json::to_value(&training_metrics.summary.metrics)
            .expect("serialisable"),
        holdout: evaluated,
        gate: serde_json::to_value(&decision).expect("serialisable"),
    });
    let staging = registry.staging(&request.id)?;
    challenger.save(&staging)?;
    let profile_json = profile_io::to_json(&profile);
    let profile_path = staging.join("train.profile.json");
    write_atomic(&profile_path, profile_json.as_bytes()).map_err(|source| RetrainJobError::Io {
        path: profile_path.display().to_string(),
        source,
    })?;
    let version = registry.register(&request.id, &staging)?;
    let mut promoted = false;
    if decision.promote {
        let already = champion_pointer
            .as_ref()
            .is_some_and(|c| c.version == version);
        if !already {
            registry.set_champion(&Champion {
                version,
                job: request.id.clone(),
                promoted_at: now_rfc3339(),
            })?;
        }
        promoted = true;
    }
    report.step(
        "register",
        "ok",
        started.elapsed().as_secs_f64(),
        json!({"version": version, "dir": registry.version_dir(version).display().to_string(),
               "champion": promoted, "champion_before": champion_pointer.map(|c| c.version)}),
    );
    let outcome = if promoted {
        Outcome::Promoted
    } else {
        Outcome::Rejected
    };
    let profile_path = promoted.then(|| registry.version_dir(version).join("train.profile.json"));
    Ok((outcome, Some(version), decision.reasons, profile_path))
}

/// Fairness disparities of `model`'s predictions on `holdout` over the
/// `sensitive` columns (empty without them).
fn disparities(
    model: &SavedModel,
    holdout: &RecordBatch,
    sensitive: &[String],
) -> Result<Metrics, train::TrainError> {
    if sensitive.is_empty() {
        return Ok(Metrics::default());
    }
    let target = &model.card.target;
    let prediction = model.predict(holdout, "the holdout")?;
    let mut columns = Vec::new();
    for name in std::iter::once(target.label().to_string()).chain(sensitive.iter().cloned()) {
        let column = holdout.column_by_name(&name).ok_or_else(|| {
            train::TrainError::Schema(format!("no column `{name}` in the holdout"))
        })?;
        columns.push((name, column.clone()));
    }
    columns.push(("prediction".into(), prediction.prediction.clone()));
    columns.extend(prediction.scores.iter().cloned());
    let batch = RecordBatch::try_from_iter(columns)?;
    let mut spec = quality_spec(target);
    spec.sensitive = sensitive.to_vec();
    let mut acc = FairnessAccumulator::new(&spec, target.task())?;
    acc.update(&batch)?;
    Ok(acc.finish().disparities.values)
}

fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<(), RetrainJobError> {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props))
        .map_err(|e| RetrainJobError::Data(e.to_string()))?;
    writer
        .write(batch)
        .and_then(|_| writer.close().map(|_| ()))
        .map_err(|e| RetrainJobError::Data(e.to_string()))?;
    write_atomic(path, &bytes).map_err(|source| RetrainJobError::Io {
        path: path.display().to_string(),
        source,
    })
}
