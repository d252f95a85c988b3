"""The Trainer callback of `fit_lora`: validation AUC, early stopping, resumable checkpoints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .checkpoints import commit
from .distributed import barrier, is_main


class ValidationCallback(TrainerCallback):
    """Validation AUC every `eval_every` steps; keep the best adapter (`save(out/"adapter")`); stop
    after `patience` checks without improvement.

    It also asks the Trainer for a resumable checkpoint every `checkpoint_every` optimizer steps and
    at every validation check (without validation and with checkpoint_every 0: at the end of each
    epoch), never at the step where training ends, and commits each one with the early-stopping
    state (`export()`; checkpoints.py). `restored` is that state read back from a checkpoint.
    """

    def __init__(self, validate: Callable[[], float] | None, cfg, out: Path, save: Callable[[Path], None],
                 desc: str, restored: dict | None = None):
        self.validate, self.cfg, self.out, self.save, self.desc = validate, cfg, Path(out), save, desc
        self.eval_every = getattr(cfg, "eval_every", 0) if validate is not None else 0
        self.patience = getattr(cfg, "patience", 1)
        r = restored or {}
        self.history: list[dict] = list(r.get("history", []))
        self.best = -math.inf if r.get("best") is None else r["best"]
        self.best_step = r.get("best_step", 0)
        self.bad = r.get("bad", 0)
        self.t0 = time.time() - r.get("seconds", 0.0)

    def export(self) -> dict:
        return {"history": self.history, "best": None if self.best == -math.inf else self.best,
                "best_step": self.best_step, "bad": self.bad, "seconds": round(time.time() - self.t0, 3)}

    def _check(self, state, control) -> None:
        step = state.global_step
        value = self.validate()
        entry = {"step": step, "epoch": round(state.epoch or 0, 3), "valid_auc": value,
                 "seconds": round(time.time() - self.t0, 1)}
        losses = [h["loss"] for h in state.log_history if "loss" in h]
        if losses:
            entry["train_loss"] = losses[-1]
        self.history.append(entry)
        if value > self.best:
            self.best, self.best_step, self.bad = value, step, 0
            self.save(self.out / "adapter")
        else:
            self.bad += 1
            if self.bad >= self.patience:
                control.should_training_stop = True
        if is_main():
            print(f"[{self.desc}] step {step}: valid AUC {value:.4f} (best {self.best:.4f} at step {self.best_step})",
                  flush=True)

    @staticmethod
    def _checkpoint(state, control) -> None:
        if not control.should_training_stop and state.global_step < state.max_steps:
            control.should_save = True

    def on_step_end(self, args, state, control, **kw):
        if self.eval_every and state.global_step % self.eval_every == 0:
            self._check(state, control)
            self._checkpoint(state, control)
        if self.cfg.checkpoint_every and state.global_step % self.cfg.checkpoint_every == 0:
            self._checkpoint(state, control)
        return control

    def on_epoch_end(self, args, state, control, **kw):
        if self.validate is None and not self.cfg.checkpoint_every:
            self._checkpoint(state, control)
        return control

    def on_save(self, args, state, control, **kw):
        barrier()  # every process has written its part (its RNG state) of the checkpoint
        if is_main():
            staging = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
            commit(staging, state.global_step, self.export())
        barrier()
        return control

    def on_train_end(self, args, state, control, **kw):
        if self.validate is not None and (not self.history or self.history[-1]["step"] != state.global_step):
            self._check(state, control)
        return control
