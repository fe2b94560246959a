//! The quality and label metrics, registered in the daemon's registry
//! (`server::metrics`). Gauges show the newest window with labels; the
//! `slice` label is `""` for the whole window, and `group` names a fairness
//! group as its slice name (`sex=F`, `race=b,sex=F`). Slices and groups are
//! the values of the configured slice and sensitive columns only.

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::WindowQuality;

pub struct QualityMetrics {
    pub model_quality: GaugeVec,
    pub model_quality_lower: GaugeVec,
    pub model_quality_upper: GaugeVec,
    pub model_quality_estimated: GaugeVec,
    pub model_quality_estimated_lower: GaugeVec,
    pub model_quality_estimated_upper: GaugeVec,
    pub label_coverage: GaugeVec,
    pub labels_pending: IntGaugeVec,
    pub labels_joined: IntCounterVec,
    pub labels_unmatched: IntCounterVec,
    pub fairness_rate: GaugeVec,
    pub fairness_rate_lower: GaugeVec,
    pub fairness_rate_upper: GaugeVec,
    pub fairness_disparity: GaugeVec,
}

/// Reasons a label is not joined.
pub const UNMATCHED_REASONS: &[&str] = &["unknown", "expired", "duplicate"];

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric");
    g
}

impl QualityMetrics {
    // Constant definitions: `expect` fails only on a programming error.
    pub fn new(registry: &Registry) -> Self {
        let quality_labels = &["model", "metric", "slice"];
        let labels_joined =
            IntCounterVec::new(Opts::new("assay_labels_joined_total", "Labels joined to their prediction (a label replacing an earlier one, with duplicates = \"last\", included)."), &["model"])
                .expect("valid metric");
        registry
            .register(Box::new(labels_joined.clone()))
            .expect("unique metric");
        let labels_unmatched = IntCounterVec::new(
            Opts::new(
                "assay_labels_unmatched_total",
                "Labels not joined: unknown request id, expired (after label_ttl), duplicate (duplicates = \"first\").",
            ),
            &["model", "reason"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(labels_unmatched.clone()))
            .expect("unique metric");
        let labels_pending = IntGaugeVec::new(
            Opts::new(
                "assay_labels_pending",
                "Predictions waiting for their label (within label_ttl).",
            ),
            &["model"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(labels_pending.clone()))
            .expect("unique metric");
        Self {
            model_quality: gauge(
                registry,
                "assay_model_quality",
                "Realized quality of the newest window with labels (slice \"\" is the whole window).",
                quality_labels,
            ),
            model_quality_lower: gauge(
                registry,
                "assay_model_quality_lower",
                "Lower bound of the 95% interval of assay_model_quality.",
                quality_labels,
            ),
            model_quality_upper: gauge(
                registry,
                "assay_model_quality_upper",
                "Upper bound of the 95% interval of assay_model_quality.",
                quality_labels,
            ),
            model_quality_estimated: gauge(
                registry,
                "assay_model_quality_estimated",
                "Quality estimated from the scores alone (CBPE) for the same window.",
                &["model", "metric"],
            ),
            model_quality_estimated_lower: gauge(
                registry,
                "assay_model_quality_estimated_lower",
                "Lower bound of the 95% band of assay_model_quality_estimated.",
                &["model", "metric"],
            ),
            model_quality_estimated_upper: gauge(
                registry,
                "assay_model_quality_estimated_upper",
                "Upper bound of the 95% band of assay_model_quality_estimated.",
                &["model", "metric"],
            ),
            label_coverage: gauge(
                registry,
                "assay_label_coverage",
                "Share of the newest labelled window's predictions that have their label.",
                &["model"],
            ),
            labels_pending,
            labels_joined,
            labels_unmatched,
            fairness_rate: gauge(
                registry,
                "assay_fairness_rate",
                "A fairness group's rate (selection_rate, tpr, fpr, ...) in the newest window with labels.",
                &["model", "group", "rate"],
            ),
            fairness_rate_lower: gauge(
                registry,
                "assay_fairness_rate_lower",
                "Lower bound of the 95% Wilson interval of assay_fairness_rate.",
                &["model", "group", "rate"],
            ),
            fairness_rate_upper: gauge(
                registry,
                "assay_fairness_rate_upper",
                "Upper bound of the 95% Wilson interval of assay_fairness_rate.",
                &["model", "group", "rate"],
            ),
            fairness_disparity: gauge(
                registry,
                "assay_fairness_disparity",
                "Disparities between the judged groups (Fairlearn's names) in the newest window with labels.",
                &["model", "disparity"],
            ),
        }
    }

    /// The series of a model with `[quality]`, at 0 from the start.
    /// The findings counter's quality and fairness series too.
    pub fn model_configured(&self, model: &str, findings: &IntCounterVec) {
        self.labels_joined.with_label_values(&[model]);
        for reason in UNMATCHED_REASONS {
            self.labels_unmatched.with_label_values(&[model, reason]);
        }
        self.labels_pending.with_label_values(&[model]);
        self.label_coverage.with_label_values(&[model]);
        for (check, kinds) in [
            ("quality", &crate::quality::compare::QUALITY_KINDS[..]),
            ("fairness", &crate::quality::compare::FAIRNESS_KINDS[..]),
        ] {
            for kind in kinds {
                let severity = match kind {
                    crate::checks::FindingKind::LabelDrift => "warning",
                    _ => "error",
                };
                findings.with_label_values(&[model, check, kind.as_str(), severity]);
            }
        }
    }

    pub fn pending(&self, model: &str, pending: u64) {
        self.labels_pending
            .with_label_values(&[model])
            .set(pending as i64);
    }

    /// Publishes a window's quality.
    pub fn window(&self, model: &str, w: &WindowQuality) {
        self.label_coverage
            .with_label_values(&[model])
            .set(w.label_coverage);
        let summaries = std::iter::once(("", &w.quality.summary)).chain(
            w.quality
                .slices
                .iter()
                .map(|s| (s.slice.as_str(), &s.summary)),
        );
        for (slice, summary) in summaries {
            for (metric, value) in summary.metrics.iter() {
                let Some(value) = value else { continue };
                self.model_quality
                    .with_label_values(&[model, metric, slice])
                    .set(value);
                if let Some([lo, hi]) = summary.intervals.get(metric) {
                    self.model_quality_lower
                        .with_label_values(&[model, metric, slice])
                        .set(*lo);
                    self.model_quality_upper
                        .with_label_values(&[model, metric, slice])
                        .set(*hi);
                }
            }
        }
        if let Some(e) = &w.estimated {
            for (metric, value) in e.metrics.iter() {
                let Some(value) = value else { continue };
                self.model_quality_estimated
                    .with_label_values(&[model, metric])
                    .set(value);
                if let Some([lo, hi]) = e.intervals.get(metric) {
                    self.model_quality_estimated_lower
                        .with_label_values(&[model, metric])
                        .set(*lo);
                    self.model_quality_estimated_upper
                        .with_label_values(&[model, metric])
                        .set(*hi);
                }
            }
        }
        if let Some(f) = &w.fairness {
            for g in &f.by_group {
                let key: Vec<(String, Option<String>)> = g
                    .group
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let group = crate::quality::report::key_name(&key);
                for (rate, value) in g.metrics.iter() {
                    let Some(value) = value else { continue };
                    self.fairness_rate
                        .with_label_values(&[model, &group, rate])
                        .set(value);
                    if let Some([lo, hi]) = g.ci.get(rate) {
                        self.fairness_rate_lower
                            .with_label_values(&[model, &group, rate])
                            .set(*lo);
                        self.fairness_rate_upper
                            .with_label_values(&[model, &group, rate])
                            .set(*hi);
                    }
                }
            }
            for (name, value) in f.disparities.values.iter() {
                let Some(value) = value else { continue };
                self.fairness_disparity
                    .with_label_values(&[model, name])
                    .set(value);
            }
        }
    }
}
