"""Benchmark (outside CI): assay.profile on a pandas DataFrame against
whylogs.log(df) and df.describe(), same data, same process, same machine.

    python scripts/bench_python.py --rows 1000000 --repeat 3

Run with the assay wheel built in a release-like profile (the figures of
the dev build used by the tests say little): see docs/python.md. The data is
22 columns like examples/data (ints, floats with nulls, strings, bools, a
timestamp), generated with a fixed seed. Prints one line per tool: the best
of --repeat wall times, and rows per second.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def make_frame(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(6):
        columns[f"int_{i}"] = rng.integers(0, 10 ** (i + 1), n)
    for i in range(6):
        x = rng.normal(100 * i, 10 + i, n)
        x[rng.random(n) < 0.01] = np.nan
        columns[f"float_{i}"] = x
    for i in range(6):
        vocabulary = np.array([f"v{i}_{k}" for k in range(5 * 10**i if i < 4 else 20_000)], dtype=object)
        columns[f"str_{i}"] = vocabulary[rng.integers(0, len(vocabulary), n)]
    for i in range(3):
        columns[f"bool_{i}"] = rng.random(n) < 0.1 * (i + 1)
    columns["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86_400 * 365, n), unit="s")
    return pd.DataFrame(columns)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], help="tools to leave out (whylogs, describe)")
    args = parser.parse_args()
    frame = make_frame(args.rows)
    print(f"{args.rows:,} rows x {frame.shape[1]} columns, pandas {pd.__version__}")

    import assay

    runs = {"assay.profile(df)": lambda: assay.profile(frame)}
    if "describe" not in args.skip:
        runs["df.describe(include='all')"] = lambda: frame.describe(include="all")
    if "whylogs" not in args.skip:
        import whylogs

        runs[f"whylogs.log(df) ({whylogs.__version__})"] = lambda: whylogs.log(frame).view()
    figures = {name: best(fn, args.repeat) for name, fn in runs.items()}
    base = figures["assay.profile(df)"]
    for name, seconds in figures.items():
        print(f"{name:40s} {seconds:8.3f} s  {args.rows / seconds:14,.0f} rows/s  {seconds / base:7.1f}x assay")


if __name__ == "__main__":
    main()
