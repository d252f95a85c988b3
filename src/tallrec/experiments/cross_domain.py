"""Cross-domain generalisation (Figure 4 of Bao et al. 2023): train on movie, on book, or on both;
test every adapter on both test sets.

Training rows, all with the same K and seed:

* movie - K samples drawn from the movie pool, early stopping on the movie validation set;
* book  - K samples drawn from the book pool, early stopping on the book validation set;
* both  - the same K movie samples and the same K book samples as the two rows above (2K in all),
          early stopping on the validation set chosen by --valid-from:
            first: the movie validation set (movie is the first domain);
            both:  movie and book validation samples, half each when the config's valid_size is set
                   (valid_size//2 movie + the rest book, each drawn with seed 0), else all of both.

Columns: AUC on the movie test set and on the book test set. Layout of DIR::

    cross_domain.json                  settings (K, seed, valid_from, config, test limit)
    train-<row>/                       adapter/, config.yaml, history.json, train_samples.json, run.json
    train-<row>/test-<domain>/         metrics.json + scores.jsonl
    matrix.json, matrix.md             the 3x2 AUC matrix

A rerun resumes: finished evaluations are skipped, finished trainings are only evaluated.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Mapping

from ..core.errors import TallrecError
from ..core.io import ensure_dir, write_json_atomic, write_text_atomic
from ..data.datasets import DomainData, load_domain
from ..data.fewshot import draw_fewshot
from ..tuning.config import TrainConfig
from ..tuning.rec_tune import rec_tune
from .cells import (
    Progress,
    check_settings,
    data_label,
    evaluate_cell,
    fmt,
    is_done,
    limit_test,
    load_lm,
    markdown_table,
    read_metrics,
    trained,
)

ROWS = ("movie", "book", "both")
COLUMNS = ("movie", "book")
VALID_FROM = ("first", "both")


def training_set(row: str, shots: int, seed: int, cfg: TrainConfig, domains: Mapping[str, DomainData],
                 valid_from: str):
    """(config, pool, valid, description) of one training row."""
    if row in COLUMNS:
        d = domains[row]
        cfg_row = replace(cfg, shots=shots, seed=seed)
        return cfg_row, d.train, d.valid, f"{shots} {row} samples; validation: {row} ({_used(cfg, d.valid)})"
    halves = [draw_fewshot(domains[d].train, shots, seed, cfg.balanced) for d in COLUMNS]
    pool = halves[0] + halves[1]
    if valid_from == "first":
        valid = domains["movie"].valid
        vdesc = f"movie ({_used(cfg, valid)})"
    else:
        v = cfg.valid_size
        if v:
            mv = draw_fewshot(domains["movie"].valid, min(v // 2, len(domains["movie"].valid)), seed=0)
            bv = draw_fewshot(domains["book"].valid, min(v - v // 2, len(domains["book"].valid)), seed=0)
        else:
            mv, bv = domains["movie"].valid, domains["book"].valid
        valid = list(mv) + list(bv)
        vdesc = f"movie + book ({len(mv)} + {len(bv)})"
    # The 2K drawn samples are the whole pool: rec_tune's draw of 2K from it only shuffles them.
    cfg_row = replace(cfg, shots=len(pool), seed=seed, balanced=False)
    return cfg_row, pool, valid, f"{shots} movie + {shots} book samples; validation: {vdesc}"


def _used(cfg: TrainConfig, valid) -> str:
    """How many validation samples rec_tune uses (a valid_size draw of them, or all)."""
    if cfg.valid_size and cfg.valid_size < len(valid):
        return f"{cfg.valid_size} of {len(valid)}"
    return str(len(valid))


def run_cross_domain(out: str | os.PathLike, shots: int, seed: int, *, rec_config: TrainConfig,
                     valid_from: str = "both", test_limit: int | None = None,
                     data_dir: str | os.PathLike | None = None, domains: Mapping[str, DomainData] | None = None,
                     log=print) -> dict:
    """Run (or resume) the 3x2 cross-domain matrix; returns it (also DIR/matrix.json and DIR/matrix.md).

    `domains` injects already-loaded {"movie": DomainData, "book": DomainData} (tests).
    """
    if valid_from not in VALID_FROM:
        raise TallrecError(f"--valid-from {valid_from!r}: expected first or both")
    if shots is None or shots < 1:
        raise TallrecError(f"--shots must be a positive number of samples per domain, got {shots}")
    if seed < 0:
        raise TallrecError(f"--seed must be >= 0, got {seed}")
    domains = dict(domains) if domains else {d: load_domain(d, data_dir) for d in COLUMNS}
    missing = [d for d in COLUMNS if d not in domains]
    if missing:
        raise TallrecError(f"cross-domain needs data of both domains; missing: {', '.join(missing)}")
    for d in COLUMNS:
        if shots > len(domains[d].train):
            raise TallrecError(f"--shots {shots}: the {d} training pool has only {len(domains[d].train)} samples")
    tests = {d: limit_test(domains[d].test, test_limit, d) for d in COLUMNS}
    cfg = rec_config
    out = ensure_dir(out)
    settings = {"experiment": "cross-domain", "shots": shots, "seed": seed, "valid_from": valid_from,
                "rec_config": cfg.to_dict(), "test_limit": test_limit,
                "test_samples": {d: len(tests[d]) for d in COLUMNS}}
    check_settings(out, "cross_domain.json", settings, "a cross-domain run")
    prog = Progress("cross-domain", len(ROWS) * (1 + len(COLUMNS)), log)
    prog.say(f"K={shots} per domain, seed {seed}, model {cfg.model}; validation of the 'both' row: "
             f"{'movie (the first domain)' if valid_from == 'first' else 'movie + book'}; "
             f"test: movie {len(tests['movie'])}, book {len(tests['book'])} -> {out}")
    for d in COLUMNS:
        prog.say(f"{d}: {domains[d].source}")
    for row in ROWS:
        tdir = out / f"train-{row}"
        cfg_row, pool, valid, desc = training_set(row, shots, seed, cfg, domains, valid_from)
        if all(is_done(tdir / f"test-{c}") for c in COLUMNS):
            prog.start(f"train on {row}", "done before (skipped)")
        elif trained(tdir):
            prog.start(f"train on {row}", "training done before; evaluating")
        else:
            t = prog.start(f"train on {row}", desc)
            res = rec_tune(cfg_row, pool, valid, tdir, lm=load_lm(cfg_row))
            write_json_atomic(tdir / "run.json", {"row": row, "shots_per_domain": shots, "seed": seed,
                                                  "train_samples": len(pool) if row == "both" else shots,
                                                  "validation": desc, "valid_from": valid_from if row == "both" else row})
            prog.say(f"train on {row}: best validation AUC {res.best_valid_auc:.4f} ({time.time() - t:.0f} s)")
        lm = None
        for col in COLUMNS:
            cell = tdir / f"test-{col}"
            name = f"{row} -> {col}"
            if is_done(cell):
                prog.start(name, f"done before, AUC {read_metrics(cell)['auc']:.4f} (skipped)")
                continue
            t = prog.start(name, "evaluating")
            lm = lm or load_lm(cfg_row, tdir / "adapter")
            rec = evaluate_cell(lm, tests[col], cell, cfg_row, data_label(col, len(tests[col]), test_limit),
                                tdir / "adapter", desc=name, seed=seed, trained_on=row, tested_on=col,
                                shots_per_domain=shots, valid_from=valid_from if row == "both" else row)
            prog.say(f"{name}: AUC {rec['auc']:.4f} ({time.time() - t:.0f} s)")
            write_matrix(out, settings)
    matrix = write_matrix(out, settings)
    prog.say(f"matrix -> {out / 'matrix.md'}")
    return matrix


def write_matrix(out: Path, settings: dict) -> dict:
    auc = [[read_metrics(out / f"train-{r}" / f"test-{c}")["auc"] if is_done(out / f"train-{r}" / f"test-{c}")
            else None for c in COLUMNS] for r in ROWS]
    vf = settings["valid_from"]
    matrix = {"experiment": "cross-domain", "metric": "test AUC", "shots_per_domain": settings["shots"],
              "seed": settings["seed"], "valid_from": vf,
              "validation_of_both_row": "movie (the first domain)" if vf == "first" else "movie + book",
              "model": settings["rec_config"]["model"], "test_samples": settings["test_samples"],
              "rows": [f"trained on {r}" for r in ROWS], "columns": [f"test {c}" for c in COLUMNS], "auc": auc}
    write_json_atomic(out / "matrix.json", matrix)
    md = (f"# Cross-domain: K={settings['shots']} per domain, seed {settings['seed']}\n\n"
          f"Test AUC, model `{settings['rec_config']['model']}`; test samples: movie "
          f"{settings['test_samples']['movie']}, book {settings['test_samples']['book']}. The 'both' row is "
          f"trained on K movie + K book samples (2K) with early stopping on the "
          f"{matrix['validation_of_both_row']} validation set (--valid-from {vf}).\n\n")
    md += markdown_table(["trained on"] + [f"test {c}" for c in COLUMNS],
                         [[r] + [fmt(v) for v in vals] for r, vals in zip(ROWS, auc)])
    write_text_atomic(out / "matrix.md", md)
    return matrix
