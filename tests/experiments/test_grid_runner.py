"""The grid runner on the tiny model and synthetic data: the store, resume (in process and after a
real SIGKILL), failed cells, the folder lock, stage 1 shared by at/tallrec, the cross-domain unit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tallrec.core.errors import DataError, TallrecError
from tallrec.core.lock import FolderLock
from tallrec.experiments import runs
from tallrec.experiments.grid.cells import model_slug
from tallrec.experiments.grid.runner import LOCK_NAME, run_grid
from tallrec.experiments.grid.schema import GridConfig, load_grid, validate_grid
from tallrec.experiments.grid.store import ResultStore

from .helpers import (
    TINY_INSTRUCT,
    TINY_REC,
    domain_data,
    domains,
    write_alpaca,
    write_data_dir,
    write_grid_yaml,
    write_rec_yaml,
)

REPO = Path(__file__).resolve().parents[2]


def _quiet(msg):
    pass


@pytest.fixture
def tiny_grid(tmp_path, tiny_model_dir):
    rec = write_rec_yaml(tmp_path / "rec.yaml", valid_size=8)
    cfg = write_grid_yaml(tmp_path / "grid.yaml", models=[str(tiny_model_dir)], seeds=[0], test_limit=12,
                          rec_config=str(rec),
                          blocks=[{"methods": ["like-share", "logreg", "gru4rec"], "domains": ["movie", "book"],
                                   "shots": [8, 16]},
                                  {"methods": ["icl"], "domains": ["movie"]},
                                  {"methods": ["r"], "domains": ["movie"], "shots": [8]}],
                          baseline_options={"gru4rec": {"epochs": 2}})
    grid, source = load_grid(config=cfg)
    return grid, source, domains()


def _counting(monkeypatch):
    calls = {"baseline": 0, "rec_tune": 0, "icl": 0}
    import tallrec.baselines.icl as icl

    for module, name, key in ((runs, "run_baseline", "baseline"), (runs, "rec_tune", "rec_tune"),
                              (icl, "run_icl", "icl")):
        real = getattr(module, name)

        def counted(*a, _real=real, _key=key, **k):
            calls[_key] += 1
            return _real(*a, **k)

        monkeypatch.setattr(module, name, counted)
    return calls


def test_resume_skips_finished_cells(tmp_path, tiny_grid, monkeypatch):
    grid, source, data = tiny_grid
    out = tmp_path / "out"
    calls = _counting(monkeypatch)
    logs: list[str] = []
    res = run_grid(out, grid, source=source, domains=data, log=logs.append, progress=False)
    assert res["cells"] == 3 * 2 * 2 + 1 + 1 == res["ran"] and res["failed"] == 0
    assert calls == {"baseline": 12, "rec_tune": 1, "icl": 1}
    store = ResultStore(out / "results.jsonl")
    rows = store.load()
    assert len(rows) == 14 and len({r["key"] for r in rows}) == 14
    r = next(x for x in rows if x["method"] == "r")
    assert r["n"] == 12 and r["settings"]["rec_config"]["batch_size"] == TINY_REC["batch_size"]
    assert r["metrics"]["rec_tuned"] and (out / r["dir"] / "adapter" / "adapter_config.json").exists()
    assert r["host"]["logical_cores"] and "torch" in r["metrics"]["versions"]
    assert (out / "report.md").is_file() and (out / "plots" / "auc_vs_shots_movie.png").is_file()

    # the same command again: nothing is computed, nothing appended
    before = store.path.read_bytes()
    calls.update(baseline=0, rec_tune=0, icl=0)
    res = run_grid(out, grid, source=source, domains=data, log=logs.append, progress=False)
    assert res["done_before"] == 14 and res["ran"] == 0 and calls == {"baseline": 0, "rec_tune": 0, "icl": 0}
    assert store.path.read_bytes() == before

    # killed after a cell's metrics.json but before (or while) its row was written: recorded, not recomputed
    lines = before.split(b"\n")
    store.path.write_bytes(b"\n".join(lines[:-2]) + b"\n" + lines[-2][:25])
    res = run_grid(out, grid, source=source, domains=data, log=logs.append, progress=False)
    assert res["ran"] == 1 and calls == {"baseline": 0, "rec_tune": 0, "icl": 0}
    assert any("partial last line" in l for l in logs) and any("metrics.json found" in l for l in logs)
    assert sorted(r["key"] for r in store.load()) == sorted(r["key"] for r in rows)

    # other settings for a recorded cell: refused before any work, naming what differs
    grid.blocks[0]["test_limit"] = 10
    with pytest.raises(TallrecError, match="recorded with other settings .*test_limit"):
        run_grid(out, grid, source=source, domains=data, log=logs.append, progress=False)


@pytest.mark.integration
def test_sigkill_then_rerun_loses_nothing(tmp_path, tiny_model_dir):
    data = write_data_dir(tmp_path / "data")
    rec = write_rec_yaml(tmp_path / "rec.yaml", valid_size=8)
    cfg = write_grid_yaml(tmp_path / "tiny.yaml", models=[str(tiny_model_dir)], seeds=[0, 1], domains=["movie"],
                          test_limit=20, rec_config=str(rec),
                          blocks=[{"methods": ["like-share", "logreg"], "shots": [16, 32]},
                                  {"methods": ["r"], "shots": [8]}])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tallrec", "paper", "reproduce", "--config", str(cfg), "--out", str(out), "--data-dir", str(data)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    store = out / "results.jsonl"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if store.is_file() and store.read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed:\n" + proc.stdout.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    finished = [json.loads(l) for l in store.read_bytes().split(b"\n")[:-1]]
    assert finished, "no cell was recorded before the kill"
    started = {r["key"]: (out / r["dir"] / "cell.json").read_text() for r in finished}

    # the killed run's lock is stale (its process is gone): the rerun takes it over
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    lines = store.read_bytes().split(b"\n")
    assert lines[-1] == b""
    rows = [json.loads(l) for l in lines[:-1]]
    planned = json.loads((out / "grid.json").read_text())["planned"]
    assert len(planned) == 2 * 2 * 2 + 2 and sorted(r["key"] for r in rows) == sorted(planned)  # each exactly once
    assert rows[:len(finished)] == finished  # the rows of the killed run are kept as they were
    for key, text in started.items():  # ... and their cells were not redone
        assert (out / next(r["dir"] for r in rows if r["key"] == key) / "cell.json").read_text() == text
    assert f"{len(finished)} done before" in rerun.stdout
    assert (out / "report.md").is_file()


def test_failed_cell_does_not_stop_the_grid(tmp_path, monkeypatch):
    grid = validate_grid(GridConfig(methods=["like-share", "logreg"], domains=["movie"], shots=[8, 16], seeds=[0],
                                    test_limit=12), "test grid")
    data = {"movie": domain_data("movie")}
    real = runs.run_baseline

    def flaky(name, *a, **k):
        if name == "logreg" and a[3] == 8:
            raise DataError("logreg needs both liked and not-liked training samples")
        return real(name, *a, **k)

    monkeypatch.setattr(runs, "run_baseline", flaky)
    out = tmp_path / "out"
    with pytest.raises(TallrecError, match=r"1 of 4 cells failed \(first: logreg movie K=8 seed 0: logreg needs"):
        run_grid(out, grid, domains=data, log=_quiet, progress=False)
    assert len(ResultStore(out / "results.jsonl").load()) == 3
    assert "both liked" in (out / "cells" / "logreg" / "movie" / "k8-s0" / "error.txt").read_text()
    assert (out / "report.md").is_file()
    monkeypatch.setattr(runs, "run_baseline", real)
    res = run_grid(out, grid, domains=data, log=_quiet, progress=False)
    assert res["done_before"] == 3 and res["ran"] == 1
    # one run at a time per folder: a second one is refused, naming the holder
    with FolderLock(out, LOCK_NAME, what="tallrec reproduce"):
        with pytest.raises(TallrecError, match=rf"another `tallrec reproduce` \(pid {os.getpid()}\) is working"):
            run_grid(out, grid, domains=data, log=_quiet, progress=False)


@pytest.mark.integration  # a whole grid: stage-1 tuning, rec-tuning, the cross-domain rows, the report
def test_stage1_arms_and_cross_domain(tmp_path, tiny_model_dir, monkeypatch):
    """at and tallrec share one stage-1 run per model; the cross-domain matrix is six rows."""
    rec = write_rec_yaml(tmp_path / "rec.yaml", valid_size=8)
    cfg = write_grid_yaml(tmp_path / "grid.yaml", models=[str(tiny_model_dir)], seeds=[0], test_limit=12,
                          rec_config=str(rec), alpaca=str(write_alpaca(tmp_path / "alpaca.json")),
                          instruct_overrides=TINY_INSTRUCT,
                          blocks=[{"methods": ["at", "tallrec"], "domains": ["movie", "book"], "shots": [8]}],
                          cross_domain={"shots": [4], "seeds": [0]})
    grid, source = load_grid(config=cfg)
    import tallrec.tuning.instruct as instruct

    trainings = []
    real = instruct.tune_instruct
    monkeypatch.setattr(instruct, "tune_instruct", lambda *a, **k: trainings.append(1) or real(*a, **k))
    out = tmp_path / "out"
    res = run_grid(out, grid, source=source, domains=domains(), log=_quiet, progress=False)
    assert res["cells"] == 2 + 2 + 1 and res["failed"] == 0 and trainings == [1]
    rows = {r["key"]: r for r in ResultStore(out / "results.jsonl").load()}
    assert len(rows) == 2 + 2 + 6
    stage1 = out / "cells" / "stage1" / model_slug(str(tiny_model_dir))
    assert (stage1 / "adapter" / "adapter_config.json").is_file()
    t = rows[f"tallrec/book/k8/s0/{tiny_model_dir}"]
    assert t["metrics"]["stage1_adapter"] == str((stage1 / "adapter").resolve())
    assert t["settings"]["stage1"]["config"]["batch_size"] == TINY_INSTRUCT["batch_size"]
    assert rows[f"at/movie/k0/s0/{tiny_model_dir}"]["metrics"]["rec_tuned"] is False
    xd = [r for r in rows.values() if r["method"].startswith("xd-")]
    assert sorted((r["trained_on"], r["tested_on"]) for r in xd) == sorted(
        (a, b) for a in ("movie", "book", "both") for b in ("movie", "book"))
    assert all(r["settings"]["valid_from"] == "both" for r in xd)
    md = (out / "report.md").read_text()
    assert "## Ablation: AT / R / TALLRec" in md and "## Cross-domain" in md


def test_settings_added_since_a_row_was_recorded_are_no_difference_at_their_default():
    """A row recorded before a training setting existed still matches when this grid holds the new
    setting at its default; a changed value (or another method) is still named."""
    from dataclasses import asdict

    from tallrec.experiments.grid.runner import _diff
    from tallrec.tuning.config import InstructConfig, TrainConfig

    rec, inst = asdict(TrainConfig()), asdict(InstructConfig())
    now = {"method": "tallrec", "rec_config": rec, "stage1": {"alpaca": "a.json", "config": inst}}
    old = {"method": "tallrec", "rec_config": {k: v for k, v in rec.items() if k != "quantize"},
           "stage1": {"alpaca": "a.json", "config": {k: v for k, v in inst.items() if k != "gradient_checkpointing"}}}
    assert _diff(now, old) == []
    assert _diff({**now, "rec_config": {**rec, "lr": rec["lr"] * 2}}, old) == ["rec_config"]
    assert _diff({**now, "stage1": {"alpaca": "b.json", "config": inst}}, old) == ["stage1"]
    assert _diff({**now, "method": "r"}, old) == ["method"]
