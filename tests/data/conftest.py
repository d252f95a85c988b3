"""Helpers for the data-pipeline tests: tiny raw files written on the fly, one-line error checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tallrec.data import Sample, save_samples


def write_ml(folder: Path, ratings: list[tuple], titles: dict[int, str] | None = None) -> Path:
    """A fake ml-100k folder: u.data (tab-separated) and u.item ('|'-separated, ISO-8859-1)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = sorted({r[1] for r in ratings}) if titles is None else sorted(titles)
    titles = titles or {i: f"Movie {i} (199{i % 10})" for i in items}
    (folder / "u.data").write_text("".join("\t".join(map(str, r)) + "\n" for r in ratings))
    (folder / "u.item").write_bytes(
        "".join(f"{i}|{titles[i]}|01-Jan-1995||http://x|0|1\n" for i in items).encode("ISO-8859-1")
    )
    return folder


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


def assert_one_line_error(code: int, err: str, *fragments: str) -> str:
    """Exit code != 0, exactly one 'tallrec: error:' line last on stderr, no traceback; returns it."""
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines, "nothing on stderr"
    last = lines[-1]
    assert last.startswith("tallrec: error: "), err
    assert sum(l.startswith("tallrec: error") for l in lines) == 1
    for f in fragments:
        assert f in last, (f, last)
    return last


@pytest.fixture
def fake_ml():
    return write_ml


@pytest.fixture
def one_line_error():
    return assert_one_line_error


@pytest.fixture
def small():
    return small_samples()
