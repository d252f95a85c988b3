"""Bring-your-own CSV: windowing like MovieLens, item text, options, bad input."""

from __future__ import annotations

import pytest

from tallrec.data import build_from_csv, load_samples

ITEMS = "item,title,genre\n" + "".join(f"i{k},Title {k},{'Drama' if k % 2 else ''}\n" for k in range(1, 8))


def write(tmp_path, interactions: str, items: str = ITEMS):
    (tmp_path / "inter.csv").write_text(interactions)
    (tmp_path / "items.csv").write_text(items)
    return tmp_path / "inter.csv", tmp_path / "items.csv"


def rows(users=("u1", "u2", "u3", "u4"), n=7, timestamp=True):
    head = "user,item,rating" + (",timestamp" if timestamp else "") + "\n"
    body = ""
    for u in users:
        for k in range(n, 0, -1):  # file order is reversed time order
            body += f"{u},i{k},{1 + k % 5}" + (f",{100 + k}" if timestamp else "") + "\n"
    return head + body


def all_of(splits):
    return splits["train"] + splits["valid"] + splits["test"]


def test_windows_follow_timestamps_and_extra_columns_go_in_parentheses(tmp_path):
    inter, items = write(tmp_path, rows())
    splits = build_from_csv(inter, items, history=3)
    samples = all_of(splits)
    assert len(samples) == 4 * 4 and [len(splits[k]) for k in ("train", "valid", "test")] == [12, 2, 2]
    first = samples[0]
    assert [t for t, _ in first.history] == ["Title 1 (Drama)", "Title 2", "Title 3 (Drama)"]
    assert first.target == "Title 4" and first.label is True  # rating 1 + 4 % 5 = 5 > 3.5
    assert samples[1].label is False  # Title 5: rating 1 > 3.5 is false
    assert all(s.domain == "movie" and s.quote_history for s in samples)


def test_without_timestamp_file_order_is_time_order(tmp_path):
    inter, items = write(tmp_path, rows(timestamp=False))
    first = all_of(build_from_csv(inter, items, history=3))[0]
    assert [t for t, _ in first.history] == ["Title 7 (Drama)", "Title 6", "Title 5 (Drama)"]


def test_iso_dates_threshold_domain_and_seed(tmp_path):
    text = "user,item,rating,timestamp\n" + "".join(
        f"{u},i{k},{k},2020-01-0{8 - k}T12:00:00\n" for u in "abc" for k in range(1, 8)
    )
    inter, items = write(tmp_path, text)
    samples = all_of(build_from_csv(inter, items, history=2, like_threshold=5, rating_scale=(1, 7), domain="book"))
    assert len(samples) == 15 and [s.target for s in samples][:2] == ["Title 5 (Drama)", "Title 4"]
    assert [s.label for s in samples][:5] == [False, False, False, False, False]
    assert samples[0].instruction.endswith('the target book by answering "Yes." or "No.".')
    inter, items = write(tmp_path, rows())
    a = all_of(build_from_csv(inter, items, history=3, seed=3))
    b = all_of(build_from_csv(inter, items, history=3, seed=3))
    assert [s.to_record() for s in a] == [s.to_record() for s in b]
    assert [s.to_record() for s in a] != [s.to_record() for s in all_of(build_from_csv(inter, items, history=3))]


def test_cli_writes_three_files(tmp_path, run_cli):
    inter, items = write(tmp_path, rows())
    code, out, err = run_cli("data", "prepare", "csv", "--interactions", inter, "--items", items,
                             "--out", tmp_path / "o", "--history", "3", "--max-windows", "10")
    assert code == 0, err
    assert "train.json (8 samples)" in out
    assert len(load_samples(tmp_path / "o" / "test.json")) == 1


@pytest.mark.parametrize(
    "interactions, items, args, fragments",
    [
        (rows() + "u1,i1,9,1\n", ITEMS, [], ["inter.csv: line 30: rating 9 is outside the rating scale 1..5"]),
        (rows() + "u1,i1,0.5,1\n", ITEMS, ["--rating-scale", "1,10"], ["line 30: rating 0.5 is outside", "1..10"]),
        (rows() + "u1,i99,4,1\n", ITEMS, [], ["inter.csv: line 30: item 'i99' is not in", "items.csv"]),
        (rows() + "u1,i1,lots,1\n", ITEMS, [], ["inter.csv: line 30: rating 'lots' is not a number"]),
        (rows() + "u1,i1,4,yesterday\n", ITEMS, [], ["line 30: timestamp 'yesterday' is neither"]),
        (rows() + "u1,i1,4,2020-01-01\n", ITEMS, [], ["line 2: timestamp '107' is a number among ISO dates"]),
        (rows() + "u1,i1,4\n", ITEMS, [], ["inter.csv: line 30: missing timestamp"]),
        (rows() + "u1,i1,4,1,extra\n", ITEMS, [], ["inter.csv: malformed interactions CSV", "line 30"]),
        ("user,item\nu,i1\n", ITEMS, [], ["inter.csv: missing column 'rating'"]),
        ("", ITEMS, [], ["inter.csv: file is empty"]),
        ("user,item,rating\n", ITEMS, [], ["inter.csv: contains no rows"]),
        (rows(), "item,name\ni1,x\n", [], ["items.csv: missing column 'title'"]),
        (rows(), "item,title\ni1,x\ni1,y\n", [], ["items.csv: line 3: item 'i1' appears twice"]),
        (rows(), ITEMS, ["--rating-scale", "5"], ["--rating-scale must be LOW,HIGH"]),
        (rows(), ITEMS, ["--history", "7"], ["inter.csv: only 0 sample(s); an 8:1:1 split needs at least 10"]),
        (rows(), ITEMS, ["--max-windows", "5"], ["--max-windows must be at least 10"]),
    ],
)
def test_bad_input(tmp_path, run_cli, one_line_error, interactions, items, args, fragments):
    inter, items_path = write(tmp_path, interactions, items)
    code, _, err = run_cli("data", "prepare", "csv", "--interactions", inter, "--items", items_path,
                           "--out", tmp_path / "o", "--history", "3", *args)
    one_line_error(code, err, *fragments)
    assert not (tmp_path / "o").exists()


def test_missing_file(tmp_path, run_cli, one_line_error):
    code, _, err = run_cli("data", "prepare", "csv", "--interactions", tmp_path / "none.csv",
                           "--items", tmp_path / "none2.csv", "--out", tmp_path / "o")
    one_line_error(code, err, "none2.csv: no such file")


def test_excel_byte_order_mark_and_non_utf8(tmp_path, run_cli, one_line_error):
    inter, items = write(tmp_path, "\ufeff" + rows())
    assert len(all_of(build_from_csv(inter, items, history=3))) == 16
    (tmp_path / "items.csv").write_bytes("item,title\ni1,Caf\xe9\n".encode("latin-1"))
    code, _, err = run_cli("data", "prepare", "csv", "--interactions", inter, "--items", items, "--out", tmp_path / "o")
    one_line_error(code, err, "items.csv: not utf-8-sig text")
