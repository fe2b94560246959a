//! Runs the examples in `examples/` and checks what they produce.
//!
//! `cargo test --all-targets` compiles examples as test harnesses, not as the
//! programs themselves, so each example is built here with `cargo build
//! --example` (a no-op when it is fresh) and run from `target/<profile>/examples`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Serialises the nested `cargo build` calls of tests that run in parallel.
static BUILD: Mutex<()> = Mutex::new(());

/// Builds example `name` with the cargo that runs this test and returns the
/// path of its executable.
fn example_binary(name: &str) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo build --example");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // This test executable is target/<profile>/deps/examples-<hash>.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

#[test]
fn generate_data_reproduces_the_committed_example_data() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(example_binary("generate_data"))
        .arg("--out-dir")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    for file in ["train.parquet", "train.csv", "serving.parquet"] {
        let fresh = std::fs::read(out.path().join(file)).unwrap();
        let saved = std::fs::read(committed.join(file)).unwrap();
        assert!(
            fresh == saved,
            "{file}: the seeded generator no longer reproduces the committed file"
        );
    }
}

#[test]
fn generate_data_injects_faults_that_the_profile_sees() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(example_binary("generate_data"))
        .args(["--only", "serving", "--null-rate", "age=0.5", "--out-dir"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let profile = assay::pipeline::profile_inputs(
        &[out.path().join("serving.parquet").display().to_string()],
        &Default::default(),
        |_, _| {},
    )
    .unwrap();
    let age = profile.column("age").unwrap();
    let null_share = age.null_count as f64 / profile.rows as f64;
    assert!(
        (0.45..0.56).contains(&null_share),
        "age null share {null_share}"
    );
    assert!(
        profile.column("label").is_none(),
        "serving data has no label"
    );
}

#[test]
fn generate_bench_data_writes_a_profilable_table() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("bench.parquet");
    let status = Command::new(example_binary("generate_bench_data"))
        .args(["--rows", "5000", "-o"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let profile = assay::pipeline::profile_inputs(
        &[file.display().to_string()],
        &Default::default(),
        |_, _| {},
    )
    .unwrap();
    assert_eq!(profile.rows, 5000);
    assert!(profile.columns.len() >= 20);
}

#[test]
fn loadgen_drives_the_daemon_and_reports_throughput() {
    // A short run against the debug binary: checks the example works end to
    // end (the figures in BENCHMARKS.md come from release builds).
    let out = Command::new(example_binary("loadgen"))
        .args(["--assay", env!("CARGO_BIN_EXE_assay")])
        .args([
            "--rows",
            "200",
            "--features",
            "9",
            "--clients",
            "2",
            "--seconds",
            "2",
        ])
        .args(["--window-rows", "2000"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("rows/s") && stdout.contains("p99"),
        "{stdout}"
    );
    let arrow = Command::new(example_binary("loadgen"))
        .args(["--assay", env!("CARGO_BIN_EXE_assay"), "--format", "arrow"])
        .args([
            "--rows",
            "200",
            "--features",
            "9",
            "--clients",
            "1",
            "--seconds",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        arrow.status.success(),
        "{}",
        String::from_utf8_lossy(&arrow.stderr)
    );
}
