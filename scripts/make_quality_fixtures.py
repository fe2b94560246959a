#!/usr/bin/env python3
"""Write the model quality and fairness fixtures in tests/fixtures/quality/.

Run from the repository root: `python3 scripts/make_quality_fixtures.py`
(needs scikit-learn, fairlearn, statsmodels, numpy and pandas; the committed
`expected.json` records the versions used). tests/quality_parity.rs checks
assay's accumulators against these values to 1e-9.

Every data set is generated here with a fixed seed and written as CSV next
to the values scikit-learn, Fairlearn and statsmodels compute on it. The
definitions assay documents that these libraries do not have (ECE, the
top-label ECE, DeLong's variance, residual quantiles) are computed here with
NumPy from their textbook form, independently of assay's implementation.
"""

import json
import os
import warnings

import fairlearn
import numpy as np
import pandas as pd
import sklearn
import statsmodels
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

OUT = os.path.join("tests", "fixtures", "quality")
warnings.filterwarnings("ignore")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def ece_of(y_bin, prob):
    """ECE over calibration_curve's own bins (10 uniform)."""
    bins = np.linspace(0.0, 1.0, 11)
    ids = np.searchsorted(bins[1:-1], prob)
    total = np.bincount(ids, minlength=10)
    prob_true, prob_pred = calibration_curve(y_bin, prob, n_bins=10, strategy="uniform")
    counts = total[total > 0]
    return float(np.sum(counts / len(prob) * np.abs(prob_true - prob_pred))), prob_true, prob_pred, counts


def delong_variance(y_bin, score):
    """DeLong's variance of the AUC from midranks (Sun & Xu 2014)."""
    pos = score[y_bin == 1]
    neg = score[y_bin == 0]
    m, n = len(pos), len(neg)

    def midrank(x):
        order = np.argsort(x, kind="mergesort")
        xs = x[order]
        ranks = np.empty(len(x))
        i = 0
        while i < len(x):
            j = i
            while j < len(x) and xs[j] == xs[i]:
                j += 1
            ranks[i:j] = 0.5 * (i + j - 1) + 1
            i = j
        out = np.empty(len(x))
        out[order] = ranks
        return out

    tx = midrank(pos)
    ty = midrank(neg)
    tz = midrank(np.concatenate([pos, neg]))
    auc = tz[:m].sum() / m / n - (m + 1.0) / 2.0 / n
    v01 = (tz[:m] - tx) / n
    v10 = 1.0 - (tz[m:] - ty) / m
    s10 = np.var(v01, ddof=1)
    s01 = np.var(v10, ddof=1)
    return float(auc), float(s10 / m + s01 / n)


def wilson(s, n):
    lo, hi = proportion_confint(s, n, alpha=0.05, method="wilson")
    return [float(lo), float(hi)]


def binary_expected(y, score, pred, pos):
    """scikit-learn's metrics of a binary classifier; `pred` may be None."""
    y_bin = (y == pos).astype(int)
    neg = [c for c in np.unique(np.concatenate([y, pred if pred is not None else y])) if c != pos]
    out = {"positive": str(pos)}
    if pred is not None:
        out.update(
            accuracy=skm.accuracy_score(y, pred),
            balanced_accuracy=skm.balanced_accuracy_score(y, pred),
            precision=skm.precision_score(y, pred, pos_label=pos),
            recall=skm.recall_score(y, pred, pos_label=pos),
            f1=skm.f1_score(y, pred, pos_label=pos),
            positive_prediction_rate=float(np.mean(pred == pos)),
        )
        labels = sorted(set(np.unique(y)) | set(np.unique(pred)), key=lambda v: (0, float(v), str(v)) if _num(v) else (1, 0.0, str(v)))
        out["confusion_matrix"] = {
            "labels": [str(v) for v in labels],
            "matrix": skm.confusion_matrix(y, pred, labels=labels).tolist(),
        }
    if score is not None:
        ece, prob_true, prob_pred, counts = ece_of(y_bin, score)
        auc, var = delong_variance(y_bin, score)
        out.update(
            roc_auc=skm.roc_auc_score(y_bin, score),
            average_precision=skm.average_precision_score(y_bin, score),
            log_loss=skm.log_loss(y_bin, score, labels=[0, 1]),
            brier=skm.brier_score_loss(y_bin, score),
            ece=ece,
            calibration_prob_true=prob_true.tolist(),
            calibration_prob_pred=prob_pred.tolist(),
            calibration_counts=[int(c) for c in counts],
            delong_auc=auc,
            delong_variance=var,
        )
    out["base_rate"] = float(np.mean(y_bin))
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in out.items()}


