"""Book-Crossing: the authors' files, the documented split of their valid.json, the raw BX builder."""

from __future__ import annotations

import json

import pytest

from tallrec.data import build_bookcrossing, load_samples, split_official_book

BOOKS_HEADER = '"ISBN";"Book-Title";"Book-Author";"Year-Of-Publication";"Publisher";"Image-URL-S"\n'
RATINGS_HEADER = '"User-ID";"ISBN";"Book-Rating"\n'


@pytest.mark.shared
@pytest.mark.parametrize("name", ["valid.json", "test.json"])
def test_official_book_files_load(shared_data, name):
    samples = load_samples(shared_data / "tallrec-official" / "book" / name)
    assert len(samples) == 2427
    assert {s.domain for s in samples} == {"book"} and not any(s.quote_history for s in samples)
    assert all(s.label is not None and 1 <= len(s.history) <= 10 for s in samples)


@pytest.fixture(scope="module")
def official_split(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    from tallrec.cli import main

    assert main(["data", "prepare", "book", "--official", str(shared_data / "tallrec-official" / "book"),
                 "--out", str(out)]) == 0
    return out


@pytest.mark.shared
def test_official_split_sizes_and_untouched_test(official_split, shared_data):
    book = shared_data / "tallrec-official" / "book"
    assert (official_split / "test.json").read_bytes() == (book / "test.json").read_bytes()
    train = json.loads((official_split / "train.json").read_text())
    valid = json.loads((official_split / "valid.json").read_text())
    original = json.loads((book / "valid.json").read_text())
    assert (len(train), len(valid)) == (1927, 500)
    # A partition of the authors' valid.json, each part in the original file order.
    positions = {json.dumps(r): i for i, r in enumerate(original)}
    for part in (train, valid):
        idx = [positions[json.dumps(r)] for r in part]
        assert idx == sorted(idx)
    assert sorted(map(json.dumps, train + valid)) == sorted(map(json.dumps, original))


@pytest.mark.shared
def test_official_split_is_deterministic_and_seeded(official_split, shared_data, tmp_path, run_cli):
    book = shared_data / "tallrec-official" / "book"
    code, out, _ = run_cli("data", "prepare", "book", "--official", book, "--out", tmp_path / "a")
    assert code == 0 and "train.json (1927 samples)" in out
    assert (tmp_path / "a" / "valid.json").read_bytes() == (official_split / "valid.json").read_bytes()
    code, _, _ = run_cli("data", "prepare", "book", "--official", book, "--out", tmp_path / "b",
                         "--seed", "7", "--valid-size", "300")
    assert code == 0
    other = load_samples(tmp_path / "b" / "valid.json")
    assert len(other) == 300 and len(load_samples(tmp_path / "b" / "train.json")) == 2127
    splits, test_bytes = split_official_book(book, valid_size=300, seed=7)
    assert [s.to_record() for s in splits["valid"]] == [s.to_record() for s in other]
    assert test_bytes == (book / "test.json").read_bytes()


def _official_dir(tmp_path, small, valid_text=None):
    from tallrec.data import save_samples

    d = tmp_path / "official"
    d.mkdir()
    save_samples(d / "test.json", small)
    if valid_text is None:
        save_samples(d / "valid.json", small * 4)
    else:
        (d / "valid.json").write_text(valid_text)
    return d


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--valid-size", "0"], "--valid-size must be between 1 and 11"),
        (["--valid-size", "12"], "--valid-size must be between 1 and 11"),
    ],
)
def test_bad_valid_size(tmp_path, small, run_cli, one_line_error, args, fragment):
    d = _official_dir(tmp_path, small)
    code, _, err = run_cli("data", "prepare", "book", "--official", d, "--out", tmp_path / "out", *args)
    one_line_error(code, err, "valid.json", fragment)
    assert not (tmp_path / "out").exists()


def test_out_must_not_overwrite_the_authors_files(tmp_path, small, run_cli, one_line_error):
    d = _official_dir(tmp_path, small)
    before = (d / "valid.json").read_bytes()
    code, _, err = run_cli("data", "prepare", "book", "--official", d, "--out", d)
    one_line_error(code, err, "--out must differ from --official")
    assert (d / "valid.json").read_bytes() == before


def test_exactly_one_source(tmp_path, run_cli, one_line_error):
    code, _, err = run_cli("data", "prepare", "book", "--out", tmp_path)
    one_line_error(code, err, "exactly one of --official")
    code, _, err = run_cli("data", "prepare", "book", "--out", tmp_path, "--raw", tmp_path, "--official", tmp_path)
    one_line_error(code, err, "exactly one of --official")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('[{"instruction": ', "valid.json: malformed JSON at line 1"),
        ("", "valid.json: file is empty"),
        ('[{"input": "x", "output": "Yes."}]', "valid.json: record 0: missing field 'instruction'"),
    ],
)
def test_bad_official_files_write_nothing(tmp_path, small, run_cli, one_line_error, text, fragment):
    d = _official_dir(tmp_path, small, valid_text=text)
    code, _, err = run_cli("data", "prepare", "book", "--official", d, "--out", tmp_path / "out")
    one_line_error(code, err, fragment)
    assert not (tmp_path / "out").exists()


def test_missing_official_folder(tmp_path, run_cli, one_line_error):
    code, _, err = run_cli("data", "prepare", "book", "--official", tmp_path / "nope", "--out", tmp_path / "o")
    one_line_error(code, err, f"{tmp_path / 'nope'}: no such folder")


