"""The method registry: every method one entry, read by the grid, the presets and the report; a new
entry runs through the grid and into the report with nothing else changed."""

import json

import pytest

from tallrec.baselines import BASELINES
from tallrec.core.io import write_json_atomic
from tallrec.experiments import methods
from tallrec.experiments.grid.cells import expand_grid
from tallrec.experiments.grid.runner import run_grid
from tallrec.experiments.grid.schema import GridConfig, load_grid, validate_grid
from tallrec.experiments.report import build_report
from tallrec.experiments.report.tables import arms

from .helpers import domain_data, rows_by_method


def test_every_method_is_one_entry():
    names = list(methods.REGISTRY)
    assert len(names) == len(set(names))
    assert {"tallrec", "r", "at", "icl", "like-share", "logreg", "cross-domain"} <= set(names)
    assert set(BASELINES) <= set(names)  # each baseline of the baselines' catalogue
    assert {m.kind for m in methods.REGISTRY.values()} <= set(methods.KINDS)
    assert methods.of_kind("floor") == ["like-share", "logreg", "hist-cf", "hist-valid"]
    assert methods.get("tallrec").needs_stage1 and methods.get("at").needs_stage1 and not methods.get("r").needs_stage1
    assert not methods.get("at").uses_k and not methods.get("icl").uses_k and methods.get("r").uses_k
    assert methods.rows_of("cross-domain") == ["xd-movie", "xd-book", "xd-both"]
    assert all(methods.unit_of(r) == "cross-domain" for r in methods.rows_of("cross-domain"))
    assert arms() == ["at", "r", "tallrec"]


def test_every_grid_method_is_in_the_registry_and_orders_cover_all():
    full, _ = load_grid("full")
    assert {c.method for c in expand_grid(full)} <= set(methods.REGISTRY)
    runnable = [m for m in methods.REGISTRY.values() if m.unit is None and m.kind != "ranking"]  # ranking rows: the benchmark runs them
    assert all(m.run is not None for m in runnable)
    for key in ("run_order", "report_order"):
        ranks = [getattr(m, key) for m in methods.REGISTRY.values()]
        assert len(set(ranks)) == len(ranks), key  # a total order of every method
    # cheap first: the floors, then the classic baselines, then the LLM methods
    run = [m.name for m in methods.ordered("run_order")]
    assert run.index("logreg") < run.index("gru4rec") < run.index("icl") < run.index("tallrec") < run.index("cross-domain")
    report = [m.name for m in methods.ordered("report_order")]
    assert report[:2] == ["gru4rec", "caser"] and report.index("logreg") < report.index("icl")


def _history_share_reversed(cell, ctx, cdir, log):
    """A made-up floor: 1 - the user's like share (so its AUC is the mirror of like-share's)."""
    from sklearn.metrics import roc_auc_score

    test = ctx.test(cell.domain, cell.test_limit)
    scores = [1 - sum(l for _, l in s.history) / len(s.history) for s in test]
    labels = [bool(s.label) for s in test]
    rec = {"auc": float(roc_auc_score(labels, scores)), "n": len(test), "method": cell.method}
    write_json_atomic(cdir / "metrics.json", rec)
    return rec


def test_a_new_entry_runs_through_the_grid_and_the_report(tmp_path, monkeypatch):
    entry = methods.Method("anti-share", "anti-share (made up)", "floor", _history_share_reversed,
                           run_order=5, report_order=15)
    monkeypatch.setitem(methods.REGISTRY, "anti-share", entry)
    grid = validate_grid(GridConfig(methods=["anti-share", "like-share"], domains=["movie"], shots=[8], seeds=[0],
                                    test_limit=12), "test grid")
    out = tmp_path / "out"
    res = run_grid(out, grid, domains={"movie": domain_data("movie")}, log=lambda m: None, progress=False)
    assert res["ran"] == 2 and res["failed"] == 0
    by = rows_by_method(out)
    anti, share = by["anti-share"][0], by["like-share"][0]
    assert anti["dir"] == "cells/anti-share/movie/k8-s0" and anti["settings"]["baseline_options"] == {}
    assert anti["auc"] == pytest.approx(1 - share["auc"])  # the same samples, the mirrored score
    md = build_report(out).read_text()
    line = next(l for l in md.splitlines() if l.startswith("| anti-share (made up) |"))
    assert f"{100 * anti['auc']:.2f}" in line
    assert md.index("| like-share |") < md.index("| anti-share (made up) |")  # report_order 15 > like-share's 10
    assert json.loads((out / "grid.json").read_text())["grid"]["methods"] == ["anti-share", "like-share"]
