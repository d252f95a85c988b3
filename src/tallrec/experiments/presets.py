"""The paper's two studies as presets of the one grid runner (same cells, store, resume, folder layout).

* ablation (Figure 3 of Bao et al. 2023): AT (the stage-1 adapter alone), R (rec-tuning only) and
  TALLRec (stage 1, then rec-tuning) on one domain, per K and seed; a summary table DIR/ablation.md
  (+ .json) beside the grid's report.md.
* cross-domain (Figure 4): train on movie, on book and on both, test each adapter on both test sets;
  the 3x2 matrix in DIR/matrix.md (+ .json).

Each builds a GridConfig and calls grid.runner.run_grid: a rerun of the same command skips finished
cells, and a folder holding other settings for a cell is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..core.config import load_config, resolve_config
from ..core.defaults import DEFAULT_RECIPE
from ..core.errors import TallrecError
from ..core.io import write_json_atomic, write_text_atomic
from ..data.datasets import DomainData
from ..tuning.config import TrainConfig
from . import methods
from .common import (
    DEFAULT_INSTRUCT_CONFIG,
    DOMAINS,
    fmt,
    markdown_table,
    parse_int_list,
)
from .cross_domain import ROWS, VALID_FROM
from .grid.cells import expand_grid
from .grid.runner import run_grid
from .grid.schema import GridConfig, validate_grid
from .grid.store import STORE_NAME, ResultStore
from .report import tables


def _recipe(rec_config, overrides: Mapping | None, model: str | None) -> tuple[str, dict, str]:
    """(recipe path, overrides without None values, model): the model from the recipe unless given."""
    path = resolve_config(rec_config, "rec", DEFAULT_RECIPE)
    over = {k: v for k, v in (overrides or {}).items() if v is not None}
    model = model or over.pop("model", None) or load_config(TrainConfig, path, over).model
    return str(path), over, str(model)


def _grid_rows(out: Path, grid: GridConfig) -> list[dict]:
    """The stored rows of this grid's cells (the folder may hold more)."""
    keys = {k for c in expand_grid(grid) for k in c.keys}
    return [r for r in ResultStore(Path(out) / STORE_NAME).load() if r["key"] in keys]


# ---------------------------------------------------------------- ablation

def ablation_grid(domain: str, shots, seeds, *, model: str | None = None, rec_config=None,
                  rec_overrides: Mapping | None = None, instruct_adapter=None, alpaca=None, instruct_config=None,
                  instruct_overrides: Mapping | None = None, test_limit: int | None = None) -> GridConfig:
    """The ablation's grid: methods at, r, tallrec on `domain`; stage 1 given or trained from `alpaca`."""
    shots = parse_int_list(shots, "--shots")
    seeds = parse_int_list(seeds, "--seeds", minimum=0)
    if (instruct_adapter is None) == (alpaca is None):
        raise TallrecError("give exactly one of --instruct-adapter DIR (a stage-1 adapter) or --alpaca FILE "
                           "(train one here)")
    rec_path, over, model = _recipe(rec_config, rec_overrides, model)
    grid = GridConfig(
        description=f"Ablation: AT / R / TALLRec on {domain}.", methods=tables.arms(), domains=[domain],
        shots=shots, seeds=seeds, models=[model], test_limit=test_limit, rec_config=rec_path, rec_overrides=over,
        instruct_config=str(resolve_config(instruct_config, "instruct", DEFAULT_INSTRUCT_CONFIG)),
        instruct_overrides=dict(instruct_overrides or {}),
        instruct_adapter=None if instruct_adapter is None else str(Path(instruct_adapter).resolve()),
        alpaca=None if alpaca is None else str(Path(alpaca).resolve()))
    return validate_grid(grid, "ablation")


def ablation_summary(out: str | os.PathLike, grid: GridConfig) -> dict:
    """DIR/ablation.json + .md: mean ± sd over seeds per arm and K, from the store."""
    out, domain, model = Path(out), grid.domains[0], grid.models[0]
    rows = _grid_rows(out, grid)
    agg = tables.aggregate(rows)
    table: dict = {}
    for arm in tables.arms():
        m = methods.get(arm)
        for k in grid.shots:
            a = agg.get((arm, model, domain, k if m.uses_k else 0))
            if a:
                table.setdefault(m.short, {})[str(k)] = {"mean": a["mean"], "sd": a["sd"], "seeds": len(a["seeds"])}
    n = sorted({r["n"] for r in rows})
    summary = {"experiment": "ablation", "domain": domain, "model": model, "metric": "test AUC", "test_samples": n,
               "stage1": grid.instruct_adapter or grid.alpaca, "table": table,
               "cells": [{k: r.get(k) for k in ("key", "method", "shots", "seed", "auc", "n", "dir")} for r in rows]}
    write_json_atomic(out / "ablation.json", summary)
    md = (f"# Ablation: AT / R / TALLRec on {domain}\n\nTest AUC × 100 on {', '.join(map(str, n))} {domain} test "
          f"samples, model `{tables.short_model(model)}`; mean ± sample sd (seeds) where more than one seed. AT is "
          f"the stage-1 adapter without rec-tuning (independent of K and seed, †); R is rec-tuning from a fresh "
          f"LoRA; TALLRec is rec-tuning continued from the stage-1 adapter on the same K samples.\n\n")
    md += tables.ablation_table(domain, rows, agg) or "No finished cells yet.\n"
    write_text_atomic(out / "ablation.md", md)
    return summary


