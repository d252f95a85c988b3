"""Cross-domain generalisation (Figure 4 of Bao et al. 2023): train on movie, on book, or on both;
test every adapter on both test sets. One grid unit (method "cross-domain") per K, seed and model,
recorded as six rows xd-<row> x <test domain>.

Training rows, all with the same K and seed:

* movie - K samples drawn from the movie pool, early stopping on the movie validation set;
* book  - K samples drawn from the book pool, early stopping on the book validation set;
* both  - the same K movie samples and the same K book samples as the two rows above (2K in all),
          early stopping on the validation set chosen by `valid_from`:
            first: the movie validation set (movie is the first domain);
            both:  movie and book validation samples, half each when the config's valid_size is set
                   (valid_size//2 movie + the rest book, each drawn with seed 0), else all of both.

Layout of the unit's folder::

    train-<row>/                       adapter/, config.yaml, history.json, train_samples.json, run.json
    train-<row>/test-<domain>/         metrics.json + scores.jsonl

A rerun resumes: finished evaluations are kept, finished trainings are only evaluated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from ..core.io import write_json_atomic
from ..data.datasets import DomainData
from ..data.fewshot import draw_fewshot
from ..tuning.config import TrainConfig
from ..tuning.rec_tune import rec_tune
from .common import DOMAINS, Outcome
from .llm_cells import (
    data_label,
    evaluate_cell,
    is_done,
    load_lm,
    read_metrics,
    trained,
)

ROWS = ("movie", "book", "both")
VALID_FROM = ("first", "both")


def _used(cfg: TrainConfig, valid) -> str:
    """How many validation samples rec_tune uses (a valid_size draw of them, or all)."""
    if cfg.valid_size and cfg.valid_size < len(valid):
        return f"{cfg.valid_size} of {len(valid)}"
    return str(len(valid))


def _both_valid(cfg: TrainConfig, domains: Mapping[str, DomainData], valid_from: str):
    if valid_from == "first":
        valid = domains["movie"].valid
        return valid, f"movie ({_used(cfg, valid)})"
    v = cfg.valid_size
    if v:
        mv = draw_fewshot(domains["movie"].valid, min(v // 2, len(domains["movie"].valid)), seed=0)
        bv = draw_fewshot(domains["book"].valid, min(v - v // 2, len(domains["book"].valid)), seed=0)
    else:
        mv, bv = domains["movie"].valid, domains["book"].valid
    return list(mv) + list(bv), f"movie + book ({len(mv)} + {len(bv)})"


def training_set(row: str, shots: int, seed: int, cfg: TrainConfig, domains: Mapping[str, DomainData],
                 valid_from: str):
    """(config, pool, valid, description) of one training row."""
    if row in DOMAINS:
        d = domains[row]
        cfg_row = replace(cfg, shots=shots, seed=seed)
        return cfg_row, d.train, d.valid, f"{shots} {row} samples; validation: {row} ({_used(cfg, d.valid)})"
    halves = [draw_fewshot(domains[d].train, shots, seed, cfg.balanced) for d in DOMAINS]
    pool = halves[0] + halves[1]
    valid, vdesc = _both_valid(cfg, domains, valid_from)
    # The 2K drawn samples are the whole pool: rec_tune's draw of 2K from it only shuffles them.
    cfg_row = replace(cfg, shots=len(pool), seed=seed, balanced=False)
    return cfg_row, pool, valid, f"{shots} movie + {shots} book samples; validation: {vdesc}"


def _train_row(row: str, cell, cfg: TrainConfig, domains, tdir: Path, log) -> TrainConfig:
    cfg_row, pool, valid, desc = training_set(row, cell.shots, cell.seed, cfg, domains, cell.valid_from)
    if all(is_done(tdir / f"test-{c}") for c in DOMAINS):
        return cfg_row
    if trained(tdir):
        log(f"[cross-domain] train on {row}: training done before; evaluating")
        return cfg_row
    log(f"[cross-domain] train on {row}: {desc}")
    t = time.time()
    res = rec_tune(cfg_row, pool, valid, tdir, lm=load_lm(cfg_row))
    write_json_atomic(tdir / "run.json", {"row": row, "shots_per_domain": cell.shots, "seed": cell.seed,
                                          "train_samples": len(pool) if row == "both" else cell.shots,
                                          "validation": desc,
                                          "valid_from": cell.valid_from if row == "both" else row})
    log(f"[cross-domain] train on {row}: best validation AUC {res.best_valid_auc:.4f} ({time.time() - t:.0f} s)")
    return cfg_row


def run_matrix(cell, ctx, cdir: Path, log) -> list[Outcome]:
    """The 3x2 matrix of one unit, resumable; one Outcome per (training row, test domain)."""
    cfg = ctx.rec_cfg(cell.model)
    domains = {d: ctx.domain(d) for d in DOMAINS}
    outcomes = []
    for row in ROWS:
        tdir = cdir / f"train-{row}"
        cfg_row = _train_row(row, cell, cfg, domains, tdir, log)
        vf = cell.valid_from if row == "both" else row
        lm = None
        for col in DOMAINS:
            edir = tdir / f"test-{col}"
            if not is_done(edir):
                test = ctx.test(col, cell.test_limit)
                lm = lm or load_lm(cfg_row, tdir / "adapter")
                evaluate_cell(lm, test, edir, cfg_row, data_label(col, len(test), cell.test_limit),
                              tdir / "adapter", desc=f"{row} -> {col}", seed=cell.seed, trained_on=row,
                              tested_on=col, shots_per_domain=cell.shots, valid_from=vf)
            outcomes.append(Outcome(f"xd-{row}", col, read_metrics(edir), edir,
                                    {"trained_on": row, "tested_on": col, "valid_from": vf}))
    return outcomes
