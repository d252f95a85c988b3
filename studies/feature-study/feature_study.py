"""Do more features built from the samples lift `hist-valid`, the hybrid's LLM-free floor?

`hist-valid` (experiments/hybrid.py) regresses on the user's like share, the target's like rate in
the K training samples and the history length. Chosen on validation only like the recipe search
(../recipe-search/): each regression is fitted on the 200 early-stopping validation samples and
compared on the 800 other validation samples, for the K draws of seeds 0, 1, 2; the test file is
never read. Candidates:

* recency, from the sample itself (within the few-shot protocol): the like share of the last 3 or 5
  history items, whether the last item was liked, an exponentially decayed like share (0.8 per step);
* release years, read from the titles of the sample itself ("Fargo (1996)"): the target's year, and
  its gap to the mean year of the liked history items (older films are rated higher in ML-100K);
* the target's like rate counted over the K samples plus the 200 validation samples (~2,200 more
  ratings, data the LLM arm already uses) instead of the K samples alone. MovieLens windows slide
  over each user's ratings, so a sample's target reappears, with its label as the liked flag, in the
  histories of the same user's next 10 windows. Counted naively, the fitting samples' feature holds
  their own labels. `same user excluded` skips a reference sample whose history holds the query's
  target at position p when its first p items are the query's last p (a later window of the same
  user; at p = 0 any such history is skipped, which only removes data); `naive` counts everything:
  the leak that this exclusion removes.

`--ceiling` adds rows outside the few-shot protocol, to show how far this family of features can go
at all: the target's like rate counted over N training samples instead of K (N = 256 ... all 8,000;
the movie split gives train, valid and test different users, so there is no later-window leak), the
rest as `hist-valid`. `--ceiling-on-test` also scores those regressions once on the official test
file, the file the quality targets are stated on; nothing is chosen by it.

    python studies/feature-study/feature_study.py [--out runs/feature-study] [--ceiling [--ceiling-on-test]]
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tallrec.baselines.simple import ItemRates, features
from tallrec.core.metrics import auc
from tallrec.data.fewshot import draw_fewshot
from tallrec.data.samples import Sample

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # the studies' shared helpers
from validation_protocol import (  # noqa: E402
    mean_sd,
    open_study,
    regression_auc,
    run_study,
    study_parser,
    write_rows,
)


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


def release_year(title: str) -> float:
    """The year in a MovieLens title's trailing "(1996)"; NaN when the title has none."""
    m = re.search(r"\((\d{4})\)\s*$", title)
    return float(m.group(1)) if m else float("nan")


def year_gap(s: Sample) -> float:
    """Target year minus the mean year of the liked history items (NaN when either is unknown)."""
    years = [release_year(t) for t, liked in s.history if liked]
    years = [y for y in years if not np.isnan(y)]
    return release_year(s.target) - float(np.mean(years)) if years else float("nan")


SAMPLE_FEATURES = {
    "last3": lambda s: share(s.history[-3:]),
    "last5": lambda s: share(s.history[-5:]),
    "last_liked": lambda s: share(s.history[-1:]),
    "decayed": decayed_share,
    "target_year": lambda s: release_year(s.target),
    "year_gap": year_gap,
}
CEILING_SIZES = (256, 1024, 4096, None)  # None: every training sample


def column(fit_on, select, f) -> tuple[np.ndarray, np.ndarray]:
    """Feature `f` on both sets; a missing value (NaN) becomes the fitting set's median."""
    a, b = np.array([f(s) for s in fit_on], float), np.array([f(s) for s in select], float)
    fill = np.nanmedian(a) if not np.all(np.isnan(a)) else 0.0
    return np.where(np.isnan(a), fill, a), np.where(np.isnan(b), fill, b)


