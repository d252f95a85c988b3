"""Test-time history-order averaging, probed on validation data only (never the test file).

cpu-augment trains on each sample in three history orders. Does scoring in several orders help too?
For each rec-tuned run folder of `recipe_search.py` (../recipe-search/: RUN/adapter, RUN/select/
with the selection part's scores in the history's own order), this scores N more rewrites of the
selection part with the history shuffled (seeded) and reports the selection AUC of the first order
alone and of the mean log-odds over 1 + N orders. It costs N more scoring passes, so a gain must be
clear to be worth it. One line per run folder goes to OUT (default tta-probe.jsonl beside this
script).

    python studies/tta-probe/tta_probe.py runs/recipe-study/augment-fresh-seed0 [RUN ...] [--orders 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tallrec.core.metrics import auc
from tallrec.data.datasets import load_domain
from tallrec.data.fewshot import permute_history
from tallrec.experiments.hybrid import logit
from tallrec.llm.adapters import with_adapter
from tallrec.llm.encoding import lm_template
from tallrec.llm.evaluation import recorded_scores
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions, Scorer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # the studies' shared helpers
from validation_protocol import selection_part  # noqa: E402


def probe(run: Path, orders: int, select, seed: int) -> dict:
    t0 = time.time()
    cfg = json.loads((run / "adapter" / "tallrec-base.json").read_text()).get("config", {})
    first = recorded_scores(run / "select", select, adapter=None)
    if first is None:
        raise SystemExit(f"{run}/select: no scores of these {len(select)} selection samples (run recipe_search.py first)")
    lm = with_adapter(load_model(cfg.get("model", "smollm2-135m"), cfg.get("precision", "auto")), run / "adapter")
    rewrites = permute_history(select, orders, seed)[len(select):]
    more = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=16), lm_template(lm)).score(rewrites, desc=f"{run.name}: rewrites")
    per_order = np.vstack([logit(first), logit(more).reshape(orders, len(select))])
    labels = [bool(s.label) for s in select]
    return {"run": str(run), "orders": 1 + orders, "seed": seed, "select_n": len(select),
            "auc_first_order": auc(labels, per_order[0]),
            "auc_each_order": [round(auc(labels, row), 4) for row in per_order],
            "auc_mean_logit": auc(labels, per_order.mean(axis=0)),
            "dtype": str(lm.dtype).removeprefix("torch."), "seconds": round(time.time() - t0, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders of studies/recipe-search/recipe_search.py")
    ap.add_argument("--orders", type=int, default=2, help="rewrites scored beside the history's own order")
    ap.add_argument("--seed", type=int, default=0, help="seed of the rewrites' shuffles")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "tta-probe.jsonl")
    args = ap.parse_args()
    if args.orders < 1:
        ap.error("--orders must be 1 or more")
    select = selection_part(load_domain("movie", args.data_dir).valid, 200, 800)
    for run in args.runs:
        if not (run / "adapter" / "adapter_config.json").exists():
            ap.error(f"{run}: no adapter/ (a run folder of studies/recipe-search/recipe_search.py)")
    for run in args.runs:
        row = probe(run, args.orders, select, args.seed)
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
