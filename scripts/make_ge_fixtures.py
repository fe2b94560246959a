#!/usr/bin/env python3
"""Convert Great Expectations' own expectation test definitions into the
fixtures of tests/ge_conformance.rs (tests/fixtures/ge/).

Source: great_expectations 1.2.0, `tests/test_definitions/**/*.json`
(https://github.com/great-expectations/great_expectations), Copyright
Great Expectations contributors, Apache License 2.0. The fixtures are a
derived work of those files (data, arguments and expected outcomes are
theirs, re-encoded); tests/fixtures/ge/NOTICE says so.

Run from the repository root:

    python3 scripts/make_ge_fixtures.py [PATH-TO-GE-GIT-DIR]

The GE repository is read with `git show` at its HEAD (default:
/work/.mirror/great-expectations+great_expectations/repo, a checkout of the
1.2.0 release). Needs pandas < 2.2 (GE 1.2 pins `pandas<2.2`; the frames
are built as GE's test runner builds them, and pandas 2.2+ changes how some
columns are typed); the committed fixtures were made with pandas 2.1.4,
numpy 1.26.4 and pyarrow 16.1.

Which cases: those GE's own runner (tests/test_definitions/
test_expectations_v3_api.py) generates for the `pandas` backend, for the
expectations assay implements (src/expectations/kinds.rs, SUPPORTED).
Every other case is listed under `skipped` with the reason, and counted in
tests/fixtures/ge/summary.json.

How each case is encoded:
- The dataset is built with pandas exactly as GE's runner builds it
  (`pd.DataFrame(data)`, then the `pandas` schema when one is given) and
  each column is written with the Arrow type it maps to (int64, float64,
  utf8, boolean, timestamp[ns] with or without UTC, date32). NaN and None
  are written as null (both are missing in GE's pandas backend). An
  object column holding both numbers and strings has no Arrow type; it is
  written as text (what reading such a column from CSV gives), and an
  object column with no values at all as a text column of nulls.
- `kwargs` are the test's `in` with GE's runner defaults added:
  `result_format = {"result_format": "COMPLETE"}` unless the test sets one.
  The runner's extra `pk_index` column (GE adds it to map expectations'
  data to name unexpected rows) is not added: its value is the row's
  position, which is what assay reports in `unexpected_index_list`; the
  Rust test compares positions and values.
  Infinite numbers (GE writes bare `Infinity`, which strict JSON cannot
  hold) are written as the strings "Infinity" / "-Infinity", which is what
  assay's GE JSON reader turns bare Infinity tokens into.
- `out`, `exact_match_out`, `tolerance` are copied; `error` holds the
  substring GE expects in the traceback when the case must raise (the
  test's `error.traceback_substring`, or `out.traceback_substring`).
"""

import json
import math
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd

GE_REPO = "/work/.mirror/great-expectations+great_expectations/repo"
GE_VERSION = "1.2.0"
OUT = os.path.join("tests", "fixtures", "ge")
KINDS = os.path.join("src", "expectations", "kinds.rs")

# GE's runner skips these on pandas (`candidate_test_is_on_temporary_
# notimplemented_list_v3_api`, context "pandas").
GE_PANDAS_NOT_IMPLEMENTED = {
    "expect_table_row_count_to_equal_other_table",
    "expect_column_values_to_match_like_pattern",
    "expect_column_values_to_not_match_like_pattern",
    "expect_column_values_to_match_like_pattern_list",
    "expect_column_values_to_not_match_like_pattern_list",
    "expect_multicolumn_values_to_be_unique",
    "expect_column_pair_cramers_phi_value_to_be_less_than",
    "expect_column_bootstrapped_ks_test_p_value_to_be_greater_than",
    "expect_column_chisquare_test_p_value_to_be_greater_than",
    "expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than",
}
# Categories whose data GE's runner gives a `pk_index` column.
PK_CATEGORIES = {
    "column_map_expectations",
    "column_pair_map_expectations",
    "multicolumn_map_expectations",
}
# Test-level `only_for` names GE's runner accepts for pandas >= 1.
PANDAS_ONLY_FOR = {"pandas", "pandas_v3_api", "pandas>=024"}
PANDAS_SUPPRESS = {"pandas", "pandas_v3_api"}


