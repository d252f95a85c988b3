"""Time estimates of a grid: measured means of the cells timed in this folder, else priors.

The priors are seconds per cell on the development machine (2 shared CPU cores, SmolLM2-135M in
bf16): scoring ~0.12 s per test sample, a rec-tuning step ~0.85 s per training sample (both
measured with one other job on the cores; with the cores heavily shared both were several times
slower), ~1.35 s per Alpaca record of stage 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ...tuning.config import TrainConfig
from .. import methods
from ..common import DOMAINS
from .cells import Cell

SCORE_S, TRAIN_S, LOAD_S, STAGE1_S = 0.12, 0.85, 10.0, 1.35


def fmt_duration(seconds: float) -> str:
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60):02d} min"


def _train_seconds(cfg: TrainConfig, k: int) -> float:
    steps = math.ceil(k / max(1, cfg.batch_size)) * cfg.epochs
    checks = (steps // cfg.eval_every + 1) if cfg.eval_every else 1
    return LOAD_S + steps * min(cfg.batch_size, k) * TRAIN_S + checks * (cfg.valid_size or 1000) * SCORE_S


def prior_seconds(cell: Cell, n_test: int, ctx=None) -> float:
    """A cell's seconds before any cell of its method was timed here."""
    m = methods.get(cell.method)
    if m.kind == "floor":
        return 1.0
    if m.kind == "baseline":  # the first text model per domain embeds every item text
        return 30.0 if cell.method.endswith("bert") else 5.0
    score = LOAD_S + n_test * SCORE_S
    if m.kind == "llm-untuned" or not m.uses_k:
        return score
    cfg = ctx.rec_cfg(cell.model) if ctx else TrainConfig()
    if cell.rows:  # the cross-domain matrix: two K trainings, one 2K, six evaluations of one domain each
        per_domain = n_test / max(1, len(cell.domains))
        return _train_seconds(cfg, cell.shots) * 2 + _train_seconds(cfg, 2 * cell.shots) + \
            6 * (LOAD_S + per_domain * SCORE_S)
    return _train_seconds(cfg, cell.shots) + score


def stage1_seconds(ctx, cells: Sequence[Cell]) -> float:
    """Seconds of the stage-1 trainings still to do for `cells`."""
    if ctx.grid.instruct_adapter:
        return 0.0
    from ...tuning.instruct import instruct_done

    total = 0.0
    for model in sorted({c.model for c in cells if methods.get(c.method).needs_stage1}):
        icfg = ctx.instruct_cfg(model)
        if not instruct_done(ctx.stage1_dir(model), icfg):
            total += LOAD_S + (icfg.limit or 2000) * max(1, icfg.epochs) * STAGE1_S
    return total


class Estimator:
    """Seconds left: measured means of finished cells (same method, K and model, else same
    method), else the priors."""

    def __init__(self, rows: Iterable[dict]):
        self.times: dict[tuple, list[float]] = {}
        for r in rows:
            self.add(r)

    def add(self, row: dict) -> None:
        sec = row.get("cell_seconds")
        if isinstance(sec, (int, float)):
            unit = methods.unit_of(row["method"])
            if unit != row["method"]:  # each row of a unit holds its share of the unit's time
                sec = float(sec) * len(methods.rows_of(unit)) * len(DOMAINS)
            self.times.setdefault((unit, row["shots"], row.get("model")), []).append(float(sec))
            self.times.setdefault((unit,), []).append(float(sec))

    def seconds(self, cell: Cell, n_test: int, ctx=None) -> float:
        for key in ((cell.method, cell.shots, cell.model), (cell.method,)):
            if key in self.times:
                return sum(self.times[key]) / len(self.times[key])
        return prior_seconds(cell, n_test, ctx)
