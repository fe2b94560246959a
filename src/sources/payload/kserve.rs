//! Open Inference Protocol (KServe v2) inference requests and responses.
//!
//! Each tensor of `inputs` (request) or `outputs` (response) becomes columns:
//! - shape `[n]` or `[n, 1]`: one column named after the tensor, `n` rows;
//! - shape `[n, k, ...]` with more than one value per row: `k` (the product of
//!   the trailing dimensions) columns `{name}_0` .. `{name}_{k-1}`, values
//!   taken in row-major order; at most [`MAX_COLUMNS_PER_TENSOR`] per tensor;
//! - shape `[]` (a scalar): one column, one row.
//!
//! `data` may be flat or nested row-major arrays; it is flattened and its
//! length must equal the product of the shape. All tensors must have the same
//! number of rows. Types: `BOOL` → Boolean, `INT8`..`INT64` and
//! `UINT8`..`UINT64` → Int64, `FP16`/`FP32`/`FP64` → Float64, `BYTES` → Utf8
//! (JSON strings), unless the baseline schema knows the column. Tensors sent
//! in the binary extension (no `data`) are refused.
//!
//! The payload's `id` gives request ids: `{id}` for a single row, `{id}/{i}`
//! for row `i` when there are several.

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema};
use serde::Deserialize;

use super::cells::{Cell, build_as};
use super::json::{Where, json_error};
use super::{PayloadError, PayloadFormat, assemble, shorten};

/// The most columns one tensor may expand to (wider tensors — images,
/// embeddings — are not tabular features).
pub const MAX_COLUMNS_PER_TENSOR: usize = 1024;

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    inputs: Option<Vec<Tensor>>,
    #[serde(default)]
    outputs: Option<Vec<Tensor>>,
}

#[derive(Deserialize)]
struct Tensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    data: Option<Cell>,
}

const DATATYPES: &str =
    "BOOL, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, FP16, FP32, FP64, BYTES";

fn tensor_type(datatype: &str) -> Option<DataType> {
    Some(match datatype {
        "BOOL" => DataType::Boolean,
        "INT8" | "INT16" | "INT32" | "INT64" | "UINT8" | "UINT16" | "UINT32" | "UINT64" => {
            DataType::Int64
        }
        "FP16" | "FP32" | "FP64" => DataType::Float64,
        "BYTES" => DataType::Utf8,
        _ => return None,
    })
}

fn flatten(cell: Cell, out: &mut Vec<Cell>) {
    match cell {
        Cell::List(items) => {
            for item in items {
                flatten(item, out);
            }
        }
        other => out.push(other),
    }
}

fn tensor_error(tensor: &str, message: String) -> PayloadError {
    PayloadError::body(format!("tensor `{}`: {message}", shorten(tensor, 60)))
}