def git(repo, *args):
    return subprocess.run(
        ["git", "-C", repo, *args], check=True, capture_output=True, text=True
    ).stdout


def supported():
    text = open(KINDS).read()
    block = text.split("pub const SUPPORTED")[1].split("];")[0]
    return {line.strip().strip('",') for line in block.splitlines() if '"' in line}


def as_list(x):
    if x is None or isinstance(x, list):
        return x
    return [x]


def build_frame(data, schemas):
    """GE's `_get_test_validator_with_data_pandas`, without `pk_index`."""
    df = pd.DataFrame(data)
    if schemas and "pandas" in schemas:
        typed = {}
        for key, value in schemas["pandas"].items():
            if value.lower() in ["timestamp", "datetime64[ns, tz]"]:
                df[key] = pd.to_datetime(df[key], utc=True, format="mixed")
                continue
            if value.lower() in ["datetime", "datetime64", "datetime64[ns]"]:
                df[key] = pd.to_datetime(df[key], format="mixed")
                continue
            if value.lower() == "date":
                df[key] = pd.to_datetime(df[key], format="mixed").dt.date
                value = "object"
            try:
                typed[key] = np.dtype(value)
            except TypeError:
                typed[key] = getattr(pd, value)()
        df = df.astype(typed)
    return df


def missing(x):
    return x is None or x is pd.NaT or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def encode_column(name, series):
    """(type, values, note) for one pandas column."""
    dtype = series.dtype
    values = list(series)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamp_utc", [None if missing(v) else v.isoformat() for v in values], None
    if str(dtype).startswith("datetime64"):
        return "timestamp", [None if missing(v) else v.isoformat() for v in values], None
    if str(dtype) in ("int64", "Int64", "int32", "int16", "int8"):
        return "int64", [None if missing(v) else int(v) for v in values], None
    if str(dtype) in ("float64", "float32", "Float64"):
        return "float64", [None if missing(v) else float(v) for v in values], None
    if str(dtype) in ("bool", "boolean"):
        return "boolean", [None if missing(v) else bool(v) for v in values], None
    if dtype == object:
        present = [v for v in values if not missing(v)]
        kinds = {type(v).__name__ for v in present}
        if not present:
            return "utf8", [None] * len(values), "object column without values: text nulls"
        if kinds == {"str"}:
            return "utf8", [None if missing(v) else v for v in values], None
        if kinds == {"bool"}:
            return "boolean", [None if missing(v) else bool(v) for v in values], None
        if kinds == {"date"}:
            return "date32", [None if missing(v) else v.isoformat() for v in values], None
        if kinds <= {"int", "str", "float"}:
            return (
                "utf8",
                [None if missing(v) else str(v) for v in values],
                f"object column mixing {sorted(kinds)}: written as text",
            )
        raise ValueError(f"column {name}: cannot encode object values of {sorted(kinds)}")
    raise ValueError(f"column {name}: cannot encode dtype {dtype}")


def strict_json(value):
    """Replaces infinities by the strings assay reads bare Infinity as."""
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, list):
        return [strict_json(v) for v in value]
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    return value


