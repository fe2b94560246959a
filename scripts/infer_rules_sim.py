#!/usr/bin/env python3
"""Simulates assay's schema-inference rules for domains and int ranges.

A reference implementation, in numpy, of the rules `assay infer` applies
(src/schema/infer.rs, infer/domain.rs, infer/range.rs) and of the checks
`assay validate` makes with their output (out-of-domain share against
`min_domain_mass`; values past a range bound by more than the default
`range_tolerance` of 0.01 of the range's width). For many distributions and
training / serving sizes it measures:

- false alarms: the share of clean serving samples (same distribution as the
  training sample, fresh draws) that fail validation;
- detection: the share of faulty serving samples that fail: a new category
  at 5% of the rows (categorical columns), or 0.1% of values far out of range
  (ten times the training maximum plus 10; numeric int columns);

under the new rules and under the old ones (every int column with at most 20
values and every string column with at most 100 got a strict domain of the
values seen).

The output is a Markdown document (default docs/schema-inference-simulation.md)
that docs/schema-inference.md quotes. CI does not run this script; the Rust
tests (tests/schema_inference.rs) check the same rules on the real profile ->
infer -> validate path.

    python3 scripts/infer_rules_sim.py [--reps 200] [--out PATH]
"""

import argparse
import math
import sys

import numpy as np

# ---- the rules (mirror InferOptions::default()) ----
MAX_DOMAIN_SIZE = 100
MAX_DOMAIN_RATIO = 0.5
MAX_INT_CATEGORIES = 20
MIN_CATEGORY_COUNT = 30
MIN_TAIL_ALLOWANCE = 0.01
MAX_TAIL_ALLOWANCE = 0.2
SINGLETON_FACTOR = 3.0
UNSEEN_LOG = math.log(100.0)  # -ln(1 - 0.99)
INT_RANGE_MARGIN = 2.0
MIN_RANGE_VALUES = 1000
RANGE_TOLERANCE = 0.01
TOP_VALUES = 100  # values the profile lists with their counts


def round_up_one_digit(v):
    if v <= 0:
        return 0.0
    e = math.floor(math.log10(v))
    step = 10.0**e
    scaled = v / step
    nearest = round(scaled)
    scaled = nearest if abs(scaled - nearest) <= 1e-9 * max(nearest, 1) else math.ceil(scaled)
    return scaled * step


def domain_rule(counts, n):
    """Allowance (share outside the domain allowed) and whether established, or None."""
    if counts.min() >= MIN_CATEGORY_COUNT:
        return round_up_one_digit(UNSEEN_LOG / n), True
    f1 = int((counts == 1).sum())
    a = round_up_one_digit(max(MIN_TAIL_ALLOWANCE, SINGLETON_FACTOR * f1 / n))
    if a > MAX_TAIL_ALLOWANCE:
        return None
    return a, False


def candidates_ok(k, n, cap):
    return k <= cap and k / n <= MAX_DOMAIN_RATIO


def sanity_range(x):
    n = len(x)
    if n < MIN_RANGE_VALUES:
        return None
    lo, hi = float(x.min()), float(x.max())
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    span = hi - lo
    pad = INT_RANGE_MARGIN * (span if span > 0 else max(abs(lo), 1.0))
    limit = math.log(n) + 1.0

    def reach(d):
        return d / sd if sd > 0 else 0.0

    light_above = reach(hi - mean) <= limit
    light_below = reach(mean - lo) <= limit
    # The counts test, when the profile lists every value.
    vals, counts = np.unique(x, return_counts=True)
    often = vals[counts >= MIN_CATEGORY_COUNT]
    if len(vals) <= TOP_VALUES and len(often):
        body = float(often[-1] - often[0])
        light_above = light_above or (hi - often[-1]) <= body
        light_below = light_below or (often[0] - lo) <= body
    high = math.ceil(hi + pad) if light_above else None
    if lo >= 0:
        low = max(0.0, math.floor(lo - pad))
    else:
        low = math.floor(lo - pad) if light_below else None
    if low is None and high is None:
        return None
    return low, high


def range_fails(s, bounds):
    low, high = bounds
    if low is not None and high is not None and high > low:
        width = high - low
    else:
        b = low if low is not None else high
        width = abs(b) if b != 0 else 1.0
    slack = RANGE_TOLERANCE * width
    if low is not None and s.min() < low - slack:
        return True
    if high is not None and s.max() > high + slack:
        return True
    return False


