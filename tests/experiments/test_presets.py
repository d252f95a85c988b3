"""The ablation and cross-domain presets of the grid on the tiny model with synthetic data: their
cells, summaries, resume, and bad input through the command line."""

import json

import pytest

from tallrec.core.errors import TallrecError
from tallrec.experiments import presets
from tallrec.experiments.cross_domain import training_set
from tallrec.experiments.grid.cells import model_slug
from tallrec.experiments.grid.store import ResultStore

from .helpers import (
    domain_data,
    domains,
    error_line,
    rec_config,
    rows_by_method,
    write_alpaca,
    write_data_dir,
    write_instruct_yaml,
    write_rec_yaml,
)


def _quiet(msg):
    pass


def _drop_rows(out, keep):
    """Rewrite the store with only the rows `keep(row)` accepts (a kill before those rows were written)."""
    store = ResultStore(out / "results.jsonl")
    rows = [r for r in store.load() if keep(r)]
    store.path.write_text("".join(json.dumps(r) + "\n" for r in rows))


# ---------------------------------------------------------------- ablation

@pytest.fixture(scope="module")
def ablation_run(tiny_model_dir, tmp_path_factory):
    """One ablation: stage 1 trained here from a fake Alpaca file, K in {4, 8}, seed 0."""
    root = tmp_path_factory.mktemp("ablation")
    kw = dict(model=str(tiny_model_dir), rec_config=write_rec_yaml(root / "rec.yaml"),
              alpaca=write_alpaca(root / "alpaca.json"), instruct_config=write_instruct_yaml(root / "instruct.yaml"),
              test_limit=10, domains={"movie": domain_data("movie")})
    logs = []
    summary = presets.run_ablation(root / "out", "movie", "4,8", "0", log=logs.append, **kw)
    return root / "out", summary, kw, logs


@pytest.mark.integration  # a whole preset run (train and score every row)
def test_ablation_cells_and_summary(ablation_run, tiny_model_dir):
    out, summary, _, logs = ablation_run
    by = rows_by_method(out)
    assert sorted((r["shots"], r["seed"]) for r in by["r"]) == [(4, 0), (8, 0)] == sorted(
        (r["shots"], r["seed"]) for r in by["tallrec"])
    assert [(r["shots"], r["seed"]) for r in by["at"]] == [(0, 0)]  # AT: one evaluation, K- and seed-independent
    for rows in by.values():
        for r in rows:
            m = json.loads((out / r["dir"] / "metrics.json").read_text())
            assert m["n"] == 10 == r["n"] and m["auc"] == r["auc"] and (out / r["dir"] / "scores.jsonl").is_file()
    at = by["at"][0]
    assert at["metrics"]["rec_tuned"] is False
    stage1 = out / "cells" / "stage1" / model_slug(str(tiny_model_dir))
    assert (stage1 / "adapter" / "adapter_config.json").exists()
    assert json.loads((stage1 / "instruct.json").read_text())["skipped_longer_than_cutoff"] == 1
    # R and TALLRec train on the same draw; TALLRec continues the stage-1 adapter, R a fresh LoRA
    for k in (4, 8):
        r = out / next(x["dir"] for x in by["r"] if x["shots"] == k)
        t = out / next(x["dir"] for x in by["tallrec"] if x["shots"] == k)
        assert (r / "train_samples.json").read_text() == (t / "train_samples.json").read_text()
        assert "init_adapter: null" in (r / "config.yaml").read_text()
        assert str((stage1 / "adapter").resolve()) in (t / "config.yaml").read_text()
    assert set(summary["table"]) == {"AT", "R", "TALLRec"} and set(summary["table"]["R"]) == {"4", "8"}
    assert summary["table"]["AT"]["4"] == summary["table"]["AT"]["8"] == {"mean": at["auc"], "sd": None, "seeds": 1}
    assert summary["table"]["R"]["8"]["mean"] == next(x["auc"] for x in by["r"] if x["shots"] == 8)
    assert len(summary["cells"]) == 5 and json.loads((out / "ablation.json").read_text()) == summary
    md = (out / "ablation.md").read_text()
    assert "| arm | K=4 | K=8 |" in md and "| TALLRec |" in md and f"| AT | {100 * at['auc']:.2f} † |" in md
    assert (out / "report.md").is_file() and "## Ablation: AT / R / TALLRec" in (out / "report.md").read_text()
    assert any("stage 1 for" in l for l in logs) and any("tallrec movie K=8 seed 0" in l and "AUC" in l for l in logs)


