//! The daemon's Prometheus metrics. Names follow Prometheus conventions:
//! `assay_` prefix, base units (seconds, ratios 0–1), `_total` counters, and
//! only low-cardinality labels (`model`, `feature`, `slice`, `check`,
//! `method`, `kind`, `severity`, `reason`).

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use super::metric_labels;
use crate::checks::Finding;
use crate::checks::compare::{ComparisonReport, FeatureComparison, Verdict};
use crate::profile::{ColumnProfile, Profile};
use crate::schema::Domain;

pub struct Metrics {
    registry: Registry,
    pub rows_ingested: IntCounterVec,
    pub batches_ingested: IntCounterVec,
    pub batches_rejected: IntCounterVec,
    pub ingest_latency: HistogramVec,
    pub window_close_duration: HistogramVec,
    pub queue_depth: IntGauge,
    pub queue_capacity: IntGauge,
    pub window_rows: IntGaugeVec,
    pub window_closes: IntCounterVec,
    pub findings: IntCounterVec,
    pub missing_ratio: GaugeVec,
    pub out_of_domain_ratio: GaugeVec,
    pub drift_score: GaugeVec,
    pub drift_threshold: GaugeVec,
    pub drifted: GaugeVec,
    pub dataset_drifted_share: GaugeVec,
    pub prediction_quantile: GaugeVec,
    pub labels_received: IntCounterVec,
    pub spool_files: IntCounterVec,
    pub ready: IntGauge,
    /// Labels joined to predictions, quality and fairness (`server::labels`).
    pub quality: super::labels::metrics::QualityMetrics,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("unique metric");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric");
    g
}

impl Metrics {
    /// The series of the configured models that need nothing loaded,
    /// at 0 from the start: rejections by reason (a batch refused while
    /// the daemon recovers is counted as `not_ready`) and labels received.
    pub fn models_configured(&self, models: &[String]) {
        for model in models {
            for reason in metric_labels::REJECT_REASONS {
                self.batches_rejected.with_label_values(&[model, reason]);
            }
            self.labels_received.with_label_values(&[model]);
        }
    }

    /// A model's series once it is loaded: the counters the state
    /// directory keeps (rows, batches and window closes survive restarts),
    /// and, at 0, findings by check, kind and severity (the plan says which
    /// checks run, `metric_labels` which kinds each reports), spool
    /// outcomes (`spool`: the spool feeds this model), and the latency
    /// histograms. Rejections and findings start again at 0 after a
    /// restart, which `rate()` and `increase()` read as a reset.
    ///
    /// Called after the model's recovery, not before: a counter restored
    /// after it had been exported at 0 would look like a burst of rows.
    pub fn model_loaded(
        &self,
        model: &str,
        totals: super::state::Totals,
        open_rows: u64,
        plan: &super::model::CheckPlan,
        spool: bool,
    ) {
        self.rows_ingested
            .with_label_values(&[model])
            .inc_by(totals.rows);
        self.batches_ingested
            .with_label_values(&[model])
            .inc_by(totals.batches);
        self.window_closes
            .with_label_values(&[model])
            .inc_by(totals.windows);
        self.window_rows
            .with_label_values(&[model])
            .set(open_rows as i64);
        for (check, kind, severity) in metric_labels::finding_labels(plan) {
            self.findings
                .with_label_values(&[model, check, &kind, severity]);
        }
        if spool {
            for outcome in metric_labels::SPOOL_OUTCOMES {
                self.spool_files.with_label_values(&[model, outcome]);
            }
        }
        self.ingest_latency.with_label_values(&[model]);
        self.window_close_duration.with_label_values(&[model]);
    }

    /// Rejections of requests for models this daemon does not watch, at 0
    /// from the start (they need no loaded model).
    fn unknown_model_series(&self) {
        for reason in metric_labels::UNKNOWN_MODEL_REASONS {
            self.batches_rejected
                .with_label_values(&[metric_labels::UNKNOWN_MODEL, reason]);
        }
    }

