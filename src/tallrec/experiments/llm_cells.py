"""The pieces every LLM cell is made of: a fresh model, the shared evaluation record, the test slice.

A cell folder holds one evaluation (metrics.json + scores.jsonl, the common record of
`llm.evaluation.evaluate`) and, where it trained something, the run beside it (adapter/,
config.yaml, history.json, train_samples.json). metrics.json present = evaluated; history.json and
an adapter present = trained (a rerun only evaluates).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..core.errors import DataError, TallrecError
from ..data.samples import Sample
from ..llm.adapters import with_adapter
from ..llm.evaluation import evaluate
from ..llm.models import load_model
from ..llm.scoring import ScoreOptions
from ..tuning.config import TrainConfig


def is_done(cell: Path) -> bool:
    return (cell / "metrics.json").is_file()


def trained(cell: Path) -> bool:
    return (cell / "history.json").is_file() and (cell / "adapter" / "adapter_config.json").is_file()


def read_metrics(cell: Path) -> dict:
    return json.loads((cell / "metrics.json").read_text())


def best_valid(cell: Path) -> float | None:
    try:
        return json.loads((cell / "history.json").read_text()).get("best_valid_auc")
    except (OSError, ValueError):
        return None


def load_lm(cfg: TrainConfig, adapter: Path | None = None):
    """A fresh base model (LoRA training injects layers in place), with `adapter` attached if given."""
    return with_adapter(load_model(cfg.model, cfg.precision, quantize=cfg.quantize), adapter)


def evaluate_cell(lm, test: Sequence[Sample], cell: Path, cfg: TrainConfig, data: str, adapter: Path | None,
                  desc: str, **extra) -> dict:
    """`evaluate` with the recipe's scoring options (batch size, cutoff): every LLM number the same way."""
    options = ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=cfg.cutoff)
    return evaluate(lm, test, cell, data=data, adapter=adapter, options=options, desc=desc, **extra)


def data_label(domain: str, n: int, limit: int | None) -> str:
    return f"{domain}/test" + (f" (first {n})" if limit else "")


def limit_test(test: list[Sample], limit: int | None, domain: str) -> list[Sample]:
    """The first `limit` test samples (all without a limit); AUC needs both labels among them."""
    if limit is not None and limit <= 0:
        raise TallrecError(f"test_limit must be positive, got {limit}")
    out = test[:limit] if limit else list(test)
    if len({bool(s.label) for s in out}) < 2:
        raise DataError(f"{domain} test set ({len(out)} samples) needs both liked and not-liked samples for AUC; "
                        f"raise the test limit")
    return out


def with_shots(cfg: TrainConfig, shots: int, seed: int, init_adapter: Path | None = None) -> TrainConfig:
    return replace(cfg, shots=shots, seed=seed, init_adapter=None if init_adapter is None else str(init_adapter))
