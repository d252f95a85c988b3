"""Resumable checkpoints of a training run: `<run>/checkpoints/step-N/`.

A checkpoint is what the Hugging Face Trainer saves to resume (the adapter, optimizer, scheduler,
RNG states, trainer_state.json) plus `tallrec-resume.json`: the early-stopping state (validation
history, best AUC and its step, checks without improvement, seconds trained). The Trainer writes
into `checkpoints/checkpoint-N`, which serves as the temporary folder: `commit` adds the
early-stopping state, syncs the files and renames it to `step-N` in one step, then removes the
older checkpoints. So `step-N` is always complete, and a `checkpoint-N` left by a kill is ignored
(and removed by the next commit).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from ..core.io import fsync_dir

FOLDER = "checkpoints"
STATE = "tallrec-resume.json"
_STEP = re.compile(r"step-(\d+)$")


def checkpoint_root(run: str | os.PathLike) -> Path:
    return Path(run) / FOLDER


def latest(run: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run folder, or None."""
    root = checkpoint_root(run)
    if not root.is_dir():
        return None
    found = []
    for p in root.iterdir():
        m = _STEP.match(p.name)
        if m and (p / STATE).is_file() and (p / "trainer_state.json").is_file():
            found.append((int(m.group(1)), p))
    return max(found)[1] if found else None


def read_state(checkpoint: Path) -> dict:
    """The early-stopping state saved in a checkpoint."""
    return json.loads((Path(checkpoint) / STATE).read_text())


def step_of(checkpoint: Path) -> int:
    return int(_STEP.match(Path(checkpoint).name).group(1))


def commit(staging: Path, step: int, state: dict) -> Path:
    """Make the Trainer's freshly written `staging` folder the checkpoint `step-<step>`: write the
    early-stopping state into it, fsync its files, rename it, then drop every other checkpoint."""
    staging = Path(staging)
    (staging / STATE).write_text(json.dumps(state, indent=1))
    for f in staging.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    final = staging.parent / f"step-{step}"
    if final.exists():  # the same step saved again (a resumed run redoing it): replace it
        shutil.rmtree(final)
    os.replace(staging, final)
    fsync_dir(staging.parent)
    for p in staging.parent.iterdir():
        if p != final:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    return final


def clear(run: str | os.PathLike) -> None:
    """Remove every checkpoint of a run folder (a finished run keeps none; a fresh start reuses none)."""
    shutil.rmtree(checkpoint_root(run), ignore_errors=True)

