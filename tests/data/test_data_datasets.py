"""load_domain: ready splits from the data folder, and one-line hints when data is missing."""

from __future__ import annotations

import json

import pytest

from tallrec.core.errors import DataError
from tallrec.data import load_domain, resolve_book, resolve_movielens


@pytest.mark.shared
def test_movie_from_the_data_folder(shared_data, monkeypatch):
    monkeypatch.setenv("TALLREC_DATA_DIR", str(shared_data))
    d = load_domain("movie")
    assert (d.domain, len(d.train), len(d.valid), len(d.test)) == ("movie", 8000, 1000, 1000)
    official = json.loads((shared_data / "tallrec-official" / "movie" / "test.json").read_text())
    assert [s.to_record() for s in d.test] == official
    assert "official TALLRec split" in d.source


@pytest.mark.shared
def test_book_from_the_data_folder(shared_data):
    d = load_domain("book", shared_data)
    assert (d.domain, len(d.train), len(d.valid), len(d.test)) == ("book", 1927, 500, 2427)
    assert "authors' files" in d.source and "seed 42" in d.source
    assert resolve_book(shared_data, valid_size=100, seed=1).valid != d.valid


def test_missing_movielens_says_what_to_do(tmp_path):
    with pytest.raises(DataError) as e:
        resolve_movielens(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "tallrec data download movielens" in msg and "TALLREC_DATA_DIR" in msg
    assert str(tmp_path / "ml-100k") in msg


def test_missing_book_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="TALLREC_DATA_DIR") as e:
        load_domain("book", tmp_path)
    assert "\n" not in str(e.value) and "tallrec-official/book" in str(e.value)


def test_modified_raw_files_are_flagged(fake_ml, tmp_path):
    fake_ml(tmp_path / "ml-100k", [(1, i, 4, i) for i in range(1, 13)])
    d = load_domain("movielens", tmp_path)
    assert len(d.train + d.valid + d.test) == 2 and "not the official split" in d.source


def test_unknown_domain():
    with pytest.raises(DataError, match="unknown domain 'music'"):
        load_domain("music")