@pytest.mark.integration  # a whole preset run (train and score every row)
def test_ablation_resume(ablation_run, monkeypatch):
    out, summary, kw, _ = ablation_run
    import tallrec.experiments.runs as runs
    import tallrec.tuning.instruct as instruct

    def boom(*a, **k):
        raise AssertionError("nothing should be trained again")

    monkeypatch.setattr(runs, "rec_tune", boom)
    monkeypatch.setattr(instruct, "tune_instruct", boom)
    lost = next(r for r in rows_by_method(out)["r"] if r["shots"] == 8)
    (out / lost["dir"] / "metrics.json").unlink()  # evaluation and its row lost, training kept
    _drop_rows(out, lambda r: r["key"] != lost["key"])
    logs = []
    again = presets.run_ablation(out, "movie", "4,8", "0", log=logs.append, **kw)
    assert any("4 done before, 1 to run" in l for l in logs)
    assert any("r movie K=8 seed 0" in l and "training finished before; evaluating" in l for l in logs)
    assert again["table"] == summary["table"]
    with pytest.raises(TallrecError, match="recorded with other settings .*test_limit"):
        presets.run_ablation(out, "movie", "4", "0", log=_quiet, **{**kw, "test_limit": 11})


@pytest.mark.integration  # a whole preset run (train and score every row)
def test_given_adapter_with_other_shape_is_refused_before_training(ablation_run, tiny_model_dir, tmp_path):
    out, _, kw, _ = ablation_run
    adapter = out / "cells" / "stage1" / model_slug(str(tiny_model_dir)) / "adapter"
    with pytest.raises(TallrecError, match=r"adapter shape \{'r': 8.*configured LoRA shape \{'r': 4"):
        presets.run_ablation(tmp_path / "x", "movie", "4", "0", model=str(tiny_model_dir),
                             rec_config=write_rec_yaml(tmp_path / "rec4.yaml", lora={"r": 4}),
                             instruct_adapter=adapter, domains=kw["domains"], log=_quiet)
    assert not (tmp_path / "x").exists()  # checked before anything is written


@pytest.mark.integration  # a whole preset run (train and score every row)
def test_ablation_cli_with_given_adapter(ablation_run, run_cli, tiny_model_dir, tmp_path):
    """The command on a fake data folder (MovieLens built from a fake ml-100k), stage 1 given."""
    stage1, _, _, _ = ablation_run
    adapter = stage1 / "cells" / "stage1" / model_slug(str(tiny_model_dir)) / "adapter"
    data = write_data_dir(tmp_path / "data", book=False)
    code, out, err = run_cli("paper", "ablation", "--domain", "movie", "--shots", "4", "--seeds", "1", "--out", tmp_path / "abl",
                             "--instruct-adapter", adapter, "--config", write_rec_yaml(tmp_path / "rec.yaml"),
                             "--model", tiny_model_dir, "--limit", 8, "--data-dir", data)
    assert code == 0, err
    assert "| arm | K=4 |" in out and "(3/3) tallrec movie K=4 seed 1" in out
    s = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    assert len(s["cells"]) == 3 and s["test_samples"] == [8] and s["stage1"].endswith("adapter")


A = ["--instruct-adapter", "/nonexistent/adapter"]  # checked after the options and the data


