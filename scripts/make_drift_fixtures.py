#!/usr/bin/env python3
"""Write the drift-method fixtures in tests/fixtures/drift/ from SciPy.

Run from the repository root: `python3 scripts/make_drift_fixtures.py`
(needs numpy and scipy; the committed files record the versions used).
tests/drift_exact.rs checks assay's exact-mode methods against these values.

The binning and smoothing definitions below must stay identical to the ones
documented in src/checks/drift/mod.rs.
"""

import json
import os
import warnings

import numpy as np
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

OUT = os.path.join("tests", "fixtures", "drift")
FLOOR = 1e-4  # FREQUENCY_FLOOR
PSEUDO = 0.5  # chisquare pseudo-count when a category is new


def reference_bins_counts(ref, cur):
    edges = np.unique(np.quantile(np.asarray(ref, dtype=float), np.linspace(0, 1, 11)))
    inner = max(len(edges) - 1, 1)

    def counts(values):
        out = np.zeros(inner + 2)
        for x in values:
            if x < edges[0]:
                out[0] += 1
            elif x > edges[-1]:
                out[inner + 1] += 1
            else:
                out[min(np.searchsorted(edges, x, side="right"), inner)] += 1
        return out

    return counts(ref), counts(cur)


def freq_pair(r, c):
    r, c = np.asarray(r, float), np.asarray(c, float)
    keep = (r > 0) | (c > 0)
    r, c = r[keep], c[keep]
    return r / r.sum(), c / c.sum()


def freq_distances(p, q):
    pf, qf = np.maximum(p, FLOOR), np.maximum(q, FLOOR)
    return {
        "jensenshannon": {"statistic": float(jensenshannon(p, q))},
        "hellinger": {"statistic": float(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)) / np.sqrt(2))},
        "psi": {"statistic": float(np.sum((qf - pf) * np.log(qf / pf)))},
        "kl_div": {"statistic": float(stats.entropy(pf, qf))},
    }


