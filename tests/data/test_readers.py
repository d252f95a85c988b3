"""Every reader on a handful of rows written here in the source's real format: counts, first and
last rows, the like rule against hand-written values, gzip or not, detection, and each bad input
as one DataError line naming the file (and the line)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from readers_fixtures import amazon, bx, jsonl, ml_csv, ml_dat, recbole, write

from tallrec.core.errors import DataError
from tallrec.data.readers import FORMATS, detect_format, read_log
from tallrec.data.readers.common import duplicates_dropped


def rows(log):
    ev = log.events
    return [(u, i, None if math.isnan(r) else r, bool(l), int(t))
            for u, i, r, l, t in zip(ev["user"], ev["item"], ev["rating"], ev["liked"], ev["timestamp"])]


def error(fn, *fragments) -> str:
    with pytest.raises(DataError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg, msg
    for f in fragments:
        assert f in msg, (f, msg)
    return msg


def test_registry_names():
    assert list(FORMATS)[:2] == ["movielens-100k", "movielens-dat"]
    assert {"amazon-2018", "amazon-2023", "bookcrossing", "recbole", "csv", "parquet", "jsonl",
            "parquet-buckets", "movielens-csv"} <= set(FORMATS)


# --- MovieLens ----------------------------------------------------------------------------------


def test_movielens_dat(tmp_path):
    folder = ml_dat(tmp_path / "ml-1m")
    assert detect_format(folder) == "movielens-dat"
    log = read_log(folder)
    assert rows(log) == [(1, 10, 5.0, True, 978300760), (1, 20, 3.0, False, 978302109),
                         (2, 10, 4.0, True, 978298413), (2, 30, 1.0, False, 978299000)]
    assert log.titles()[20] == "Amélie (2001)"  # latin-1 movies.dat
    assert (log.n_users, log.n_items) == (2, 3)
    assert log.events["user"].dtype == np.int64


def test_movielens_10m_utf8_titles_and_half_stars(tmp_path):
    folder = ml_dat(tmp_path / "ml-10M100K", [(1, 10, 3.5, 5), (1, 20, 3.0, 6)], encoding="utf-8")
    log = read_log(folder, format="movielens-dat")
    assert log.titles()[20] == "Amélie (2001)"
    assert log.events["liked"].tolist() == [True, False]  # > 3 keeps 3.5 liked


def test_movielens_csv(tmp_path):
    folder = ml_csv(tmp_path / "ml-25m")
    assert detect_format(folder) == "movielens-csv"
    log = read_log(folder)
    assert rows(log)[0] == (1, 296, 5.0, True, 1147880044)
    assert rows(log)[-1] == (3, 307, 0.5, False, 1147868500)
    assert [r[3] for r in rows(log)] == [True, True, False, False]
    assert log.titles()[306] == "Three Colors: Red (Trois couleurs: Rouge) (1994)"
    assert log.titles()[307] == "Bleu, Le (1993)"


@pytest.mark.parametrize("maker, bad_rows, fragments", [
    (ml_dat, [(1, 10, 5, 978300760), (1, "x", 3, 978302109)], ["ratings.dat", "line 2", "item 'x'"]),
    (ml_dat, [(1, 10, 5, 978300760), (1, 20, 7, 978302109)], ["ratings.dat", "line 2", "outside"]),
    (ml_dat, [(1, 10, 5, "soon")], ["ratings.dat", "line 1", "timestamp 'soon'"]),
    (ml_csv, ["1,296,5.0,1147880044", "1,306,,1147868817"], ["ratings.csv", "line 3", "rating"]),
])
def test_movielens_bad_rows(tmp_path, maker, bad_rows, fragments):
    folder = maker(tmp_path / "ml", bad_rows)
    error(lambda: read_log(folder), *fragments)


def test_movielens_csv_missing_column(tmp_path):
    folder = ml_csv(tmp_path / "ml-20m")
    (folder / "ratings.csv").write_text("userId,movieId,rating\n1,2,3\n")
    error(lambda: read_log(folder, format="movielens-csv"), "ratings.csv", "timestamp")


def test_movielens_100k_equals_builder(shared_data):
    from tallrec.data.builders.movielens import LIKE_ABOVE, read_ratings, read_titles

    raw = shared_data / "ml-100k"
    log = read_log(raw)
    expected = read_ratings(raw / "u.data", read_titles(raw / "u.item"), raw / "u.item")
    assert len(log.events) == len(expected) == 100_000
    got = log.events[["user", "item", "rating", "timestamp"]].to_numpy(dtype=np.int64)
    assert (got == np.array(expected, dtype=np.int64)).all()
    assert (log.events["liked"].to_numpy() == (got[:, 2] > LIKE_ABOVE)).all()


# --- Amazon -------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_amazon_2018(tmp_path, gz):
    path = amazon(tmp_path, 2018, gz)
    assert detect_format(tmp_path) == "amazon-2018" == detect_format(path)
    log = read_log(path)
    assert rows(log) == [("A1", "B001", 5.0, True, 1500000000), ("A2", "B002", 2.0, False, 1500000100),
                         ("A1", "B002", 4.0, True, 1500000200), ("A3", "B003", 3.0, False, 1500000300)]
    assert duplicates_dropped(log) == 1
    titles = log.titles()
    assert titles == {"B001": "A Book", "B002": "Other Book", "B003": ""}  # B999 never rated: left out
    assert log.items.set_index("item").loc["B001", "text"] == "Line one. Line two."


@pytest.mark.parametrize("gz", [False, True])
def test_amazon_2023_milliseconds(tmp_path, gz):
    path = amazon(tmp_path, 2023, gz)
    assert detect_format(tmp_path) == "amazon-2023"
    log = read_log(path)
    assert rows(log) == [("U1", "P1", 5.0, True, 1588687728), ("U2", "P2", 1.0, False, 1588615855),
                         ("U1", "P2", 4.0, True, 1589000000)]
    assert log.titles() == {"P1": "Soap", "P2": "Brush"}
    assert log.items.set_index("item").loc["P1", "text"] == "Smells good"


def test_amazon_5core_file_finds_category_meta(tmp_path):
    amazon(tmp_path, 2018, True)
    (tmp_path / "Books.json.gz").rename(tmp_path / "Books_5.json.gz")
    log = read_log(tmp_path / "Books_5.json.gz")
    assert log.titles()["B001"] == "A Book"


def test_amazon_without_meta(tmp_path):
    log = read_log(amazon(tmp_path, 2023, False, meta=False))
    assert set(log.titles().values()) == {""}


@pytest.mark.parametrize("body, fragments", [
    (b'{"overall": 5.0, "reviewerID": "A1", "asin": "B1", "unixReviewTime": 1}\n{"overall": 5.0, "reviewerID"\n',
     ["Books.json", "line 2", "not valid JSON"]),
    (b'{"overall": 5.0, "reviewerID": "A1", "asin": "B1", "unixReviewTime": 1}\n'
     b'{"overall": 5.0, "reviewerID": "A2", "unixReviewTime": 1}\n', ["line 2", "missing asin"]),
    (b'{"overall": "five", "reviewerID": "A1", "asin": "B1", "unixReviewTime": 1}\n', ["line 1", "overall 'five'"]),
    (b'{"overall": 5.0, "reviewerID": "A1", "asin": "B1", "unixReviewTime": "May 1"}\n',
     ["line 1", "unixReviewTime 'May 1'"]),
    (b'{"overall": 9.0, "reviewerID": "A1", "asin": "B1", "unixReviewTime": 1}\n', ["line 1", "outside"]),
])
def test_amazon_bad_lines(tmp_path, body, fragments):
    path = amazon(tmp_path, 2018, False, rows=body, meta=False)
    error(lambda: read_log(path, format="amazon-2018"), str(path), *fragments)


# --- Book-Crossing ------------------------------------------------------------------------------


def test_bookcrossing(tmp_path, capsys):
    folder = bx(tmp_path)
    assert detect_format(folder) == "bookcrossing"
    log = read_log(folder)
    assert rows(log) == [("276725", "034545104X", None, False, 0), ("276726", "0155061224", 5.0, False, 0),
                         ("276726", "034545104X", 6.0, True, 0), ("276727", "0446520802", 10.0, True, 0)]
    assert log.titles()["0446520802"] == '"The Notebook" written by Nicholas Sparks'
    assert "not in BX-Books.csv" in capsys.readouterr().err  # the unknown ISBN, as the builder warns


def test_bookcrossing_bad_rating(tmp_path):
    folder = bx(tmp_path)
    with open(folder / "BX-Book-Ratings.csv", "a", encoding="latin-1") as f:
        f.write('"276728";"0446520802";"ten"\n')
    error(lambda: read_log(folder), "BX-Book-Ratings.csv", "276728", "'ten'")


# --- RecBole ------------------------------------------------------------------------------------


def test_recbole(tmp_path):
    folder = recbole(tmp_path)
    assert detect_format(folder) == "recbole" == detect_format(folder / "ml-1m.inter")
    log = read_log(folder)
    assert rows(log) == [("1", "1193", 5.0, True, 978300760), ("1", "661", 3.0, False, 978302109),
                         ("2", "1193", 4.0, True, 978298413)]
    assert log.titles()["661"] == "James and the Giant Peach"


def test_recbole_implicit_and_bad_header(tmp_path):
    log = read_log(recbole(tmp_path / "a", rating=False))
    assert log.events["liked"].all() and log.events["rating"].isna().all()
    write(tmp_path / "b" / "x.inter", b"uid:token\titem_id:token\n1\t2\n")
    error(lambda: read_log(tmp_path / "b"), "x.inter", "missing column 'user_id'")
    write(tmp_path / "c" / "y.inter", b"user_id:token\titem_id:token\ttimestamp:float\n1\t2\t5\n1\t3\tlate\n")
    error(lambda: read_log(tmp_path / "c"), "y.inter", "line 3", "timestamp 'late'")


# --- generic files ------------------------------------------------------------------------------


def test_csv_with_mapping_and_dates(tmp_path):
    path = write(tmp_path / "log.csv", b"uid,movie,stars,when,name\n"
                 b"u1,m1,4.5,2020-01-01T00:00:00Z,Alpha\nu2,m2,2,1577836800,Beta\nu1,m2,5,2020-01-02,Beta\n")
    cols = {"user": "uid", "item": "movie", "rating": "stars", "timestamp": "when", "title": "name"}
    log = read_log(path, format="csv", columns=cols)
    assert rows(log) == [("u1", "m1", 4.5, True, 1577836800), ("u2", "m2", 2.0, False, 1577836800),
                         ("u1", "m2", 5.0, True, 1577923200)]
    assert log.titles() == {"m1": "Alpha", "m2": "Beta"}
    error(lambda: read_log(path, format="csv", columns={"user": "userid"}), "log.csv", "missing column 'userid'")
    error(lambda: read_log(path, format="movielens-dat", columns=cols), "column mapping")


def test_csv_detected_and_like_override(tmp_path):
    path = write(tmp_path / "log.csv", b"user,item,rating\na,x,1\nb,y,5\n")
    assert detect_format(path) == "csv"
    assert read_log(path).events["timestamp"].tolist() == [0, 0]
    assert read_log(path, like="all").events["liked"].tolist() == [True, True]
    assert read_log(path, like=0.5).events["liked"].tolist() == [True, True]
    error(lambda: read_log(path, like="most"), "like rule")


def test_csv_bad_values(tmp_path):
    path = write(tmp_path / "log.csv", b"user,item,rating,timestamp\na,x,1,5\nb,y,5,someday\n")
    error(lambda: read_log(path), "log.csv", "line 3", "timestamp 'someday'")
    path = write(tmp_path / "l2.csv", b"user,item,liked\na,x,yes\nb,,no\n")
    error(lambda: read_log(path), "l2.csv", "line 3", "missing item")


@pytest.mark.parametrize("gz", [False, True])
def test_jsonl_implicit(tmp_path, gz):
    path = write(tmp_path / "log.jsonl", jsonl([{"user": 1, "item": "a", "timestamp": 10, "liked": 1},
                                                {"user": 2, "item": "b", "timestamp": 11, "liked": 0}]), gz)
    assert detect_format(path) == "jsonl"
    log = read_log(path)
    assert rows(log) == [("1", "a", None, True, 10), ("2", "b", None, False, 11)]


def test_parquet(tmp_path):
    import pandas as pd

    path = tmp_path / "log.parquet"
    pd.DataFrame({"u": [1, 2], "i": [3, 4], "r": [5.0, float("nan")]}).to_parquet(path)
    log = read_log(path, format="parquet", columns={"user": "u", "item": "i", "rating": "r"})
    assert rows(log) == [("1", "3", 5.0, True, 0), ("2", "4", None, False, 0)]
    cols = {"user": "u", "item": "i", "timestamp": "r"}
    error(lambda: read_log(path, format="parquet", columns=cols), "log.parquet", "row 2", "not a Unix time")


def test_lazy_exports():
    import tallrec.data as data

    assert data.read_log is read_log and "sasrec-loo" in data.PRESETS


def test_unknown_and_missing(tmp_path):
    error(lambda: read_log(tmp_path / "nope"), "no such file")
    (tmp_path / "empty").mkdir()
    error(lambda: read_log(tmp_path / "empty"), "cannot tell the log's format")
    error(lambda: read_log(tmp_path, format="netflix"), "unknown log format 'netflix'")
