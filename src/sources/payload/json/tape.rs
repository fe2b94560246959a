//! Row bodies read from simd-json's tape: the whole document parsed in one
//! SIMD pass into a flat list of nodes, walked here into the table.
//!
//! Why not the scanner alone: on the daemon's 1,000 × 30 bodies
//! (`benches/payload.rs`) the scanner's byte loops and the standard
//! library's float parser, which reads each number a second time, were most
//! of the decoding. simd-json parses numbers exactly (its approximate mode
//! is not enabled) and checks UTF-8 and control characters as serde_json
//! does.
//!
//! Like the scanner, this reads only what it is sure serde_json reads the
//! same way and gives up (`None`) on the rest — nested values, repeated
//! keys, numbers simd-json refuses where serde_json widens them to floats,
//! any syntax error — so that serde_json parses the body again, decides,
//! and words any error.

use std::borrow::Cow;
use std::cell::RefCell;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use simd_json::{Buffers, Node, StaticNode, Tape};

use super::super::PayloadError;
use super::super::cells::JsonCell;
use super::Table;

/// What one thread reuses from body to body: the copy simd-json parses in
/// place, its working buffers and the tape. Fresh ones for each body were
/// large allocations, so each came back from the kernel as new pages to
/// fault in and clear (perf on the daemon: about 5% of its CPU).
struct Scratch {
    body: Vec<u8>,
    buffers: Option<Buffers>,
    tape: Tape<'static>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch {
            body: Vec::new(),
            buffers: None,
            tape: Tape(Vec::new()),
        })
    };
}

/// The largest body read this way. The tape path needs about five times
/// the body (the copy, simd-json's aligned copy, string and index buffers,
/// the tape), which each thread keeps for the next body; so a thread holds
/// at most a few MiB between bodies (the daemon's decoding threads are at
/// most its queue depth, and idle ones exit). Larger bodies go to the
/// scanner, which needs only the columns: measured, 2.2 MB bodies read
/// with fresh tape buffers each time took the daemon's 10-minute soak (100
/// features, 2 clients) from 84 to 160 MiB.
const MAX_BYTES: usize = 1 << 20;

/// Reads a `[{...}, ...]` body into a batch; `None` where the tape path
/// gives up (serde_json then reads the body).
pub(super) fn rows(
    body: &[u8],
    expected: Option<&Schema>,
) -> Option<Result<RecordBatch, PayloadError>> {
    if body.len() > MAX_BYTES {
        return None;
    }
    SCRATCH.with(|cell| {
        // Nothing below decodes another body, so the scratch is free; if it
        // ever were not, the scanner and serde_json read the body instead.
        let mut scratch = cell.try_borrow_mut().ok()?;
        let Scratch {
            body: copy,
            buffers,
            tape,
        } = &mut *scratch;
        copy.clear();
        copy.extend_from_slice(body);
        let buffers = buffers.get_or_insert_with(|| Buffers::new(body.len()));
        let mut taped = std::mem::replace(tape, Tape(Vec::new())).reset();
        let batch = fill(copy, buffers, &mut taped, expected);
        *tape = taped.reset();
        batch
    })
}

/// Parses `buf` (which simd-json rewrites in place: strings are unescaped
/// into it) onto `tape` and walks it into a table.
fn fill<'de>(
    buf: &'de mut [u8],
    buffers: &mut Buffers,
    tape: &mut Tape<'de>,
    expected: Option<&Schema>,
) -> Option<Result<RecordBatch, PayloadError>> {
    let len = buf.len();
    simd_json::fill_tape(buf, buffers, tape).ok()?;
    let mut table = Table::new(len, expected);
    walk_rows(&tape.0, &mut table)?;
    Some(table.finish())
}

/// Fills `table` from the tape of a `[{...}, ...]` body.
fn walk_rows<'de>(tape: &[Node<'de>], table: &mut Table<'de, '_>) -> Option<()> {
    let mut nodes = tape.iter().copied();
    let Some(Node::Array { len: rows, .. }) = nodes.next() else {
        return None;
    };
    for _ in 0..rows {
        let Some(Node::Object { len: keys, .. }) = nodes.next() else {
            return None;
        };
        let row = table.rows;
        table.next = 0;
        for _ in 0..keys {
            let Some(Node::String(key)) = nodes.next() else {
                return None;
            };
            let column = table.slot(row, key)?;
            // Floats into Float64 columns and strings into Utf8 ones skip
            // the generic cell; `cell` gives what these append.
            let node = nodes.next()?;
            let pushed = match node {
                Node::Static(StaticNode::F64(f)) => column.push_float(f),
                Node::String(s) => column.push_str(s),
                _ => false,
            };
            if !pushed {
                column.push(cell(node)?);
            }
        }
        table.end_row().ok()?;
    }
    nodes.next().is_none().then_some(())
}

