//! The loop end to end on loopback, every part real: the daemon (`assay
//! serve`) fires a manual retrain → signed webhook → `assay retrain serve`
//! verifies and stores it → the job trains on the daemon's baseline data,
//! passes the gate and registers v1 → the result callback ends the retrain
//! in flight → the training profile replaces the daemon's baseline.

#[path = "common/daemon.rs"]
mod daemon;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daemon::{Daemon, agent, free_port, path_of};
use serde_json::Value;

const SECRET: &str = "e2e-hook-secret";

struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get_json(url: &str) -> Value {
    let mut r = agent().get(url).call().unwrap();
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null)
}

#[test]
fn daemon_webhook_job_callback_and_new_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("hook.secret"), format!("{SECRET}\n")).unwrap();
    let receiver_port = free_port();
    let receiver = format!("http://127.0.0.1:{receiver_port}");

    // The daemon: manual retrains to the receiver.
    let daemon_config = d.join("assay.toml");
    std::fs::write(
        &daemon_config,
        format!(
            "[models.credit]\nbaseline = \"{}\"\n\n[models.credit.checks]\nper_batch = []\n\
             per_window = [\"skew\"]\n\n[models.credit.retrain]\non = [\"manual\"]\n\
             url = \"{receiver}/v1/webhook\"\nsecret_file = \"hook.secret\"\n",
            path_of("examples/data/train.parquet")
        ),
    )
    .unwrap();
    let state = d.join("state");
    let daemon = Daemon::start(&daemon_config, &state);

    // The receiver: trains on the daemon's baseline data, posts back.
    let receiver_config = d.join("retrain.toml");
    std::fs::write(
        &receiver_config,
        format!(
            "registry = \"registry\"\nmodel = \"credit\"\nlabel = \"label\"\nschema = \"{}\"\n\
             [gate]\nmetrics = {{ roc_auc = 0.0 }}\n\
             [serve]\nsecret_file = \"hook.secret\"\ndaemon_url = \"{}\"\n",
            path_of("examples/demo/schema.toml"),
            daemon.base
        ),
    )
    .unwrap();
    let log = d.join("receiver.log");
    let _receiver = Receiver(
        Command::new(env!("CARGO_BIN_EXE_assay"))
            .args(["retrain", "serve", "--config"])
            .arg(&receiver_config)
            .args(["--listen", &format!("127.0.0.1:{receiver_port}")])
            .env_remove("ASSAY_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !agent()
        .get(format!("{receiver}/healthz"))
        .call()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "receiver not ready");
        std::thread::sleep(Duration::from_millis(50));
    }

    let (status, fired) = daemon.post("/v1/models/credit/retrain", "application/json", b"{}", None);
    assert_eq!(status, 202, "{fired}");
    let delivery = fired["delivery_id"].as_str().unwrap().to_string();

    // The job, stored under the delivery id, runs to its end.
    let deadline = Instant::now() + Duration::from_secs(300);
    let job = loop {
        let job = get_json(&format!("{receiver}/v1/jobs/{delivery}"));
        let state = job["state"].as_str().unwrap_or("");
        if !state.is_empty()
            && state != "queued"
            && state != "running"
            && !job["callback"].is_null()
        {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "job never finished: {job}\n{}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(job["state"], "promoted", "{job}");
    assert_eq!(job["version"], 1);
    assert_eq!(job["callback"]["callback"]["status"], 200, "{job}");
    assert_eq!(
        job["callback"]["callback"]["body"]["was_in_flight"], true,
        "{job}"
    );
    assert_eq!(job["callback"]["baseline"]["status"], 200, "{job}");

    // The daemon: no retrain in flight, the training profile is its baseline.
    let retrain = daemon.get_json("/v1/models/credit/retrain");
    assert!(retrain["in_flight"].is_null(), "{retrain}");
    // The promoted version is the champion the next webhook names.
    let champion = &retrain["champion"];
    assert_eq!(champion["version"], 1, "{retrain}");
    assert_eq!(champion["source"], "result");
    assert!(
        champion["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("registry/models/credit/versions/1")),
        "{retrain}"
    );
    assert!(champion["metrics"]["roc_auc"].is_number(), "{retrain}");
    let kept = state.join("models/credit/baseline.profile.json");
    assert!(kept.is_file());
    let posted: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("registry/models/credit/versions/1/train.profile.json"))
            .unwrap(),
    )
    .unwrap();
    let now_used: Value = serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    assert_eq!(now_used["rows"], posted["rows"]);
    assert!(
        daemon.log().contains("baseline replaced"),
        "{}",
        daemon.log()
    );
    assert!(Path::new(&d.join("registry/models/credit/champion")).is_file());
}
