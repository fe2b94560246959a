"""assay.profile on pandas, polars and pyarrow; merge and the JSON format,
interchangeably with the CLI."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from conftest import cli_json, run_cli

from agree import (
    assert_distinct_within_bounds,
    assert_exact_and_moments,
    assert_same,
    assert_quantiles_within_bounds,
)


def dyadic_frame(n: int, seed: int) -> pd.DataFrame:
    """Floats that are multiples of 1/8 below 2**20: every sum of them is
    exact in float64, whatever the order, so sums compare bit for bit."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.integers(-8_000, 8_000_000, n) / 8.0,
            "count": rng.integers(0, 1_000, n),
            "group": rng.choice(["a", "b", "c", "d"], n),
            "flag": rng.random(n) < 0.3,
        }
    )


def test_arrow_table_profile_equals_the_cli_profile_of_the_same_file(repo, cli):
    path = repo / "examples" / "data" / "train.parquet"
    expected = cli_json(cli, "profile", path, "--slice", "sex")
    table = pq.read_table(path)
    got = assay.profile(table, slices=["sex"]).to_dict()
    assert got["rows"] == expected["rows"] == table.num_rows
    assert got["sources"] == ["pyarrow.Table"]
    # The CLI reads row groups in parallel: other batches, so sketches
    # differ within their bounds and moments to rounding.
    assert_exact_and_moments(got, expected, exact_sums=False)
    frame = table.to_pandas()
    for column in got["columns"]:
        if column["type"] in ("int", "float"):
            assert_quantiles_within_bounds(column, frame[column["name"]].to_numpy(dtype=float))
        if column["type"] == "string":
            assert_distinct_within_bounds(column, frame[column["name"]].nunique())
    assert [s["name"] for s in got["slices"]] == [s["name"] for s in expected["slices"]]
    assert [s["rows"] for s in got["slices"]] == [s["rows"] for s in expected["slices"]]


def test_pandas_polars_and_pyarrow_give_the_same_statistics():
    frame = dyadic_frame(50_000, seed=1)
    frame.loc[::7, "amount"] = np.nan  # pandas' NaN means missing: a null in Arrow
    frame["city"] = pd.array(np.where(np.arange(len(frame)) % 5 == 0, None, "x"), dtype="string")
    from_pandas = assay.profile(frame).to_dict()
    from_polars = assay.profile(pl.from_pandas(frame)).to_dict()
    from_arrow = assay.profile(pa.Table.from_pandas(frame, preserve_index=False)).to_dict()
    assert from_pandas["sources"] == ["pandas.DataFrame"]
    assert from_polars["sources"] == ["polars.DataFrame"]
    assert_exact_and_moments(from_pandas, from_arrow, exact_sums=True)
    assert_exact_and_moments(from_polars, from_arrow, exact_sums=True)
    amount = from_pandas["columns"][0]
    finite = frame["amount"].dropna()
    assert amount["sum"] == finite.sum()
    assert amount["mean"] == pytest.approx(finite.mean(), rel=1e-12)
    assert amount["variance"] == pytest.approx(finite.var(ddof=1), rel=1e-12)
    assert amount["null_count"] == frame["amount"].isna().sum() == 50_000 // 7 + 1


def test_record_batch_reader_streams():
    table = pa.Table.from_pandas(dyadic_frame(10_000, seed=2), preserve_index=False)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=999))
    streamed = assay.profile(reader).to_dict()
    assert_exact_and_moments(streamed, assay.profile(table).to_dict(), exact_sums=True)
    for column in streamed["columns"]:
        if column["type"] in ("int", "float"):
            assert_quantiles_within_bounds(column, table[column["name"]].to_numpy().astype(float))


def test_merged_halves_equal_the_whole():
    frame = dyadic_frame(100_000, seed=3)
    whole = assay.profile(frame, slices=["group"]).to_dict()
    halves = [assay.profile(frame.iloc[:40_000], slices=["group"]),
              assay.profile(frame.iloc[40_000:], slices=["group"])]
    merged = halves[0].merge(halves[1]).to_dict()
    assert_exact_and_moments(merged, whole, exact_sums=True)
    assert [(s["name"], s["rows"]) for s in merged["slices"]] == [
        (s["name"], s["rows"]) for s in whole["slices"]
    ]
    # Top values of a 4-value column are exact.
    assert merged["columns"][2]["top"] == whole["columns"][2]["top"]
    assert assay.merge(halves).to_dict() == merged


def test_json_round_trip_is_exact():
    p = assay.profile(dyadic_frame(5_000, seed=4), slices="group,flag")
    again = assay.Profile.from_json(p.to_json())
    assert again == p
    assert again.to_json() == p.to_json()
    assert json.loads(p.to_json())["format"] == "assay.profile/1"


