"""`tallrec data stats` and the bad-file errors every command shares through load_samples."""

from __future__ import annotations

import json

import pytest

from tallrec.data import Sample, compute_stats


def test_compute_stats(small):
    s = compute_stats(small + [Sample((), "X", None)])
    assert s["samples"] == 4 and s["domains"] == {"movie": 4}
    assert s["labels"] == {"yes": 2, "no": 1, "unlabelled": 1} and s["yes_share"] == round(2 / 3, 4)
    assert s["history_length"] == {"min": 0, "mean": 1.5, "max": 3, "histogram": {"0": 1, "1": 1, "2": 1, "3": 1}}


def test_stats_text_and_json(samples_file, small, run_cli):
    path = samples_file(small)
    code, out, err = run_cli("data", "stats", path)
    assert code == 0 and err == ""
    assert "samples:    3" in out and "2 Yes. / 1 No." in out and "66.7%" in out and "movie (3)" in out
    assert "min 1, mean 2.0, max 3" in out and "histogram" in out
    code, out, _ = run_cli("data", "stats", path, "--json")
    data = json.loads(out)
    assert code == 0 and data["file"] == str(path) and data["samples"] == 3 and data["yes_share"] == 0.6667


@pytest.mark.shared
def test_stats_of_official_movie_valid(shared_data, run_cli):
    code, out, _ = run_cli("data", "stats", shared_data / "tallrec-official" / "movie" / "valid.json", "--json")
    data = json.loads(out)
    assert code == 0 and data["samples"] == 1000 and data["yes_share"] == 0.658
    assert data["history_length"]["histogram"] == {"10": 1000}


GOOD = Sample((("A", True),), "B", True).to_record()


@pytest.mark.parametrize(
    "content, fragment",
    [
        ('[{"instruction": "x",', "s.json: malformed JSON at line 1"),
        ("", "s.json: file is empty"),
        ("[]", "s.json: contains no samples"),
        (json.dumps([GOOD, {"instruction": GOOD["instruction"], "output": "Yes."}]), "s.json: record 1: missing field 'input'"),
        (json.dumps([dict(GOOD, output="Maybe.")]), "s.json: record 0: output must be \"Yes.\" or \"No.\""),
        (json.dumps({"a": 1}), "s.json: expected a JSON list of records"),
    ],
)
def test_bad_files(samples_file, run_cli, one_line_error, content, fragment):
    code, out, err = run_cli("data", "stats", samples_file(content))
    one_line_error(code, err, fragment)
    assert out == ""


def test_missing_file(tmp_path, run_cli, one_line_error):
    code, _, err = run_cli("data", "stats", tmp_path / "none.json")
    one_line_error(code, err, f"{tmp_path / 'none.json'}: no such file")