/// A scalar node as serde_json gives it to a visitor (`None` for arrays
/// and objects).
fn cell(node: Node<'_>) -> Option<JsonCell<'_>> {
    Some(match node {
        Node::String(s) => JsonCell::Str(Cow::Borrowed(s)),
        Node::Static(s) => match s {
            StaticNode::Null => JsonCell::Null,
            StaticNode::Bool(b) => JsonCell::Bool(b),
            // simd-json gives signed integers only for a leading minus, so
            // zero here was `-0`, which serde_json reads as a float.
            StaticNode::I64(0) => JsonCell::Float(-0.0),
            StaticNode::I64(i) => JsonCell::Int(i),
            StaticNode::U64(u) => i64::try_from(u).map_or(JsonCell::BigUint(u), JsonCell::Int),
            StaticNode::F64(f) => JsonCell::Float(f),
        },
        Node::Array { .. } | Node::Object { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json gives for one value (or `None` on its error).
    fn serde(text: &str) -> Option<JsonCell<'static>> {
        serde_json::from_str(text).ok()
    }

    /// What the tape gives for one value, `None` where it gives up.
    fn taped(text: &str) -> Option<JsonCell<'static>> {
        let mut buf = format!("[{text}]").into_bytes();
        let tape = simd_json::to_tape(&mut buf).ok()?;
        let node = tape.0.get(1).copied()?;
        (tape.0.len() == 2).then_some(())?;
        Some(match cell(node)? {
            JsonCell::Str(s) => JsonCell::Str(Cow::Owned(s.into_owned())),
            JsonCell::Null => JsonCell::Null,
            JsonCell::Bool(b) => JsonCell::Bool(b),
            JsonCell::Int(i) => JsonCell::Int(i),
            JsonCell::BigUint(u) => JsonCell::BigUint(u),
            JsonCell::Float(f) => JsonCell::Float(f),
            JsonCell::List(_) | JsonCell::Object => return None,
        })
    }

    fn same(text: &str) {
        if let Some(got) = taped(text) {
            let want = serde(text);
            assert_eq!(Some(&got), want.as_ref(), "{text}");
            if let (JsonCell::Float(a), Some(JsonCell::Float(b))) = (&got, &want) {
                assert_eq!(a.to_bits(), b.to_bits(), "{text}");
            }
        }
    }

    #[test]
    fn scalars_match_serde_json_or_give_up() {
        for text in [
            "0",
            "-0",
            "-0.0",
            "7",
            "-7",
            "1e2",
            "1E+2",
            "-1e-400",
            "1e400",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "123456789012345678901234",
            "1.7976931348623157e308",
            "2.2250738585072014e-308",
            "5e-324",
            "4.9406564584124654e-324",
            "0.30000000000000004",
            "00",
            "1.",
            ".5",
            "+1",
            "true",
            "false",
            "null",
            "\"plain\"",
            "\"caf\\u00e9 \\\"q\\\" \\n\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud800\"",
            "\"tab\there\"",
        ] {
            same(text);
        }
        // The cases that matter most are read, not given up on.
        assert_eq!(taped("-0"), Some(JsonCell::Float(-0.0)));
        assert_eq!(taped("-7"), Some(JsonCell::Int(-7)));
        assert_eq!(
            taped("9223372036854775808"),
            Some(JsonCell::BigUint(9_223_372_036_854_775_808))
        );
        assert_eq!(taped("\"a\\nb\""), Some(JsonCell::Str("a\nb".into())));
        // Raw control characters are errors in JSON strings.
        assert_eq!(taped("\"tab\there\""), None);
    }

    #[test]
    fn decimals_of_every_length_match_serde_json_bit_for_bit() {
        let mut read = 0;
        for text in super::super::super::scan::random_decimals(0x2545_F491_4F6C_DD1D, 200_000) {
            same(&text);
            read += usize::from(taped(&text).is_some());
        }
        // Nearly everything goes the fast way (leading zeros like `012`
        // are invalid JSON and fall back).
        assert!(read > 150_000, "read {read}");
    }
}
