#!/usr/bin/env python3
"""Writes the reference statistics that tests/exactness.rs checks `assay profile` against.

    pip install numpy pandas pyarrow
    python3 scripts/make_exactness_fixtures.py          # from the repository root

Made with Python 3.11.7, numpy 2.4.6, pandas 3.1.1 and pyarrow 26.0.1; the
versions used are also recorded in the output. Rerun it whenever
examples/data/train.parquet is regenerated.

Outputs, under tests/fixtures/exactness/:
- edge_cases.csv and edge_cases.parquet: the same small table of awkward
  values (nulls, NaN, +-inf, 1e15 next to 1e-12, negative zero, a column near
  1e6 whose spread is tiny, an all-null column, a constant column, a column
  with a single value, ints, strings with quotes, commas, unicode and empty
  strings, booleans). The values are generated here, so the expected
  statistics come from them, not from reading the files back.
- expected.json: per file and column, the statistics numpy/pandas compute.

Conventions (the contract of `assay profile --format json`):
- count = non-null values, NaN and +-inf included; nan_count, pos_inf_count
  and neg_inf_count separately; null_count = nulls.
- min, max, sum, mean, stddev (sample, ddof=1), zeros and negatives are over
  the finite values only. -0.0 counts as a zero, not as a negative.
- quantiles are numpy's method="inverted_cdf" over the finite values (the
  KLL sketch returns items of the data, as this method does), with each
  value's normalized rank interval [#(x < v) / n, #(x <= v) / n]. So that the
  test can find the true rank of whatever value the profile returns, each
  numeric column carries a rank helper: all sorted finite values when there
  are at most 2,000 of them, else the inverted_cdf quantiles at ranks k/1000,
  k = 0..1000 (1001 values; the test allows 1/1000 of extra slack for it).
- strings (and ints): distinct non-null values; `top`: every value whose
  count is larger than the 10th largest count, with its count;
  `top_boundary_count`: the 10th largest count; `top_ties`: the values with
  exactly that count when there are at most 50 of them.
- string lengths are in characters (Unicode code points).
- In CSV files an empty field is null (so an empty string cannot be written
  to CSV: train.csv's empty employer titles read back as nulls) and the text
  NaN, inf and -inf are float values.
"""

import csv
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "exactness"
TRAIN_PARQUET = "examples/data/train.parquet"
TRAIN_CSV = "examples/data/train.csv"
EDGE_CSV = "tests/fixtures/exactness/edge_cases.csv"
EDGE_PARQUET = "tests/fixtures/exactness/edge_cases.parquet"

PROBS = ["0.01", "0.25", "0.5", "0.75", "0.99"]
GRID_POINTS = 1000
SORTED_LIMIT = 2000
TOP_K = 10
TIES_LIMIT = 50


# ---------------------------------------------------------------------------
# The edge-case table


def edge_case_columns():
    """Column name -> (arrow type, list of Python values with None for null)."""
    rng = np.random.default_rng(20240501)
    n = 40

    mixed = [float(x) for x in np.round(rng.normal(3.0, 10.0, n), 6)]
    for i, v in [(1, None), (4, math.nan), (7, math.inf), (9, -math.inf), (12, -0.0),
                 (15, 0.0), (18, None), (21, math.nan), (25, 0.0), (30, -2.5)]:
        mixed[i] = v

    magnitude = [1e15, -1e15, 1e-12, 3.5e15, 2e-12, 123.456, -7e-12, 9.99e14, 5e-13, 1.0]
    magnitude = (magnitude * 4)[:n]
    magnitude[3] = None
    magnitude[33] = None

    # Values near 1e6 that differ only in the 7th digit: a naive
    # sum-of-squares variance loses most of its digits here.
    offset = [1e6 + float(x) for x in np.round(rng.uniform(0.0, 1.0, n), 9)]

    ints = [int(x) for x in rng.integers(-1000, 1000, n)]
    for i, v in [(0, 0), (3, None), (5, 123456789012), (6, -98765432109), (11, 0), (20, None)]:
        ints[i] = v

    words = ["alpha", "beta", "", "café", "日本語", 'say "hi", ok', "beta", "alpha", "alpha", " x "]
    strings = [words[int(i)] for i in rng.integers(0, len(words), n)]
    for i in (2, 13, 27):
        strings[i] = None

    bools = [bool(x) for x in rng.integers(0, 2, n)]
    for i in (5, 6, 31):
        bools[i] = None

    single = [None] * n
    single[17] = 42.5

    return {
        "f_mixed": (pa.float64(), mixed),
        "f_magnitude": (pa.float64(), magnitude),
        "f_offset": (pa.float64(), offset),
        "f_all_null": (pa.float64(), [None] * n),
        "f_constant": (pa.float64(), [7.25] * n),
        "f_single": (pa.float64(), single),
        "i_values": (pa.int64(), ints),
        "s_values": (pa.string(), strings),
        "b_values": (pa.bool_(), bools),
    }


