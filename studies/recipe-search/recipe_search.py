"""Choose the CPU rec-tuning recipe on validation data only (never the test file).

The movie validation file (1,000 samples) is cut in two fixed, disjoint parts: 200 samples for
early stopping (the same draw `rec_tune` makes with valid_size=200) and the rest for selection.
Each candidate recipe is rec-tuned on K samples and its best adapter scored on the selection part.
Results go to OUT/results.jsonl (one line per finished candidate and seed; re-running skips
finished ones) and a markdown table of every line, losers included, is printed.

The studies:
  --study 1  the search that chose configs/rec/cpu-quick.yaml (candidates over a 4-epoch base,
             selection on 300 samples).
  --study 2  levers over today's cpu-quick recipe at the same compute (about 24 optimizer steps):
             LoRA on every linear layer, rank 16, a cosine schedule, balanced draws and
             history-order augmentation; selection on all 800 other validation samples (the
             standard error of an AUC on 300 samples is near 0.03, too coarse to pick between
             recipes). Screen on --seeds 0, confirm the best on --seeds 0 1 2.
  --study 3  levers over cpu-augment (study 2's winner): lr 2e-3 or 5e-4, all-linear LoRA, a
             cosine schedule, balanced draws and the chat prompt at its compute, and twice its
             optimizer steps (2 epochs, or 5 rewrites per sample).
  --study 4  TALLRec's stage 1 under cpu-augment: rec-tuning continued from a stage-1 (Alpaca)
             adapter (--stage1, made by `tallrec tune-instruct --config alpaca-cpu`) against a fresh
             LoRA, both re-run on the same machine (rows record the weights' dtype: a CPU without
             bf16 runs fp32 and scores differently from the bf16 rows of studies 1-3).

    python studies/recipe-search/recipe_search.py --study 2 --out runs/recipe-study [--seeds 0 1 2] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tallrec.core.config import load_config, resolve_config
from tallrec.data.datasets import load_domain
from tallrec.llm.adapters import with_adapter
from tallrec.llm.evaluation import evaluate
from tallrec.llm.models import load_model, pick_dtype
from tallrec.llm.scoring import ScoreOptions
from tallrec.tuning.config import TrainConfig
from tallrec.tuning.rec_tune import rec_tune

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # the studies' shared helpers
from validation_protocol import selection_part  # noqa: E402

BASE_MODEL = "smollm2-135m"
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
STUDIES = {
    1: {"base": None, "select_size": 300,
        "over": dict(batch_size=8, micro_batch_size=8, epochs=4, eval_every=8, patience=2, valid_size=200),
        "candidates": {
            "all-lr1e-3": dict(loss_on="all", lr=1e-3),
            "answer-lr1e-3": dict(loss_on="answer", lr=1e-3),
            "all-lr3e-4": dict(loss_on="all", lr=3e-4),
            "answer-lr3e-3": dict(loss_on="answer", lr=3e-3),
            "answer-lr1e-3-e6": dict(loss_on="answer", lr=1e-3, epochs=6),
        }},
    2: {"base": "cpu-quick", "select_size": 800, "over": {},
        "candidates": {
            "cpu-quick": {},
            # history-order augmentation at the same number of steps: 24 optimizer steps over
            # 64 x 3 examples in one epoch instead of 64 examples three times
            "augment2-e1": dict(augment=2, epochs=1, eval_every=8),
            "all-linear": dict(lora={"targets": ALL_LINEAR}),
            "r16-a32": dict(lora={"r": 16, "alpha": 32}),
            "cosine-warmup": dict(scheduler="cosine", warmup_steps=2),
            "balanced": dict(balanced=True),
            "lr3e-4": dict(lr=3e-4),
            # prompt styles: the history's own like count stated in the prompt (issue 14 item 3)
            # and the model's chat template, on cpu-quick and on the augmented recipe
            "stats": dict(prompt="stats"),
            "chat": dict(prompt="chat"),
            "augment2-e1-stats": dict(augment=2, epochs=1, eval_every=8, prompt="stats"),
            "augment2-e1-chat": dict(augment=2, epochs=1, eval_every=8, prompt="chat"),
        }},
    # levers over the winner, cpu-augment: two at its compute (a quickstart could use them), two
    # with twice the optimizer steps (its early-stopping AUC was still rising at the last step)
    3: {"base": "cpu-augment", "select_size": 800, "over": {},
        "candidates": {
            "augment-lr2e-3": dict(lr=2e-3),
            "augment-all-linear": dict(lora={"targets": ALL_LINEAR}),
            "augment2-e2": dict(epochs=2),          # 48 steps: the same 3K examples twice
            "augment5-e1": dict(augment=5),         # 48 steps: 6K examples once
            # the levers study 2 left for lack of CPU time, at cpu-augment's compute
            "augment-lr5e-4": dict(lr=5e-4),
            "augment-cosine": dict(scheduler="cosine", warmup_steps=2),
            "augment-balanced": dict(balanced=True),  # K/2 liked and K/2 not-liked samples
            "augment-chat": dict(prompt="chat"),
        }},
    # stage 1 (Alpaca tuning, the paper's first stage) as a lever over cpu-augment, with the fresh
    # LoRA re-run beside it; "{stage1}" is filled in with --stage1
    4: {"base": "cpu-augment", "select_size": 800, "over": {},
        "candidates": {
            "augment-fresh": {},
            "augment-stage1": dict(init_adapter="{stage1}"),
        }},
}


def run_name(name: str, model: str) -> str:
    """A candidate's name in the results: `name` for the default model, `name@model` otherwise."""
    return name if model == BASE_MODEL else f"{name}@{model}"


