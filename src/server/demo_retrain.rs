//! The demo's retrain loop: `assay demo` starts a retrain receiver (what
//! `assay retrain serve` runs, on a thread of the demo's process, on a free
//! loopback port: it ends with the demo, however the demo ends) and points the
//! daemon's `[models.credit.retrain]` at it. Drift in the faulted half of
//! the first round fires a retrain (the cooldown keeps it to one) → signed
//! webhook → the receiver trains on the example training data, gates (no
//! champion yet: the first candidate is promoted as v1) → result callback
//! → the training profile is posted as the daemon's new baseline.
//!
//! Everything lives under the demo's state directory (`retrain/`): the
//! webhook secret (random per run, passed by file, never logged), the
//! receiver's `retrain.toml` and its registry.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use super::config::{RetrainConfig, ServeConfig, Trigger};
use super::model::ServerError;
use crate::alerts::config::SecretSource;

/// The demo's schema and training data (relative to the repository root).
const SCHEMA: &str = "examples/demo/schema.toml";
/// One retrain per demo run: the cooldown outlasts any demo.
const COOLDOWN_SECONDS: u64 = 24 * 3600;

fn state_error(what: &str, path: &Path, e: std::io::Error) -> ServerError {
    ServerError::State(format!("demo: {what} {}: {e}", path.display()))
}

/// A free loopback port: bound by the OS, then released for the child.
fn free_port() -> Result<u16, ServerError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| ServerError::State(format!("demo: no free loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| ServerError::State(format!("demo: no free loopback port: {e}")))
}

/// 32 random bytes, hex: the webhook's HMAC key.
fn random_secret() -> Result<String, ServerError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServerError::State(format!("demo: no randomness for the secret: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_secret(path: &Path, secret: &str) -> Result<(), ServerError> {
    std::fs::write(path, format!("{secret}\n")).map_err(|e| state_error("writing", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| state_error("restricting", path, e))?;
    }
    Ok(())
}

fn absolute(relative: &str) -> Result<PathBuf, ServerError> {
    std::path::absolute(relative).map_err(|e| ServerError::State(format!("demo: {relative}: {e}")))
}

/// The receiver's `retrain.toml`: the default model's label, the demo's
/// schema, a gate any first candidate passes (there is no champion to
/// beat), and the daemon to post the new baseline to.
fn receiver_toml(model: &str, label: &str, daemon: SocketAddr) -> Result<String, ServerError> {
    let schema = absolute(SCHEMA)?;
    let quote = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    Ok(format!(
        "registry = \"registry\"\nmodel = {}\nlabel = {}\nschema = {}\n\n\
         [gate]\nmetrics = {{ roc_auc = 0.0 }}\n\n\
         [serve]\nsecret_file = \"hook.secret\"\ndaemon_url = \"http://{daemon}\"\n",
        toml::Value::String(model.to_string()),
        toml::Value::String(label.to_string()),
        quote(&schema),
    ))
}

/// Starts the receiver and configures the default model's retrain to call
/// it on drift. `config.state_dir` must already be the run's (fresh) one.
pub fn start(config: &mut ServeConfig) -> Result<(), ServerError> {
    let daemon = config.listen;
    let model = config
        .models
        .first_mut()
        .ok_or_else(|| ServerError::State("demo: the config has no model".into()))?;
    let label = model
        .quality
        .as_ref()
        .and_then(|q| q.label.clone())
        .ok_or_else(|| ServerError::State("demo: the model has no [quality] label".into()))?;
    let dir = config.state_dir.join("retrain");
    std::fs::create_dir_all(&dir).map_err(|e| state_error("creating", &dir, e))?;
    let secret_file = dir.join("hook.secret");
    write_secret(&secret_file, &random_secret()?)?;
    let receiver_config = dir.join("retrain.toml");
    std::fs::write(
        &receiver_config,
        receiver_toml(&model.name, &label, daemon)?,
    )
    .map_err(|e| state_error("writing", &receiver_config, e))?;

    let job_config = crate::retrain::config::load(&receiver_config)
        .map_err(|e| ServerError::State(format!("demo: {e}")))?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    // Its own runtime, its own /metrics; the log is the demo's.
    std::thread::Builder::new()
        .name("retrain-receiver".into())
        .spawn(move || {
            if let Err(e) = crate::retrain::serve::run(job_config, Some(listen)) {
                tracing::error!("demo: the retrain receiver stopped: {e}");
            }
        })
        .map_err(|e| ServerError::State(format!("demo: starting the retrain receiver: {e}")))?;

    model.retrain = Some(RetrainConfig {
        on: vec![Trigger::Drift],
        // `age` and `income` drift where each round's faults begin.
        min_drifted_features: 2,
        features: Vec::new(),
        consecutive_windows: 1,
        max_quality_drop: None,
        schedule: None,
        cooldown_seconds: COOLDOWN_SECONDS,
        timeout_seconds: 600,
        url: format!("{url}/v1/webhook"),
        secret: SecretSource::File(secret_file),
        callback_base_url: None,
        lookback_seconds: None,
        champion: None,
    });
    tracing::info!(
        "demo: retrain receiver on {url} (jobs on /v1/jobs, metrics on /metrics, registry {}); a drift of 2 features fires one retrain",
        dir.join("registry").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receiver_config_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retrain.toml");
        let daemon: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        std::fs::write(&path, receiver_toml("credit", "label", daemon).unwrap()).unwrap();
        std::fs::write(dir.path().join("hook.secret"), "s\n").unwrap();
        let config = crate::retrain::config::load(&path).unwrap();
        assert_eq!(config.model, "credit");
        assert_eq!(config.registry, dir.path().join("registry"));
    }

    #[test]
    fn secrets_differ_between_runs() {
        let (a, b) = (random_secret().unwrap(), random_secret().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