def csv_text(value):
    """How a value is spelled in the edge-case CSV (empty = null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


def write_edge_cases(columns):
    OUT.mkdir(parents=True, exist_ok=True)
    names = list(columns)
    n = len(next(iter(columns.values()))[1])
    with open(ROOT / EDGE_CSV, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        w.writerow(names)
        for i in range(n):
            w.writerow([csv_text(columns[c][1][i]) for c in names])
    table = pa.table({c: pa.array(v, type=t) for c, (t, v) in columns.items()})
    pq.write_table(table, ROOT / EDGE_PARQUET, compression="zstd")


# ---------------------------------------------------------------------------
# Statistics


def fnum(x):
    """A JSON number (None for NaN, which JSON cannot hold)."""
    x = float(x)
    return None if math.isnan(x) else x


def inverted_cdf_index(p, n):
    """0-based index of numpy's inverted_cdf quantile at probability p."""
    return max(0, math.ceil(p * n - 1e-12) - 1) if p > 0 else 0


def numeric_stats(values, is_int):
    """values: list of non-null Python numbers."""
    arr = np.array(values, dtype=np.int64 if is_int else np.float64)
    as_float = arr.astype(np.float64)
    finite_mask = np.isfinite(as_float)
    finite = as_float[finite_mask]
    out = {
        "nan_count": int(np.isnan(as_float).sum()),
        "pos_inf_count": int(np.isposinf(as_float).sum()),
        "neg_inf_count": int(np.isneginf(as_float).sum()),
    }
    n = len(finite)
    if n == 0:
        out.update({k: None for k in ("min", "max", "sum", "mean", "stddev")})
        out.update({"zeros": 0, "negatives": 0, "abs_max": 0.0, "quantiles": None})
        return out
    ints = arr[finite_mask] if is_int else None
    out["min"] = float(ints.min()) if is_int else float(finite.min())
    out["max"] = float(ints.max()) if is_int else float(finite.max())
    # Ints are summed exactly; floats with numpy's pairwise summation.
    out["sum"] = float(int(ints.sum(dtype=object))) if is_int else float(np.sum(finite))
    out["mean"] = float(np.mean(finite))
    out["stddev"] = fnum(np.std(finite, ddof=1)) if n > 1 else None
    out["zeros"] = int((finite == 0).sum())
    out["negatives"] = int((finite < 0).sum())
    out["abs_max"] = float(np.max(np.abs(finite)))

    ordered = np.sort(finite)
    quantiles = {}
    for p in PROBS:
        v = float(np.quantile(finite, float(p), method="inverted_cdf"))
        assert v == ordered[inverted_cdf_index(float(p), n)], (p, v)
        lo = int(np.searchsorted(ordered, v, side="left"))
        hi = int(np.searchsorted(ordered, v, side="right"))
        quantiles[p] = {"value": v, "rank_lo": lo / n, "rank_hi": hi / n}
    out["quantiles"] = quantiles
    if n <= SORTED_LIMIT:
        out["rank_helper"] = {"sorted": [float(x) for x in ordered]}
    else:
        grid = [float(ordered[inverted_cdf_index(k / GRID_POINTS, n)])
                for k in range(GRID_POINTS + 1)]
        out["rank_helper"] = {"grid": grid}
    return out