def numeric_expected(ref, cur):
    ref, cur = np.asarray(ref, float), np.asarray(cur, float)
    out = {}
    ks = stats.ks_2samp(ref, cur)
    out["ks"] = {"statistic": float(ks.statistic), "p_value": float(ks.pvalue)}
    std = ref.std(ddof=0)
    if std > 0:
        out["wasserstein"] = {"statistic": float(stats.wasserstein_distance(ref, cur) / std)}
    out["energy"] = {"statistic": float(stats.energy_distance(ref, cur))}
    if len(np.unique(np.concatenate([ref, cur]))) >= 2 and len(ref) + len(cur) >= 4:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ad = stats.anderson_ksamp([ref, cur], variant="midrank")
        out["anderson"] = {"statistic": float(ad.statistic), "p_value": float(ad.pvalue)}
    if len(ref) >= 2 and len(cur) >= 2:
        cvm = stats.cramervonmises_2samp(ref, cur)
        out["cramer_von_mises"] = {"statistic": float(cvm.statistic), "p_value": float(cvm.pvalue)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tt = stats.ttest_ind(ref, cur, equal_var=False)
        if np.isfinite(tt.statistic):
            out["t_test"] = {"statistic": float(tt.statistic), "p_value": float(tt.pvalue)}
    r, c = reference_bins_counts(ref, cur)
    out.update(freq_distances(*freq_pair(r, c)))
    return out


def categorical_expected(ref, cur):
    keys = sorted(set(ref) | set(cur))
    keys = [k for k in keys if ref.get(k, 0) > 0 or cur.get(k, 0) > 0]
    r = np.array([ref.get(k, 0) for k in keys], float)
    c = np.array([cur.get(k, 0) for k in keys], float)
    p, q = r / r.sum(), c / c.sum()
    out = freq_distances(p, q)
    out["linf"] = {"statistic": float(np.max(np.abs(p - q)))}
    if len(keys) >= 2:
        rs = r + PSEUDO if np.any(r == 0) else r
        f_exp = rs / rs.sum() * c.sum()
        chi = stats.chisquare(f_obs=c, f_exp=f_exp)
        out["chisquare"] = {"statistic": float(chi.statistic), "p_value": float(chi.pvalue)}
        cont = stats.chi2_contingency(np.array([r, c]))
        out["chi2_contingency"] = {"statistic": float(cont.statistic), "p_value": float(cont.pvalue)}
    if len(keys) <= 2:
        success = max(keys)
        x1, n1 = ref.get(success, 0), r.sum()
        x2, n2 = cur.get(success, 0), c.sum()
        pooled = (x1 + x2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        if se > 0:
            z = (x1 / n1 - x2 / n2) / se
            out["z_test"] = {"statistic": float(z), "p_value": float(2 * stats.norm.sf(abs(z)))}
    return out


def numeric_cases():
    rng = np.random.default_rng(20240605)
    r6 = lambda a: np.round(a, 6)  # noqa: E731 -- keep the files small
    cases = [
        ("small_normal_shift_8_12", r6(rng.normal(0, 1, 8)), r6(rng.normal(0.8, 1, 12))),
        ("small_equal_10_10", r6(rng.normal(0, 1, 10)), r6(rng.normal(0.5, 1.5, 10))),
        ("small_same_dist_15_20", r6(rng.normal(0, 1, 15)), r6(rng.normal(0, 1, 20))),
        ("integers_with_ties_40_35", rng.integers(0, 6, 40).astype(float), rng.integers(1, 7, 35).astype(float)),
        ("small_ties_9_7", rng.integers(0, 4, 9).astype(float), rng.integers(0, 4, 7).astype(float)),
        ("identical_samples_25", *(lambda x: (x, x.copy()))(r6(rng.normal(5, 2, 25)))),
        ("medium_lognormal_200_150", r6(rng.lognormal(0, 0.5, 200)), r6(rng.lognormal(0.1, 0.6, 150))),
        ("large_normal_shift_3000_2500", r6(rng.normal(0, 1, 3000)), r6(rng.normal(0.05, 1.1, 2500))),
        ("large_equal_3000_3000", r6(rng.normal(0, 1, 3000)), r6(rng.normal(0.02, 1, 3000))),
        ("asymptotic_ks_12000_11000", r6(rng.normal(0, 1, 12000)), r6(rng.normal(0.01, 1, 11000))),
        ("asymptotic_ks_same_11000_10500", r6(rng.normal(0, 1, 11000)), r6(rng.normal(0, 1, 10500))),
        ("asymptotic_ks_small_en_10500_60", r6(rng.normal(0, 1, 10500)), r6(rng.normal(0, 1, 60))),
        ("asymptotic_ks_12000_400", r6(rng.normal(0, 1, 12000)), r6(rng.normal(0.15, 1, 400))),
        ("current_outside_reference_30_30", r6(rng.uniform(0, 1, 30)), r6(rng.uniform(0.5, 2, 30))),
        ("constant_reference_12_10", np.full(12, 3.0), r6(rng.normal(3, 1, 10))),
    ]
    out = []
    for name, ref, cur in cases:
        out.append({
            "name": name,
            "reference": [float(v) for v in ref],
            "current": [float(v) for v in cur],
            "expected": numeric_expected(ref, cur),
        })
    return out


def categorical_cases():
    rng = np.random.default_rng(7)
    cats = ["a", "b", "c", "d", "e"]
    big_r = rng.multinomial(5000, [0.4, 0.3, 0.15, 0.1, 0.05])
    big_c = rng.multinomial(4000, [0.35, 0.3, 0.2, 0.1, 0.05])
    cases = [
        ("same_proportions", {"x": 50, "y": 30, "z": 20}, {"x": 100, "y": 60, "z": 40}),
        ("shifted_five", dict(zip(cats, map(int, big_r))), dict(zip(cats, map(int, big_c)))),
        ("new_category_in_current", {"a": 40, "b": 60}, {"a": 30, "b": 50, "c": 20}),
        ("category_gone_in_current", {"a": 40, "b": 50, "c": 10}, {"a": 45, "b": 55}),
        ("binary_flags", {"0": 700, "1": 300}, {"0": 620, "1": 380}),
        ("binary_true_false", {"false": 90, "true": 10}, {"false": 88, "true": 12}),
        ("dominant_new_value", {"us": 500, "ca": 300, "mx": 200}, {"us": 100, "ca": 50, "mx": 40, "br": 800}),
    ]
    return [
        {"name": n, "reference": r, "current": c, "expected": categorical_expected(r, c)}
        for n, r, c in cases
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {"numpy": np.__version__, "scipy": scipy.__version__, "script": "scripts/make_drift_fixtures.py"}
    for fname, cases in [("numeric.json", numeric_cases()), ("categorical.json", categorical_cases())]:
        with open(os.path.join(OUT, fname), "w") as f:
            # One case per line keeps diffs readable and the files small.
            f.write('{"generated_by": ' + json.dumps(meta) + ', "cases": [\n')
            f.write(",\n".join(json.dumps(c) for c in cases))
            f.write("\n]}")
            f.write("\n")


if __name__ == "__main__":
    main()
