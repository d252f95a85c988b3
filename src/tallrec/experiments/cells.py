"""Shared machinery of the ablation and cross-domain experiments: resumable cells and their records.

A *cell* is one folder holding one evaluation (metrics.json + scores.jsonl, the common record of
`tallrec.evaluation.evaluate`) and, where it trained something, the run beside it (adapter/,
config.yaml, history.json, train_samples.json). A cell whose metrics.json exists is done and is
skipped on a rerun; a cell whose training finished (history.json) but whose evaluation did not is
only evaluated.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from ..core.errors import DataError, TallrecError
from ..core.io import ensure_dir, write_json_atomic
from ..data.samples import Sample
from ..llm.adapters import require_adapter_dir, with_adapter
from ..llm.evaluation import evaluate
from ..llm.models import load_model
from ..llm.scoring import ScoreOptions
from ..tuning.config import TrainConfig

DEFAULT_REC_CONFIG = "cpu-quick"
DEFAULT_INSTRUCT_CONFIG = "alpaca-cpu"


def parse_int_list(text: str | Sequence[int], option: str, minimum: int = 1) -> list[int]:
    """'16,64' -> [16, 64] (duplicates dropped, order kept); a one-line error naming the option otherwise."""
    if not isinstance(text, str):
        values = list(text)
    else:
        parts = [p.strip() for p in text.split(",")]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = None
        if values is None or not parts or any(p == "" for p in parts):
            raise TallrecError(f"{option} {text!r}: expected comma-separated whole numbers, e.g. 16,64")
    if not values:
        raise TallrecError(f"{option}: give at least one value")
    bad = [v for v in values if v < minimum]
    if bad:
        raise TallrecError(f"{option}: {bad[0]} is not allowed (values must be >= {minimum})")
    return list(dict.fromkeys(values))


def check_lora_shape(adapter: Path, cfg: TrainConfig) -> None:
    """The stage-1 adapter must have the rec-tuning LoRA shape (the same check as `training.wrap_lora`,
    done before any training so a mismatch costs nothing)."""
    saved = json.loads((require_adapter_dir(adapter) / "adapter_config.json").read_text())
    want = {"r": cfg.lora.r, "targets": sorted(cfg.lora.targets)}
    got = {"r": saved.get("r"), "targets": sorted(saved.get("target_modules") or [])}
    if want != got:
        raise TallrecError(f"{adapter}: adapter shape {got} does not match the configured LoRA shape {want}")


def check_settings(out: Path, filename: str, settings: dict, what: str) -> None:
    """Write out/filename, or refuse when it holds another experiment's settings and results (resume safety)."""
    path = out / filename
    if path.is_file() and has_results(out):
        try:
            prev = json.loads(path.read_text())
        except json.JSONDecodeError:
            prev = None
        if isinstance(prev, dict):
            prev_settings = prev.get("settings", prev)
            diff = sorted(k for k in set(settings) | set(prev_settings) if settings.get(k) != prev_settings.get(k))
            if diff:
                raise TallrecError(f"{out}: already holds {what} with other settings ({', '.join(diff)} differ); "
                                   f"use another --out")
    write_json_atomic(path, {"settings": settings})


def has_results(out: Path) -> bool:
    """Whether anything was trained or evaluated in `out` yet (else its settings may be replaced:
    a run that failed before its first cell left nothing to protect)."""
    return any(next(out.rglob(name), None) is not None for name in ("metrics.json", "history.json", "instruct.json"))


def score_options(cfg: TrainConfig) -> ScoreOptions:
    return ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=cfg.cutoff)


def is_done(cell: Path) -> bool:
    return (cell / "metrics.json").is_file()


def trained(cell: Path) -> bool:
    return (cell / "history.json").is_file() and (cell / "adapter" / "adapter_config.json").is_file()


def read_metrics(cell: Path) -> dict:
    return json.loads((cell / "metrics.json").read_text())


def load_lm(cfg: TrainConfig, adapter: Path | None = None):
    """A fresh base model (LoRA training injects layers in place), with `adapter` attached if given."""
    return with_adapter(load_model(cfg.model, cfg.precision, load_in_8bit=cfg.load_in_8bit), adapter)


def evaluate_cell(lm, test: Sequence[Sample], cell: Path, cfg: TrainConfig, data: str, adapter: Path | None,
                  desc: str, **extra) -> dict:
    return evaluate(lm, test, cell, data=data, adapter=adapter, options=score_options(cfg), desc=desc, **extra)


def copy_cell(src: Path, dst: Path, **extra) -> dict:
    """Copy a finished evaluation into another cell (same adapter, same test set: same scores)."""
    ensure_dir(dst)
    rec = {**read_metrics(src), **extra, "copied_from": str(src)}
    shutil.copyfile(src / "scores.jsonl", dst / ".scores.jsonl.tmp")
    os.replace(dst / ".scores.jsonl.tmp", dst / "scores.jsonl")
    write_json_atomic(dst / "metrics.json", rec)
    return rec


def data_label(domain: str, n: int, limit: int | None) -> str:
    return f"{domain}/test" + (f" (first {n})" if limit else "")


def limit_test(test: list[Sample], limit: int | None, domain: str) -> list[Sample]:
    if limit is not None and limit <= 0:
        raise TallrecError(f"--test-limit must be positive, got {limit}")
    out = test[:limit] if limit else list(test)
    if len({bool(s.label) for s in out}) < 2:
        raise DataError(f"{domain} test set ({len(out)} samples) needs both liked and not-liked samples for AUC; "
                        f"raise --test-limit")
    return out


def mean_sd(values: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def fmt(value: float | None, sd: float | None = None, n: int = 1) -> str:
    if value is None:
        return "–"
    s = f"{value:.4f}"
    if n > 1:
        s += f" ± {sd:.4f} ({n} seeds)"
    return s


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


class Progress:
    """`[name] (i/n) cell: message` lines, with the seconds each cell took."""

    def __init__(self, name: str, total: int, log=print):
        self.name, self.total, self.i, self.log = name, total, 0, log
        self.t0 = time.time()

    def start(self, cell: str, msg: str) -> float:
        self.i += 1
        self.log(f"[{self.name}] ({self.i}/{self.total}) {cell}: {msg}")
        return time.time()

    def say(self, msg: str) -> None:
        self.log(f"[{self.name}] {msg}")


def with_shots(cfg: TrainConfig, shots: int, seed: int, init_adapter: Path | None = None) -> TrainConfig:
    return replace(cfg, shots=shots, seed=seed, init_adapter=None if init_adapter is None else str(init_adapter))
