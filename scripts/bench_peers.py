#!/usr/bin/env python3
"""Peer baselines for the profiling benchmark (see BENCHMARKS.md).

    python3 scripts/bench_peers.py polars-describe FILE.parquet
    python3 scripts/bench_peers.py whylogs FILE.parquet

Each run prints one line, `<tool> rows=<n> seconds=<t>`, where the seconds
cover the same work as `assay profile FILE` (read the file and compute the
statistics), timed inside the process; scripts/bench.sh also times the whole
process and its peak RSS from outside. Needs `pip install polars pyarrow
pandas whylogs`.
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


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("polars-describe", "whylogs"):
        print(__doc__, file=sys.stderr)
        return 2
    tool, path = sys.argv[1], sys.argv[2]
    if tool == "polars-describe":
        polars_describe(path)
    else:
        whylogs_log(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
