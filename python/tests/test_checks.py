"""assay.infer_schema, assay.validate and assay.drift: the CLI's JSON
documents, from Python data or profiles."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import assay
from agree import assert_same
from conftest import cli_json, run_cli


@pytest.fixture(scope="module")
def data(repo):
    d = repo / "examples" / "data"
    return {
        "train_path": d / "train.parquet",
        "serving_path": d / "serving.parquet",
        "train": pq.read_table(d / "train.parquet"),
        "serving": pq.read_table(d / "serving.parquet"),
        "schema": repo / "examples" / "demo" / "schema.toml",
        "suite": repo / "expectations" / "credit.toml",
        "demo_suite": repo / "examples" / "demo" / "suite.toml",
    }


def test_infer_schema_is_the_cli_document(data, cli, tmp_path):
    saved = tmp_path / "train.profile.json"
    run_cli(cli, "profile", data["train_path"], "-o", saved, "--quiet")
    profile = assay.Profile.from_json(saved.read_text(), name=str(saved))
    assert assay.infer_schema(profile) == cli_json(cli, "infer", saved)
    written = tmp_path / "schema.toml"
    run_cli(cli, "infer", saved, "-o", written, "--quiet")
    assert assay.infer_schema(profile, toml=True) == written.read_text()
    assert assay.infer_schema(profile, ranges=True, categorical=["loan_term_months"]) == cli_json(
        cli, "infer", saved, "--ranges", "--categorical", "loan_term_months")
    with pytest.raises(assay.AssayError, match="categorical"):
        assay.infer_schema(profile, categorical=["no_such_column"])


def test_validate_is_the_cli_report(data, cli):
    for suite in ("suite", "demo_suite"):
        expected = cli_json(cli, "validate", data["serving_path"], "--schema", data["schema"],
                            "--suite", data[suite], expect=None)
        got = assay.validate(data["serving"], schema=data["schema"], suite=data[suite])
        # The CLI's meta names its input file; in-memory data is `<memory>`.
        assert got["meta"].pop("inputs") == ["<memory>"]
        expected["meta"].pop("inputs")
        assert_same(dict(got), expected)
        assert got.success == expected["success"]
        assert "<html" in got._repr_html_().lower()


def test_validate_reports_failures(data, cli):
    serving = data["serving"].to_pandas()
    serving.loc[:499, "credit_score"] = None
    serving.loc[:, "age"] += 10
    report = assay.validate(serving, schema=data["schema"], suite=data["demo_suite"],
                            environment="serving")
    assert report.success is False and report["success"] is False
    failed = {r["expectation_config"]["type"] for r in report["results"] if not r["success"]}
    assert {"expect_column_values_to_not_be_null", "expect_column_mean_to_be_between"} <= failed
    not_null = next(r for r in report["results"]
                    if r["expectation_config"]["type"] == "expect_column_values_to_not_be_null")
    assert not_null["result"]["unexpected_count"] == 500


def test_validate_a_saved_profile_and_a_ge_dict_suite(data):
    profile = assay.profile(data["serving"])
    suite = {
        "name": "inline",
        "expectations": [
            {"type": "expect_table_row_count_to_be_between",
             "kwargs": {"min_value": 1, "max_value": 10}},
            {"type": "expect_column_mean_to_be_between",
             "kwargs": {"column": "age", "min_value": 18, "max_value": 80}},
        ],
    }
    report = assay.validate(profile, suite=suite)
    assert [r["success"] for r in report["results"]] == [False, True]
    assert report["results"][0]["result"]["observed_value"] == data["serving"].num_rows


def test_schema_and_suite_as_text(data):
    schema_text = data["schema"].read_text()
    by_text = assay.validate(data["serving"], schema=schema_text)
    by_path = assay.validate(data["serving"], schema=str(data["schema"]))
    assert by_text["schema_findings"] == by_path["schema_findings"]
    with pytest.raises(assay.AssayError, match=r"<schema>:\d+:\d+"):
        assay.validate(data["serving"], schema='format = "assay.schema/1"\n[features.age]\ntype = "integer"\n')
    with pytest.raises(assay.AssayError, match="no such file"):
        assay.validate(data["serving"], schema="missing.toml")
    with pytest.raises(assay.AssayError, match="needs a schema, a suite or both"):
        assay.validate(data["serving"])


def test_drift_is_the_cli_report(data, cli):
    expected = cli_json(cli, "drift", data["train_path"], data["serving_path"],
                        "--schema", data["schema"], expect=None)
    got = assay.drift(data["train"], data["serving"], schema=data["schema"],
                      labels=(str(data["train_path"]), str(data["serving_path"])))
    # Everything but the numeric features' sketch-based statistics is the
    # CLI's: the CLI reads row groups in parallel, so its KLL sketches saw
    # other batches and differ within their bounds.
    numeric = {f["name"] for f in expected["features"] if f["kind"] == "numeric"}
    by_name = {f["name"]: f for f in got["features"]}
    for theirs in expected["features"]:
        mine = by_name.pop(theirs["name"])
        if theirs["name"] in numeric:
            assert mine["statistic"] == pytest.approx(theirs["statistic"], abs=0.015), theirs["name"]
            for key in ("method", "threshold", "drifted", "verdict", "reference_count",
                        "current_count", "missing", "approximate"):
                assert mine[key] == theirs[key], (theirs["name"], key)
        else:
            assert_same(mine, theirs)
    assert not by_name
    for key in ("comparison", "mode", "reference", "current", "reference_rows", "current_rows",
                "dataset", "slices", "skipped", "missing_in_current", "missing_in_reference",
                "unmatched_slices", "success", "findings"):
        assert_same(got[key], expected[key])
    assert got.success == expected["success"]
    assert "<html" in got._repr_html_().lower()


def test_drift_between_profiles_finds_a_shift(data):
    train = data["train"].to_pandas()
    shifted = train.copy()
    shifted["age"] = shifted["age"] + 10
    report = assay.drift(assay.profile(train), assay.profile(shifted), method="wasserstein")
    drifted = {f["name"] for f in report["features"] if f.get("drifted")}
    assert report.success is False
    assert "age" in drifted
    with pytest.raises(assay.AssayError, match="unknown method; expected one of"):
        assay.drift(train, shifted, method="nope")