# ---- inference + validation of one int column ----
def int_schema(train, new_rules=True):
    vals, counts = np.unique(train, return_counts=True)
    n = len(train)
    if not new_rules:
        if candidates_ok(len(vals), n, MAX_INT_CATEGORIES):
            return ("domain", set(vals.tolist()), 0.0)
        return ("none",)
    if candidates_ok(len(vals), n, MAX_INT_CATEGORIES):
        rule = domain_rule(counts, n)
        if rule is not None and rule[1]:
            return ("domain", set(vals.tolist()), rule[0])
    bounds = sanity_range(train)
    return ("range", bounds) if bounds else ("none",)


def fails(schema, serving):
    if schema[0] == "domain":
        inside = np.isin(serving, list(schema[1])).sum() / len(serving)
        return inside < 1.0 - schema[2] - 1e-12
    if schema[0] == "range":
        return range_fails(serving, schema[1])
    return False


# ---- string columns, as category indices with a probability vector ----
def string_schema(train_counts, n, new_rules=True):
    seen = train_counts > 0
    k = int(seen.sum())
    if not candidates_ok(k, n, MAX_DOMAIN_SIZE):
        return None
    if not new_rules:
        return seen, 0.0
    rule = domain_rule(train_counts[seen], n)
    if rule is None:
        return None
    return seen, rule[0]


def string_fails(schema, serving_counts, m, new_share=0.0):
    if schema is None:
        return False
    seen, allowance = schema
    outside = serving_counts[~seen].sum() / m
    outside = outside * (1 - new_share) + new_share
    return (1.0 - outside) < 1.0 - allowance - 1e-12


def int_families():
    def choice(values, p):
        return lambda r, k: r.choice(values, k, p=p)

    return {
        "Poisson(0.05)": lambda r, k: r.poisson(0.05, k),
        "Poisson(1)": lambda r, k: r.poisson(1, k),
        "Poisson(4)": lambda r, k: r.poisson(4, k),
        "Poisson(30)": lambda r, k: r.poisson(30, k),
        "Binomial(10, 0.3)": lambda r, k: r.binomial(10, 0.3, k),
        "Binomial(5, 0.5)": lambda r, k: r.binomial(5, 0.5, k),
        "Geometric(0.3)": lambda r, k: r.geometric(0.3, k) - 1,
        "NegBinomial(0.5, 0.05)": lambda r, k: r.negative_binomial(0.5, 0.05, k),
        "Poisson(4), 90% zeros": lambda r, k: np.where(r.random(k) < 0.9, 0, r.poisson(4, k)),
        "rating 1-5": choice([1, 2, 3, 4, 5], [0.05, 0.1, 0.2, 0.35, 0.3]),
        "flag 30%": lambda r, k: (r.random(k) < 0.3).astype(np.int64),
        "flag 1%": lambda r, k: (r.random(k) < 0.01).astype(np.int64),
        "codes (4, >=1% each)": choice([200, 301, 404, 500], [0.9, 0.01, 0.06, 0.03]),
        "codes + one at 0.01%": choice([200, 301, 404, 500, 503], [0.9, 0.01, 0.06, 0.0299, 0.0001]),
        "round(lognormal(3, 1))": lambda r, k: np.round(np.exp(r.normal(3, 1, k))).astype(np.int64),
        "Pareto(3) x 10": lambda r, k: np.floor(10 * (r.pareto(3, k) + 1)).astype(np.int64),
        "round(normal(100, 15))": lambda r, k: np.round(r.normal(100, 15, k)).astype(np.int64),
    }


def zipf(K, s):
    p = 1.0 / np.arange(1, K + 1) ** s
    return p / p.sum()


def string_families():
    rare = np.concatenate([np.full(20, 0.999 / 20), np.full(50, 0.001 / 50)])
    return {
        "uniform over 10": np.full(10, 0.1),
        "Zipf(30 values, s=1)": zipf(30, 1.0),
        "Zipf(100 values, s=1)": zipf(100, 1.0),
        "Zipf(100 values, s=2)": zipf(100, 2.0),
        "Zipf(300 values, s=2)": zipf(300, 2.0),
        "20 at 5% + 50 rare (0.1% in all)": rare / rare.sum(),
    }


SIZES = [(1000, 100), (1000, 1000), (5000, 20000), (50000, 200), (50000, 20000)]


