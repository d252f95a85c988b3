"""The main job: MovieLens-100K, rec-tune the default model on K=64 samples; on the same test
samples: untuned, tuned, the like-share floor (no training), the hybrid (tuned LLM + history
statistics), the hybrid's LLM-free floor (experiments/hybrid.py) and `hist-cf`, the floor on the
log's leak-free collaborative signals (baselines/hist_cf.py)."""

from __future__ import annotations

import time

from ..baselines import run_baseline
from ..core.config import load_config, resolve_config
from ..core.defaults import DEFAULT_RECIPE
from ..core.io import ensure_dir, write_json_atomic
from ..core.paths import data_dir as data_dir_of
from ..data.datasets import load_domain
from ..data.fewshot import validation_subset
from ..data.samples import load_samples
from ..llm.adapters import with_adapter
from ..llm.evaluation import evaluate, recorded_scores
from ..llm.models import load_model
from ..llm.scoring import ScoreOptions
from ..tuning.config import TrainConfig
from ..tuning.rec_tune import rec_tune
from .hybrid import combine_and_record


def run_quickstart(out, data_dir=None, config=None, model=None, shots: int = 64, seed: int = 0,
                   test_limit: int | None = None, overwrite: bool = False) -> dict:
    t0 = time.time()
    out = ensure_dir(out)
    cfg = load_config(TrainConfig, resolve_config(config, "rec", DEFAULT_RECIPE), {"model": model, "shots": shots, "seed": seed})
    data = load_domain("movie", data_dir)
    test = data.test[:test_limit] if test_limit else data.test
    lm = load_model(cfg.model, cfg.precision, quantize=cfg.quantize)
    opts = ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=cfg.cutoff)
    print(f"[quickstart] {data.source}; model {cfg.model} ({lm.dtype}); {len(test)} test samples", flush=True)
    untuned = evaluate(lm, test, out / "untuned", data="movie/test.json", seed=seed, options=opts, desc="untuned")
    print(f"[quickstart] untuned AUC {untuned['auc']:.4f}", flush=True)
    # rec_tune injects LoRA layers into lm.model; the tuned model is reloaded from the saved adapter.
    run = rec_tune(cfg, data.train, data.valid, out / "train", lm=lm, overwrite=overwrite)
    tuned_lm = with_adapter(load_model(cfg.model, cfg.precision, quantize=cfg.quantize), run.adapter)
    tuned = evaluate(tuned_lm, test, out / "tuned", data="movie/test.json", adapter=run.adapter, seed=seed,
                     options=opts, desc="tuned", shots=shots, best_valid_auc=run.best_valid_auc)
    print(f"[quickstart] tuned AUC {tuned['auc']:.4f}", flush=True)
    common = {"data": "movie/test.json", "seed": seed, "shots": shots}
    floor = run_baseline("like-share", data.train, None, test, shots, seed, out=out / "like-share", data="movie/test.json")
    print(f"[quickstart] like-share floor AUC {floor['auc']:.4f} (no training)", flush=True)
    k_samples, fit_on = load_samples(out / "train" / "train_samples.json"), validation_subset(data.valid, cfg.valid_size)
    combined = {"hybrid": combine_and_record(k_samples, fit_on, test, out / "hybrid", lm=tuned_lm,
                                             llm_test=recorded_scores(out / "tuned", test), options=opts, **common),
                "hist-valid": combine_and_record(k_samples, fit_on, test, out / "hist-valid", **common)}
    combined["hist-cf"] = run_baseline("hist-cf", [], data.valid, test, 0, seed, out=out / "hist-cf",
                                       data="movie/test.json", log=str(data_dir_of(data_dir) / "ml-100k"))
    combined["hist-cf"]["fitted_on"] = f"{len(data.valid)} validation samples, CF signals of the log before t"
    for name, rec in combined.items():
        print(f"[quickstart] {name} AUC {rec['auc']:.4f} ({rec['fitted_on']})", flush=True)
    tallrec = {"tuned": tuned, "hybrid": combined["hybrid"]}
    best = max(tallrec, key=lambda k: tallrec[k]["auc"])
    result = {"untuned": untuned, "tuned": tuned, "like_share": floor, "hybrid": combined["hybrid"],
              "hist_valid": combined["hist-valid"], "hist_cf": combined["hist-cf"], "best_tallrec_method": best,
              "seconds": round(time.time() - t0, 1), "config": cfg.to_dict()}
    write_json_atomic(out / "quickstart.json", result)
    return result