pub(super) fn decode(
    body: &[u8],
    format: PayloadFormat,
    expected: Option<&Schema>,
) -> Result<(RecordBatch, Option<Vec<String>>), PayloadError> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| json_error(&e, Where::Body))?;
    let (tensors, key) = match format {
        PayloadFormat::KserveResponse => (payload.outputs, "outputs"),
        _ => (payload.inputs, "inputs"),
    };
    let tensors = tensors.unwrap_or_default();
    if tensors.is_empty() {
        return Err(PayloadError::body(format!(
            "the KServe payload has no `{key}` tensors (no rows)"
        )));
    }
    let mut rows: Option<(usize, String)> = None;
    let mut columns = Vec::new();
    let mut names = std::collections::HashSet::new();
    for tensor in tensors {
        let name = tensor.name;
        let Some(default_type) = tensor_type(&tensor.datatype) else {
            return Err(PayloadError {
                expected: Some(DATATYPES.into()),
                ..tensor_error(
                    &name,
                    format!(
                        "unsupported datatype \"{}\" (accepted: {DATATYPES})",
                        shorten(&tensor.datatype, 20)
                    ),
                )
            });
        };
        if tensor.shape.iter().any(|d| *d < 0) {
            return Err(tensor_error(
                &name,
                format!("shape {:?} has a negative dimension", tensor.shape),
            ));
        }
        let dims: Vec<usize> = tensor.shape.iter().map(|d| *d as usize).collect();
        let n = dims.first().copied().unwrap_or(1);
        let width = dims
            .iter()
            .skip(1)
            .try_fold(1usize, |acc, d| acc.checked_mul(*d));
        let Some(width) = width.filter(|w| *w <= MAX_COLUMNS_PER_TENSOR) else {
            return Err(tensor_error(
                &name,
                format!(
                    "shape {:?} has more than {MAX_COLUMNS_PER_TENSOR} values per row",
                    tensor.shape
                ),
            ));
        };
        if width == 0 {
            return Err(tensor_error(
                &name,
                format!("shape {:?} has no values per row", tensor.shape),
            ));
        }
        let Some(data) = tensor.data else {
            return Err(tensor_error(
                &name,
                "has no `data` (the binary tensor extension is not supported)".into(),
            ));
        };
        let mut values = Vec::new();
        flatten(data, &mut values);
        if values.iter().any(|v| matches!(v, Cell::Object)) {
            return Err(tensor_error(&name, "`data` holds an object".into()));
        }
        let total = n.checked_mul(width);
        if total != Some(values.len()) {
            return Err(tensor_error(
                &name,
                format!(
                    "shape {:?} needs {} values, `data` has {}",
                    tensor.shape,
                    total.map_or_else(|| "too many".to_string(), |t| t.to_string()),
                    values.len()
                ),
            ));
        }
        match &rows {
            None => rows = Some((n, name.clone())),
            Some((m, first)) if *m != n => {
                return Err(tensor_error(
                    &name,
                    format!("has {n} rows, but tensor `{first}` has {m}"),
                ));
            }
            Some(_) => {}
        }
        let mut column_cells: Vec<(String, Vec<Cell>)> = if width == 1 {
            vec![(name.clone(), values)]
        } else {
            let mut split: Vec<(String, Vec<Cell>)> = (0..width)
                .map(|j| (format!("{name}_{j}"), Vec::with_capacity(n)))
                .collect();
            for (i, value) in values.into_iter().enumerate() {
                split[i % width].1.push(value);
            }
            split
        };
        for (column, cells) in column_cells.drain(..) {
            if !names.insert(column.clone()) {
                return Err(tensor_error(
                    &name,
                    format!("gives column `{column}`, which another tensor gives too"),
                ));
            }
            let target = expected
                .and_then(|s| s.field_with_name(&column).ok())
                .map(|f| f.data_type().clone())
                .unwrap_or_else(|| default_type.clone());
            let array = build_as(&cells, &column, &target)?;
            columns.push((column, array));
        }
    }
    let n = rows.map_or(0, |(n, _)| n);
    let ids = payload.id.map(|id| {
        if n == 1 {
            vec![id]
        } else {
            (0..n).map(|i| format!("{id}/{i}")).collect()
        }
    });
    Ok((assemble(columns, n)?, ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Field, Float64Type, Int64Type};

    fn request(body: &str) -> Result<(RecordBatch, Option<Vec<String>>), PayloadError> {
        decode(body.as_bytes(), PayloadFormat::KserveRequest, None)
    }

    #[test]
    fn request_columns_and_ids() {
        let (b, ids) = request(
            r#"{"id": "r1", "inputs": [
                {"name": "age", "shape": [2], "datatype": "INT64", "data": [31, 40]},
                {"name": "income", "shape": [2, 1], "datatype": "FP32", "data": [[1.5], [2]]},
                {"name": "sex", "shape": [2], "datatype": "BYTES", "data": ["F", "M"]},
                {"name": "vip", "shape": [2], "datatype": "BOOL", "data": [true, false]},
                {"name": "emb", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}
            ], "parameters": {"content_type": "pd"}}"#,
        )
        .unwrap();
        let names: Vec<_> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            ["age", "income", "sex", "vip", "emb_0", "emb_1", "emb_2"]
        );
        assert_eq!(b.column(0).data_type(), &DataType::Int64);
        assert_eq!(b.column(1).data_type(), &DataType::Float64);
        assert_eq!(b.column(2).data_type(), &DataType::Utf8);
        assert_eq!(b.column(3).data_type(), &DataType::Boolean);
        assert_eq!(
            b.column(5).as_primitive::<Float64Type>().values().to_vec(),
            vec![2.0, 5.0]
        );
        assert_eq!(ids, Some(vec!["r1/0".to_string(), "r1/1".to_string()]));
    }

    #[test]
    fn response_and_expected_types() {
        let body = r#"{"model_name": "credit", "id": "r9", "outputs": [
            {"name": "prediction", "shape": [1], "datatype": "FP32", "data": [1]}]}"#;
        let expected = Schema::new(vec![Field::new("prediction", DataType::Int64, true)]);
        let (b, ids) = decode(
            body.as_bytes(),
            PayloadFormat::KserveResponse,
            Some(&expected),
        )
        .unwrap();
        assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(ids, Some(vec!["r9".to_string()]));
        let (b, _) = decode(body.as_bytes(), PayloadFormat::KserveResponse, None).unwrap();
        assert_eq!(b.column(0).data_type(), &DataType::Float64);
        assert_eq!(b.column(0).len(), 1);
    }

    #[test]
    fn errors_name_the_tensor() {
        let e = request(
            r#"{"inputs": [{"name": "a", "shape": [3], "datatype": "INT64", "data": [1, 2]}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("tensor `a`"), "{e}");
        let e = request(
            r#"{"inputs": [{"name": "a", "shape": [2], "datatype": "INT64", "data": [1, 2]},
                          {"name": "b", "shape": [3], "datatype": "INT64", "data": [1, 2, 3]}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("tensor `b`: has 3 rows"), "{e}");
        let e = request(
            r#"{"inputs": [{"name": "a", "shape": [2], "datatype": "INT64", "data": [1, 2.5]}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 1, column `a`: expected an integer, found 2.5"
        );
        let e = request(
            r#"{"inputs": [{"name": "a", "shape": [1], "datatype": "COMPLEX", "data": [1]}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("COMPLEX"), "{e}");
        let e = request(r#"{"inputs": []}"#).unwrap_err();
        assert!(e.to_string().contains("no rows"), "{e}");
        let e = request(
            r#"{"inputs": [{"name": "a", "shape": [1, 100000], "datatype": "FP32", "data": []}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("values per row"), "{e}");
        let e = request(
            r#"{"inputs": [{"name": "a", "shape": [9223372036854775807, 9223372036854775807], "datatype": "FP32", "data": []}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("tensor `a`"), "{e}");
        let e = request(r#"{"inputs": [{"name": "a", "shape": [1]}]}"#).unwrap_err();
        assert!(e.to_string().contains("datatype"), "{e}");
        let b = request(
            r#"{"inputs": [{"name": "s", "shape": [], "datatype": "BYTES", "data": "x"}]}"#,
        )
        .unwrap()
        .0;
        assert_eq!(b.num_rows(), 1);
        assert!(b.column(0).is_valid(0));
    }
}
