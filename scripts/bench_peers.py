#!/usr/bin/env python3
"""Peer baselines for the profiling benchmark (see BENCHMARKS.md).

    python3 scripts/bench_peers.py polars-describe FILE.parquet
    python3 scripts/bench_peers.py whylogs FILE.parquet
    python3 scripts/bench_peers.py great-expectations FILE.parquet SUITE.json

Each run prints one line, `<tool> rows=<n> seconds=<t>`, where the seconds
cover the same work as `assay profile FILE` (read the file and compute the
statistics), timed inside the process; scripts/bench.sh also times the whole
process and its peak RSS from outside. Needs `pip install polars pyarrow
pandas whylogs` (whylogs 1.6 needs numpy<2), and for Great Expectations a
separate environment with `pip install "great_expectations==1.*" pyarrow`.
"""

import sys
import time


def polars_describe(path: str) -> None:
    import polars as pl

    start = time.perf_counter()
    df = pl.read_parquet(path)
    summary = df.describe()
    elapsed = time.perf_counter() - start
    assert summary.height > 0
    print(f"polars-describe rows={df.height} seconds={elapsed:.3f}")


def whylogs_log(path: str) -> None:
    import pandas as pd
    import whylogs as why

    start = time.perf_counter()
    df = pd.read_parquet(path)
    read = time.perf_counter()
    results = why.log(df)
    view = results.view()
    elapsed = time.perf_counter() - start
    assert len(view.get_columns()) == df.shape[1]
    print(
        f"whylogs rows={len(df)} seconds={elapsed:.3f} "
        f"(read {read - start:.3f}, why.log {elapsed - (read - start):.3f})"
    )


def great_expectations(path: str, suite_path: str) -> None:
    import json

    import great_expectations as gx
    import pandas as pd
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    start = time.perf_counter()
    df = pd.read_parquet(path)
    read = time.perf_counter()
    with open(suite_path) as f:
        spec = json.load(f)
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas("bench")
    asset = source.add_dataframe_asset("table")
    batch_definition = asset.add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name=spec["name"]))
    for e in spec["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"])
        )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite)
    elapsed = time.perf_counter() - start
    stats = result.statistics
    print(
        f"great-expectations rows={len(df)} seconds={elapsed:.3f} "
        f"(read {read - start:.3f}) success={result.success} "
        f"passed={stats['successful_expectations']}/{stats['evaluated_expectations']}"
    )


def main() -> int:
    tools = {"polars-describe": 3, "whylogs": 3, "great-expectations": 4}
    if len(sys.argv) < 2 or tools.get(sys.argv[1]) != len(sys.argv):
        print(__doc__, file=sys.stderr)
        return 2
    tool, path = sys.argv[1], sys.argv[2]
    if tool == "polars-describe":
        polars_describe(path)
    elif tool == "whylogs":
        whylogs_log(path)
    else:
        great_expectations(path, sys.argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main())