@pytest.mark.parametrize("args, message", [
    (["--domain", "music", *A], "--domain 'music': expected movie or book"),
    (["--domain", "movie", "--shots", "16,x", *A], "--shots '16,x': expected comma-separated whole numbers"),
    (["--domain", "movie", "--shots", "4,", *A], "--shots '4,': expected comma-separated whole numbers"),
    (["--domain", "movie", "--shots", "0", *A], "--shots: 0 is not allowed"),
    (["--domain", "movie", "--seeds", "-1", *A], "--seeds: -1 is not allowed"),
    (["--domain", "movie", "--shots", "999", *A], "shots 999: the movie training pool has only 64 samples"),
    (["--domain", "movie", "--shots", "4", "--limit", "0", *A], "--limit"),
    (["--domain", "movie", "--shots", "4", *A], "/nonexistent/adapter: not a LoRA adapter folder"),
    (["--domain", "movie", "--shots", "4", "--alpaca", "/nonexistent/alpaca.json"],
     "/nonexistent/alpaca.json: Alpaca records for stage 1"),
    (["--domain", "movie", "--shots", "4"], "give exactly one of --instruct-adapter DIR"),
    (["--domain", "movie", "--config", "/nonexistent/rec.yaml", *A], "/nonexistent/rec.yaml: no such config file"),
    (["--domain", "movie", "--instruct-config", "alpaca-cpu", *A], "--instruct-config only applies with --alpaca"),
])
def test_ablation_bad_input(run_cli, tmp_path, args, message):
    data = write_data_dir(tmp_path / "data", book=False)
    code, _, err = run_cli("paper", "ablation", *args, "--out", tmp_path / "o", "--data-dir", data)
    assert message in error_line(code, err)
    assert not (tmp_path / "o").exists()


def test_ablation_missing_data(run_cli, tmp_path):
    code, _, err = run_cli("paper", "ablation", "--domain", "book", "--alpaca", write_alpaca(tmp_path / "a.json"),
                           "--out", tmp_path / "o", "--data-dir", tmp_path / "empty")
    assert "TALLRec book file not found" in error_line(code, err)


# ---------------------------------------------------------------- cross-domain

