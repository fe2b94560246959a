//! `ingest_bytes`, the work behind the ingest route and the spool.

use std::sync::Mutex;

use arrow::ipc::MetadataVersion;
use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;

use super::ingest_bytes;
use crate::server::config::WindowPolicy;
use crate::server::model::ModelRuntime;
use crate::server::test_model::{self, batch};
use crate::sources::payload::Cores;

const ARROW: &str = "application/vnd.apache.arrow.stream";

/// `batch` as an IPC stream with 8-byte alignment (pyarrow's), which the
/// log's own encoding (64) does not reproduce.
fn stream(batch: &RecordBatch) -> Bytes {
    let mut out = Vec::new();
    let options = IpcWriteOptions::try_new(8, false, MetadataVersion::V5).unwrap();
    let mut writer =
        StreamWriter::try_new_with_options(&mut out, &batch.schema(), options).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
    Bytes::from(out)
}

/// An Arrow body with the model's schema goes into the log as it came (no
/// second encoding); a body the model must convert is encoded. A restart
/// replays both into the window.
#[test]
fn an_arrow_body_with_the_models_schema_is_logged_as_it_came_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_model::config(
        dir.path(),
        WindowPolicy {
            rows: None,
            seconds: Some(3600),
            keep: 10,
        },
    );
    let state = dir.path().join("state");
    let runtime = Mutex::new(ModelRuntime::load(&config, &state).unwrap());
    let as_is = stream(&batch(300, 0.0));
    // `x` as Float32: converted to the model's Float64, so encoded again.
    let converted = {
        let b = batch(200, 0.0);
        let x = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Float32).unwrap();
        RecordBatch::try_from_iter([("x", x), ("c", b.column(1).clone())]).unwrap()
    };
    let converted = stream(&converted);
    for body in [&as_is, &converted] {
        ingest_bytes(&runtime, ARROW, body, usize::MAX, Cores::One).unwrap();
    }
    let windows = runtime.lock().unwrap().windows();
    drop(runtime);

    let log = std::fs::read(state.join("models/m/open.wal")).unwrap();
    let holds = |body: &Bytes| log.windows(body.len()).any(|w| w == &body[..]);
    assert!(holds(&as_is), "the body is in the log as it came");
    assert!(!holds(&converted), "a converted body is encoded again");

    let restarted = ModelRuntime::load(&config, &state).unwrap();
    assert!(restarted.notes.is_empty(), "{:?}", restarted.notes);
    assert_eq!(restarted.windows(), windows);
    assert_eq!(windows.last().map(|w| w.rows), Some(500));
}
