"""`tallrec.train`: the Python twin of `tallrec train` (same defaults, same checks, same run).

    import tallrec
    run = tallrec.train(train="data/movie/train.json", valid="data/movie/valid.json", out="runs/k64")
    tallrec.load(run).evaluate(tallrec.load_samples("data/movie/test.json"))

`config` is a YAML file or a packaged config name (None: `TrainConfig()`, the recipe `tallrec
train` uses without --config); keyword overrides are its settings (`lr=3e-4`, `shots=16`,
`lora={"r": 16}` or `lora_r=16`), as the command's flags are.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.defaults import DEFAULT_RECIPE
from .config import TrainConfig
from .run_folder import flat_dict


def train_config(config: str | os.PathLike | TrainConfig | None = None, **overrides: Any) -> TrainConfig:
    """The TrainConfig `tallrec train --config CONFIG --flag value ...` runs with."""
    from ..core.config import load_config, resolve_config

    if isinstance(config, TrainConfig):
        from dataclasses import asdict

        base, config = asdict(config), None
        overrides = {**flat_dict(base), **overrides}
    flat = {k.replace("lora_", "lora.", 1) if k.startswith("lora_") else k: v for k, v in overrides.items()}
    return load_config(TrainConfig, resolve_config(config, "rec", DEFAULT_RECIPE), flat)




def rec_tune_run(config=None, *, train: str | os.PathLike, valid: str | os.PathLike, out: str | os.PathLike,
                 overwrite: bool = False, force: bool = False, log: Callable[[str], None] | None = print,
                 **overrides: Any):
    """Check everything (settings, adapter, output folder, samples, memory), then rec-tune; the
    RecTuneResult (`train` returns its run folder)."""
    from ..core.io import check_writable
    from ..data import load_samples
    from ..llm.adapters import require_adapter_dir
    from ..llm.memory_plan import check_fits
    from .rec_tune import rec_tune

    cfg = train_config(config, **overrides)
    if cfg.init_adapter:
        require_adapter_dir(cfg.init_adapter)
    check_writable(out)
    pool, valid_samples = load_samples(train), load_samples(valid)
    check_fits(cfg, force, log=log or (lambda _: None))
    return rec_tune(cfg, pool, valid_samples, out, overwrite=overwrite)


def train(config: str | os.PathLike | TrainConfig | None = None, *, train: str | os.PathLike,
          valid: str | os.PathLike, out: str | os.PathLike, overwrite: bool = False, force: bool = False,
          **overrides: Any) -> Path:
    """`tallrec.train`: rec-tune as `tallrec train` does and return the run folder (holding
    adapter/, config.yaml, history.json), ready for `tallrec.load`."""
    rec_tune_run(config, train=train, valid=valid, out=out, overwrite=overwrite, force=force, **overrides)
    return Path(out)
