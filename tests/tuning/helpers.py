"""Shared pieces of the tuning tests: a quick resumable recipe, its files, weights and history."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
import yaml
from helpers import synthetic

from tallrec.core.config import load_config
from tallrec.data import save_samples
from tallrec.tuning.config import PAPER_SETTINGS, TrainConfig

# 12 optimizer steps (8 samples, batch 2, 3 epochs); validation every 3 steps, checkpoints every 2
# steps and at every check: at steps 2, 3, 4, 6, 8, 9, 10 (not at the last step).
QUICK = {**PAPER_SETTINGS, **dict(shots=8, batch_size=2, micro_batch_size=2, epochs=3, eval_every=3, checkpoint_every=2, patience=10,
             valid_size=8, lr=5e-3, precision="fp32", loss_on="answer", cutoff=128, eval_batch_size=8)}


def _as_saved(samples):
    """The samples as `tallrec train` reads them back from a file (liked history items first)."""
    import tempfile

    from tallrec.data import load_samples

    with tempfile.TemporaryDirectory() as d:
        save_samples(Path(d) / "s.json", samples)
        return load_samples(Path(d) / "s.json")


POOL, VALID = _as_saved(synthetic(40, seed=0)), _as_saved(synthetic(20, seed=1))


def quick_yaml(folder: Path, model_dir, **over) -> Path:
    path = folder / "quick.yaml"
    path.write_text(yaml.safe_dump({**QUICK, "model": str(model_dir), **over}))
    return path


def quick_cfg(model_dir, **over) -> TrainConfig:
    return load_config(TrainConfig, None, {**QUICK, "model": str(model_dir), **over})


def write_samples(folder: Path) -> tuple[Path, Path]:
    save_samples(folder / "train.json", POOL)
    save_samples(folder / "valid.json", VALID)
    return folder / "train.json", folder / "valid.json"


def weights(adapter: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(Path(adapter) / "adapter_model.safetensors"))


def max_diff(a: Path, b: Path) -> float:
    wa, wb = weights(a), weights(b)
    assert sorted(wa) == sorted(wb)
    return max((wa[k].float() - wb[k].float()).abs().max().item() for k in wa)


def checks(history: list[dict]) -> list[tuple[int, float]]:
    """(step, validation AUC) of each check: what must not change when a run is resumed."""
    return [(h["step"], h["valid_auc"]) for h in history]


@contextlib.contextmanager
def one_thread():
    """One torch thread, as the subprocess runs get (OMP_NUM_THREADS=1), so sums add up in one order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