def run_candidate(name, over, study, seed, shots, data, select, out, model=BASE_MODEL):
    t0, c0 = time.time(), time.process_time()
    cfg = load_config(TrainConfig, resolve_config(study["base"], "rec") if study["base"] else None,
                      {**study["over"], **over, "shots": shots, "seed": seed, "model": model})
    name = run_name(name, model)
    dtype = str(pick_dtype(cfg.precision, torch.device("cpu"))).removeprefix("torch.")
    run = rec_tune(cfg, data.train, data.valid, out / f"{name}-seed{seed}", overwrite=True)
    lm = with_adapter(load_model(cfg.model, cfg.precision), run.adapter)
    rec = evaluate(lm, select, out / f"{name}-seed{seed}" / "select", data="movie/valid.json[selection part]",
                   options=ScoreOptions(batch_size=16))
    return {"name": name, "seed": seed, "model": model, "base": study["base"], **over, "shots": shots, "dtype": dtype,
            "best_step": run.best_step, "steps": run.steps, "early_stop_auc": run.best_valid_auc, "select_auc": rec["auc"], "select_n": rec["n"],
            "seconds": round(time.time() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1)}


def table(rows: list[dict]) -> str:
    """One line per recipe: selection AUC per seed and the mean +- sd over the seeds run."""
    by = {}
    for r in rows:
        by.setdefault(r["name"], []).append(r)
    lines = ["| recipe | seeds | early-stop AUC (200) | selection AUC per seed | mean +- sd | minutes / run |",
             "|---|---|---|---|---|---|"]
    for name, rs in sorted(by.items(), key=lambda kv: -np.mean([r["select_auc"] for r in kv[1]])):
        rs = sorted(rs, key=lambda r: r.get("seed", 0))
        sel = [r["select_auc"] for r in rs]
        stop = [r["early_stop_auc"] for r in rs]
        sd = f" +- {np.std(sel, ddof=1):.4f}" if len(sel) > 1 else ""
        lines.append(f"| {name} | {','.join(str(r.get('seed', 0)) for r in rs)} | "
                     f"{' '.join('-' if s != s else f'{s:.4f}' for s in stop)} | {' '.join(f'{s:.4f}' for s in sel)} "
                     f"(n={rs[0]['select_n']}) | {np.mean(sel):.4f}{sd} | {np.mean([r['seconds'] for r in rs]) / 60:.1f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", type=int, choices=sorted(STUDIES), default=2)
    ap.add_argument("--out", default=None, help="default runs/recipe-search (study 1), runs/recipe-study (studies 2-4)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--shots", type=int, default=64)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--select-size", type=int, default=None, help="selection samples (default: the study's)")
    ap.add_argument("--only", nargs="*", default=None, help="candidate names (and/or 'untuned') to run")
    ap.add_argument("--stage1", default="runs/stage1/adapter", help="study 4: the stage-1 adapter folder")
    ap.add_argument("--model", default=BASE_MODEL, help="base model (registry name or folder); results are "
                    "named NAME@MODEL for a model other than the default")
    args = ap.parse_args()
    study = STUDIES[args.study]
    stage1 = str(Path(args.stage1).resolve())
    study = {**study, "candidates": {n: {k: (stage1 if v == "{stage1}" else v) for k, v in o.items()}
                                     for n, o in study["candidates"].items()}}
    to_run = [o for n, o in study["candidates"].items() if not args.only or n in args.only]
    if any(o.get("init_adapter") for o in to_run) and not Path(stage1, "adapter_config.json").exists():
        ap.error(f"--stage1 {stage1}: not an adapter folder; make one with `tallrec tune-instruct --config alpaca-cpu`")
    out = Path(args.out or ("runs/recipe-search" if args.study == 1 else "runs/recipe-study"))
    out.mkdir(parents=True, exist_ok=True)
    results_file = out / "results.jsonl"
    rows = [json.loads(line) for line in results_file.read_text().splitlines()] if results_file.exists() else []
    done = {(r["name"], r.get("seed", 0)) for r in rows}
    data = load_domain("movie", args.data_dir)
    select = selection_part(data.valid, 200, args.select_size or study["select_size"])
    untuned = run_name("untuned", args.model)
    if (untuned, 0) not in done and (not args.only or "untuned" in args.only):
        t0, c0 = time.time(), time.process_time()
        rec = evaluate(load_model(args.model), select, out / untuned, data="movie/valid.json[selection part]",
                       options=ScoreOptions(batch_size=16))
        rows.append({"name": untuned, "seed": 0, "model": args.model, "shots": 0,
                     "dtype": str(pick_dtype("auto", torch.device("cpu"))).removeprefix("torch."), "best_step": 0, "steps": 0,
                     "early_stop_auc": float("nan"), "select_auc": rec["auc"], "select_n": rec["n"],
                     "seconds": round(time.time() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1)})
        with results_file.open("a") as f:
            f.write(json.dumps(rows[-1]) + "\n")
    for seed in args.seeds:
        for name, over in study["candidates"].items():
            if (run_name(name, args.model), seed) in done or (args.only and name not in args.only):
                continue
            rows.append(run_candidate(name, over, study, seed, args.shots, data, select, out, args.model))
            with results_file.open("a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
            print(json.dumps(rows[-1]), flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