def far_out(rng, serving, train_max, share=0.001):
    s = serving.copy()
    k = max(1, int(len(s) * share))
    s[rng.choice(len(s), k, replace=False)] = int(train_max) * 10 + 10
    return s


def new_code(rng, serving, train_vals, share=0.05):
    s = serving.copy()
    k = int(len(s) * share)
    s[rng.choice(len(s), k, replace=False)] = int(max(train_vals)) + 7
    return s


def simulate(reps, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for name, draw in int_families().items():
        for n, m in SIZES:
            tally = dict(new_fa=0, old_fa=0, det=0, domain=0, rng=0, upper=0)
            for _ in range(reps):
                train = draw(rng, n)
                new = int_schema(train)
                old = int_schema(train, new_rules=False)
                serving = draw(rng, m)
                tally["new_fa"] += fails(new, serving)
                tally["old_fa"] += fails(old, serving)
                if new[0] == "domain":
                    tally["domain"] += 1
                    tally["det"] += fails(new, new_code(rng, serving, new[1]))
                elif new[0] == "range":
                    tally["rng"] += 1
                    tally["upper"] += new[1][1] is not None
                    if new[1][1] is not None:
                        tally["det"] += fails(new, far_out(rng, serving, train.max()))
            checked = tally["domain"] + tally["upper"]
            rows.append(
                (
                    "int",
                    name,
                    n,
                    m,
                    tally["old_fa"] / reps,
                    tally["new_fa"] / reps,
                    f"domain {tally['domain'] / reps:.0%}, range {tally['rng'] / reps:.0%}"
                    f" (upper bound {tally['upper'] / reps:.0%})",
                    (tally["det"] / checked) if checked else None,
                )
            )
        print(f"  {name}", file=sys.stderr, flush=True)
    for name, p in string_families().items():
        for n, m in SIZES:
            tally = dict(new_fa=0, old_fa=0, det=0, domain=0, tail=0, allowance=0.0)
            for _ in range(reps):
                tc = rng.multinomial(n, p)
                new = string_schema(tc, n)
                old = string_schema(tc, n, new_rules=False)
                sc = rng.multinomial(m, p)
                tally["new_fa"] += string_fails(new, sc, m)
                tally["old_fa"] += string_fails(old, sc, m)
                if new is not None:
                    tally["domain"] += 1
                    tally["allowance"] += new[1]
                    tally["det"] += string_fails(new, sc, m, new_share=0.05)
            d = tally["domain"]
            rows.append(
                (
                    "string",
                    name,
                    n,
                    m,
                    tally["old_fa"] / reps,
                    tally["new_fa"] / reps,
                    f"domain {d / reps:.0%}"
                    + (f", mean allowance {tally['allowance'] / d:.2%}" if d else ""),
                    (tally["det"] / d) if d else None,
                )
            )
        print(f"  {name}", file=sys.stderr, flush=True)
    return rows


def markdown(rows, reps, seed):
    out = [
        "# Schema inference rules: simulated false alarms and detection",
        "",
        "Generated by `python3 scripts/infer_rules_sim.py --reps "
        f"{reps} --seed {seed}` (numpy {np.__version__}); do not edit by hand.",
        "The script re-implements the inference rules of `assay infer` and the",
        "checks of `assay validate`; `docs/schema-inference.md` explains them.",
        "",
        f"Each row: {reps} training samples of n rows, each followed by one clean",
        "serving sample of m rows from the same distribution (a false alarm when",
        "validation fails it) and one faulty sample (detected when it fails): a",
        "new value in 5% of the rows for columns with a domain, 0.1% of the",
        "values set to ten times the training maximum plus 10 for int columns",
        "with an upper bound. *Old*: the rules before this change (every int",
        "column with at most 20 values and every string column with at most 100",
        "got a strict domain of the values seen).",
        "",
        "| column | distribution | n | m | false alarms, old | false alarms, new | what the new rules inferred | detection, new |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for kind, name, n, m, old, new, what, det in rows:
        det_text = "-" if det is None else f"{det:.0%}"
        out.append(
            f"| {kind} | {name} | {n:,} | {m:,} | {old:.1%} | {new:.1%} | {what} | {det_text} |"
        )
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--out", default="docs/schema-inference-simulation.md")
    args = parser.parse_args()
    rows = simulate(args.reps, args.seed)
    with open(args.out, "w") as f:
        f.write(markdown(rows, args.reps, args.seed))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
