"""MovieLens-100K builder: byte identity with the authors' files, the windowing rule, bad input."""

from __future__ import annotations

import hashlib

import pytest

from tallrec.data import build_movielens, load_samples
from tallrec.data.fetch import OFFICIAL_SHA256


@pytest.fixture(scope="module")
def built(shared_data, tmp_path_factory):
    """`tallrec data prepare movielens` on the real ml-100k, run once for the module."""
    import contextlib
    import io

    from tallrec.cli import main

    out = tmp_path_factory.mktemp("movie")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["data", "prepare", "movielens", "--raw", str(shared_data / "ml-100k"), "--out", str(out),
                     "--unpublished", "20"])
    assert code == 0 and stderr.getvalue() == ""
    assert "train.json (8000 samples)" in stdout.getvalue() and "test.json (1000 samples)" in stdout.getvalue()
    assert "unpublished.json (20 samples)" in stdout.getvalue()
    return out


@pytest.mark.shared
@pytest.mark.parametrize("name", ["valid.json", "test.json"])
def test_valid_and_test_are_byte_identical_to_the_authors(built, shared_data, name):
    assert (built / name).read_bytes() == (shared_data / "tallrec-official" / "movie" / name).read_bytes()


@pytest.mark.shared
def test_train_matches_the_published_sha256(built):
    data = (built / "train.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == OFFICIAL_SHA256["movie/train.json"]
    assert (
        hashlib.sha256(data).hexdigest() == "460a86393450916596057967c7672c909edc9e73c7f61571c6a274659ffbdc53"
    )
    assert len(load_samples(built / "train.json")) == 8000


@pytest.mark.shared
def test_python_api_gives_the_same_samples_in_true_time_order(built, shared_data):
    import json

    splits = build_movielens(shared_data / "ml-100k")
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [8000, 1000, 1000]
    official = json.loads((shared_data / "tallrec-official" / "movie" / "valid.json").read_text())
    assert [s.to_record() for s in splits["valid"]] == official
    # The JSON form lists liked items first; the built samples keep the real (interleaved) time order.
    assert any([l for _, l in s.history] != sorted((l for _, l in s.history), reverse=True) for s in splits["valid"])


def test_windows_need_ten_earlier_ratings(fake_ml, tmp_path):
    # user 1: 12 ratings -> 2 windows; user 2: exactly 10 -> none; user 3: 11 -> 1.
    rows = [(1, i, 5 if i % 2 else 2, 1000 + i) for i in range(1, 13)]
    rows += [(2, i, 4, 2000 + i) for i in range(1, 11)]
    rows += [(3, i, 3, 3000 + i) for i in range(1, 12)]
    splits = build_movielens(fake_ml(tmp_path / "ml", rows))
    windows = splits["train"] + splits["valid"] + splits["test"]
    assert [(s.meta["user"], len(s.history)) for s in windows] == [(1, 10), (1, 10), (3, 10)]
    first = windows[0]
    assert first.target == "Movie 11 (1991)" and first.label is True  # rating 5 > 3
    assert [t for t, _ in first.history] == [f"Movie {i} (199{i % 10})" for i in range(1, 11)]
    assert windows[2].label is False  # rating 3 is not > 3
    assert all(s.domain == "movie" and s.quote_history for s in windows)


def test_users_keep_first_appearance_and_ratings_stable_time_order(fake_ml, tmp_path):
    # user 9 appears first in the file; user 9's ratings are out of time order, with a tie.
    rows = [(9, i, 4, 500 - i) for i in range(1, 12)]  # reversed in time
    rows += [(9, 20, 1, 100), (9, 21, 5, 100)]  # tie at the earliest time: file order kept
    rows += [(1, i, 4, i) for i in range(1, 12)]
    splits = build_movielens(fake_ml(tmp_path / "ml", rows))
    windows = splits["train"] + splits["valid"] + splits["test"]
    assert [s.meta["user"] for s in windows] == [9, 9, 9, 1]
    assert [t for t, _ in windows[0].history][:3] == ["Movie 20 (1990)", "Movie 21 (1991)", "Movie 11 (1991)"]


def test_split_is_8_1_1_in_list_order(fake_ml, tmp_path):
    rows = [(u, i, 4, i) for u in range(1, 4) for i in range(1, 21)]  # 3 users x 10 windows
    splits = build_movielens(fake_ml(tmp_path / "ml", rows))
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [24, 3, 3]
    assert splits["test"][-1].meta["user"] == 3


def test_latin1_titles_are_decoded(fake_ml, tmp_path):
    rows = [(1, i, 4, i) for i in range(1, 12)]
    titles = {i: f"Movie {i}" for i in range(1, 12)} | {11: "Café Müller (1990)"}
    splits = build_movielens(fake_ml(tmp_path / "ml", rows, titles))
    assert (splits["train"] + splits["valid"] + splits["test"])[0].target == "Café Müller (1990)"


@pytest.mark.parametrize(
    "line, fragments",
    [
        ("1\t3\t6\t99", ["u.data: line 12: rating 6 is outside the rating scale 1..5"]),
        ("1\t999\t4\t99", ["u.data: line 12: item id 999 is not in", "u.item"]),
        ("1\t3\t4", ["u.data: line 12: missing timestamp"]),
        ("1\t3\t4\t99\t7", ["u.data: malformed MovieLens u.data", "line 12"]),
        ("1\t3\tfour\t99", ["u.data: line 12: rating 'four' is not an integer"]),
    ],
)
def test_bad_ratings_name_file_and_line(fake_ml, tmp_path, run_cli, one_line_error, line, fragments):
    raw = fake_ml(tmp_path / "ml", [(1, i, 4, i) for i in range(1, 12)])
    with open(raw / "u.data", "a") as f:
        f.write(line + "\n")
    code, _, err = run_cli("data", "prepare", "movielens", "--raw", raw, "--out", tmp_path / "out")
    one_line_error(code, err, *fragments)
    assert not (tmp_path / "out").exists()


def test_empty_u_data(fake_ml, tmp_path, run_cli, one_line_error):
    raw = fake_ml(tmp_path / "ml", [(1, 1, 4, 1)])
    (raw / "u.data").write_text("")
    code, _, err = run_cli("data", "prepare", "movielens", "--raw", raw, "--out", tmp_path / "out")
    one_line_error(code, err, "u.data: file is empty")


def test_too_few_ratings(fake_ml, tmp_path, run_cli, one_line_error):
    raw = fake_ml(tmp_path / "ml", [(1, i, 4, i) for i in range(1, 5)])
    code, _, err = run_cli("data", "prepare", "movielens", "--raw", raw, "--out", tmp_path / "out")
    one_line_error(code, err, "no user has more than 10 ratings")


def test_missing_raw_folder(tmp_path, run_cli, one_line_error):
    code, _, err = run_cli("data", "prepare", "movielens", "--raw", tmp_path / "nope", "--out", tmp_path / "out")
    one_line_error(code, err, f"{tmp_path / 'nope'}: no such folder")


def test_too_few_windows_for_a_split(fake_ml, tmp_path, run_cli, one_line_error):
    raw = fake_ml(tmp_path / "ml", [(1, i, 4, i) for i in range(1, 13)])
    code, _, err = run_cli("data", "prepare", "movielens", "--raw", raw, "--out", tmp_path / "out")
    one_line_error(code, err, "not written: only 2 sample(s), which leaves valid empty")
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(fake_ml, tmp_path, run_cli, one_line_error):
    raw = fake_ml(tmp_path / "ml", [(1, i, 4, i) for i in range(1, 21)])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli("data", "prepare", "movielens", "--raw", raw, "--out", blocker / "out")
    one_line_error(code, err, str(blocker / "out"), "cannot create output folder")
    code, _, err = run_cli("data", "prepare", "movielens", "--raw", raw, "--out", blocker)
    one_line_error(code, err, f"{blocker}: exists and is not a folder")
    assert blocker.read_text() == "x"
