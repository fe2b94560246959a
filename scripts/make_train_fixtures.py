#!/usr/bin/env python3
"""Write the training fixtures in tests/fixtures/train/: data, schemas and
scikit-learn's LogisticRegression results on them.

Run from the repository root: `python3 scripts/make_train_fixtures.py`
(needs numpy, pandas, pyarrow and scikit-learn; `expected.json` records the
versions). tests/train_accuracy.rs trains assay's candle logistic regression
on the same rows and checks its holdout ROC AUC against the values here.

The feature encoding is written here again, from docs/train.md, without
reading assay's code: role `feature` only; int, float and bool standardised
with the training rows' mean and population std (a constant column only
centred), a missing value (null, NaN, inf) → 0 plus a `NAME__missing`
indicator unless `presence.required`; a string (or categorical int) with a
domain → one column per domain value plus an out-of-vocabulary column, a
null all zeros; everything else skipped. The holdout is the last 20% of the
rows in file order (round(0.2 n)).

Data sets:
- `example`: examples/data/train.parquet with examples/demo/schema.toml,
  label `label` (positive class 1);
- `linear`: generated, a known linear decision boundary (logit = w·x + b on
  raw features with offsets and scales, one categorical feature, missing
  values), labels drawn from the logistic model;
- `xor`: generated, not linearly separable (the label is the sign of
  x1·x2, 5% flipped): the MLP must beat the logistic regression there.
"""

import json
import os
import tomllib

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

OUT = os.path.join("tests", "fixtures", "train")
HOLDOUT = 0.2


def encode(df_train, df, schema, label):
    """The feature matrix of `df` with statistics from `df_train`."""
    columns = []
    names = []
    for name, f in schema["features"].items():
        if name == label or f.get("role", "feature") != "feature":
            continue
        ftype = f["type"]
        domain = f.get("domain")
        required = f.get("presence", {}).get("required", False)
        if ftype == "string" and domain is None:
            continue
        if domain is not None and (ftype == "string" or f.get("categorical", False)):
            values = df[name]
            for v in domain:
                columns.append((values == v).fillna(False).to_numpy(dtype=float))
                names.append(f"{name}={v}")
            known = values.isin(domain) | values.isna()
            columns.append((~known).to_numpy(dtype=float))
            names.append(f"{name}=__oov__")
            continue
        if ftype not in ("int", "float", "bool"):
            continue
        train = pd.to_numeric(df_train[name].astype("float64"), errors="coerce")
        train = train[np.isfinite(train)]
        mean = train.mean()
        std = train.std(ddof=0)
        if not std > 0:
            std = 1.0
        x = pd.to_numeric(df[name].astype("float64"), errors="coerce").to_numpy()
        missing = ~np.isfinite(x)
        z = np.where(missing, 0.0, (np.where(missing, mean, x) - mean) / std)
        columns.append(z)
        names.append(name)
        if not required:
            columns.append(missing.astype(float))
            names.append(f"{name}__missing")
    return np.column_stack(columns), names


def objective(model, x, y, c):
    """scikit-learn's objective: mean log loss + ‖w‖² / (2 C n)."""
    z = x @ model.coef_[0] + model.intercept_[0]
    loss = np.mean(np.logaddexp(0.0, z) - y * z)
    return float(loss + np.sum(model.coef_**2) / (2.0 * c * len(y)))


def fit(name, df, schema, label, positive):
    n = len(df)
    n_holdout = int(round(n * HOLDOUT))
    train, holdout = df.iloc[: n - n_holdout], df.iloc[n - n_holdout :]
    x_train, names = encode(train, train, schema, label)
    x_holdout, _ = encode(train, holdout, schema, label)
    y_train = (train[label].astype(str) == positive).to_numpy(dtype=float)
    y_holdout = (holdout[label].astype(str) == positive).to_numpy(dtype=float)
    model = LogisticRegression(C=1.0, solver="lbfgs", max_iter=10000, tol=1e-8)
    model.fit(x_train, y_train)
    score = model.predict_proba(x_holdout)[:, 1]
    return {
        "rows": n,
        "holdout_rows": n_holdout,
        "columns": names,
        "roc_auc": float(roc_auc_score(y_holdout, score)),
        "objective": objective(model, x_train, y_train, 1.0),
        "coef": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
    }


