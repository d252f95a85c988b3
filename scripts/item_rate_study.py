"""Does the target's like rate among the early-stopping validation users add to the history statistics?

`hist-valid` (experiments/hybrid.py) counts the target's like rate only in the K training samples:
64 samples hold ~700 ratings, so most targets get the prior. The 200 validation samples it is fitted
on hold ~2,000 more ratings (their histories' liked flags and their labels), data the LLM arm
already uses. This study adds them to the counts, chosen on validation only like
scripts/recipe_search.py: the regression is fitted on the 200 early-stopping samples and compared
on the 800 other validation samples, for the K draws of seeds 0, 1, 2; the test file is never read.

MovieLens windows slide over each user's ratings, so a sample's target reappears, with its label as
the liked flag, in the histories of the same user's next 10 windows. Counted naively, the fitting
samples' feature holds their own labels and the regression learns to trust it. `same-user excluded`
skips a reference sample whose history holds the query's target at position p when its first p
items are the query's last p (a later window of the same user; at p = 0 any such history is
skipped, which only removes data). `naive` counts everything: the leak this exclusion removes.

    python scripts/item_rate_study.py [--out runs/item-rate]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from tallrec.baselines.simple import like_share
from tallrec.data.datasets import load_domain
from tallrec.data.fewshot import draw_fewshot, validation_subset
from tallrec.data.samples import Sample
from tallrec.experiments.hybrid import fit_combiner


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


def auc(labels, scores) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def with_rate(fit_on, select, rate_fit, rate_sel) -> list[float]:
    """Logistic regression on [like share, history length, the given target rate]."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def design(samples, rate):
        return np.column_stack([[like_share(s) for s in samples], [len(s.history) / 10 for s in samples], rate])

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(design(fit_on, rate_fit), [bool(s.label) for s in fit_on])
    return model.predict_proba(design(select, rate_sel))[:, 1].tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/item-rate")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--shots", type=int, default=64)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_domain("movie", args.data_dir)
    fit_on = validation_subset(data.valid, 200)
    stop = {id(s) for s in fit_on}
    select = [s for s in data.valid if id(s) not in stop]
    y = [bool(s.label) for s in select]
    rows = []
    for seed in args.seeds:
        train = draw_fewshot(data.train, args.shots, seed)
        base, _ = fit_combiner(train, fit_on, select)
        row = {"seed": seed, "shots": args.shots, "select_n": len(select), "hist_valid": auc(y, base)}
        for name, exclude in (("excluded", True), ("naive", False)):
            refs = list(train) + fit_on
            r_fit, r_sel = target_rates(fit_on, refs, exclude), target_rates(select, refs, exclude)
            row[f"plus_rate_{name}"] = auc(y, with_rate(fit_on, select, r_fit, r_sel))
            row[f"rate_alone_{name}"] = auc(y, r_sel)
        rows.append(row)
        print(json.dumps(row), flush=True)
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def ms(key):
        v = np.array([r[key] for r in rows])
        return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if len(v) > 1 else f"{v.mean():.4f}"

    print("\n| target rate counted over | regression (800) | rate alone (800) |")
    print("|---|---:|---:|")
    print(f"| K samples only (`hist-valid`) | {ms('hist_valid')} | |")
    print(f"| K + 200 validation, same-user excluded | {ms('plus_rate_excluded')} | {ms('rate_alone_excluded')} |")
    print(f"| K + 200 validation, naive | {ms('plus_rate_naive')} | {ms('rate_alone_naive')} |")


if __name__ == "__main__":
    main()
