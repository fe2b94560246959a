"""assay.spark on a real PySpark (local[2], the machine's Java 17): the
distributed profile of 1.2M rows in 8 partitions against the CLI's profile
of the same data written as Parquet."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay
from agree import (
    assert_distinct_within_bounds,
    assert_exact_and_moments,
    assert_quantiles_within_bounds,
)
from conftest import cli_json, run_cli

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (.ci/run installs it)")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java for Spark", allow_module_level=True)

import assay.spark  # noqa: E402

ROWS = 1_200_000
PARTITIONS = 8


@pytest.fixture(scope="module")
def spark():
    # Spark's Python workers must run the interpreter that has assay.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("assay-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(PARTITIONS))
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def make_table(n: int, seed: int) -> pa.Table:
    """Ints, dyadic floats (exact sums in any order) with nulls, NaN and
    ±inf, strings with nulls, bools, timestamps and dates."""
    rng = np.random.default_rng(seed)
    amount = rng.integers(-80_000, 8_000_000, n) / 8.0
    amount[rng.random(n) < 0.001] = np.nan
    amount[:3] = [np.inf, -np.inf, np.inf]
    amount_mask = rng.random(n) < 0.02
    city_codes = rng.integers(0, 40, n)
    cities = np.array([f"city_{i:02d}" for i in range(40)], dtype=object)[city_codes]
    cities[rng.random(n) < 0.05] = None
    return pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "age": pa.array(rng.integers(18, 90, n)),
            "amount": pa.array(amount, mask=amount_mask),
            "score": pa.array(rng.integers(0, 2**20, n) / 2**20),
            "city": pa.array(cities, type=pa.string()),
            "segment": pa.array(rng.choice(["a", "b", "c"], n)),
            "flag": pa.array(rng.random(n) < 0.3),
            "seen": pa.array(
                (np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 86_400 * 365, n).astype("timedelta64[s]")).astype("datetime64[us]")
            ),
            "day": pa.array((np.datetime64("2024-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]"))),
        }
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, spark):
    directory = tmp_path_factory.mktemp("spark")
    table = make_table(ROWS, seed=11)
    path = directory / "data.parquet"
    pq.write_table(table, path, row_group_size=200_000)
    df = spark.read.parquet(str(path)).repartition(PARTITIONS)
    assert df.rdd.getNumPartitions() == PARTITIONS
    return {"path": path, "table": table, "frame": table.to_pandas(), "df": df}


def test_spark_profile_equals_the_cli_profile_of_the_same_parquet(dataset, cli):
    expected = cli_json(cli, "profile", dataset["path"], "--slice", "segment")
    got = assay.spark.profile(dataset["df"], slices=["segment"]).to_dict()
    assert got["rows"] == ROWS
    assert got["sources"] == ["spark.DataFrame"]
    # Counts, min/max, zeros, ... exact; the dyadic sums bit for bit; moments
    # to rounding (Chan's merge in another order).
    assert_exact_and_moments(got, expected, exact_sums=True)
    frame = dataset["frame"]
    for column in got["columns"]:
        name = column["name"]
        if column["type"] in ("int", "float"):
            assert_quantiles_within_bounds(column, frame[name].to_numpy(dtype=float))
        if column["type"] in ("string", "int"):
            assert_distinct_within_bounds(column, frame[name].nunique())
    assert [(s["name"], s["rows"]) for s in got["slices"]] == [
        (s["name"], s["rows"]) for s in expected["slices"]
    ]
    for mine, theirs in zip(got["slices"], expected["slices"]):
        assert_exact_and_moments(mine, theirs, exact_sums=True)
    # The ground truth, not only the CLI's word for it.
    amount = next(c for c in got["columns"] if c["name"] == "amount")
    finite = frame["amount"][np.isfinite(frame["amount"])]
    assert amount["sum"] == finite.sum()
    column = dataset["table"].column("amount")
    values = column.to_numpy(zero_copy_only=False)
    assert amount["null_count"] == column.null_count > 0
    assert amount["nan_count"] == np.isnan(values).sum() - column.null_count > 0
    assert (amount["pos_inf_count"], amount["neg_inf_count"]) == (2, 1)


def test_spark_profile_merges_with_cli_and_pandas_profiles(dataset, cli, tmp_path):
    table = dataset["table"]
    half = table.num_rows // 2
    first = table.slice(0, half)
    path = tmp_path / "second.parquet"
    pq.write_table(table.slice(half), path)
    spark_part = assay.spark.profile(dataset["df"].sparkSession.read.parquet(str(path)))
    saved = tmp_path / "second.profile.json"
    run_cli(cli, "profile", path, "-o", saved, "--quiet")
    cli_part = assay.Profile.from_json(saved.read_text())
    python_part = assay.profile(first)
    whole = cli_json(cli, "profile", dataset["path"])
    for second in (spark_part, cli_part):
        merged = python_part.merge(second).to_dict()
        assert_exact_and_moments(merged, whole, exact_sums=True)


def test_spark_validate(dataset, tmp_path):
    schema = assay.infer_schema(assay.spark.profile(dataset["df"]), toml=True)
    suite = """
format = "assay.expectations/1"
name = "spark"

[[expectations]]
type = "expect_table_row_count_to_equal"
value = 1200000

[[expectations]]
type = "expect_column_mean_to_be_between"
column = "age"
min_value = 50
max_value = 60

[[expectations]]
type = "expect_column_max_to_be_between"
column = "age"
min_value = 100
"""
    report = assay.spark.validate(dataset["df"], schema=schema, suite=suite)
    assert [r["success"] for r in report["results"]] == [True, True, False]
    assert report["results"][2]["result"]["observed_value"] == 89
    assert report["schema_summary"]["rows"] == ROWS
    assert report.success is False
    by_pandas = assay.validate(dataset["table"], schema=schema, suite=suite)
    assert [r["result"].get("observed_value") for r in report["results"]] == pytest.approx(
        [r["result"].get("observed_value") for r in by_pandas["results"]], rel=1e-12)
    assert report["schema_findings"] == by_pandas["schema_findings"]


def test_nested_struct_columns_are_refused_before_any_task(spark):
    df = spark.createDataFrame([(1, (2, "x"))], "id long, address struct<zip:int,street:string>")
    with pytest.raises(assay.AssayError, match=r"column `address` has type struct<zip:int,street:string>.*expected flat columns"):
        assay.spark.profile(df)


def test_unsupported_flat_type_names_the_column(spark):
    df = spark.createDataFrame([(1, bytearray(b"x"))], "id long, blob binary")
    with pytest.raises(assay.AssayError, match="column `blob` has type .*Binary.*cannot be profiled"):
        assay.spark.profile(df)


def test_empty_dataframe(spark):
    df = spark.createDataFrame([], "x long, s string")
    p = assay.spark.profile(df)
    assert p.rows == 0 and p.columns == ["x", "s"]
