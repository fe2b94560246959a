#!/usr/bin/env python3
"""Writes the 20-expectation benchmark suites for the generated bench table
(`cargo run --release --example generate_bench_data`), each in both forms:

    expectations/bench_table.toml   assay's TOML
    expectations/bench_table.json   Great Expectations 1.x JSON (the same suite)
    expectations/bench_mixed.toml   the second suite (issue 31), TOML
    expectations/bench_mixed.json   ... and for Great Expectations

bench_table mixes row-level checks with many column aggregates; bench_mixed
is what a data contract on the same table typically holds: table row count,
not-null, uniqueness (int64 ids, short string ids, a compound key), value
sets, ranges with `mostly`, regular expressions, value lengths, mean,
median, stdev, max and the proportion of unique values. Every expectation of
both passes on the generated data.

Run from the repository root: python3 scripts/bench_suite.py
The files are committed; scripts/bench.sh runs them against Great
Expectations.
"""

import json

BENCH_TABLE = [
    # (type, kwargs) — mixed map (row-level) and aggregate expectations.
    ("expect_table_row_count_to_be_between", {"min_value": 1}),
    ("expect_column_values_to_not_be_null", {"column": "id"}),
    ("expect_column_values_to_not_be_null", {"column": "user_id"}),
    ("expect_column_values_to_be_between", {"column": "age", "min_value": 0, "max_value": 120}),
    ("expect_column_values_to_be_between", {"column": "amount", "min_value": 0, "max_value": 100000}),
    ("expect_column_values_to_be_in_set",
     {"column": "status", "value_set": ["active", "pending", "suspended", "closed"]}),
    ("expect_column_values_to_be_in_set",
     {"column": "country", "value_set": ["US", "GB", "DE", "IN", "FR", "BR", "JP", "CA"]}),
    ("expect_column_values_to_match_regex", {"column": "session_id", "regex": "^[0-9a-f]{16}$"}),
    ("expect_column_value_lengths_to_be_between", {"column": "comment", "min_value": 0, "max_value": 40}),
    ("expect_column_values_to_be_in_set", {"column": "label", "value_set": [0, 1]}),
    ("expect_column_mean_to_be_between", {"column": "score", "min_value": 0.4, "max_value": 0.6}),
    ("expect_column_stdev_to_be_between", {"column": "temperature", "min_value": 1, "max_value": 20}),
    ("expect_column_min_to_be_between", {"column": "price", "min_value": 0, "max_value": 1}),
    ("expect_column_max_to_be_between", {"column": "visits", "min_value": 1, "max_value": 100}),
    ("expect_column_median_to_be_between", {"column": "balance", "min_value": -1000, "max_value": 1000}),
    ("expect_column_proportion_of_non_null_values_to_be_between",
     {"column": "ratio", "min_value": 0.9, "max_value": 1.0}),
    ("expect_column_distinct_values_to_be_in_set",
     {"column": "category_code", "value_set": [100, 200, 300, 400, 500]}),
    ("expect_column_unique_value_count_to_be_between", {"column": "status", "min_value": 2, "max_value": 10}),
    ("expect_column_most_common_value_to_be_in_set", {"column": "country", "value_set": ["US"]}),
    ("expect_column_sum_to_be_between", {"column": "visits", "min_value": 0}),
]

BENCH_MIXED = [
    ("expect_table_row_count_to_be_between", {"min_value": 1, "max_value": 100_000_000}),
    ("expect_column_values_to_not_be_null", {"column": "id"}),
    ("expect_column_values_to_not_be_null", {"column": "event_time"}),
    ("expect_column_values_to_be_unique", {"column": "id"}),
    ("expect_column_values_to_be_unique", {"column": "session_id"}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["user_id", "event_time"]}),
    ("expect_column_values_to_be_in_set",
     {"column": "status", "value_set": ["active", "pending", "suspended", "closed"]}),
    ("expect_column_values_to_be_in_set",
     {"column": "category_code", "value_set": [100, 200, 300, 400, 500]}),
    ("expect_column_values_to_be_between",
     {"column": "age", "min_value": 18, "max_value": 90, "mostly": 0.99}),
    ("expect_column_values_to_be_between",
     {"column": "temperature", "min_value": -10, "max_value": 50, "mostly": 0.95}),
    ("expect_column_values_to_be_between",
     {"column": "amount", "min_value": 0, "max_value": 5000, "mostly": 0.99}),
    ("expect_column_values_to_match_regex", {"column": "product", "regex": "^SKU-[0-9]{5}-[a-z]+$"}),
    ("expect_column_values_to_match_regex",
     {"column": "city", "regex": "^city_[0-9]{4}$", "mostly": 0.999}),
    ("expect_column_value_lengths_to_be_between",
     {"column": "session_id", "min_value": 16, "max_value": 16}),
    ("expect_column_value_lengths_to_be_between", {"column": "comment", "min_value": 0, "max_value": 40}),
    ("expect_column_mean_to_be_between", {"column": "amount", "min_value": 30, "max_value": 90}),
    ("expect_column_median_to_be_between", {"column": "temperature", "min_value": 15, "max_value": 25}),
    ("expect_column_stdev_to_be_between", {"column": "balance", "min_value": 800, "max_value": 1000}),
    ("expect_column_max_to_be_between", {"column": "age", "min_value": 80, "max_value": 90}),
    ("expect_column_proportion_of_unique_values_to_be_between",
     {"column": "user_id", "min_value": 0.5, "max_value": 0.8}),
]

SUITES = {
    "bench_table": (
        BENCH_TABLE,
        "The 20-expectation benchmark suite for the generated bench table.",
    ),
    "bench_mixed": (
        BENCH_MIXED,
        "The second 20-expectation benchmark suite: uniqueness, sets, ranges\n"
        "# with mostly, regexes, lengths and column statistics.",
    ),
}


def toml_value(v):
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return str(v)


def write(name, expectations, title):
    assert len(expectations) == 20
    lines = [
        f"# {title}",
        f"# Generated by scripts/bench_suite.py (with {name}.json, the same",
        "# suite for Great Expectations); run by scripts/bench.sh.",
        'format = "assay.expectations/1"',
        f'name = "{name}"',
        "",
    ]
    for kind, kwargs in expectations:
        lines.append("[[expectations]]")
        lines.append(f'type = "{kind}"')
        for k, v in kwargs.items():
            lines.append(f"{k} = {toml_value(v)}")
        lines.append("")
    with open(f"expectations/{name}.toml", "w") as f:
        f.write("\n".join(lines))
    suite = {
        "name": name,
        "expectations": [{"type": k, "kwargs": kw, "meta": {}} for k, kw in expectations],
        "meta": {},
    }
    with open(f"expectations/{name}.json", "w") as f:
        json.dump(suite, f, indent=2)
        f.write("\n")


def main():
    for name, (expectations, title) in SUITES.items():
        write(name, expectations, title)


if __name__ == "__main__":
    main()
