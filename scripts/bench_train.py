#!/usr/bin/env python3
"""The training benchmark's data and its scikit-learn side.

    python3 scripts/bench_train.py generate DIR   # DIR/data.parquet, DIR/schema.toml
    /usr/bin/time -v python3 scripts/bench_train.py sklearn DIR

`generate` writes 1,000,000 rows × 30 float features (offsets and scales
differ, so standardisation matters) and a binary label drawn from a
logistic model with known weights; `sklearn` reads the Parquet file,
standardises the features as assay does (training mean and population
std), and fits `LogisticRegression(solver="lbfgs")` with its defaults
(C=1.0, tol=1e-4) but `max_iter=1000`, printing the fit's wall time, its
iterations and the objective (mean log loss + ‖w‖²/(2·C·n)), which the Rust
side (examples/train_bench.rs) prints too. docs/train.md has the figures.
"""

import sys
import time

import numpy as np

ROWS = 1_000_000
FEATURES = 30


def generate(out):
    import os

    import pandas as pd

    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(42)
    offsets = rng.uniform(-100, 100, FEATURES)
    scales = rng.uniform(0.1, 50, FEATURES)
    z = rng.standard_normal((ROWS, FEATURES))
    weights = rng.uniform(-1, 1, FEATURES)
    logit = z @ weights - 0.5
    y = (rng.random(ROWS) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    x = z * scales + offsets
    df = pd.DataFrame({f"x{j:02d}": x[:, j] for j in range(FEATURES)})
    df["y"] = y
    df.to_parquet(os.path.join(out, "data.parquet"), index=False)
    with open(os.path.join(out, "schema.toml"), "w") as f:
        f.write('format = "assay.schema/1"\n')
        for j in range(FEATURES):
            f.write(f'\n[features.x{j:02d}]\ntype = "float"\npresence = {{ required = true }}\n')
        f.write('\n[features.y]\ntype = "int"\nrole = "label"\ncategorical = true\ndomain = [0, 1]\n')


def fit(out):
    import os

    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    df = pd.read_parquet(os.path.join(out, "data.parquet"))
    x = df[[f"x{j:02d}" for j in range(FEATURES)]].to_numpy()
    y = df["y"].to_numpy()
    t1 = time.perf_counter()
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    t2 = time.perf_counter()
    model = LogisticRegression(solver="lbfgs", max_iter=1000)
    model.fit(x, y)
    t3 = time.perf_counter()
    z = x @ model.coef_[0] + model.intercept_[0]
    objective = np.mean(np.logaddexp(0, z) - y * z) + np.sum(model.coef_**2) / (2 * len(y))
    print(f"read {t1 - t0:.3f} s, standardise {t2 - t1:.3f} s, fit {t3 - t2:.3f} s "
          f"({model.n_iter_[0]} iterations), objective {objective:.9f}")


if __name__ == "__main__":
    {"generate": generate, "sklearn": fit}[sys.argv[1]](sys.argv[2])
