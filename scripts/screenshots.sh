#!/usr/bin/env bash
# The README's two screenshots, from the example data, in headless chromium
# (1280×900, device scale 1):
#   docs/images/drift-report.png  `assay drift --format html` of the training
#                                 data against the README tour's drifted copy
#   docs/images/daemon.png        the daemon's page of model `credit` after the
#                                 tour's two batches (the clean serving data,
#                                 then the drifted copy)
# Run from anywhere: scripts/screenshots.sh. Needs chromium (or set
# ASSAY_CHROMIUM, as the HTML tests do) and curl.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
chromium="${ASSAY_CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome)}"
out="$root/docs/images"
work="$(mktemp -d)"
daemon_pid=""
cleanup() {
    if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cargo build -q
cargo build -q --example generate_data
assay="$root/target/debug/assay"
mkdir -p "$out"

# The README tour's drifted serving data and schema.
"$root/target/debug/examples/generate_data" --only serving --out-dir "$work/drifted" \
    --drift income=0.001 --null-rate age=0.3 --new-category purpose=crypto:0.2 >/dev/null
"$assay" profile examples/data/train.parquet -o "$work/train.profile.json" >/dev/null
"$assay" infer "$work/train.profile.json" -o "$work/schema.toml" >/dev/null

shot() { # URL PNG
    "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --disable-extensions --disable-background-networking \
        --disable-component-update --disable-sync --hide-scrollbars \
        --force-device-scale-factor=1 --window-size=1280,900 \
        --virtual-time-budget=3000 --user-data-dir="$work/profile" \
        --screenshot="$2" "$1" 2>/dev/null
    echo "wrote $2 ($(stat -c %s "$2") bytes)"
}

# 1. The drift report (exit 1: drift found), run from the work directory so
# that the page names the files as the tour does, not by temporary paths.
ln -s "$root/examples" "$work/examples"
(cd "$work" && "$assay" drift examples/data/train.parquet drifted/serving.parquet \
    --schema schema.toml --format html -o drift.html >/dev/null) || [ $? -eq 1 ]
shot "file://$work/drift.html" "$out/drift-report.png"

# 2. The daemon, as in the tour, on a free port with its own state.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$assay" serve --config examples/assay.toml --listen "127.0.0.1:$port" \
    --state-dir "$work/state" 2>"$work/daemon.log" &
daemon_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do
    curl -sf "$base/readyz" >/dev/null && break
    sleep 0.2
done
for data in examples/data/serving.parquet "$work/drifted/serving.parquet"; do
    curl -s -H 'Content-Type: application/vnd.apache.parquet' \
        --data-binary @"$data" "$base/v1/batches" >/dev/null
done
# Wait until both windows are closed (the page lists only closed ones).
for _ in $(seq 100); do
    [ "$(curl -s "$base/v1/windows" | grep -o '"state":"closed"' | wc -l)" -ge 2 ] && break
    sleep 0.2
done
shot "$base/ui/models/credit" "$out/daemon.png"