    // The metric definitions are constants: `expect` here can only fail on a
    // programming error (a duplicate or malformed name), caught by the tests.
    pub fn new() -> Self {
        let registry = Registry::new();
        let ingest_latency = HistogramVec::new(
            HistogramOpts::new(
                "assay_ingest_latency_seconds",
                "Time to decode, check and log one batch.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["model"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(ingest_latency.clone()))
            .expect("unique metric");
        let window_close_duration = HistogramVec::new(
            HistogramOpts::new(
                "assay_window_close_duration_seconds",
                "Time to close a window: its profile, the checks and the report (files are synced afterwards, off the close).",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["model"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(window_close_duration.clone()))
            .expect("unique metric");
        let queue_depth = IntGauge::new(
            "assay_queue_depth",
            "Batches being processed (a full queue answers 429).",
        )
        .expect("valid metric");
        registry
            .register(Box::new(queue_depth.clone()))
            .expect("unique metric");
        let queue_capacity = IntGauge::new(
            "assay_queue_capacity",
            "Batches that may be in flight at once ([limits] queue_depth).",
        )
        .expect("valid metric");
        registry
            .register(Box::new(queue_capacity.clone()))
            .expect("unique metric");
        let ready =
            IntGauge::new(
            "assay_ready",
            "1 once every model is loaded and its state recovered (reads of recovered state answer 503 until then).",
        ).expect("valid metric");
        registry
            .register(Box::new(ready.clone()))
            .expect("unique metric");
        let window_rows = IntGaugeVec::new(
            Opts::new("assay_window_rows", "Rows in the open window."),
            &["model"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(window_rows.clone()))
            .expect("unique metric");
        #[cfg(target_os = "linux")]
        {
            let process = prometheus::process_collector::ProcessCollector::for_self();
            // Registration fails only if registered twice.
            let _ = registry.register(Box::new(process));
        }
        let metrics = Self {
            rows_ingested: counter(
                &registry,
                "assay_rows_ingested_total",
                "Rows accepted.",
                &["model"],
            ),
            batches_ingested: counter(
                &registry,
                "assay_batches_ingested_total",
                "Batches accepted.",
                &["model"],
            ),
            batches_rejected: counter(
                &registry,
                "assay_batches_rejected_total",
                "Batches refused, by reason (malformed, too_large, queue_full, unauthorized, not_ready, internal; unknown_model without a model label).",
                &["model", "reason"],
            ),
            window_closes: counter(
                &registry,
                "assay_window_closes_total",
                "Windows closed.",
                &["model"],
            ),
            findings: counter(
                &registry,
                "assay_findings_total",
                "Findings, by kind and severity (check = batch_schema | batch_expectations | window_schema | window_expectations | skew | drift).",
                &["model", "check", "kind", "severity"],
            ),
            missing_ratio: gauge(
                &registry,
                "assay_feature_missing_ratio",
                "Share of missing values per feature in the last closed window.",
                &["model", "feature"],
            ),
            out_of_domain_ratio: gauge(
                &registry,
                "assay_feature_out_of_domain_ratio",
                "Share of values outside the schema's domain in the last closed window.",
                &["model", "feature"],
            ),
            drift_score: gauge(
                &registry,
                "assay_feature_drift_score",
                "Drift or skew statistic of the last closed window (check = skew | drift).",
                &["model", "feature", "slice", "check", "method"],
            ),
            drift_threshold: gauge(
                &registry,
                "assay_feature_drift_threshold",
                "The threshold the drift score is compared with.",
                &["model", "feature", "slice", "check", "method"],
            ),
            drifted: gauge(
                &registry,
                "assay_feature_drifted",
                "1 when the feature drifted (skewed) in the last closed window, else 0.",
                &["model", "feature", "slice", "check"],
            ),
            dataset_drifted_share: gauge(
                &registry,
                "assay_dataset_drifted_share",
                "Share of checked features that drifted in the last closed window.",
                &["model", "slice", "check"],
            ),
            prediction_quantile: gauge(
                &registry,
                "assay_prediction_quantile",
                "Quantiles of the model's predictions in the last closed window.",
                &["model", "feature", "quantile"],
            ),
            labels_received: counter(
                &registry,
                "assay_labels_received_total",
                "Ground-truth labels received.",
                &["model"],
            ),
            spool_files: counter(
                &registry,
                "assay_spool_files_total",
                "Spool files processed, by outcome (done | failed).",
                &["model", "outcome"],
            ),
            ingest_latency,
            window_close_duration,
            queue_depth,
            queue_capacity,
            window_rows,
            ready,
            quality: super::labels::metrics::QualityMetrics::new(&registry),
            registry,
        };
        metrics.unknown_model_series();
        metrics
    }

    /// The registry, for metrics defined elsewhere (the alerts').
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding plain metric families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn count_findings(&self, model: &str, check: &str, findings: &[Finding]) {
        for f in findings {
            self.findings
                .with_label_values(&[model, check, f.kind.as_str(), f.severity.as_str()])
                .inc();
        }
    }

    /// Failed expectations, by expectation type (severity `error`).
    pub fn count_failed_expectations<'a>(
        &self,
        model: &str,
        check: &str,
        failed_types: impl IntoIterator<Item = &'a str>,
    ) {
        for kind in failed_types {
            self.findings
                .with_label_values(&[model, check, kind, "error"])
                .inc();
        }
    }

    /// Per-feature data-quality gauges of a closed window.
    pub fn window_quality(
        &self,
        model: &str,
        profile: &Profile,
        schema: Option<&crate::schema::Schema>,
    ) {
        for c in &profile.columns {
            let rows = (c.count + c.null_count).max(1) as f64;
            let missing = (c.null_count + c.nan_count.unwrap_or(0)) as f64 / rows;
            self.missing_ratio
                .with_label_values(&[model, &c.name])
                .set(missing);
            if let Some(ratio) = schema.and_then(|s| out_of_domain(c, s)) {
                self.out_of_domain_ratio
                    .with_label_values(&[model, &c.name])
                    .set(ratio);
            }
            if c.role == crate::profile::ColumnRole::Prediction
                && let Some(q) = &c.quantiles
            {
                for (p, v) in q {
                    self.prediction_quantile
                        .with_label_values(&[model, &c.name, p])
                        .set(*v);
                }
            }
        }
    }

    /// Scores and verdicts of a comparison (check = "skew" or "drift").
    pub fn comparison(&self, model: &str, check: &str, report: &ComparisonReport) {
        let set = |slice: &str, f: &FeatureComparison| {
            let method = f.method.as_str();
            if let Some(s) = f.statistic {
                self.drift_score
                    .with_label_values(&[model, &f.name, slice, check, method])
                    .set(s);
            }
            self.drift_threshold
                .with_label_values(&[model, &f.name, slice, check, method])
                .set(f.threshold);
            if matches!(f.verdict, Verdict::Drift | Verdict::NoDrift) {
                self.drifted
                    .with_label_values(&[model, &f.name, slice, check])
                    .set(if f.drifted { 1.0 } else { 0.0 });
            }
        };
        for f in report.features.iter().chain(&report.predictions) {
            set("", f);
        }
        for s in &report.slices {
            for f in s.features.iter().chain(&s.predictions) {
                set(&s.slice, f);
            }
        }
        self.dataset_drifted_share
            .with_label_values(&[model, "", check])
            .set(report.dataset.share);
        for s in &report.slices {
            self.dataset_drifted_share
                .with_label_values(&[model, &s.slice, check])
                .set(s.dataset.share);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Share of non-null values outside a string feature's domain (exact
/// counts only).
fn out_of_domain(c: &ColumnProfile, schema: &crate::schema::Schema) -> Option<f64> {
    let domain = schema.feature(&c.name)?.domain.as_ref()?;
    let top = c.top.as_ref()?;
    if c.top_exact != Some(true) || c.count == 0 {
        return None;
    }
    let outside: u64 = top
        .iter()
        .filter(|v| match domain {
            Domain::Strings(values) => !values.iter().any(|d| d == &v.value),
            Domain::Ints(values) => !v.value.parse::<i64>().is_ok_and(|x| values.contains(&x)),
        })
        .map(|v| v.count)
        .sum();
    Some(outside as f64 / c.count as f64)
}
