#!/usr/bin/env python3
"""Write tests/fixtures/quantiles/numpy.json: numpy's medians and quantiles
(every interpolation method GE's pandas backend can ask for) of columns
that tests/exact_statistics.rs rebuilds bit for bit from the same formula.

Run from the repository root: `python3 scripts/make_quantile_fixtures.py`
(needs numpy; the file records the version used).

The columns are made without a random generator, so that Rust can make
the same values: u_i = ((i * 2654435761) mod 2^32 + 0.5) / 2^32 for
i = 0..n-1, then
  uniform:  u
  skewed:   -ln(u)            (exponential)
  ties:     floor(u * 50)     (50 distinct values, many ties)
"""

import json
import math
import os

import numpy as np

OUT = os.path.join("tests", "fixtures", "quantiles")
SIZES = [1, 2, 3, 10, 1001, 100_000, 1_000_000]
QUANTILES = [0.0, 0.01, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 0.99, 1.0]
METHODS = ["linear", "lower", "higher", "midpoint", "nearest"]


def column(kind, n):
    i = np.arange(n, dtype=np.uint64)
    u = (((i * np.uint64(2654435761)) % np.uint64(2**32)).astype(np.float64) + 0.5) / 2.0**32
    if kind == "uniform":
        return u
    if kind == "skewed":
        return np.array([-math.log(x) for x in u])
    if kind == "ties":
        return np.floor(u * 50.0)
    raise ValueError(kind)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for kind in ["uniform", "skewed", "ties"]:
        for n in SIZES:
            x = column(kind, n)
            cases.append(
                {
                    "kind": kind,
                    "n": n,
                    "median": float(np.median(x)),
                    "quantiles": QUANTILES,
                    "values": {
                        m: [float(v) for v in np.quantile(x, QUANTILES, method=m)]
                        for m in METHODS
                    },
                }
            )
    with open(os.path.join(OUT, "numpy.json"), "w") as f:
        json.dump({"numpy": np.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases")


if __name__ == "__main__":
    main()
