"""Shared test fixtures: where the development data is, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TALLREC_TEST_SHARED", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (the raw MovieLens files and the authors' official samples)."""
    if not (SHARED_DATA / "tallrec-official").is_dir():
        pytest.skip(f"development data not found at {SHARED_DATA} (set TALLREC_TEST_SHARED)")
    return SHARED_DATA


@pytest.fixture
def run_cli(capsys):
    """Run `tallrec ARGS...` in-process; returns (exit code, stdout, stderr)."""
    from tallrec.cli import main

    def _run(*args: str):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return _run
