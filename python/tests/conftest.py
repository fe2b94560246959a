"""Shared fixtures: the repository's example data and the CLI binary that
`cargo test` builds (scripts/test.sh runs it first)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def cli() -> Path:
    binary = REPO / "target" / "debug" / "assay"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `cargo build` (scripts/test.sh does)")
    return binary


def run_cli(cli: Path, *args: str, expect=0) -> subprocess.CompletedProcess:
    """Runs the CLI; `expect` is its exit code, or None for 0 or 1 (a
    check's verdict, not an error)."""
    done = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True)
    if expect is None:
        assert done.returncode in (0, 1), done.stderr
    else:
        assert done.returncode == expect, done.stderr
    return done


def cli_json(cli: Path, *args: str, expect=0) -> dict:
    return json.loads(run_cli(cli, *args, "--format", "json", expect=expect).stdout)
