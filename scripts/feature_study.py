"""Do more features built from the samples lift `hist-valid`, the hybrid's LLM-free floor?

`hist-valid` (experiments/hybrid.py) regresses on the user's like share, the target's like rate in
the K training samples and the history length. Chosen on validation only like
scripts/recipe_search.py: each regression is fitted on the 200 early-stopping validation samples and
compared on the 800 other validation samples, for the K draws of seeds 0, 1, 2; the test file is
never read. Candidates:

* recency, from the sample itself (within the few-shot protocol): the like share of the last 3 or 5
  history items, whether the last item was liked, an exponentially decayed like share (0.8 per step);
* the target's like rate counted over the K samples plus the 200 validation samples (~2,200 more
  ratings, data the LLM arm already uses) instead of the K samples alone. MovieLens windows slide
  over each user's ratings, so a sample's target reappears, with its label as the liked flag, in the
  histories of the same user's next 10 windows. Counted naively, the fitting samples' feature holds
  their own labels. `same user excluded` skips a reference sample whose history holds the query's
  target at position p when its first p items are the query's last p (a later window of the same
  user; at p = 0 any such history is skipped, which only removes data); `naive` counts everything:
  the leak that this exclusion removes.

    python scripts/feature_study.py [--out runs/feature-study]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from tallrec.baselines.simple import ItemRates, features
from tallrec.core.metrics import auc
from tallrec.data.datasets import load_domain
from tallrec.data.fewshot import draw_fewshot, selection_part, validation_subset
from tallrec.data.samples import Sample


def later_window_of(query: Sample, ref: Sample, p: int) -> bool:
    """`ref` holds `query`'s target at history position p: is it the same user's later window?"""
    return p == 0 or (len(query.history) >= p and ref.history[:p] == query.history[-p:])


def target_rates(queries: Sequence[Sample], refs: Sequence[Sample], exclude: bool, m: float = 2.0) -> np.ndarray:
    """Smoothed like rate of each query's target over `refs` (history flags and labelled targets),
    leaving out the query itself and, with `exclude`, the same user's later windows."""
    in_history, as_target = defaultdict(list), defaultdict(list)
    for r in refs:
        for p, (title, liked) in enumerate(r.history):
            in_history[title].append((r, p, liked))
        as_target[r.target].append(r)
    likes = sum(l for r in refs for _, l in r.history) + sum(bool(r.label) for r in refs)
    prior = likes / sum(len(r.history) + 1 for r in refs)
    out = []
    for q in queries:
        flags = [liked for r, p, liked in in_history.get(q.target, []) if not (exclude and later_window_of(q, r, p))]
        flags += [bool(r.label) for r in as_target.get(q.target, []) if r is not q]
        out.append((sum(flags) + m * prior) / (len(flags) + m))
    return np.array(out)


def share(items) -> float:
    return sum(liked for _, liked in items) / len(items) if items else 0.5


def decayed_share(s: Sample, decay: float = 0.8) -> float:
    """Like share with weight decay**age (the newest item has age 0)."""
    weights = [decay ** (len(s.history) - 1 - i) for i in range(len(s.history))]
    return sum(w * liked for w, (_, liked) in zip(weights, s.history)) / sum(weights) if weights else 0.5


RECENCY = {
    "last3": lambda s: share(s.history[-3:]),
    "last5": lambda s: share(s.history[-5:]),
    "last_liked": lambda s: share(s.history[-1:]),
    "decayed": decayed_share,
}


def regression_auc(fit_on, select, x_fit, x_sel) -> float:
    """Validation AUC of a standardised logistic regression (C=1, as `hist-valid`)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(x_fit, [bool(s.label) for s in fit_on])
    return auc([bool(s.label) for s in select], model.predict_proba(x_sel)[:, 1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/feature-study")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--shots", type=int, default=64)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_domain("movie", args.data_dir)
    fit_on, select = validation_subset(data.valid, 200), selection_part(data.valid, 200)
    y = [bool(s.label) for s in select]
    rows = []
    for seed in args.seeds:
        train = draw_fewshot(data.train, args.shots, seed)
        rates = ItemRates(train)
        x_fit, x_sel = features(fit_on, rates), features(select, rates)  # hist-valid's design
        row = {"seed": seed, "shots": args.shots, "select_n": len(select),
               "hist_valid": regression_auc(fit_on, select, x_fit, x_sel)}
        for name, f in RECENCY.items():
            row[f"plus_{name}"] = regression_auc(fit_on, select, np.column_stack([x_fit, [f(s) for s in fit_on]]),
                                                 np.column_stack([x_sel, [f(s) for s in select]]))
        refs = list(train) + fit_on
        for name, exclude in (("excluded", True), ("naive", False)):
            r_fit, r_sel = target_rates(fit_on, refs, exclude), target_rates(select, refs, exclude)
            swap_fit, swap_sel = x_fit.copy(), x_sel.copy()
            swap_fit[:, 1], swap_sel[:, 1] = r_fit, r_sel  # column 1: the target like rate
            row[f"valid_rate_{name}"] = regression_auc(fit_on, select, swap_fit, swap_sel)
            row[f"rate_alone_{name}"] = auc(y, r_sel)
        rows.append(row)
        print(json.dumps(row), flush=True)
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def ms(key):
        v = np.array([r[key] for r in rows])
        return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if len(v) > 1 else f"{v.mean():.4f}"

    def diff(key):
        v = np.array([r[key] - r["hist_valid"] for r in rows])
        return f"{v.mean():+.4f}"

    print("\n| features | validation AUC (800) | difference |")
    print("|---|---:|---:|")
    print(f"| `hist-valid` (like share, K-sample target rate, history length) | {ms('hist_valid')} | |")
    for name in RECENCY:
        print(f"| + {name} | {ms('plus_' + name)} | {diff('plus_' + name)} |")
    for name in ("excluded", "naive"):
        print(f"| target rate over K + 200 validation, {name} | {ms('valid_rate_' + name)} | "
              f"{diff('valid_rate_' + name)} (rate alone {ms('rate_alone_' + name)}) |")


if __name__ == "__main__":
    main()