def _num(v):
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def make_binary(rng, n):
    sex = rng.choice(["F", "M"], size=n, p=[0.45, 0.55])
    race = rng.choice(["a", "b", "c", "d", "e"], size=n, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    x = rng.normal(size=n) + 0.3 * (sex == "M") - 0.2 * (race == "c")
    y = (rng.random(n) < sigmoid(1.2 * x - 0.4 + 0.3 * (race == "b"))).astype(int)
    # Scores rounded to 3 decimals (exact histograms), with exact 0, 1 and
    # calibration-bin edges to exercise clipping and binning.
    score = np.round(sigmoid(1.0 * x - 0.2 + 0.3 * rng.normal(size=n)), 3)
    score[:5] = [0.0, 1.0, 0.1, 0.3, 0.7]
    y[:5] = [1, 0, 0, 1, 1]
    # A prediction column that is not the thresholded score (another model).
    pred = (sigmoid(1.1 * x - 0.3 + 0.5 * rng.normal(size=n)) >= 0.5).astype(int)
    return pd.DataFrame({"label": y, "score": score, "prediction": pred, "sex": sex, "race": race})


def fairness_expected(df, sensitive, pred_col, pos=1):
    y = df["label"].to_numpy()
    pred = df[pred_col].to_numpy()
    sf = df[sensitive] if len(sensitive) > 1 else df[sensitive[0]]
    fns = {
        "count": lambda yt, yp: len(yt),
        "base_rate": lambda yt, yp: float(np.mean(yt == pos)),
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "precision": lambda yt, yp: skm.precision_score(yt, yp, zero_division=0),
        "accuracy": skm.accuracy_score,
    }
    frame = MetricFrame(metrics=fns, y_true=y, y_pred=pred, sensitive_features=sf)
    groups = []
    for key, row in frame.by_group.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        mask = np.ones(len(df), dtype=bool)
        for col, val in zip(sensitive, key):
            mask &= df[col].to_numpy() == val
        yt, yp = y[mask], pred[mask]
        tp = int(np.sum((yt == pos) & (yp == pos)))
        fp = int(np.sum((yt != pos) & (yp == pos)))
        fn = int(np.sum((yt == pos) & (yp != pos)))
        tn = int(np.sum((yt != pos) & (yp != pos)))
        groups.append(
            {
                "group": {c: str(v) for c, v in zip(sensitive, key)},
                **{k: float(row[k]) for k in fns},
                "ci": {
                    "base_rate": wilson(tp + fn, len(yt)),
                    "selection_rate": wilson(tp + fp, len(yt)),
                    "tpr": wilson(tp, tp + fn),
                    "fpr": wilson(fp, fp + tn),
                    "fnr": wilson(fn, tp + fn),
                    "precision": wilson(tp, tp + fp),
                    "accuracy": wilson(tp + tn, len(yt)),
                },
            }
        )
    disparities = {
        "demographic_parity_difference": demographic_parity_difference(y, pred, sensitive_features=sf),
        "demographic_parity_ratio": demographic_parity_ratio(y, pred, sensitive_features=sf),
        "equalized_odds_difference": equalized_odds_difference(y, pred, sensitive_features=sf),
        "equalized_odds_ratio": equalized_odds_ratio(y, pred, sensitive_features=sf),
        "equal_opportunity_difference": equal_opportunity_difference(y, pred, sensitive_features=sf),
        "equal_opportunity_ratio": equal_opportunity_ratio(y, pred, sensitive_features=sf),
    }
    # Newcombe's interval of the demographic parity difference, for the
    # groups with the highest and lowest selection rates.
    sel = frame.by_group["selection_rate"]
    hi, lo = sel.idxmax(), sel.idxmin()

    def counts(key):
        key = key if isinstance(key, tuple) else (key,)
        mask = np.ones(len(df), dtype=bool)
        for col, val in zip(sensitive, key):
            mask &= df[col].to_numpy() == val
        return int(np.sum(pred[mask] == pos)), int(mask.sum())

    (s1, n1), (s2, n2) = counts(hi), counts(lo)
    ci = confint_proportions_2indep(s1, n1, s2, n2, method="newcomb", compare="diff", alpha=0.05)
    return {
        "sensitive": sensitive,
        "groups": groups,
        "disparities": {k: float(v) for k, v in disparities.items()},
        "demographic_parity_difference_ci": [float(ci[0]), float(ci[1])],
    }


def make_multiclass(rng, n):
    classes = ["ant", "bee", "cat", "dog"]
    x = rng.normal(size=(n, 4))
    logits = x + np.array([0.5, 0.0, -0.3, 0.2])
    truth = np.array([rng.choice(4, p=p) for p in np.exp(logits) / np.exp(logits).sum(1, keepdims=True)])
    model = logits + 0.6 * rng.normal(size=(n, 4))
    prob = np.exp(model) / np.exp(model).sum(1, keepdims=True)
    prob = np.round(prob, 4)
    prob[:, 3] = np.round(1.0 - prob[:, :3].sum(1), 4)
    prob = np.clip(prob, 0.0, 1.0)
    y = np.array(classes)[truth]
    df = pd.DataFrame({"label": y})
    for j, c in enumerate(classes):
        df["p_" + c] = prob[:, j]
    # Noisy prediction column (sometimes not the arg-max), with a class the
    # labels never have in the first rows to exercise zero_division.
    argmax = np.argmax(prob, axis=1)
    noisy = np.where(rng.random(n) < 0.1, rng.integers(0, 4, size=n), argmax)
    df["prediction"] = np.array(classes)[noisy]
    return df, classes


def multiclass_expected(df, classes, pred_col):
    y = df["label"].to_numpy()
    prob = df[["p_" + c for c in classes]].to_numpy()
    pred = df[pred_col].to_numpy() if pred_col else np.array(classes)[np.argmax(prob, axis=1)]
    out = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
    }
    for avg in ["macro", "micro", "weighted"]:
        out["precision_" + avg] = skm.precision_score(y, pred, average=avg, zero_division=0)
        out["recall_" + avg] = skm.recall_score(y, pred, average=avg, zero_division=0)
        out["f1_" + avg] = skm.f1_score(y, pred, average=avg, zero_division=0)
    out["roc_auc"] = skm.roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=classes)
    out["roc_auc_weighted"] = skm.roc_auc_score(y, prob, multi_class="ovr", average="weighted", labels=classes)
    from sklearn.preprocessing import label_binarize

    out["average_precision"] = skm.average_precision_score(label_binarize(y, classes=classes), prob, average="macro")
    out["log_loss"] = skm.log_loss(y, prob, labels=classes)
    out["brier"] = skm.brier_score_loss(y, prob, labels=classes)
    # Top-label ECE: confidence = max probability, hit = arg-max is the label.
    conf = prob.max(axis=1)
    hit = (np.array(classes)[np.argmax(prob, axis=1)] == y).astype(int)
    ece, _, _, _ = ece_of(hit, conf)
    out["ece"] = ece
    labels = sorted(set(y) | set(pred))
    out["confusion_matrix"] = {"labels": labels, "matrix": skm.confusion_matrix(y, pred, labels=labels).tolist()}
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in out.items()}