def skip_reason(et, ds, test, implemented):
    """Why GE's pandas run (or assay) leaves the case out, or None."""
    if et not in implemented:
        return "expectation not implemented by assay"
    if et in GE_PANDAS_NOT_IMPLEMENTED:
        return "GE itself skips it on pandas (temporary not-implemented list)"
    only_for = as_list(ds.get("only_for"))
    suppress = as_list(ds.get("suppress_test_for"))
    if (suppress and "pandas" in suppress) or (only_for and "pandas" not in only_for):
        return "dataset not for pandas (only_for / suppress_test_for)"
    if isinstance(ds["data"], list):
        return "multi-table dataset"
    only_for = as_list(test.get("only_for"))
    if only_for and not (set(only_for) & PANDAS_ONLY_FOR):
        return f"test only for {', '.join(only_for)}"
    suppress = as_list(test.get("suppress_test_for"))
    if suppress and set(suppress) & PANDAS_SUPPRESS:
        return "test suppressed for pandas"
    if not isinstance(test["in"], dict):
        return "positional arguments"
    return None


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else GE_REPO
    implemented = supported()
    files = sorted(
        p
        for p in git(repo, "ls-tree", "-r", "--name-only", "HEAD", "tests/test_definitions").split()
        if p.endswith(".json")
    )
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.endswith(".json"):
            os.remove(os.path.join(OUT, old))
    summary = {
        "cases": 0,
        "skipped": Counter(),
        "per_expectation": Counter(),
        "notes": Counter(),
        "files_without_cases": [],
    }
    for path in files:
        definition = json.loads(git(repo, "show", f"HEAD:{path}"))
        et = definition["expectation_type"]
        category = path.split("/")[-2]
        stem = os.path.splitext(os.path.basename(path))[0]
        datasets, cases, skipped = [], [], []
        seen_ids = Counter()
        for d_index, ds in enumerate(definition["datasets"]):
            dataset_ref = None
            for test in ds["tests"]:
                reason = skip_reason(et, ds, test, implemented)
                if reason:
                    skipped.append({"title": test["title"], "reason": reason})
                    summary["skipped"][reason] += 1
                    continue
                if dataset_ref is None:
                    frame = build_frame(json.loads(json.dumps(ds["data"])), ds.get("schemas"))
                    columns = []
                    for name in frame.columns:
                        kind, values, note = encode_column(name, frame[name])
                        column = {"name": name, "type": kind, "values": values}
                        if note:
                            column["note"] = note
                            summary["notes"][note] += 1
                        columns.append(column)
                    datasets.append({"name": ds.get("dataset_name", f"{stem}_{d_index + 1}"),
                                     "columns": columns})
                    dataset_ref = len(datasets) - 1
                kwargs = {"result_format": {"result_format": "COMPLETE"}}
                kwargs.update(test["in"])
                error = (test.get("error") or {}).get("traceback_substring") or test["out"].get(
                    "traceback_substring"
                )
                case_id = f"{stem}:{test['title']}"
                seen_ids[case_id] += 1
                if seen_ids[case_id] > 1:
                    case_id += f"#{seen_ids[case_id]}"
                case = {
                    "id": case_id,
                    "dataset": dataset_ref,
                    "kwargs": strict_json(kwargs),
                    "exact_match_out": test["exact_match_out"],
                    "out": strict_json(test["out"]),
                    "pk_column": category in PK_CATEGORIES,
                }
                if "tolerance" in test:
                    case["tolerance"] = test["tolerance"]
                if error is not None:
                    case["error"] = error
                cases.append(case)
                summary["per_expectation"][et] += 1
                summary["cases"] += 1
        if not cases:
            summary["files_without_cases"].append(path)
            continue
        fixture = {
            "source": f"great_expectations {GE_VERSION}, {path} (Apache License 2.0; see NOTICE)",
            "expectation_type": et,
            "datasets": datasets,
            "cases": cases,
            "skipped": skipped,
        }
        with open(os.path.join(OUT, f"{stem}.json"), "w") as f:
            json.dump(fixture, f, indent=1, allow_nan=False)
            f.write("\n")
    summary["skipped_total"] = sum(summary["skipped"].values())
    summary["made_with"] = {
        "great_expectations": GE_VERSION,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }
    with open(os.path.join(OUT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{summary['cases']} cases, {summary['skipped_total']} skipped")
    for reason, n in summary["skipped"].most_common():
        print(f"  skipped {n:4}: {reason}")


if __name__ == "__main__":
    main()
