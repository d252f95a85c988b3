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


@pytest.mark.shared
def test_unpublished_movie_test_is_in_no_published_file(shared_data):
    d = load_domain("movie", shared_data, test_split="unpublished")
    assert len(d.test) == 1000 and "unpublished" in d.source
    # the built train split is the published train.json (sha256 checked in test_data_movielens)
    official = load_domain("movie", shared_data)
    published = {json.dumps(s.to_record(), sort_keys=True) for s in official.train + official.valid + official.test}
    assert not any(json.dumps(s.to_record(), sort_keys=True) in published for s in d.test)
    # same training pool and validation as the official split; deterministic draw
    assert d.train == official.train and d.valid == official.valid
    assert [s.to_record() for s in resolve_movielens(shared_data, "unpublished").test] == [s.to_record() for s in d.test]


def test_unpublished_draws_only_windows_before_the_published_ones(fake_ml, tmp_path):
    from tallrec.data.builders import movielens

    # user 1: 30 ratings -> 20 windows; keep only the last 10 "published" so 10 lie before them
    fake_ml(tmp_path / "ml-100k", [(1, i, 5 if i % 3 else 1, 1000 + i) for i in range(1, 31)])
    movielens.LAST_WINDOWS, saved = 10, movielens.LAST_WINDOWS
    try:
        windows = movielens.raw_windows(tmp_path / "ml-100k")
        drawn = movielens.unpublished_movielens(tmp_path / "ml-100k", n=4, seed=1)
        assert drawn == movielens.unpublished_movielens(tmp_path / "ml-100k", n=4, seed=1)
        early = windows[:-10]
        assert len(drawn) == 4 and all(s in early for s in drawn)
        assert [early.index(s) for s in drawn] == sorted(early.index(s) for s in drawn)
        with pytest.raises(DataError, match="asked for 11, only 10 windows"):
            movielens.unpublished_movielens(tmp_path / "ml-100k", n=11)
    finally:
        movielens.LAST_WINDOWS = saved


def test_unpublished_book_and_unknown_splits_are_refused(tmp_path):
    with pytest.raises(DataError, match="book has no unpublished test samples"):
        load_domain("book", tmp_path, test_split="unpublished")
    with pytest.raises(DataError, match="test split 'private'"):
        load_domain("movie", tmp_path, test_split="private")