def make_regression(rng, n):
    group = rng.choice(["north", "south", "east"], size=n, p=[0.5, 0.3, 0.2])
    y = np.round(rng.gamma(2.0, 50.0, size=n) + 30 * (group == "south"), 2)
    y[:3] = 0.0  # MAPE's epsilon
    pred = np.round(y * rng.normal(1.0, 0.1, size=n) + rng.normal(5.0, 10.0, size=n) + 8 * (group == "east"), 2)
    return pd.DataFrame({"label": y, "prediction": pred, "group": group})


def regression_expected(df):
    y, p = df["label"].to_numpy(), df["prediction"].to_numpy()
    e = p - y
    q = {str(k): float(np.quantile(e, k, method="inverted_cdf")) for k in [0.05, 0.25, 0.5, 0.75, 0.95]}
    out = {
        "mae": skm.mean_absolute_error(y, p),
        "mse": skm.mean_squared_error(y, p),
        "rmse": skm.root_mean_squared_error(y, p),
        "mape": skm.mean_absolute_percentage_error(y, p),
        "r2": skm.r2_score(y, p),
        "mean_error": float(np.mean(e)),
        "residual_quantiles": q,
    }
    frame = MetricFrame(
        metrics={"mae": skm.mean_absolute_error, "mean_prediction": mean_prediction,
                 "mean_label": lambda yt, yp: float(np.mean(yt)), "count": lambda yt, yp: len(yt)},
        y_true=y, y_pred=p, sensitive_features=df["group"],
    )
    out["by_group"] = [
        {"group": {"group": str(k)}, **{m: float(v) for m, v in row.items()}}
        for k, row in frame.by_group.iterrows()
    ]
    out["mae_difference"] = float(frame.difference()["mae"])
    out["mean_prediction_difference"] = float(frame.difference()["mean_prediction"])
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in out.items()}