def main():
    ap = study_parser(__doc__, "runs/feature-study")
    ap.add_argument("--ceiling", action="store_true", help="also the rows outside the few-shot protocol")
    ap.add_argument("--ceiling-on-test", action="store_true", help="score the ceiling rows on the test file too")
    args = ap.parse_args()
    if args.ceiling_on_test and not args.ceiling:
        ap.error("--ceiling-on-test needs --ceiling")
    out, data, fit_on, select = open_study(args)
    y = [bool(s.label) for s in select]
    rows = []
    for seed in args.seeds:
        train = draw_fewshot(data.train, args.shots, seed)
        rates = ItemRates(train)
        x_fit, x_sel = features(fit_on, rates), features(select, rates)  # hist-valid's design
        row = {"seed": seed, "shots": args.shots, "select_n": len(select),
               "hist_valid": regression_auc(fit_on, select, x_fit, x_sel)}
        for name, f in SAMPLE_FEATURES.items():
            c_fit, c_sel = column(fit_on, select, f)
            row[f"plus_{name}"] = regression_auc(fit_on, select, np.column_stack([x_fit, c_fit]),
                                                 np.column_stack([x_sel, c_sel]))
        refs = list(train) + fit_on
        for name, exclude in (("excluded", True), ("naive", False)):
            r_fit, r_sel = target_rates(fit_on, refs, exclude), target_rates(select, refs, exclude)
            swap_fit, swap_sel = x_fit.copy(), x_sel.copy()
            swap_fit[:, 1], swap_sel[:, 1] = r_fit, r_sel  # column 1: the target like rate
            row[f"valid_rate_{name}"] = regression_auc(fit_on, select, swap_fit, swap_sel)
            row[f"rate_alone_{name}"] = auc(y, r_sel)
        if args.ceiling:
            for n in CEILING_SIZES:
                pool = draw_fewshot(data.train, n, seed) if n else list(data.train)
                big = ItemRates(pool)
                row[f"ceiling_{len(pool)}"] = regression_auc(fit_on, select, features(fit_on, big),
                                                             features(select, big))
                if args.ceiling_on_test:
                    row[f"ceiling_{len(pool)}_test"] = regression_auc(fit_on, data.test, features(fit_on, big),
                                                                      features(data.test, big))
            if args.ceiling_on_test:
                row["hist_valid_test"] = regression_auc(fit_on, data.test, x_fit, features(data.test, rates))
        rows.append(row)
        print(json.dumps(row), flush=True)
    write_rows(out / "results.jsonl", rows)

    def ms(key):
        return mean_sd([r[key] for r in rows])

    def diff(key):
        v = np.array([r[key] - r["hist_valid"] for r in rows])
        return f"{v.mean():+.4f}"

    print("\n| features | validation AUC (800) | difference |")
    print("|---|---:|---:|")
    print(f"| `hist-valid` (like share, K-sample target rate, history length) | {ms('hist_valid')} | |")
    for name in SAMPLE_FEATURES:
        print(f"| + {name} | {ms('plus_' + name)} | {diff('plus_' + name)} |")
    for name in ("excluded", "naive"):
        print(f"| target rate over K + 200 validation, {name} | {ms('valid_rate_' + name)} | "
              f"{diff('valid_rate_' + name)} (rate alone {ms('rate_alone_' + name)}) |")
    if args.ceiling:
        print("\nOutside the few-shot protocol: the target rate over N training samples instead of K.")
        test = args.ceiling_on_test
        print("| target rate from | validation AUC (800) | difference |" + (" official test AUC |" if test else ""))
        print("|---|---:|---:|" + ("---:|" if test else ""))
        if test:
            print(f"| K = {args.shots} samples (`hist-valid`) | {ms('hist_valid')} | | {ms('hist_valid_test')} |")
        for key in sorted({k for r in rows for k in r if k.startswith("ceiling_") and not k.endswith("_test")},
                          key=lambda k: int(k.split("_")[1])):
            cells = f"| {key.split('_')[1]} training samples | {ms(key)} | {diff(key)} |"
            print(cells + (f" {ms(key + '_test')} |" if test else ""))


if __name__ == "__main__":
    run_study(main)