def run_ablation(out: str | os.PathLike, domain: str, shots, seeds, *, data_dir=None,
                 domains: Mapping[str, DomainData] | None = None, log=print, progress: bool = False,
                 **grid_options) -> dict:
    """Run (or resume) the ablation into `out`; returns the summary. `grid_options`: ablation_grid's."""
    grid = ablation_grid(domain, shots, seeds, **grid_options)
    run_grid(out, grid, source=f"ablation on {domain}", data_dir=data_dir, domains=domains, log=log,
             progress=progress, name="ablation")
    return ablation_summary(out, grid)


# ---------------------------------------------------------------- cross-domain

def cross_domain_grid(shots: int, seed: int, *, model: str | None = None, rec_config=None,
                      rec_overrides: Mapping | None = None, valid_from: str = "both", test_limit: int | None = None,
                      init_adapter=None) -> GridConfig:
    """One cross-domain matrix; `init_adapter` starts every row from a stage-1 adapter (TALLRec)."""
    if valid_from not in VALID_FROM:
        raise TallrecError(f"--valid-from {valid_from!r}: expected first or both")
    if shots is None or shots < 1:
        raise TallrecError(f"--shots must be a positive number of samples per domain, got {shots}")
    if seed < 0:
        raise TallrecError(f"--seed must be >= 0, got {seed}")
    over = dict(rec_overrides or {})
    if init_adapter is not None:
        over["init_adapter"] = str(Path(init_adapter).resolve())
    rec_path, over, model = _recipe(rec_config, over, model)
    grid = GridConfig(description=f"Cross-domain matrix, K={shots} per domain, seed {seed}.", blocks=[],
                      models=[model], rec_config=rec_path, rec_overrides=over,
                      cross_domain={"shots": [shots], "seeds": [seed], "models": [model], "test_limit": test_limit,
                                    "valid_from": valid_from})
    return validate_grid(grid, "cross-domain")


def matrix_summary(out: str | os.PathLike, grid: GridConfig) -> dict:
    """DIR/matrix.json + .md: the 3x2 AUC matrix of the grid's one unit, from the store."""
    out, xd = Path(out), grid.cross_domain
    rows = {(r["trained_on"], r["tested_on"]): r for r in _grid_rows(out, grid)}
    auc = [[rows[(r, c)]["auc"] if (r, c) in rows else None for c in DOMAINS] for r in ROWS]
    vf = xd["valid_from"]
    both = "movie (the first domain)" if vf == "first" else "movie + book"
    n = {c: next((rows[(r, c)]["n"] for r in ROWS if (r, c) in rows), None) for c in DOMAINS}
    matrix = {"experiment": "cross-domain", "metric": "test AUC", "shots_per_domain": xd["shots"][0],
              "seed": xd["seeds"][0], "valid_from": vf, "validation_of_both_row": both, "model": xd["models"][0],
              "test_samples": n, "rows": [f"trained on {r}" for r in ROWS], "columns": [f"test {c}" for c in DOMAINS],
              "auc": auc}
    write_json_atomic(out / "matrix.json", matrix)
    md = (f"# Cross-domain: K={xd['shots'][0]} per domain, seed {xd['seeds'][0]}\n\n"
          f"Test AUC, model `{tables.short_model(xd['models'][0])}`; test samples: movie {n['movie']}, book "
          f"{n['book']}. The 'both' row is trained on K movie + K book samples (2K) with early stopping on the "
          f"{both} validation set (--valid-from {vf}).\n\n")
    md += markdown_table(["trained on"] + [f"test {c}" for c in DOMAINS],
                                [[r] + [fmt(v) for v in vals] for r, vals in zip(ROWS, auc)])
    write_text_atomic(out / "matrix.md", md)
    return matrix


def run_cross_domain(out: str | os.PathLike, shots: int, seed: int, *, data_dir=None,
                     domains: Mapping[str, DomainData] | None = None, log=print, progress: bool = False,
                     **grid_options) -> dict:
    """Run (or resume) one cross-domain matrix into `out`; returns it. `grid_options`: cross_domain_grid's."""
    grid = cross_domain_grid(shots, seed, **grid_options)
    vf = grid.cross_domain["valid_from"]
    log(f"[cross-domain] K={shots} per domain, seed {seed}, model {grid.models[0]}; validation of the 'both' "
        f"row: {'movie (the first domain)' if vf == 'first' else 'movie + book'}")
    run_grid(out, grid, source=f"cross-domain K={shots} seed {seed}", data_dir=data_dir, domains=domains, log=log,
             progress=progress, name="cross-domain")
    return matrix_summary(out, grid)