@pytest.fixture(scope="module")
def cross_run(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("cross")
    kw = dict(model=str(tiny_model_dir), rec_config=write_rec_yaml(root / "rec.yaml"), valid_from="both",
              test_limit=10, domains=domains())
    logs = []
    matrix = presets.run_cross_domain(root / "out", 4, 0, log=logs.append, **kw)
    return root / "out", matrix, kw, logs


@pytest.mark.integration  # a whole preset run (train and score every row)
def test_matrix_and_cells(cross_run, tiny_model_dir):
    out, matrix, _, logs = cross_run
    assert matrix["rows"] == ["trained on movie", "trained on book", "trained on both"]
    assert matrix["columns"] == ["test movie", "test book"]
    assert matrix["valid_from"] == "both" and matrix["validation_of_both_row"] == "movie + book"
    assert json.loads((out / "matrix.json").read_text()) == matrix
    md = (out / "matrix.md").read_text()
    assert "| trained on | test movie | test book |" in md and "| both |" in md and "--valid-from both" in md
    unit = out / "cells" / "cross-domain" / f"k4-s0-{model_slug(str(tiny_model_dir))}"
    for i, row in enumerate(("movie", "book", "both")):
        for j, col in enumerate(("movie", "book")):
            m = json.loads((unit / f"train-{row}" / f"test-{col}" / "metrics.json").read_text())
            assert m["trained_on"] == row and m["tested_on"] == col and m["n"] == 10
            assert m["data"].startswith(f"{col}/test") and matrix["auc"][i][j] == m["auc"]
    assert len(rows_by_method(out)["xd-both"]) == 2
    # The both row trains on the movie row's K samples plus the book row's K samples.
    both, movie, book = (json.loads((unit / f"train-{r}" / "train_samples.json").read_text())
                         for r in ("both", "movie", "book"))
    assert len(both) == 8 and sorted(map(json.dumps, both)) == sorted(map(json.dumps, movie + book))
    run = json.loads((unit / "train-both" / "run.json").read_text())
    assert run["validation"].endswith("validation: movie + book (4 + 4)")
    assert any("train on both:" in l for l in logs)


@pytest.mark.integration  # a whole preset run (train and score every row)
def test_cross_domain_resume_and_settings_check(cross_run, monkeypatch):
    out, matrix, kw, _ = cross_run
    import tallrec.experiments.cross_domain as cd

    monkeypatch.setattr(cd, "rec_tune", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    e = next(r for r in rows_by_method(out)["xd-book"] if r["domain"] == "movie")
    (out / e["dir"] / "metrics.json").unlink()
    _drop_rows(out, lambda r: not r["method"].startswith("xd-"))  # killed before the unit's rows were written
    logs = []
    again = presets.run_cross_domain(out, 4, 0, log=logs.append, **kw)
    assert again["auc"] == matrix["auc"]
    assert any("train on book: training done before; evaluating" in l for l in logs)
    assert not any("train on movie" in l for l in logs)  # finished rows are kept as they are
    with pytest.raises(TallrecError, match="other settings .*valid_from"):
        presets.run_cross_domain(out, 4, 0, log=logs.append, **{**kw, "valid_from": "first"})


def test_valid_from_first(tiny_model_dir):
    d = domains()
    cfg, pool, valid, desc = training_set("both", 4, 0, rec_config(tiny_model_dir), d, "first")
    assert valid == d["movie"].valid and cfg.shots == 8 and len(pool) == 8
    assert {s.domain for s in pool} == {"movie", "book"} and desc.endswith("validation: movie (8 of 16)")


@pytest.mark.integration  # a whole preset run (train and score every row)
def test_cross_domain_cli(run_cli, tiny_model_dir, tmp_path):
    """The command on a fake data folder: MovieLens from a fake ml-100k, book from fake official files."""
    data = write_data_dir(tmp_path / "data")
    cfg = write_rec_yaml(tmp_path / "rec.yaml", epochs=1, batch_size=8, micro_batch_size=8)
    code, out, err = run_cli("paper", "cross-domain", "--shots", 4, "--seed", 1, "--out", tmp_path / "x",
                             "--valid-from", "first", "--config", cfg, "--model", tiny_model_dir,
                             "--limit", 8, "--data-dir", data)
    assert code == 0, err
    assert "| trained on | test movie | test book |" in out and "validation of the 'both' row: movie" in out
    m = json.loads((tmp_path / "x" / "matrix.json").read_text())
    assert m["test_samples"] == {"movie": 8, "book": 8} and all(v is not None for r in m["auc"] for v in r)


@pytest.mark.parametrize("args, message", [
    (["--valid-from", "last"], "--valid-from 'last': expected first or both"),
    (["--shots", "0"], "--shots must be a positive number"),
    (["--shots", "99"], "shots 99: the movie training pool has only 64 samples"),
    (["--seed", "-2"], "--seed must be >= 0"),
    (["--config", "nope"], "nope: no such config file"),
])
def test_cross_domain_bad_input(run_cli, tmp_path, args, message):
    data = write_data_dir(tmp_path / "data", book=True)
    code, _, err = run_cli("paper", "cross-domain", "--out", tmp_path / "x", "--data-dir", data, "--shots", "4", *args)
    assert message in error_line(code, err)
    assert not (tmp_path / "x").exists()


def test_cross_domain_missing_book_data(run_cli, tmp_path):
    data = write_data_dir(tmp_path / "data", book=False)
    code, _, err = run_cli("paper", "cross-domain", "--out", tmp_path / "x", "--data-dir", data, "--shots", "4")
    assert "TALLRec book file not found" in error_line(code, err)