def test_python_and_cli_profiles_merge_both_ways(tmp_path, cli):
    frame = dyadic_frame(30_000, seed=5)
    first, second = frame.iloc[:12_345], frame.iloc[12_345:]
    data = tmp_path / "second.parquet"
    second.to_parquet(data, index=False)
    cli_profile = tmp_path / "second.profile.json"
    run_cli(cli, "profile", data, "-o", cli_profile, "--quiet")
    python_profile = tmp_path / "first.profile.json"
    python_profile.write_text(assay.profile(first).to_json())

    # The CLI merges a Python profile ...
    merged_file = tmp_path / "merged.profile.json"
    run_cli(cli, "merge", python_profile, cli_profile, "-o", merged_file, "--quiet")
    by_cli = json.loads(merged_file.read_text())
    # ... and Python merges a CLI profile.
    by_python = assay.profile(first).merge(
        assay.Profile.from_json(cli_profile.read_text())).to_dict()
    whole = assay.profile(frame).to_dict()
    assert by_cli["rows"] == by_python["rows"] == len(frame)
    assert_exact_and_moments(by_cli, whole, exact_sums=True)
    assert_exact_and_moments(by_python, whole, exact_sums=True)
    # KLL compaction is randomized: sketches agree within their bounds.
    for merged in (by_cli, by_python):
        for column in merged["columns"]:
            if column["type"] in ("int", "float"):
                assert_quantiles_within_bounds(column, frame[column["name"]].to_numpy(dtype=float))
    assert by_python["sources"] == ["pandas.DataFrame", str(data)]


def test_to_pandas_has_a_row_per_column():
    frame = dyadic_frame(1_000, seed=6)
    table = assay.profile(frame).to_pandas()
    assert list(table.index) == list(frame.columns)
    assert table.loc["count", "count"] == 1_000
    assert table.loc["amount", "max"] == frame["amount"].max()
    assert table.loc["group", "type"] == "string"
    assert "p50" in table.columns


def test_html_report_in_notebooks():
    html = assay.profile(dyadic_frame(1_000, seed=7))._repr_html_()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "amount" in html


def test_unsupported_type_names_the_column():
    table = pa.table({"ok": [1, 2], "point": pa.array([{"x": 1}, {"x": 2}])})
    with pytest.raises(assay.AssayError, match=r"column `point` has type Struct.*cannot be profiled.*expected an integer"):
        assay.profile(table)


def test_duplicate_column_names_are_refused():
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(assay.AssayError, match="column `a` appears more than once"):
        assay.profile(table)


def test_profile_json_of_another_format_is_refused():
    with pytest.raises(assay.AssayError, match=r"unsupported profile format `assay.schema/1`; expected `assay.profile/1`"):
        assay.Profile.from_json('{"format": "assay.schema/1"}', name="schema.json")
    with pytest.raises(assay.AssayError, match="not an assay profile"):
        assay.Profile.from_json('{"rows": 3}')
    with pytest.raises(assay.AssayError, match="line 1, column"):
        assay.Profile.from_json("{not json")


def test_incompatible_profiles_do_not_half_merge():
    a = assay.profile(pd.DataFrame({"x": [1, 2]}))
    b = assay.profile(pd.DataFrame({"y": [1, 2]}))
    before = a.to_json()
    with pytest.raises(assay.AssayError, match="cannot merge"):
        a.merge(b)
    assert a.to_json() == before


def test_not_arrow_data_is_a_type_error():
    with pytest.raises(TypeError, match="expected a pandas or polars DataFrame"):
        assay.profile([1, 2, 3])


def test_unknown_role_and_roles():
    frame = pd.DataFrame({"y": [0, 1], "p": [0.1, 0.9]})
    roles = {c["name"]: c["role"] for c in
             assay.profile(frame, roles={"y": "label", "p": "prediction"}).to_dict()["columns"]}
    assert roles == {"y": "label", "p": "prediction"}
    with pytest.raises(assay.AssayError, match="unknown role"):
        assay.profile(frame, roles={"y": "answer"})


def test_the_gil_is_released_while_profiling():
    frame = dyadic_frame(2_000_000, seed=8)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    start = time.perf_counter()
    assay.profile(table)
    end = time.perf_counter()
    done.set()
    ticker.join()
    during = [t for t in ticks if start < t < end]
    # Holding the GIL would stop the ticker for the whole call.
    assert end - start > 0.05
    assert len(during) >= 10, (len(during), end - start)


def test_profiles_pickle_as_their_json():
    import pickle

    p = assay.profile(dyadic_frame(2_000, seed=9), slices="group")
    again = pickle.loads(pickle.dumps(p))
    assert isinstance(again, assay.Profile) and again == p
