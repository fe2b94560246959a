//! The sidecar daemon (`assay serve`): HTTP ingest into per-model windows,
//! checks when a window closes, Prometheus metrics, crash-safe state.
//!
//! - [`config`]: the TOML configuration (`assay check-config`).
//! - `app`: routes, authentication, limits, the window timer.
//! - `body`: ingest bodies gathered into buffers kept between requests.
//! - `model`: one watched model — baseline, schema, suites, the open
//!   window, what a window close computes and writes.
//! - `closer`: each model's closer thread, which checks, reports and
//!   publishes closed windows off the request path.
//! - `wal`: the open window's write-ahead log (nothing acknowledged is lost
//!   to a `kill -9`).
//! - `state`: atomic files, the window index.
//! - `metrics`: the Prometheus registry.
//! - `spool`: ingest of files dropped into a directory.

mod alerting;
mod app;
mod baseline;
pub(crate) mod bearer;
mod body;
mod closer;
pub mod config;
mod data;
mod demo;
mod demo_retrain;
mod durable;
mod labels;
mod memory;
mod metric_labels;
mod metrics;
pub mod model;
mod priority;
mod retrain;
mod rollup;
mod spool;
pub mod state;
#[cfg(test)]
mod test_model;
mod wal;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Semaphore;

pub use app::{AppState, router};
pub use metrics::Metrics;
pub use model::{ModelRuntime, ServerError};
pub use state::{WindowInfo, WindowState};
pub use wal::{Wal, WalHeader};

use body::BodyPool;
use config::ServeConfig;

/// Capacity the daemon keeps in ingest body buffers between requests
/// (`body`): four Arrow IPC bodies of 10,000 rows × 30 features (2.4 MB
/// each) with room to spare, or a dozen 1,000-row JSON bodies of 100
/// features.
const BODY_POOL_BYTES: usize = 16 << 20;

/// Work to start once the daemon is ready (the demo's replayer).
pub type OnReady = Box<dyn FnOnce(Arc<AppState>) + Send>;

/// Runs the daemon until SIGTERM or Ctrl-C. Binds first (so `/healthz`
/// answers at once), loads every model's baseline, then turns ready.
pub fn run(config: ServeConfig) -> Result<(), ServerError> {
    run_with(config, None)
}

/// `assay demo`: the daemon with the demo's configuration
/// (`examples/demo/assay.toml`), its replayer (see `demo`) and a retrain
/// receiver the first drift calls (see `demo_retrain`). The state
/// starts empty: in `state_dir` when given (missing or empty), else in the
/// configuration's `state_dir`, emptied first.
pub fn run_demo(
    listen: Option<std::net::SocketAddr>,
    state_dir: Option<std::path::PathBuf>,
) -> Result<(), ServerError> {
    let mut config = demo::demo_config()?;
    if let Some(listen) = listen {
        ServeConfig::check_listen(listen, &config.auth).map_err(ServerError::State)?;
        config.listen = listen;
    }
    config.state_dir = demo::fresh_state_dir(&config, state_dir).map_err(ServerError::State)?;
    tracing::info!(
        "demo: {}; metrics on http://{}/metrics, windows on /v1/windows, reports on /v1/reports/latest and in {}",
        demo::DEMO_CONFIG,
        config.listen,
        config.state_dir.display()
    );
    demo_retrain::start(&mut config)?;
    run_with(
        config,
        Some(Box::new(|state| demo::replay(state, demo::BATCH_INTERVAL))),
    )
}

