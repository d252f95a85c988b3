"""`tallrec reproduce` / `tallrec report` on the tiny model and synthetic data: grid expansion, the
results store, resume (in process and after a real SIGKILL), the report, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from experiments.helpers import (
    TINY_INSTRUCT,
    TINY_REC,
    domain_data,
    error_line,
    write_alpaca,
    write_data_dir,
    write_rec_yaml,
)

from tallrec.core.errors import TallrecError
from tallrec.experiments import reproduce as rp
from tallrec.experiments.report import load_paper
from tallrec.experiments.store import ResultStore

REPO = Path(__file__).resolve().parents[2]


def _grid_yaml(path: Path, **values) -> Path:
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return path


# ---------------------------------------------------------------- grid expansion

def test_grid_expansion_from_config(tmp_path, tiny_model_dir):
    cfg = _grid_yaml(tmp_path / "grid.yaml", seeds=[0, 1], models=[str(tiny_model_dir)], test_limit=10, blocks=[
        {"methods": ["like-share", "gru4rec"], "domains": ["movie", "book"], "shots": [16, 64]},
        {"methods": ["icl", "at"], "domains": ["movielens"]},       # alias of movie; K-independent
        {"methods": ["r"], "domains": ["movie"], "shots": [64], "seeds": [3], "test_limit": 5},
        {"methods": ["like-share"], "domains": ["movie"], "shots": [16]},  # duplicate of block 0: once
    ], cross_domain={"shots": [8], "seeds": [0]}, rec_config="rec.yaml")
    write_rec_yaml(tmp_path / "rec.yaml")
    grid, where = rp.load_grid(config=cfg)
    assert where == str(cfg) and grid.rec_config == str((tmp_path / "rec.yaml").resolve())
    cells = rp.expand_grid(grid)
    keys = [c.key for c in cells]
    assert len(keys) == len(set(keys)) == 2 * 2 * 2 * 2 + 2 + 1 + 1
    # baselines have no model; K-independent methods one cell (shots 0, seed 0); blocks inherit the top level
    ls = [c for c in cells if c.method == "like-share"]
    assert {c.model for c in ls} == {None} and {c.seed for c in ls} == {0, 1} and {c.test_limit for c in ls} == {10}
    assert [c.key for c in cells if c.method in ("icl", "at")] == [
        f"icl/movie/k0/s0/{tiny_model_dir}", f"at/movie/k0/s0/{tiny_model_dir}"]
    r = [c for c in cells if c.method == "r"]
    assert len(r) == 1 and r[0].seed == 3 and r[0].test_limit == 5 and r[0].shots == 64
    xd = cells[-1]
    assert xd.is_xd and len(xd.keys) == 6 and xd.keys[0] == f"xd-movie/movie/k8/s0/{tiny_model_dir}"
    # cheap methods first; folders as documented (a non-default model gets a suffix)
    assert cells[0].method == "like-share" and cells[-2].method == "r"
    assert ls[0].rel_dir() == Path("cells/like-share/movie/k16-s0")
    assert r[0].rel_dir().parent == Path("cells/r/movie") and r[0].rel_dir().name.startswith("k64-s3-tiny-llama")
    # the packaged budgets expand and validate
    quick, _ = rp.load_grid("quick")
    qcells = rp.expand_grid(quick)
    assert {c.method for c in qcells if c.model} == {"icl", "r"}
    assert [c.key for c in qcells if c.method == "r"] == ["r/movie/k64/s0/smollm2-135m", "r/book/k64/s0/smollm2-135m"]
    assert {c.test_limit for c in qcells} == {1000}  # every row on the same test samples
    assert sum(c.method in rp.BASELINE_METHODS for c in qcells) == 8 * 2 * 3
    full, _ = rp.load_grid("full")
    assert len([c for c in rp.expand_grid(full) if c.method == "tallrec"]) == 2 * 3 * 5


@pytest.mark.parametrize("values, message", [
    ({"methods": ["r", "bert4rec"]}, "unknown method 'bert4rec'"),
    ({"domains": ["movie", "music"]}, "unknown domain 'music'"),
    ({"shots": [0]}, "shots: 0 is not allowed"),
    ({"blocks": [{"methods": ["r"], "shot": [16]}]}, "blocks[0]: unknown setting(s) shot"),
    ({"cross_domain": {"shots": [8], "valid_from": "last"}}, "valid_from 'last'"),
    ({"epochs": 3}, "unknown setting(s) epochs"),
    ({"models": ["/no/such/model"]}, "model '/no/such/model': no such model"),
])
def test_bad_grid_is_one_line(tmp_path, values, message):
    cfg = _grid_yaml(tmp_path / "bad.yaml", **values)
    with pytest.raises(TallrecError) as e:
        rp.load_grid(config=cfg)
    assert message in str(e.value) and "\n" not in str(e.value)


# ---------------------------------------------------------------- the store

def test_store_round_trip_and_truncated_last_line(tmp_path):
    store = ResultStore(tmp_path / "results.jsonl")
    assert store.load() == [] and store.repair() == 0
    rows = [{"key": f"m/movie/k16/s{i}/-", "auc": 0.5 + i / 100, "metrics": {"versions": {"torch": "x"}}} for i in range(3)]
    for r in rows:
        store.append(r)
    assert store.load() == rows
    # a kill during a write leaves a partial last line: readers skip it, a writer cuts it off first
    with open(store.path, "ab") as f:
        f.write(b'{"key": "m/movie/k16/s9/-", "auc": 0.7')
    assert store.load() == rows and store.partial_tail
    assert store.repair() == len(b'{"key": "m/movie/k16/s9/-", "auc": 0.7')
    assert store.path.read_bytes().endswith(b"\n") and store.load() == rows and not store.partial_tail
    store.append({"key": "m/movie/k16/s9/-", "auc": 0.7})
    assert [r["key"] for r in store.load()][-1] == "m/movie/k16/s9/-"
    # an unreadable complete line is counted and skipped; the first row of a key wins
    with open(store.path, "ab") as f:
        f.write(b"not json\n" + json.dumps({"key": rows[0]["key"], "auc": 0.1}).encode() + b"\n")
    loaded = store.load()
    assert store.bad_lines == 1 and len(loaded) == 4 and loaded[0]["auc"] == rows[0]["auc"]


# ---------------------------------------------------------------- resume in process

@pytest.fixture
def tiny_grid(tmp_path, tiny_model_dir):
    rec = write_rec_yaml(tmp_path / "rec.yaml", valid_size=8)
    cfg = _grid_yaml(tmp_path / "grid.yaml", models=[str(tiny_model_dir)], seeds=[0], test_limit=12, rec_config=str(rec),
                     blocks=[{"methods": ["like-share", "logreg", "gru4rec"], "domains": ["movie", "book"], "shots": [8, 16]},
                             {"methods": ["icl"], "domains": ["movie"]},
                             {"methods": ["r"], "domains": ["movie"], "shots": [8]}],
                     baseline_options={"gru4rec": {"epochs": 2}})
    grid, source = rp.load_grid(config=cfg)
    return grid, source, {d: domain_data(d) for d in ("movie", "book")}


def _counting(monkeypatch):
    calls = {"baseline": 0, "rec_tune": 0, "icl": 0}
    real_baseline, real_tune = rp.run_baseline, rp.rec_tune
    import tallrec.llm.icl as icl

    real_icl = icl.run_icl

    def baseline(*a, **k):
        calls["baseline"] += 1
        return real_baseline(*a, **k)

    def tune(*a, **k):
        calls["rec_tune"] += 1
        return real_tune(*a, **k)

    def run_icl(*a, **k):
        calls["icl"] += 1
        return real_icl(*a, **k)

    monkeypatch.setattr(rp, "run_baseline", baseline)
    monkeypatch.setattr(rp, "rec_tune", tune)
    monkeypatch.setattr(icl, "run_icl", run_icl)
    return calls


def test_resume_skips_finished_cells(tmp_path, tiny_grid, monkeypatch):
    grid, source, domains = tiny_grid
    out = tmp_path / "out"
    calls = _counting(monkeypatch)
    logs: list[str] = []
    res = rp.run_reproduce(out, grid, source=source, domains=domains, log=logs.append, progress=False)
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
    res = rp.run_reproduce(out, grid, source=source, domains=domains, log=logs.append, progress=False)
    assert res["done_before"] == 14 and res["ran"] == 0 and calls == {"baseline": 0, "rec_tune": 0, "icl": 0}
    assert store.path.read_bytes() == before

    # killed after a cell's metrics.json but before (or while) its row was written: recorded, not recomputed
    lines = before.split(b"\n")
    store.path.write_bytes(b"\n".join(lines[:-2]) + b"\n" + lines[-2][:25])
    res = rp.run_reproduce(out, grid, source=source, domains=domains, log=logs.append, progress=False)
    assert res["ran"] == 1 and calls == {"baseline": 0, "rec_tune": 0, "icl": 0}
    assert any("partial last line" in l for l in logs) and any("metrics.json found" in l for l in logs)
    assert sorted(r["key"] for r in store.load()) == sorted(r["key"] for r in rows)

    # other settings for a recorded cell: refused before any work, naming what differs
    grid.blocks[0]["test_limit"] = 10
    with pytest.raises(TallrecError, match="recorded with other settings .*test_limit"):
        rp.run_reproduce(out, grid, source=source, domains=domains, log=logs.append, progress=False)


# ---------------------------------------------------------------- a real kill

def test_sigkill_then_rerun_loses_nothing(tmp_path, tiny_model_dir):
    data = write_data_dir(tmp_path / "data")
    rec = write_rec_yaml(tmp_path / "rec.yaml", valid_size=8)
    cfg = _grid_yaml(tmp_path / "tiny.yaml", models=[str(tiny_model_dir)], seeds=[0, 1], domains=["movie"],
                     test_limit=20, rec_config=str(rec),
                     blocks=[{"methods": ["like-share", "logreg"], "shots": [16, 32]}, {"methods": ["r"], "shots": [8]}])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tallrec", "reproduce", "--config", str(cfg), "--out", str(out), "--data-dir", str(data)]
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
    killed = store.read_bytes()
    finished = [json.loads(l) for l in killed.split(b"\n")[:-1]]
    assert finished, "no cell was recorded before the kill"
    started = {r["key"]: (out / r["dir"] / "cell.json").read_text() for r in finished}

    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    lines = store.read_bytes().split(b"\n")
    assert lines[-1] == b""
    rows = [json.loads(l) for l in lines[:-1]]
    keys = [r["key"] for r in rows]
    planned = json.loads((out / "reproduce.json").read_text())["planned"]
    assert len(planned) == 2 * 2 * 2 + 2 and sorted(keys) == sorted(planned)  # every cell exactly once
    assert rows[:len(finished)] == finished  # the rows of the killed run are kept as they were
    for key, text in started.items():  # ... and their cells were not redone
        assert (out / next(r["dir"] for r in rows if r["key"] == key) / "cell.json").read_text() == text
    assert f"{len(finished)} done before" in rerun.stdout
    assert (out / "report.md").is_file()


# ---------------------------------------------------------------- the report

def _row(method, domain, shots, seed, auc, model="smollm2-135m", n=100, **extra):
    return {"key": rp.cell_key(method, domain, shots, seed, model), "method": method, "domain": domain, "shots": shots,
            "seed": seed, "model": model, "auc": auc, "n": n, "test_limit": None, "cell_seconds": 12.0,
            "dir": f"cells/{method}/{domain}/k{shots}-s{seed}", "finished": "2025-01-01T00:00:00+00:00",
            "settings": {"rec_config": {"lr": 1e-3, "epochs": 4}} if method in ("r", "tallrec") else {},
            "metrics": {"auc": auc, "dtype": "bfloat16", "versions": {"torch": "2.13.0", "tallrec": "0.1.0"}},
            "host": {"hostname": "box", "cpu": "Test CPU 3000", "logical_cores": 2, "usable_cores": 2,
                     "torch_threads": 2, "memory_gib": 8.0, "gpus": [], "os": "Linux"}, **extra}


def test_report_renders_from_a_store(tmp_path, run_cli):
    out = tmp_path / "run"
    store = ResultStore(out / "results.jsonl")
    out.mkdir()
    for d in ("movie", "book"):
        for k in (16, 64, 256):
            for s in (0, 1, 2):
                store.append(_row("gru4rec", d, k, s, 0.50 + 0.01 * s, model=None))
                store.append(_row("like-share", d, k, s, 0.70, model=None))
                store.append(_row("r", d, k, s, 0.55 + k / 2000 + 0.01 * s))
                store.append(_row("tallrec", d, k, s, 0.58 + k / 2000 + 0.01 * s))
        store.append(_row("icl", d, 0, 0, 0.49))
        store.append(_row("at", d, 0, 0, 0.52))
    for r in ("movie", "book", "both"):
        for c in ("movie", "book"):
            store.append(_row(f"xd-{r}", c, 64, 0, 0.6, trained_on=r, tested_on=c, valid_from="both"))
    with open(store.path, "ab") as f:
        f.write(b'{"key": "partial')  # a kill mid-write: ignored
    code, stdout, err = run_cli("report", out)
    assert code == 0, err
    md = (out / "report.md").read_text()
    assert "| method | model | K=16 | paper K=16 | K=64 | paper K=64 | K=256 | paper K=256 | test n |" in md
    paper = load_paper()["methods"]["tallrec"]
    assert paper["movie"] == [67.24, 67.48, 71.98] and paper["book"] == [56.36, 60.39, 64.38]
    tallrec_row = next(l for l in md.splitlines() if l.startswith("| TALLRec (stage 1 + rec-tuning) |"))
    assert "67.24" in tallrec_row and "59.80 ± 1.00 (3)" in tallrec_row
    assert "| in-context (untuned LLM) | smollm2-135m | 49.00 † |" in md
    assert "## Ablation: AT / R / TALLRec" in md and "| AT | 52.00 † |" in md
    assert "## Cross-domain" in md and "| trained on both (K movie + K book) | 60.00 | 60.00 |" in md
    assert "Test CPU 3000" in md and "torch 2.13.0" in md and "`smollm2-135m` (bfloat16)" in md
    assert "partial last line" in md
    for d in ("movie", "book"):
        png = out / "plots" / f"auc_vs_shots_{d}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f"(plots/{png.name})" in md
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cells"] == 2 * 3 * 3 * 4 + 4 + 6


# ---------------------------------------------------------------- the command line

def test_cli_bad_input_is_one_line(tmp_path, run_cli):
    bad = _grid_yaml(tmp_path / "bad.yaml", methods=["r", "magic"])
    assert "unknown method 'magic'" in error_line(*run_cli("reproduce", "--config", bad, "--out", tmp_path / "o")[::2])
    bad = _grid_yaml(tmp_path / "bad2.yaml", domains=["music"])
    assert "unknown domain 'music'" in error_line(*run_cli("reproduce", "--config", bad, "--out", tmp_path / "o")[::2])
    assert "--budget 'huge'" in error_line(*run_cli("reproduce", "--budget", "huge", "--out", tmp_path / "o")[::2])
    assert "not both" in error_line(*run_cli("reproduce", "--budget", "quick", "--config", bad, "--out", tmp_path / "o")[::2])
    assert "no such config file" in error_line(*run_cli("reproduce", "--config", tmp_path / "nope.yaml",
                                                        "--out", tmp_path / "o")[::2])
    assert "no results.jsonl" in error_line(*run_cli("report", tmp_path)[::2])


def test_cli_dry_run_lists_the_quick_budget(tmp_path, run_cli):
    data = write_data_dir(tmp_path / "data")
    code, out, err = run_cli("reproduce", "--budget", "quick", "--out", tmp_path / "o", "--data-dir", data, "--dry-run")
    assert code == 0, err
    assert "--budget quick: 52 cells" in out and "| r | 2 | 0 | book, movie | 64 | 1000 |" in out and "estimate left" in out
    assert not (tmp_path / "o").exists()


def test_failed_cell_does_not_stop_the_grid(tmp_path, monkeypatch):
    grid = rp.GridConfig(methods=["like-share", "logreg"], domains=["movie"], shots=[8, 16], seeds=[0], test_limit=12)
    rp.validate_grid(grid, "test grid")
    domains = {"movie": domain_data("movie")}
    real = rp.run_baseline

    def flaky(name, *a, **k):
        if name == "logreg" and a[3] == 8:
            from tallrec.core.errors import DataError

            raise DataError("logreg needs both liked and not-liked training samples")
        return real(name, *a, **k)

    monkeypatch.setattr(rp, "run_baseline", flaky)
    out = tmp_path / "out"
    with pytest.raises(TallrecError, match=r"1 of 4 cells failed \(first: logreg movie K=8 seed 0: logreg needs"):
        rp.run_reproduce(out, grid, domains=domains, log=lambda m: None, progress=False)
    assert len(ResultStore(out / "results.jsonl").load()) == 3
    assert "both liked" in (out / "cells" / "logreg" / "movie" / "k8-s0" / "error.txt").read_text()
    assert (out / "report.md").is_file()
    monkeypatch.setattr(rp, "run_baseline", real)
    res = rp.run_reproduce(out, grid, domains=domains, log=lambda m: None, progress=False)
    assert res["done_before"] == 3 and res["ran"] == 1
    # one run at a time per folder
    lock = rp._lock(out)
    try:
        with pytest.raises(TallrecError, match="another `tallrec reproduce` is running"):
            rp.run_reproduce(out, grid, domains=domains, log=lambda m: None, progress=False)
    finally:
        lock.close()


def test_stage1_arms_and_cross_domain(tmp_path, tiny_model_dir, monkeypatch):
    """at and tallrec share one stage-1 run per model; the cross-domain matrix is six rows."""
    rec = write_rec_yaml(tmp_path / "rec.yaml", valid_size=8)
    cfg = _grid_yaml(tmp_path / "grid.yaml", models=[str(tiny_model_dir)], seeds=[0], test_limit=12, rec_config=str(rec),
                     alpaca=str(write_alpaca(tmp_path / "alpaca.json")), instruct_overrides=TINY_INSTRUCT,
                     blocks=[{"methods": ["at", "tallrec"], "domains": ["movie", "book"], "shots": [8]}],
                     cross_domain={"shots": [4], "seeds": [0]})
    grid, source = rp.load_grid(config=cfg)
    domains = {d: domain_data(d) for d in ("movie", "book")}
    import tallrec.tuning.instruct as instruct

    trainings = []
    real = instruct.tune_instruct
    monkeypatch.setattr(instruct, "tune_instruct", lambda *a, **k: trainings.append(1) or real(*a, **k))
    out = tmp_path / "out"
    res = rp.run_reproduce(out, grid, source=source, domains=domains, log=lambda m: None, progress=False)
    assert res["cells"] == 2 + 2 + 1 and res["failed"] == 0 and trainings == [1]
    rows = {r["key"]: r for r in ResultStore(out / "results.jsonl").load()}
    assert len(rows) == 2 + 2 + 6
    stage1 = out / "cells" / "stage1" / rp.model_slug(str(tiny_model_dir))
    assert (stage1 / "adapter" / "adapter_config.json").is_file()
    t = rows[f"tallrec/book/k8/s0/{tiny_model_dir}"]
    assert t["metrics"]["stage1_adapter"] == str((stage1 / "adapter").resolve())
    assert t["settings"]["stage1"]["config"]["batch_size"] == TINY_INSTRUCT["batch_size"]
    assert rows[f"at/movie/k0/s0/{tiny_model_dir}"]["metrics"]["rec_tuned"] is False
    xd = [r for r in rows.values() if r["method"].startswith("xd-")]
    assert sorted((r["trained_on"], r["tested_on"]) for r in xd) == sorted(
        (a, b) for a in ("movie", "book", "both") for b in ("movie", "book"))
    md = (out / "report.md").read_text()
    assert "## Ablation: AT / R / TALLRec" in md and "## Cross-domain" in md
