"""The cross-domain 3x2 matrix on the tiny model with synthetic movie and book data."""

import json

import pytest

from tallrec.core.errors import TallrecError
from tallrec.experiments.cross_domain import run_cross_domain

from .helpers import domain_data, error_line, rec_config, write_data_dir, write_rec_yaml


@pytest.fixture(scope="module")
def cross_run(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("cross")
    kw = dict(rec_config=rec_config(tiny_model_dir), valid_from="both", test_limit=10,
              domains={"movie": domain_data("movie"), "book": domain_data("book")})
    logs = []
    matrix = run_cross_domain(root / "out", 4, 0, log=logs.append, **kw)
    return root / "out", matrix, kw, logs


def test_matrix_and_cells(cross_run):
    out, matrix, _, logs = cross_run
    assert matrix["rows"] == ["trained on movie", "trained on book", "trained on both"]
    assert matrix["columns"] == ["test movie", "test book"]
    assert len(matrix["auc"]) == 3 and all(len(r) == 2 and all(0 <= v <= 1 for v in r) for r in matrix["auc"])
    assert matrix["valid_from"] == "both" and matrix["validation_of_both_row"] == "movie + book"
    assert json.loads((out / "matrix.json").read_text()) == matrix
    md = (out / "matrix.md").read_text()
    assert "| trained on | test movie | test book |" in md and "| both |" in md and "--valid-from both" in md
    for row in ("movie", "book", "both"):
        for col in ("movie", "book"):
            m = json.loads((out / f"train-{row}" / f"test-{col}" / "metrics.json").read_text())
            assert m["trained_on"] == row and m["tested_on"] == col and m["n"] == 10
            assert m["data"].startswith(f"{col}/test")
    # The both row trains on the movie row's K samples plus the book row's K samples.
    both = json.loads((out / "train-both" / "train_samples.json").read_text())
    movie = json.loads((out / "train-movie" / "train_samples.json").read_text())
    book = json.loads((out / "train-book" / "train_samples.json").read_text())
    assert len(both) == 8 and sorted(map(json.dumps, both)) == sorted(map(json.dumps, movie + book))
    run = json.loads((out / "train-both" / "run.json").read_text())
    assert run["validation"].endswith("validation: movie + book (4 + 4)")
    assert any("(9/9) both -> book" in l for l in logs)


def test_resume_and_settings_check(cross_run, monkeypatch):
    out, matrix, kw, _ = cross_run
    import tallrec.experiments.cross_domain as cd

    monkeypatch.setattr(cd, "rec_tune", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    (out / "train-book" / "test-movie" / "metrics.json").unlink()
    logs = []
    again = run_cross_domain(out, 4, 0, log=logs.append, **kw)
    assert again["auc"] == matrix["auc"]
    assert any("train on book: training done before; evaluating" in l for l in logs)
    assert sum("skipped" in l for l in logs) == 7
    with pytest.raises(TallrecError, match="other settings .*valid_from"):
        run_cross_domain(out, 4, 0, log=logs.append, **{**kw, "valid_from": "first"})


def test_valid_from_first(tiny_model_dir):
    from tallrec.experiments.cross_domain import training_set

    domains = {"movie": domain_data("movie"), "book": domain_data("book")}
    cfg, pool, valid, desc = training_set("both", 4, 0, rec_config(tiny_model_dir), domains, "first")
    assert valid == domains["movie"].valid and cfg.shots == 8 and len(pool) == 8
    assert {s.domain for s in pool} == {"movie", "book"} and desc.endswith("validation: movie (8 of 16)")


def test_cross_domain_cli(run_cli, tiny_model_dir, tmp_path):
    """The command on a fake data folder: MovieLens from a fake ml-100k, book from fake official files."""
    data = write_data_dir(tmp_path / "data")
    cfg = write_rec_yaml(tmp_path / "rec.yaml", epochs=1, batch_size=8, micro_batch_size=8)
    code, out, err = run_cli("cross-domain", "--shots", 4, "--seed", 1, "--out", tmp_path / "x",
                             "--valid-from", "first", "--config", cfg, "--model", tiny_model_dir,
                             "--test-limit", 8, "--data-dir", data)
    assert code == 0, err
    assert "| trained on | test movie | test book |" in out and "validation of the 'both' row: movie" in out
    m = json.loads((tmp_path / "x" / "matrix.json").read_text())
    assert m["test_samples"] == {"movie": 8, "book": 8} and all(v is not None for r in m["auc"] for v in r)


@pytest.mark.parametrize("args, message", [
    (["--valid-from", "last"], "--valid-from 'last': expected first or both"),
    (["--shots", "0"], "--shots must be a positive number"),
    (["--shots", "99"], "--shots 99: the movie training pool has only 64 samples"),
    (["--seed", "-2"], "--seed must be >= 0"),
    (["--config", "nope"], "nope: no such config file"),
])
def test_cross_domain_bad_input(run_cli, tmp_path, args, message):
    data = write_data_dir(tmp_path / "data", book=True)
    code, _, err = run_cli("cross-domain", "--out", tmp_path / "x", "--data-dir", data, "--shots", "4", *args)
    assert message in error_line(code, err)


def test_cross_domain_missing_book_data(run_cli, tmp_path):
    data = write_data_dir(tmp_path / "data", book=False)
    code, _, err = run_cli("cross-domain", "--out", tmp_path / "x", "--data-dir", data, "--shots", "4")
    assert "TALLRec book file not found" in error_line(code, err)