/// [`run`], calling `on_ready` (on a blocking thread) once ready.
pub fn run_with(config: ServeConfig, on_ready: Option<OnReady>) -> Result<(), ServerError> {
    memory::limit_malloc_arenas();
    // Starts rayon's global pool on this thread, at the default priority.
    // Started lazily by a window close on the closer thread (nice 5, see
    // `priority`), the threads that decode and profile every batch would
    // inherit the lower priority.
    let _ = rayon::current_num_threads();
    let token = match &config.auth.token {
        Some(source) => Some(source.read().map_err(ServerError::State)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServerError::State(format!("starting the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| ServerError::State(format!("binding {}: {e}", config.listen)))?;
        let metrics = Metrics::new();
        let alerts = alerting::start(&config, &metrics, &tokio::runtime::Handle::current())?;
        let state = Arc::new(AppState {
            models: OnceLock::new(),
            default_model: config
                .default_model
                .clone()
                .or_else(|| config.models.first().map(|m| m.name.clone()))
                .unwrap_or_default(),
            model_names: config.models.iter().map(|m| m.name.clone()).collect(),
            metrics,
            limiter: Arc::new(Semaphore::new(config.limits.queue_depth)),
            queue_depth: config.limits.queue_depth,
            max_batch_rows: config.limits.max_batch_rows,
            token,
            protect_metrics: config.auth.protect_metrics,
            bodies: BodyPool::new(BODY_POOL_BYTES),
            max_body_bytes: config.limits.max_body_bytes,
            stopping: std::sync::atomic::AtomicBool::new(false),
            alerts,
            retrain: OnceLock::new(),
        });
        state
            .metrics
            .queue_capacity
            .set(config.limits.queue_depth as i64);
        state.metrics.models_configured(&state.model_names);
        let app = router(state.clone());
        tracing::info!(listen = %config.listen, "listening");
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
        });
        let loaded = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || load_models(&config))
                .await
                .map_err(|e| ServerError::State(e.to_string()))??
        };
        // The retrain policies, once the models (their data and labels) are
        // loaded, before the first close is told to them.
        let retrain_metrics = retrain::RetrainMetrics::register(state.metrics.registry());
        let parts = loaded
            .iter()
            .map(|(name, r)| {
                let parts = r
                    .lock()
                    .map(|g| (g.data(), g.quality()))
                    .unwrap_or((None, None));
                (name.clone(), parts)
            })
            .collect();
        let retrain = retrain::Retrain::start(&config, &retrain_metrics, &parts)
            .map_err(ServerError::State)?
            .map(Arc::new);
        if let Some(r) = &retrain {
            r.spawn_deliveries(&tokio::runtime::Handle::current());
            let _ = state.retrain.set(r.clone());
        }
        let spooled = config.spool.as_ref().map(|s| {
            s.model
                .clone()
                .unwrap_or_else(|| state.default_model.clone())
        });
        for (name, runtime) in &loaded {
            if let Ok(runtime) = runtime.lock() {
                state.metrics.model_loaded(
                    name,
                    runtime.totals(),
                    runtime.open_window_rows(),
                    &runtime.spec().check_plan(),
                    spooled.as_deref() == Some(name),
                );
                if runtime.quality().is_some() {
                    state
                        .metrics
                        .quality
                        .model_configured(name, &state.metrics.findings);
                }
                // Closes are counted and logged by the closer thread. A weak
                // reference: the models (in the state) own the hook.
                let (weak, model) = (Arc::downgrade(&state), name.clone());
                runtime.on_close(Arc::new(move |closed| {
                    if let Some(state) = weak.upgrade() {
                        app::record_close(&state, &model, closed);
                        if let Some(alerts) = &state.alerts {
                            alerting::window_closed(alerts, closed);
                        }
                        if let Some(policy) = state.retrain.get().and_then(|r| r.models.get(&model))
                        {
                            policy.window_closed(closed);
                        }
                    }
                }));
            }
        }
        // The windows that closed while the alerts were not told, before
        // any new one closes.
        if let Some(alerts) = &state.alerts {
            for (name, runtime) in &loaded {
                alerting::catch_up(alerts, name, runtime);
            }
            alerts.recovered();
        }
        let _ = state.models.set(loaded);
        state.metrics.ready.set(1);
        tracing::info!("ready");
        let background = on_ready.map(|f| {
            let ready_state = state.clone();
            tokio::task::spawn_blocking(move || f(ready_state))
        });
        let timer = tokio::spawn(app::window_timer(state.clone()));
        let quality_timer = tokio::spawn(labels::http::refresh_timer(state.clone()));
        let data_timer = tokio::spawn(data::http::label_timer(state.clone()));
        let retrain_timer = retrain.map(|r| tokio::spawn(retrain::timer(r)));
        let spool = config.spool.clone().map(|spool| {
            tokio::spawn(spool::watch(
                state.clone(),
                spool,
                state.default_model.clone(),
            ))
        });
        let served = server.await;
        // The replayer ingests like a client: it stops before the models
        // finish their background work.
        state
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(b) = background {
            let _ = b.await;
        }
        timer.abort();
        quality_timer.abort();
        data_timer.abort();
        if let Some(t) = retrain_timer {
            t.abort();
        }
        if let Some(s) = spool {
            s.abort();
        }
        // Every in-flight batch has been answered: let each model's closer
        // publish the closes still queued, then its state writer and its
        // rollups write what is queued.
        if let Some(models) = state.models.get() {
            for runtime in models.values() {
                if let Ok(mut runtime) = runtime.lock() {
                    runtime.finish_background();
                }
            }
        }
        // Then the alerts evaluate those closes and queue their
        // notifications; undelivered ones wait in the outbox.
        if let Some(alerts) = &state.alerts {
            alerts.shutdown();
        }
        match served {
            Ok(Ok(())) => {
                tracing::info!("stopped");
                Ok(())
            }
            Ok(Err(e)) => Err(ServerError::State(format!("serving: {e}"))),
            Err(e) => Err(ServerError::State(format!("serving: {e}"))),
        }
    })
}

fn load_models(
    config: &ServeConfig,
) -> Result<BTreeMap<String, Arc<Mutex<ModelRuntime>>>, ServerError> {
    let mut out = BTreeMap::new();
    for model in &config.models {
        let runtime = ModelRuntime::load(model, &config.state_dir)?;
        for note in &runtime.notes {
            tracing::warn!(model = %model.name, "{note}");
        }
        out.insert(model.name.clone(), Arc::new(Mutex::new(runtime)));
    }
    Ok(out)
}

/// SIGTERM or Ctrl-C: stop accepting, let in-flight batches finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: draining in-flight batches");
}
