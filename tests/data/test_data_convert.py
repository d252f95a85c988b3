"""`tallrec data convert`: any log -> a preset's filters -> bucketed Parquet + summary.json."""

from __future__ import annotations

import json

from readers_fixtures import ml_dat, write

from tallrec.data.readers import read_log


def test_convert_with_preset(tmp_path, run_cli):
    june_2001 = 991353600
    src = ml_dat(tmp_path / "ml-1m", [(1, 10, 4, june_2001 - 1), (1, 20, 4, june_2001), (2, 30, 2, june_2001 + 5)])
    out = tmp_path / "out"
    code, stdout, err = run_cli("data", "convert", src, "--preset", "collm-ml1m", "--out", out, "--buckets", "2")
    assert code == 0, err
    assert "2 interactions, 2 users" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["format"] == "movielens-dat"
    assert "2310.19488" in summary["paper"]["cite"] and summary["paper"]["reported"]["train"] == 33_891
    assert summary["read"]["interactions"] == 3 and summary["kept"]["interactions"] == 2
    log = read_log(out)
    assert log.events["item"].tolist() == [20, 30] and log.events["liked"].tolist() == [True, False]


def test_convert_csv_columns_and_errors(tmp_path, run_cli, one_line_error):
    src = write(tmp_path / "log.csv", b"uid,iid\na,x\nb,y\na,y\n")
    out = tmp_path / "out"
    code, _, err = run_cli("data", "convert", src, "--format", "csv", "--columns", "user=uid,item=iid",
                           "--out", out, "--like", "all")
    assert code == 0, err
    assert read_log(out).events["user"].tolist() == ["a", "b", "a"]
    code, _, err = run_cli("data", "convert", src, "--format", "csv", "--columns", "user", "--out", tmp_path / "o2")
    one_line_error(code, err, "--columns")
    code, _, err = run_cli("data", "convert", src, "--format", "csv", "--columns", "user=uid,item=iid",
                           "--preset", "sasrec-loo", "--out", tmp_path / "o3")
    one_line_error(code, err, "k-core", "leaves no interactions")
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_inspect_prints_and_writes_nothing(tmp_path, run_cli):
    src = ml_dat(tmp_path / "ml-1m")
    code, stdout, err = run_cli("data", "inspect", src, "--like", "all")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["read"]["liked"] == 2 and summary["kept"]["liked"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-1m"]
