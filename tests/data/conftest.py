"""Helpers for the data-pipeline tests: tiny raw files written on the fly, one-line error checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import one_line_error, write_raw_movielens

from tallrec.data import Sample, save_samples

write_ml = write_raw_movielens


@pytest.fixture
def samples_file(tmp_path):
    """Write Samples (or raw text) to a file and return its path."""

    def _make(content, name="s.json") -> Path:
        p = tmp_path / name
        if isinstance(content, str):
            p.write_text(content)
        else:
            save_samples(p, content)
        return p

    return _make


def small_samples() -> list[Sample]:
    return [
        Sample((("A (1990)", True), ("B (1991)", False)), "C (1992)", True),
        Sample((("A (1990)", True),), "D (1993)", False),
        Sample((("A (1990)", True), ("B (1991)", False), ("E", True)), "F", True),
    ]


assert_one_line_error = one_line_error


@pytest.fixture
def fake_ml():
    return write_ml


@pytest.fixture
def one_line_error():
    return assert_one_line_error


@pytest.fixture
def small():
    return small_samples()