def frequency_stats(texts):
    """texts: list of non-null values as strings."""
    counts = pd.Series(texts, dtype=object).value_counts()
    out = {"distinct": int(len(counts))}
    if len(counts) == 0:
        out.update({"top": [], "top_boundary_count": 0})
        return out
    boundary = int(sorted(counts.values, reverse=True)[min(TOP_K, len(counts)) - 1])
    above = counts[counts > boundary]
    out["top"] = [{"value": str(v), "count": int(c)}
                  for v, c in sorted(above.items(), key=lambda vc: (-vc[1], vc[0]))]
    out["top_boundary_count"] = boundary
    ties = sorted(str(v) for v in counts[counts == boundary].index)
    if len(ties) <= TIES_LIMIT:
        out["top_ties"] = ties
    return out


def string_stats(values):
    lengths = [len(s) for s in values]
    out = frequency_stats(values)
    out["empty_count"] = sum(1 for s in values if s == "")
    if lengths:
        out["length"] = {"min": min(lengths), "mean": float(np.mean(lengths)),
                         "max": max(lengths)}
    return out


def column_stats(name, kind, values):
    """kind: int | float | string | bool | timestamp | None (type not asserted)."""
    present = [v for v in values if v is not None]
    col = {"name": name, "type": kind, "count": len(present),
           "null_count": len(values) - len(present)}
    if kind in ("int", "float"):
        col.update(numeric_stats(present, kind == "int"))
        if kind == "int":
            col.update(frequency_stats([str(v) for v in present]))
    elif kind == "string":
        col.update(string_stats(present))
    elif kind == "bool":
        col["true_count"] = sum(1 for v in present if v)
        col["false_count"] = sum(1 for v in present if not v)
    elif kind == "timestamp" and present:
        col["min_iso"] = min(present).isoformat()
        col["max_iso"] = max(present).isoformat()
    return col


def arrow_kind(t):
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_timestamp(t):
        return "timestamp"
    raise ValueError(f"unexpected column type {t}")


def table_stats(table, csv_rules=False):
    cols = []
    for field in table.schema:
        kind = arrow_kind(field.type)
        values = table.column(field.name).to_pylist()
        if csv_rules and kind == "string":
            values = [None if v == "" else v for v in values]
        cols.append(column_stats(field.name, kind, values))
    return cols


def main():
    edge = edge_case_columns()
    write_edge_cases(edge)
    edge_table = pq.read_table(ROOT / EDGE_PARQUET)
    # The edge-case table as written: all-null columns have no type a CSV
    # reader could know, so their type is left open for the CSV file.
    edge_parquet = [column_stats(c, arrow_kind(t), v) for c, (t, v) in edge.items()]
    edge_csv = []
    for c, (t, v) in edge.items():
        kind = arrow_kind(t) if any(x is not None for x in v) else None
        if kind == "string":
            v = [None if x == "" else x for x in v]
        edge_csv.append(column_stats(c, kind, v))
    # The same column list read back must give the same values.
    assert edge_table.to_pydict().keys() == edge.keys()

    train = pq.read_table(ROOT / TRAIN_PARQUET)
    train_cols = table_stats(train)
    csv_cols = table_stats(train, csv_rules=True)
    # train.csv holds the same numbers, so its quantile rank helpers are the
    # parquet ones; drop the copies to keep the fixture small.
    for col in csv_cols:
        col.pop("rank_helper", None)

    doc = {
        "generated_by": "scripts/make_exactness_fixtures.py",
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "pandas": pd.__version__, "pyarrow": pa.__version__},
        "relative_tolerance": 1e-9,
        "rank_grid_points": GRID_POINTS,
        "files": [
            {"path": TRAIN_PARQUET, "rows": train.num_rows, "columns": train_cols},
            {"path": TRAIN_CSV, "rows": train.num_rows, "columns": csv_cols,
             "rank_helpers_from": TRAIN_PARQUET},
            {"path": EDGE_PARQUET, "rows": edge_table.num_rows, "columns": edge_parquet},
            {"path": EDGE_CSV, "rows": edge_table.num_rows, "columns": edge_csv},
        ],
    }
    text = json.dumps(doc, indent=1, allow_nan=False, ensure_ascii=False)
    (OUT / "expected.json").write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUT / 'expected.json'} ({len(text) / 1e3:.0f} kB)", file=sys.stderr)


if __name__ == "__main__":
    main()
