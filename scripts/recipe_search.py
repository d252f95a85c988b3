"""Choose the CPU rec-tuning recipe on validation data only (never the test file).

The movie validation file (1,000 samples) is cut in two fixed, disjoint parts: 200 samples for
early stopping (the same draw `rec_tune` makes with valid_size=200) and the rest for selection.
Each candidate recipe is rec-tuned on K samples (seed 0) and its best adapter scored on the
selection part. Results go to OUT/results.jsonl (one line per finished candidate; re-running skips
finished ones) and a markdown table is printed.

    python scripts/recipe_search.py --out runs/recipe-search [--select-size 300] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tallrec.core.config import load_config
from tallrec.data.datasets import load_domain
from tallrec.data.fewshot import draw_fewshot
from tallrec.llm.adapters import with_adapter
from tallrec.llm.evaluation import evaluate
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions
from tallrec.tuning.config import TrainConfig
from tallrec.tuning.rec_tune import rec_tune

BASE_MODEL = "smollm2-135m"
# Shared by every candidate; the winner became src/tallrec/configs/cpu-quick.yaml.
BASE = dict(batch_size=8, micro_batch_size=8, epochs=4, eval_every=8, patience=2, valid_size=200)
CANDIDATES = {
    "all-lr1e-3": dict(loss_on="all", lr=1e-3),
    "answer-lr1e-3": dict(loss_on="answer", lr=1e-3),
    "all-lr3e-4": dict(loss_on="all", lr=3e-4),
    "answer-lr3e-3": dict(loss_on="answer", lr=3e-3),
    "answer-lr1e-3-e6": dict(loss_on="answer", lr=1e-3, epochs=6),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/recipe-search")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--shots", type=int, default=64)
    ap.add_argument("--select-size", type=int, default=300)
    ap.add_argument("--only", nargs="*", default=None, help="candidate names (and/or 'untuned') to run")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_file = out / "results.jsonl"
    done = {json.loads(l)["name"] for l in results_file.read_text().splitlines()} if results_file.exists() else set()
    data = load_domain("movie", args.data_dir)
    stop_part = draw_fewshot(data.valid, BASE["valid_size"], seed=0)  # what rec_tune uses for early stopping
    ids = {id(s) for s in stop_part}
    select = [s for s in data.valid if id(s) not in ids][: args.select_size]
    if "untuned" not in done and (not args.only or "untuned" in args.only):
        t0 = time.time()
        rec = evaluate(load_model(BASE_MODEL), select, out / "untuned", data="movie/valid.json[selection part]",
                       options=ScoreOptions(batch_size=16))
        row = {"name": "untuned", "shots": 0, "best_step": 0, "steps": 0, "early_stop_auc": float("nan"),
               "select_auc": rec["auc"], "select_n": rec["n"], "seconds": round(time.time() - t0, 1)}
        with results_file.open("a") as f:
            f.write(json.dumps(row) + "\n")
    for name, over in CANDIDATES.items():
        if name in done or (args.only and name not in args.only):
            continue
        t0 = time.time()
        cfg = load_config(TrainConfig, None, {**BASE, **over, "shots": args.shots, "seed": 0})
        run = rec_tune(cfg, data.train, data.valid, out / name, overwrite=True)
        lm = with_adapter(load_model(cfg.model, cfg.precision), run.adapter)
        rec = evaluate(lm, select, out / name / "select", data="movie/valid.json[selection part]",
                       options=ScoreOptions(batch_size=16))
        row = {"name": name, **over, "shots": args.shots, "best_step": run.best_step, "steps": run.steps,
               "early_stop_auc": run.best_valid_auc, "select_auc": rec["auc"], "select_n": rec["n"],
               "seconds": round(time.time() - t0, 1)}
        with results_file.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    rows = [json.loads(l) for l in results_file.read_text().splitlines()]
    print("| recipe | early-stop AUC (200) | selection AUC | best step / steps | seconds |\n|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: -r["select_auc"]):
        print(f"| {r['name']} | {r['early_stop_auc']:.4f} | {r['select_auc']:.4f} (n={r['select_n']}) | "
              f"{r['best_step']}/{r['steps']} | {r['seconds']:.0f} |")


if __name__ == "__main__":
    main()
