#!/usr/bin/env bash
# The test command: the Rust suite, then the Python package's.
#
# 1. cargo test --locked --all-targets (also builds target/debug/assay, which
#    the Python tests run to check that CLI and Python profiles merge).
# 2. The extension (python/, PyO3) built in the dev profile into a venv under
#    target/ (`maturin develop`): it shares the target dir and the dependency
#    graph with step 1, so only pyo3 and the extension compile on top. The
#    venv sees the system site-packages (pandas, pyarrow, polars, pyspark,
#    pytest, maturin), so nothing is downloaded here.
# 3. pytest python/tests (the Spark tests run PySpark local[2]; they are
#    skipped only when pyspark or Java is missing, and say so).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets
venv=target/pyenv
[ -x "$venv/bin/python" ] || python3 -m venv --system-site-packages "$venv"
export VIRTUAL_ENV="$PWD/$venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
export PYSPARK_PYTHON="$VIRTUAL_ENV/bin/python"
export PYSPARK_DRIVER_PYTHON="$VIRTUAL_ENV/bin/python"
(cd python && maturin develop --locked)
exec python -m pytest -q python/tests "$@"
