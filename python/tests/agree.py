"""Comparing two profiles of the same data made differently (other batch
boundaries, partitions, merge orders): what must be equal, what must agree
to rounding, and what must stay within the sketches' bounds."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

# Exact whatever the partitioning.
EXACT = (
    "type", "role", "count", "null_count", "nan_count", "pos_inf_count",
    "neg_inf_count", "min", "max", "zeros", "negatives", "empty_count",
    "true_count", "false_count", "min_text", "max_text", "length",
    "value_count",
)
# Moments: Chan's pairwise merge is order-independent up to rounding.
MOMENTS = ("mean", "variance", "stddev")


def close(a, b, rel=1e-11) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)


def assert_exact_and_moments(a: dict, b: dict, exact_sums: bool) -> None:
    assert a["rows"] == b["rows"]
    for ca, cb in zip(a["columns"], b["columns"], strict=True):
        name = ca["name"]
        assert ca["name"] == cb["name"]
        for key in EXACT:
            if key == "length" and ca.get(key) is not None:
                # min/max exact, mean to rounding.
                assert ca[key]["min"] == cb[key]["min"] and ca[key]["max"] == cb[key]["max"], name
                assert close(ca[key]["mean"], cb[key]["mean"]), name
                continue
            assert ca.get(key) == cb.get(key), (name, key, ca.get(key), cb.get(key))
        if exact_sums:
            assert ca.get("sum") == cb.get("sum"), (name, ca.get("sum"), cb.get("sum"))
        else:
            assert close(ca.get("sum"), cb.get("sum")), name
        for key in MOMENTS:
            assert close(ca.get(key), cb.get(key)), (name, key, ca.get(key), cb.get(key))
        if ca.get("distinct_exact") and cb.get("distinct_exact"):
            assert ca["distinct"] == cb["distinct"], name
        if ca.get("top_exact") and cb.get("top_exact"):
            assert ca["top"] == cb["top"], name


def assert_quantiles_within_bounds(column: dict, values: np.ndarray) -> None:
    """Every reported quantile's true rank in `values` is within the
    sketch's stated normalized rank error of its probability."""
    if not column.get("quantiles"):
        return
    eps = column["quantile_rank_error"]
    ordered = np.sort(values[~np.isnan(values)])
    n = len(ordered)
    for p, v in column["quantiles"].items():
        lo = np.searchsorted(ordered, v, side="left") / n
        hi = np.searchsorted(ordered, v, side="right") / n
        p = float(p)
        assert lo - eps <= p <= hi + eps, (column["name"], p, v, lo, hi, eps)


def assert_distinct_within_bounds(column: dict, true_distinct: int, rel: float = 0.05) -> None:
    estimate: Optional[float] = column.get("distinct")
    if estimate is None:
        return
    if column.get("distinct_exact"):
        assert estimate == true_distinct, column["name"]
    else:
        assert abs(estimate - true_distinct) <= rel * true_distinct, (column["name"], estimate, true_distinct)


def differences(x, y, path="") -> list[str]:
    """Where two JSON documents differ (path: left | right)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return [d for k in sorted(set(x) | set(y), key=str) for d in differences(x.get(k), y.get(k), f"{path}.{k}")]
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return [d for i, (u, v) in enumerate(zip(x, y)) for d in differences(u, v, f"{path}[{i}]")]
    return [] if x == y else [f"{path}: {str(x)[:60]} | {str(y)[:60]}"]


def assert_same(x, y) -> None:
    found = differences(x, y)
    assert not found, "\n".join(found[:20])
