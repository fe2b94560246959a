#!/usr/bin/env bash
# Profiling benchmark against peers, as whole processes (see BENCHMARKS.md).
#
#   bash scripts/bench.sh            # profile: 10M rows vs polars describe, 1M vs whylogs;
#                                    # validate: 20 expectations, 10M vs profiling, 1M vs GE
#   ROWS=2000000 bash scripts/bench.sh
#   ONLY=ge bash scripts/bench.sh    # only the two 20-expectation suites against GE
#
# Needs the release build (built here), Python 3 with `pip install polars
# pyarrow pandas whylogs "numpy<2"` ($PYTHON), a second environment with
# `pip install "great_expectations==1.*" pyarrow` ($GE_PYTHON), and GNU time
# (/usr/bin/time) for peak RSS. Data goes to $BENCH_DIR (default /tmp/assay-bench) and is
# generated once. RUNS (default 3) runs of each command; the median is quoted.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/tmp/assay-bench}
ROWS=${ROWS:-10000000}
SMALL_ROWS=${SMALL_ROWS:-1000000}
RUNS=${RUNS:-3}
PYTHON=${PYTHON:-python3}
GE_PYTHON=${GE_PYTHON:-$PYTHON}
big="$BENCH_DIR/bench_${ROWS}.parquet"
small="$BENCH_DIR/bench_${SMALL_ROWS}.parquet"

cargo build --locked --release --bin assay --example generate_bench_data
assay=${CARGO_TARGET_DIR:-target}/release/assay
gen=${CARGO_TARGET_DIR:-target}/release/examples/generate_bench_data
[ "${ONLY:-}" = ge ] || [ -f "$big" ] || "$gen" --rows "$ROWS" -o "$big"
[ -f "$small" ] || "$gen" --rows "$SMALL_ROWS" -o "$small"

# run LABEL CMD...: RUNS timed runs; prints wall seconds and peak RSS per run
# and the medians.
run() {
    local label=$1
    shift
    local walls=() rss=()
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f '%e %M' -o /tmp/assay-bench-time "$@" >/dev/null
        read -r wall kb </tmp/assay-bench-time
        walls+=("$wall")
        rss+=("$kb")
    done
    local mw mr
    mw=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p")
    mr=$(printf '%s\n' "${rss[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p")
    printf '%-34s wall %6.2f s (runs: %s)  peak RSS %5d MiB\n' \
        "$label" "$mw" "${walls[*]}" "$((mr / 1024))"
    echo "$mw" >"/tmp/assay-bench-last"
}

# pair LABEL_A LABEL_B 'CMD_A' 'CMD_B': RUNS alternating runs (A B A B ...,
# after one warm-up of each); prints each side's wall seconds, the medians
# and the median of the per-pair ratios B / A.
pair() {
    local la=$1 lb=$2 ca=$3 cb=$4 wa=() wb=() ratios=()
    # A suite that fails exits 1; that is timed like a pass.
    $ca >/dev/null 2>&1 || true
    $cb >/dev/null 2>&1 || true
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f '%e %M' -o /tmp/assay-bench-time $ca >/dev/null || true
        read -r a _ </tmp/assay-bench-time
        /usr/bin/time -f '%e %M' -o /tmp/assay-bench-time $cb >/dev/null || true
        read -r b _ </tmp/assay-bench-time
        wa+=("$a")
        wb+=("$b")
        ratios+=("$(echo "scale=1; $b / $a" | bc)")
    done
    local mid=$(((RUNS + 1) / 2))
    printf '%-34s wall median %6.2f s (runs: %s)\n' "$la" \
        "$(printf '%s\n' "${wa[@]}" | sort -g | sed -n "${mid}p")" "${wa[*]}"
    printf '%-34s wall median %6.2f s (runs: %s)\n' "$lb" \
        "$(printf '%s\n' "${wb[@]}" | sort -g | sed -n "${mid}p")" "${wb[*]}"
    echo "$lb / $la per pair: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | sort -g | sed -n "${mid}p")"
}

if [ "${ONLY:-}" = ge ]; then
    for suite in bench_table bench_mixed; do
        echo "== $suite: 20 expectations, $SMALL_ROWS rows, alternating with Great Expectations"
        pair "assay validate" "Great Expectations" \
            "$assay validate -q $small --suite expectations/$suite.toml" \
            "$GE_PYTHON scripts/bench_peers.py great-expectations $small expectations/$suite.json"
    done
    exit 0
fi

echo "== $ROWS rows: $(du -h "$big" | cut -f1) $big; $(nproc) cores"
run "assay profile" "$assay" profile -q "$big" -o /tmp/assay-bench/out.profile.json
a=$(cat /tmp/assay-bench-last)
run "polars read_parquet().describe()" "$PYTHON" scripts/bench_peers.py polars-describe "$big"
p=$(cat /tmp/assay-bench-last)
echo "assay / polars = $(echo "scale=2; $a / $p" | bc)"

echo "== $SMALL_ROWS rows: $small"
run "assay profile" "$assay" profile -q "$small" -o /tmp/assay-bench/out.profile.json
a=$(cat /tmp/assay-bench-last)
run "whylogs why.log(pandas df)" "$PYTHON" scripts/bench_peers.py whylogs "$small"
w=$(cat /tmp/assay-bench-last)
echo "whylogs / assay = $(echo "scale=1; $w / $a" | bc)"

echo "== validate: 20-expectation suite (expectations/bench_table.toml)"
run "assay profile ($ROWS rows)" "$assay" profile -q "$big" -o /tmp/assay-bench/out.profile.json
p=$(cat /tmp/assay-bench-last)
run "assay validate ($ROWS rows)" "$assay" validate -q "$big" --suite expectations/bench_table.toml
v=$(cat /tmp/assay-bench-last)
echo "validate / profile = $(echo "scale=2; $v / $p" | bc)"
run "assay validate ($SMALL_ROWS rows)" "$assay" validate -q "$small" --suite expectations/bench_table.toml
a=$(cat /tmp/assay-bench-last)
run "Great Expectations ($SMALL_ROWS rows)" "$GE_PYTHON" scripts/bench_peers.py great-expectations "$small" expectations/bench_table.json
g=$(cat /tmp/assay-bench-last)
echo "great expectations / assay = $(echo "scale=1; $g / $a" | bc)"

for suite in bench_table bench_mixed; do
    echo "== $suite: 20 expectations, $SMALL_ROWS rows, alternating with Great Expectations"
    pair "assay validate" "Great Expectations" \
        "$assay validate -q $small --suite expectations/$suite.toml" \
        "$GE_PYTHON scripts/bench_peers.py great-expectations $small expectations/$suite.json"
done
