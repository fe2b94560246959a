//! The alerts of a daemon without the daemon: `AlertService` on its own
//! runtime, with a config read from TOML the way `assay serve` reads it,
//! fed closed windows' findings directly. Include after `daemon` and
//! `alerts`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use assay::alerts::config::AlertCheck;
use assay::alerts::{AlertFinding, AlertMetrics, AlertService, WindowFindings, WindowRef};
use assay::checks::Severity;
use serde_json::json;

/// A running `AlertService` with its own metrics registry.
pub struct Service {
    pub service: AlertService,
    pub registry: prometheus::Registry,
    pub state: PathBuf,
    pub config: assay::server::config::ServeConfig,
    runtime: Option<tokio::runtime::Runtime>,
}

/// Reads `alerts` (TOML, an `[alerts]` section and its tables) as part of
/// a daemon config of the toy model, in `dir`.
pub fn config(dir: &Path, alerts: &str) -> assay::server::config::ServeConfig {
    let text = format!("{}\n{alerts}\n", super::alerts::toy_model(dir, 10));
    let path = dir.join("assay.toml");
    std::fs::write(&path, &text).unwrap();
    assay::server::config::parse(&text, &path).unwrap_or_else(|e| panic!("config:\n{e}"))
}

impl Service {
    pub fn start(dir: &Path, alerts: &str) -> Service {
        let config = config(dir, alerts);
        let state = dir.join("state");
        Self::start_with(config, &state)
    }

    pub fn start_with(config: assay::server::config::ServeConfig, state: &Path) -> Service {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let registry = prometheus::Registry::new();
        let (service, notes) = AlertService::start(
            config.alerts.as_ref().expect("an [alerts] section"),
            state,
            "http://assay.test:9464",
            &["toy".to_string()],
            AlertMetrics::register(&registry),
            runtime.handle(),
        )
        .unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        service.recovered();
        Service {
            service,
            registry,
            state: state.to_path_buf(),
            config,
            runtime: Some(runtime),
        }
    }

    /// Window `seq` of the toy model with these findings, evaluated.
    pub fn window(&self, seq: u64, findings: Vec<AlertFinding>) {
        self.service.window_closed(window(seq, findings));
        self.service.flush();
    }

    /// The value of a metric series (`name{labels}` as rendered), or 0.
    pub fn metric(&self, series: &str) -> f64 {
        let mut out = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &self.registry.gather(),
            &mut out,
        )
        .unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    }

    /// Stops the service (the outbox stays on disk).
    pub fn stop(mut self) {
        self.service.shutdown();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.service.shutdown();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

pub fn window(seq: u64, findings: Vec<AlertFinding>) -> WindowFindings {
    WindowFindings {
        window: WindowRef {
            model: "toy".into(),
            id: format!("toy-{seq:06}"),
            start: "2024-05-01T10:00:00.000Z".into(),
            end: "2024-05-01T10:01:00.000Z".into(),
        },
        seq,
        closed_ms: assay::alerts::now_ms(),
        findings,
        stream: Default::default(),
    }
}

/// A skew finding on `feature`.
pub fn skew(feature: &str) -> AlertFinding {
    AlertFinding {
        check: AlertCheck::Skew,
        kind: "feature_skew".into(),
        severity: Severity::Error,
        feature: Some(feature.into()),
        slice: None,
        observed: json!({"method": "wasserstein", "statistic": 0.52}),
        expected: json!({"method": "wasserstein", "threshold": 0.1}),
        explanation: format!("wasserstein 0.52 >= 0.1 on {feature}"),
    }
}