# --- raw BX files ------------------------------------------------------------------------------


def write_bx(folder, extra_ratings: str = ""):
    """13 users with 4+ ratings of known books, 1 user with 3, malformed lines, one unknown ISBN."""
    folder.mkdir(parents=True, exist_ok=True)
    books = [BOOKS_HEADER]
    for b in range(1, 31):
        title = {1: 'The ""Best"" Book', 2: "Café Noir"}.get(b, f"Book {b}")
        books.append(f'"{b:010d}";"{title}";"Author {b % 4}";"2001";"Pub";"http://x"\n')
    books.insert(5, '"bad";"Broken";"line";"with";"too";"many";"fields";"here"\n')
    (folder / "BX-Books.csv").write_bytes("".join(books).encode("latin-1"))
    ratings = [RATINGS_HEADER]
    for u in range(1, 13):
        for k in range(5):
            ratings.append(f'"{u}";"{(u + 7 * k) % 30 + 1:010d}";"{(u + k) % 11}"\n')
    ratings += [f'"13";"{b:010d}";"9"\n' for b in range(1, 16)]  # 15 ratings -> history capped at 10
    ratings += [f'"14";"{b:010d}";"9"\n' for b in range(1, 4)]  # 3 ratings -> dropped
    ratings += ['"15";"0000000001";"8";"oops"\n', '"16";"9999999999";"8"\n', '"17";"0000000002"\n']
    (folder / "BX-Book-Ratings.csv").write_bytes(("".join(ratings) + extra_ratings).encode("latin-1"))
    return folder


def test_raw_builder_follows_the_rules(tmp_path):
    warnings: list[str] = []
    splits = build_bookcrossing(write_bx(tmp_path / "bx"), seed=1, warn=warnings.append)
    samples = splits["train"] + splits["valid"] + splits["test"]
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [10, 1, 2]
    assert sorted(s.meta["user"] for s in samples) == sorted(str(u) for u in range(1, 14))
    assert all(s.domain == "book" and not s.quote_history for s in samples)
    by_user = {s.meta["user"]: s for s in samples}
    assert len(by_user["13"].history) == 10 and len(by_user["1"].history) == 4
    assert by_user["13"].label is True  # 9 > 5
    texts = {t for s in samples for t, _ in s.history} | {s.target for s in samples}
    assert '"The "Best" Book" written by Author 1' in texts and '"Café Noir" written by Author 2' in texts
    assert any("BX-Books.csv: skipped 1 malformed line(s)" in w for w in warnings)
    assert any("BX-Book-Ratings.csv: skipped 2 malformed line(s)" in w for w in warnings)
    assert any("dropped 1 rating(s) of books not in BX-Books.csv" in w for w in warnings)
    # Round trip through the authors' JSON form.
    from tallrec.data import Sample

    assert all(Sample.from_record(s.to_record()).to_record() == s.to_record() for s in samples)


def test_raw_builder_is_deterministic_and_seeded(tmp_path):
    raw = write_bx(tmp_path / "bx")
    a = build_bookcrossing(raw, seed=1, warn=lambda m: None)
    b = build_bookcrossing(raw, seed=1, warn=lambda m: None)
    c = build_bookcrossing(raw, seed=2, warn=lambda m: None)
    rec = lambda d: [s.to_record() for k in ("train", "valid", "test") for s in d[k]]  # noqa: E731
    assert rec(a) == rec(b)
    assert sorted(map(json.dumps, rec(a))) == sorted(map(json.dumps, rec(c))) and rec(a) != rec(c)


def test_raw_cli_warns_and_writes(tmp_path, run_cli):
    code, out, err = run_cli("data", "prepare", "book", "--raw", write_bx(tmp_path / "bx"), "--out", tmp_path / "o")
    assert code == 0 and "train.json (10 samples)" in out
    assert "tallrec: warning:" in err and "skipped 2 malformed line(s)" in err
    assert len(load_samples(tmp_path / "o" / "test.json")) == 2


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ('"20";"0000000003";"11"\n', "record User-ID 20, ISBN 0000000003: Book-Rating 11 is outside the rating scale 0..10"),
        ('"20";"0000000003";"good"\n', "record User-ID 20, ISBN 0000000003: Book-Rating 'good' is not an integer"),
    ],
)
def test_raw_bad_ratings(tmp_path, run_cli, one_line_error, extra, fragment):
    raw = write_bx(tmp_path / "bx", extra)
    code, _, err = run_cli("data", "prepare", "book", "--raw", raw, "--out", tmp_path / "o")
    one_line_error(code, err, "BX-Book-Ratings.csv", fragment)
    assert not (tmp_path / "o").exists()


def test_raw_missing_files_and_columns(tmp_path, run_cli, one_line_error):
    raw = write_bx(tmp_path / "bx")
    (raw / "BX-Book-Ratings.csv").write_text('"User";"ISBN";"Book-Rating"\n"1";"2";"3"\n')
    code, _, err = run_cli("data", "prepare", "book", "--raw", raw, "--out", tmp_path / "o")
    one_line_error(code, err, "BX-Book-Ratings.csv: missing column 'User-ID'")
    (raw / "BX-Books.csv").unlink()
    code, _, err = run_cli("data", "prepare", "book", "--raw", raw, "--out", tmp_path / "o")
    one_line_error(code, err, "BX-Books.csv: no such file")
