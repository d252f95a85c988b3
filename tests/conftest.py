"""Shared test fixtures: where the development data is, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TALLREC_TEST_SHARED", REPO.parent / "shared" / "data"))


SHARED_FIXTURES = ("shared_data", "movie_samples")


def pytest_collection_modifyitems(config, items):
    """Every test that reads ../shared/data (through a fixture, directly or not) is marked `shared`,
    so `-m "not shared"` runs the suite on a machine without the development data."""
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in SHARED_FIXTURES):
            item.add_marker(pytest.mark.shared)


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


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer random Llama with the default model's real tokenizer, saved as a HF folder
    (tallrec.llm.tiny): real tokenization, every test runs in seconds."""
    from tallrec.llm.tiny import tiny_model

    return tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def movie_samples(shared_data):
    from tallrec.data import load_samples

    return {
        "valid": load_samples(shared_data / "tallrec-official" / "movie" / "valid.json"),
        "test": load_samples(shared_data / "tallrec-official" / "movie" / "test.json"),
    }


def recorded_auc_matches_scores(folder: Path) -> float:
    """The AUC in folder/metrics.json recomputed from folder/scores.jsonl (labels, scores) with
    scikit-learn: a record whose AUC is not that of its own scores fails here."""
    import json

    from sklearn.metrics import roc_auc_score

    rec = json.loads((Path(folder) / "metrics.json").read_text())
    rows = [json.loads(line) for line in (Path(folder) / "scores.jsonl").read_text().splitlines()]
    assert len(rows) == rec["n"] and [r["index"] for r in rows] == list(range(len(rows)))
    expected = roc_auc_score([r["label"] for r in rows], [r["score"] for r in rows])
    assert abs(rec["auc"] - expected) < 1e-9, (rec["auc"], expected)
    return rec["auc"]


@pytest.fixture
def check_auc():
    return recorded_auc_matches_scores
