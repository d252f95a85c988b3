"""The main job: MovieLens-100K, rec-tune the default model on K=64 samples, untuned vs tuned AUC."""

from __future__ import annotations

import time

from ..core.config import load_config, resolve_config
from ..core.io import ensure_dir, write_json_atomic
from ..data.datasets import load_domain
from ..llm.adapters import with_adapter
from ..llm.evaluation import evaluate
from ..llm.models import load_model
from ..llm.scoring import ScoreOptions
from ..tuning.config import TrainConfig
from ..tuning.rec_tune import rec_tune

CPU_RECIPE = "cpu-quick"


def run_quickstart(out, data_dir=None, config=None, model=None, shots: int = 64, seed: int = 0,
                   test_limit: int | None = None, overwrite: bool = False) -> dict:
    t0 = time.time()
    out = ensure_dir(out)
    cfg = load_config(TrainConfig, resolve_config(config, "rec", CPU_RECIPE), {"model": model, "shots": shots, "seed": seed})
    data = load_domain("movie", data_dir)
    test = data.test[:test_limit] if test_limit else data.test
    lm = load_model(cfg.model, cfg.precision)
    opts = ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=cfg.cutoff)
    print(f"[quickstart] {data.source}; model {cfg.model} ({lm.dtype}); {len(test)} test samples", flush=True)
    untuned = evaluate(lm, test, out / "untuned", data="movie/test.json", seed=seed, options=opts, desc="untuned")
    print(f"[quickstart] untuned AUC {untuned['auc']:.4f}", flush=True)
    # rec_tune injects LoRA layers into lm.model; the tuned model is reloaded from the saved adapter.
    run = rec_tune(cfg, data.train, data.valid, out / "train", lm=lm, overwrite=overwrite)
    tuned_lm = with_adapter(load_model(cfg.model, cfg.precision), run.adapter)
    tuned = evaluate(tuned_lm, test, out / "tuned", data="movie/test.json", adapter=run.adapter, seed=seed,
                     options=opts, desc="tuned", shots=shots, best_valid_auc=run.best_valid_auc)
    print(f"[quickstart] tuned AUC {tuned['auc']:.4f}", flush=True)
    result = {"untuned": untuned, "tuned": tuned, "seconds": round(time.time() - t0, 1), "config": cfg.to_dict()}
    write_json_atomic(out / "quickstart.json", result)
    return result