def linear_data(rng):
    n = 20_000
    a = rng.normal(50.0, 10.0, n)  # offset and scale: standardisation matters
    b = rng.normal(0.0, 0.01, n)
    c = rng.uniform(-3.0, 3.0, n)
    d = rng.normal(0.0, 1.0, n)  # noise feature, weight 0
    color = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])
    flag = rng.random(n) < 0.4
    logit = 0.08 * (a - 50.0) - 120.0 * b + 0.9 * c + 0.7 * flag - 0.3
    logit += np.select([color == "green", color == "blue"], [0.8, -1.2], 0.0)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    a_missing = rng.random(n) < 0.05
    color_obj = color.astype(object)
    color_obj[rng.random(n) < 0.02] = "purple"  # out of the domain
    color_obj[rng.random(n) < 0.02] = None
    df = pd.DataFrame(
        {
            "a": np.where(a_missing, np.nan, a),
            "b": b,
            "c": c,
            "d": d,
            "color": color_obj,
            "flag": flag,
            "y": y,
        }
    )
    schema = """format = "assay.schema/1"

[features.a]
type = "float"

[features.b]
type = "float"
presence = { required = true }

[features.c]
type = "float"
presence = { required = true }

[features.d]
type = "float"
presence = { required = true }

[features.color]
type = "string"
domain = ["red", "green", "blue"]
min_domain_mass = 0.9

[features.flag]
type = "bool"
presence = { required = true }

[features.y]
type = "int"
role = "label"
categorical = true
domain = [0, 1]
"""
    return df, schema


def xor_data(rng):
    n = 10_000
    x1 = rng.uniform(-1.0, 1.0, n)
    x2 = rng.uniform(-1.0, 1.0, n)
    y = (x1 * x2 > 0).astype(int)
    flip = rng.random(n) < 0.05
    y = np.where(flip, 1 - y, y)
    df = pd.DataFrame({"x1": x1, "x2": x2, "y": y})
    schema = """format = "assay.schema/1"

[features.x1]
type = "float"
presence = { required = true }

[features.x2]
type = "float"
presence = { required = true }

[features.y]
type = "int"
role = "label"
categorical = true
domain = [0, 1]
"""
    return df, schema


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261207)
    expected = {
        "versions": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "model": 'LogisticRegression(C=1.0, solver="lbfgs", max_iter=10000, tol=1e-8)',
        "holdout": "the last round(0.2 n) rows in file order",
    }
    with open("examples/demo/schema.toml", "rb") as f:
        schema = tomllib.load(f)
    example = pd.read_parquet("examples/data/train.parquet")
    expected["example"] = fit("example", example, schema, "label", "1")
    expected["example"]["data"] = "examples/data/train.parquet"
    expected["example"]["schema"] = "examples/demo/schema.toml"

    for name, make in [("linear", linear_data), ("xor", xor_data)]:
        df, schema_text = make(rng)
        data_path = os.path.join(OUT, f"{name}.csv")
        schema_path = os.path.join(OUT, f"{name}.schema.toml")
        df.to_csv(data_path, index=False, float_format="%.7g")
        with open(schema_path, "w") as f:
            f.write(schema_text)
        # Read back as the Rust test will: from the CSV.
        df = pd.read_csv(data_path)
        expected[name] = fit(name, df, tomllib.loads(schema_text), "y", "1")
        expected[name]["data"] = data_path
        expected[name]["schema"] = schema_path

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    for name in ("example", "linear", "xor"):
        print(name, expected[name]["roc_auc"], expected[name]["objective"])


if __name__ == "__main__":
    main()