def isotonic_expected(df):
    y, s = df["label"].to_numpy(), df["score"].to_numpy()
    iso = IsotonicRegression(out_of_bounds="clip").fit(s, y)
    grid = [-0.1, 0.0, 0.0005, 0.05, 0.1234, 0.25, 0.5, 0.5005, 0.77, 0.9, 0.999, 1.0, 1.5]
    grid = [g for g in grid if 0.0 <= g <= 1.0]
    return {"x": grid, "y": [float(v) for v in iso.predict(grid)]}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    expected = {
        "versions": {
            "scikit-learn": sklearn.__version__,
            "fairlearn": fairlearn.__version__,
            "statsmodels": statsmodels.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        }
    }

    binary = make_binary(rng, 3000)
    binary.to_csv(os.path.join(OUT, "binary.csv"), index=False)
    y, s, p = binary["label"].to_numpy(), binary["score"].to_numpy(), binary["prediction"].to_numpy()
    expected["binary"] = {
        "score_threshold_0.5": binary_expected(y, s, (s >= 0.5).astype(int), 1),
        "score_threshold_0.3": binary_expected(y, s, (s >= 0.3).astype(int), 1),
        "prediction_column": binary_expected(y, s, p, 1),
        # The positive class is 0: its probability is 1 − score.
        "positive_0": binary_expected(y, 1.0 - s, p, 0),
    }
    # String labels: the default positive class is the last in sort order.
    text = pd.DataFrame({
        "income": np.where(y == 1, ">50K", "<=50K"),
        "score": s,
        "predicted": np.where(p == 1, ">50K", "<=50K"),
    })
    text.to_csv(os.path.join(OUT, "binary_text.csv"), index=False)
    expected["binary_text"] = binary_expected(text["income"].to_numpy(), s, text["predicted"].to_numpy(), ">50K")
    # A single-class window: sklearn's ROC AUC is NaN, AP 0 (assay: null).
    one = binary[binary["label"] == 0].head(200)
    one.to_csv(os.path.join(OUT, "binary_one_class.csv"), index=False)
    ys, ss = one["label"].to_numpy(), one["score"].to_numpy()
    expected["binary_one_class"] = {
        "accuracy": skm.accuracy_score(ys, (ss >= 0.5).astype(int)),
        "precision": skm.precision_score(ys, (ss >= 0.5).astype(int), zero_division=0),
        "recall": skm.recall_score(ys, (ss >= 0.5).astype(int), zero_division=0),
        "f1": skm.f1_score(ys, (ss >= 0.5).astype(int), zero_division=0),
        "log_loss": skm.log_loss(ys, ss, labels=[0, 1]),
        "brier": skm.brier_score_loss(ys, ss, pos_label=1),
        "sklearn_roc_auc": str(skm.roc_auc_score(ys, ss)),
        "sklearn_average_precision": float(skm.average_precision_score(ys, ss)),
    }
    expected["isotonic"] = isotonic_expected(binary)
    expected["fairness"] = [
        fairness_expected(binary, ["sex"], "prediction"),
        fairness_expected(binary, ["race"], "prediction"),
        fairness_expected(binary, ["sex", "race"], "prediction"),
    ]

    multi, classes = make_multiclass(rng, 2000)
    multi.to_csv(os.path.join(OUT, "multiclass.csv"), index=False)
    expected["multiclass"] = {
        "classes": classes,
        "prediction_column": multiclass_expected(multi, classes, "prediction"),
        "argmax": multiclass_expected(multi, classes, None),
    }

    reg = make_regression(rng, 2000)
    reg.to_csv(os.path.join(OUT, "regression.csv"), index=False)
    expected["regression"] = regression_expected(reg)

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
