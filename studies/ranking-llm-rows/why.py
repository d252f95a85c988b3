"""Why does the rec-tuned LLM rank the 1+19 benchmark's targets below random?

Scores the first --lists lists of a ranking benchmark folder with a run (or the untuned model) and
reports, per list, the rank correlation (Spearman) of P(Yes) with features of the candidates: their
popularity (training targets, as the benchmark's popularity method), their release year (from the
title) and their title length in characters; and the same features' correlation with being the
target. Averages over lists with paired bootstrap 95% intervals (lists resampled).

    python studies/ranking-llm-rows/why.py --data data/ranking --adapter runs/quickstart/train --lists 150
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from tallrec.core.io import write_json_atomic
from tallrec.data.samples import load_samples
from tallrec.experiments.ranking_benchmark import load_lists, popularity_scores
from tallrec.recommend.recommender import Recommender

YEAR = re.compile(r"\((\d{4})\)\s*$")


def features(titles: list[str], pop: list[float]) -> dict[str, np.ndarray]:
    years = [float(m.group(1)) if (m := YEAR.search(t)) else np.nan for t in titles]
    return {"popularity": np.asarray(pop), "year": np.asarray(years), "title_length": np.array([len(t) for t in titles],
                                                                                                float)}


def mean_ci(values: list[float], seed: int = 0) -> dict:
    v = np.asarray([x for x in values if np.isfinite(x)])
    idx = np.random.default_rng(seed).integers(0, len(v), (2000, len(v)))
    lo, hi = np.percentile(v[idx].mean(axis=1), [2.5, 97.5])
    return {"mean": round(float(v.mean()), 4), "ci95": [round(float(lo), 4), round(float(hi), 4)], "lists": len(v)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="ranking benchmark folder (`tallrec data prepare ranking`)")
    ap.add_argument("--adapter", default=None, help="run or adapter folder (default: the untuned model)")
    ap.add_argument("--lists", type=int, default=150)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    lines = load_lists(a.data, a.lists)
    pop = popularity_scores(load_samples(Path(a.data) / "train.json"), lines)
    rec = Recommender.load(a.adapter)
    scores = rec.score_many([(u.as_user, u.candidates) for u in lines], progress=True)
    with_llm: dict[str, list[float]] = {}
    with_target: dict[str, list[float]] = {}
    for u, s, p in zip(lines, scores, pop):
        is_target = (np.arange(len(u.titles)) == u.target_index).astype(float)
        for name, f in features(u.titles, p).items():
            if np.ptp(f[np.isfinite(f)]) > 0:
                with_llm.setdefault(name, []).append(spearmanr(s, f, nan_policy="omit").statistic)
                with_target.setdefault(name, []).append(spearmanr(is_target, f, nan_policy="omit").statistic)
    out = {"data": a.data, "adapter": a.adapter, "lists": len(lines),
           "llm_vs_feature": {k: mean_ci(v) for k, v in with_llm.items()},
           "target_vs_feature": {k: mean_ci(v) for k, v in with_target.items()}}
    print(f"{'feature':14} {'rho(P(Yes), f)':>26} {'rho(is target, f)':>26}")
    for k in with_llm:
        x, y = out["llm_vs_feature"][k], out["target_vs_feature"][k]
        print(f"{k:14} {x['mean']:+.4f} [{x['ci95'][0]:+.4f}, {x['ci95'][1]:+.4f}] "
              f"{y['mean']:+.4f} [{y['ci95'][0]:+.4f}, {y['ci95'][1]:+.4f}]")
    if a.json:
        write_json_atomic(a.json, out)
    return out


if __name__ == "__main__":
    main()
