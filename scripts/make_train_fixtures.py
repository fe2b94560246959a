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
  x1·x2, 5% flipped): the MLP must beat the logistic regression there;
- `multiclass`: generated, three string classes drawn from a softmax
  model (raw features with offsets and scales, a categorical feature,
  missing values); the reference is the multinomial
  `LogisticRegression(C=1.0, solver="lbfgs")` (one coefficient row per
  class, as assay's softmax regression);
- `regression`: generated, a float label linear in the features plus
  Gaussian noise; the reference is `Ridge(alpha=1/C)` with C = 1. assay
  fits least squares on the standardised label, mean(½ r²) + ‖w‖²/(2 C n);
  multiplied by 2 n std², that is Ridge's Σ r² + ‖w‖²/C on the raw label
  with coefficients scaled by std, so both have the same minimum (the
  objective recorded here is assay's, computed from Ridge's solution).
"""

import json
import os
import tomllib

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

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


def split(df, schema, label):
    n = len(df)
    n_holdout = int(round(n * HOLDOUT))
    train, holdout = df.iloc[: n - n_holdout], df.iloc[n - n_holdout :]
    x_train, names = encode(train, train, schema, label)
    x_holdout, _ = encode(train, holdout, schema, label)
    return n, n_holdout, train, holdout, x_train, x_holdout, names


def fit_multiclass(df, schema, label):
    n, n_holdout, train, holdout, x_train, x_holdout, names = split(df, schema, label)
    y_train = train[label].astype(str).to_numpy()
    y_holdout = holdout[label].astype(str).to_numpy()
    model = LogisticRegression(C=1.0, solver="lbfgs", max_iter=10000, tol=1e-8)
    model.fit(x_train, y_train)
    assert model.coef_.shape[0] == 3, "multinomial: one row per class"
    proba = model.predict_proba(x_holdout)
    # The objective: mean −log softmax + ‖W‖² / (2 C n).
    z = x_train @ model.coef_.T + model.intercept_
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    index = {c: i for i, c in enumerate(model.classes_)}
    rows = np.arange(len(y_train))
    loss = -np.mean(logp[rows, [index[c] for c in y_train]])
    objective = float(loss + np.sum(model.coef_**2) / (2.0 * 1.0 * len(y_train)))
    return {
        "rows": n,
        "holdout_rows": n_holdout,
        "columns": names,
        "classes": [str(c) for c in model.classes_],
        "accuracy": float(accuracy_score(y_holdout, model.predict(x_holdout))),
        "log_loss": float(log_loss(y_holdout, proba, labels=model.classes_)),
        "objective": objective,
    }


def fit_regression(df, schema, label):
    n, n_holdout, train, holdout, x_train, x_holdout, names = split(df, schema, label)
    y_train = train[label].to_numpy(dtype=float)
    y_holdout = holdout[label].to_numpy(dtype=float)
    c = 1.0
    model = Ridge(alpha=1.0 / c, solver="cholesky")
    model.fit(x_train, y_train)
    pred = model.predict(x_holdout)
    # assay's objective on the standardised label (population std).
    mean, std = y_train.mean(), y_train.std(ddof=0)
    w = model.coef_ / std
    b = (model.intercept_ - mean) / std
    r = (x_train @ w + b) - (y_train - mean) / std
    objective = float(np.mean(0.5 * r**2) + np.sum(w**2) / (2.0 * c * len(y_train)))
    return {
        "rows": n,
        "holdout_rows": n_holdout,
        "columns": names,
        "rmse": float(np.sqrt(mean_squared_error(y_holdout, pred))),
        "mae": float(mean_absolute_error(y_holdout, pred)),
        "r2": float(r2_score(y_holdout, pred)),
        "objective": objective,
    }


MIXED_SCHEMA = """format = "assay.schema/1"

[features.a]
type = "float"

[features.b]
type = "float"
presence = { required = true }

[features.c]
type = "float"
presence = { required = true }

[features.color]
type = "string"
domain = ["red", "green", "blue"]
min_domain_mass = 0.9

[features.flag]
type = "bool"
presence = { required = true }
"""


def mixed_features(rng, n):
    a = rng.normal(50.0, 10.0, n)
    b = rng.normal(0.0, 0.01, n)
    c = rng.uniform(-3.0, 3.0, n)
    color = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])
    flag = rng.random(n) < 0.4
    a_missing = rng.random(n) < 0.05
    color_obj = color.astype(object)
    color_obj[rng.random(n) < 0.02] = "purple"  # out of the domain
    color_obj[rng.random(n) < 0.02] = None
    df = pd.DataFrame(
        {
            "a": np.where(a_missing, np.nan, a),
            "b": b,
            "c": c,
            "color": color_obj,
            "flag": flag,
        }
    )
    # The signal uses the true values (a missing `a` still counted).
    green = (color == "green").astype(float)
    blue = (color == "blue").astype(float)
    return df, (a - 50.0) / 10.0, b / 0.01, c, green, blue, flag.astype(float)


def multiclass_data(rng):
    n = 15_000
    df, a, b, c, green, blue, flag = mixed_features(rng, n)
    z = np.column_stack(
        [
            0.8 * a - 0.5 * c + 0.6 * green,
            -0.4 * a + 0.9 * b + 0.7 * flag - 0.8 * blue,
            np.zeros(n),
        ]
    )
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random(n)[:, None]
    index = (u > np.cumsum(p, axis=1)).sum(axis=1)
    df["y"] = np.array(["low", "mid", "high"])[index]
    schema = (
        MIXED_SCHEMA
        + """
[features.y]
type = "string"
role = "label"
domain = ["high", "low", "mid"]
"""
    )
    return df, schema


def regression_data(rng):
    n = 15_000
    df, a, b, c, green, blue, flag = mixed_features(rng, n)
    y = 100.0 + 12.0 * a - 7.0 * b + 4.0 * c + 9.0 * green - 5.0 * blue + 3.0 * flag
    df["y"] = y + rng.normal(0.0, 6.0, n)
    schema = (
        MIXED_SCHEMA
        + """
[features.y]
type = "float"
role = "label"
"""
    )
    return df, schema


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

    expected["multiclass_model"] = expected["model"] + " (multinomial: 3 classes)"
    expected["regression_model"] = 'Ridge(alpha=1/C, C=1.0, solver="cholesky")'
    for name, make, fit_case in [
        ("multiclass", multiclass_data, fit_multiclass),
        ("regression", regression_data, fit_regression),
    ]:
        df, schema_text = make(rng)
        data_path = os.path.join(OUT, f"{name}.csv")
        schema_path = os.path.join(OUT, f"{name}.schema.toml")
        df.to_csv(data_path, index=False, float_format="%.7g")
        with open(schema_path, "w") as f:
            f.write(schema_text)
        df = pd.read_csv(data_path)
        expected[name] = fit_case(df, tomllib.loads(schema_text), "y")
        expected[name]["data"] = data_path
        expected[name]["schema"] = schema_path

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    for name in ("example", "linear", "xor"):
        print(name, expected[name]["roc_auc"], expected[name]["objective"])
    print("multiclass", expected["multiclass"]["log_loss"], expected["multiclass"]["objective"])
    print("regression", expected["regression"]["rmse"], expected["regression"]["objective"])


if __name__ == "__main__":
    main()
