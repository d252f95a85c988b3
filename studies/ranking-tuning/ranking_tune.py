"""Does ranking-aware rec-tuning teach the LLM to rerank item-kNN's top 20? (validation only)

1. Ranking examples (tallrec.tuning.ranking_examples) from training-period targets: per user the
   training part's last item is Yes, item-kNN top-20 items the user did not pick next (hard) and
   random unrated items are No; early stopping on the same kind of samples from other users.
2. rec_tune with the packaged `ranking-cpu` recipe (shots = all the examples).
3. The rerank of item-kNN's top 20 (last 3 items, chosen on validation, as
   benchmarks/recommend_bench.py) at the VALIDATION stage for a seeded subset of users (the
   benchmark's draw): NDCG@10 of item-kNN alone, of the LLM order alone, and of the blend
   (tallrec.recommend.blend), each minus item-kNN with a paired bootstrap 95% interval. The blend
   is fitted on validation users, so its figure on the same users is in-sample; the honest one is
   2-fold cross-fitted (fitted on one half of the users, measured on the other, and back), both
   with the pipeline's significance gate and without it (the best weight as chosen).
   Only users whose target is in the top n are scored: the others keep the retriever's rank of the
   target whatever the LLM says (their P(Yes) is set to a constant, so the weight blends are
   exactly the benchmark's; the logistic candidate sees their candidates with a zero LLM feature).

`--untuned` skips steps 1-2 and reranks with the base model (the reference on the same users).
`--test` also scores the test stage and reports the test figures: for the final chosen setting
only, once (never to choose). Results: OUT/NAME/result.json and a row of --rows.

    OMP_NUM_THREADS=1 python studies/ranking-tuning/ranking_tune.py --users 24 --valid-users 12 --hard 3 --random 1 --eval-users 100
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

from tallrec.core.config import build_config, load_config, resolve_config
from tallrec.core.io import write_json_atomic, write_text_atomic
from tallrec.core.paths import data_dir
from tallrec.data.builders.sequences import leave_one_out
from tallrec.recommend.blend import Blend, blended_ranks, fit_blend
from tallrec.recommend.loo import retriever_eval
from tallrec.recommend.metrics import loo_per_user, paired_bootstrap
from tallrec.recommend.retrievers import ItemKNN, fit_on_split
from tallrec.tuning.config import TrainConfig
from tallrec.tuning.ranking_examples import RankingExamples, ranking_examples
from tallrec.tuning.rec_tune import rec_tune

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))  # the catalogue benchmark's LLM steps
import recommend_bench as bench  # noqa: E402

KNN_LAST = 3  # item-kNN's history items, as chosen on validation NDCG@10 by the benchmark (BENCHMARKS.md)
RETR = Blend("retriever", "score", 1.0, 0.0, 20)
LLM = Blend("weight", "score", 0.0, 1.0, 20)


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def versus(a, b, seed: int) -> dict:
    diff, lo, hi = paired_bootstrap(a, b, seed=seed)
    return {"ndcg@10": round(float(np.mean(a)), 6), "diff": round(diff, 6), "ci95": [round(lo, 6), round(hi, 6)]}


def cross_fitted(top, p, pos, full, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Per-user NDCG@10 of the blend fitted on the other half of the users (2 folds, seeded), with the
    pipeline's significance gate and without it (the best candidate as chosen)."""
    order = np.random.default_rng(seed).permutation(len(pos))
    folds = [np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2:])]
    gated, best, chosen = np.zeros(len(pos)), np.zeros(len(pos)), []
    for fit_on, apply_to in (folds, folds[::-1]):
        b = fit_blend(top[fit_on], p[fit_on], pos[fit_on], full[fit_on], n=n, seed=seed)
        raw = Blend(**b.fitted["best"]) if "best" in b.fitted else b
        chosen.append({"gated": {"kind": b.kind, "llm_weight": b.llm_weight, "feature": b.feature},
                       "best": {"kind": raw.kind, "llm_weight": raw.llm_weight, "feature": raw.feature,
                                "retriever_weight": raw.retriever_weight}})
        for blend, out in ((b, gated), (raw, best)):
            out[apply_to] = loo_per_user(blended_ranks(blend, top[apply_to], p[apply_to], pos[apply_to],
                                                       full[apply_to]))["ndcg@10"]
    return gated, best, chosen


def rerank(split, adapter, users: int, n: int, seed: int, stages, out: Path, scorer=None) -> dict:
    """The LLM rerank of item-kNN's top n on a seeded user subset (recommend_bench's draw and steps).
    `scorer` has llm_scorer's call shape (default: llm_scorer, the pointwise P(Yes))."""
    knn, selection = fit_on_split("itemknn", split)
    subset = sorted(random.Random(seed).sample(range(len(split.users)), min(users, len(split.users))))
    score, label = (scorer or bench.llm_scorer)(adapter, None, "auto")
    res = {"llm": label, "retriever": {"name": "itemknn", **knn.settings(), "chosen_on": selection["on"]},
           "users": len(subset), "n": n}
    cache = {}
    for st in stages:
        ev = retriever_eval(split, knn, st, n=n, seed=seed)
        pos, full, top = bench.target_positions(ev, subset, st), ev.ranks[subset], ev.top_scores[subset]
        hits = [k for k, t in zip(subset, pos) if t >= 0]
        t0 = time.perf_counter()
        p_hits, secs = bench.score_subset(split, ev, hits, score, st)
        p = np.full(top.shape, 0.5)  # a target outside the top n keeps its rank whatever the LLM says
        p[pos >= 0] = p_hits.reshape(len(hits), -1)
        cache[st] = {"p_yes": [row.round(6).tolist() if t >= 0 else None for row, t in zip(p, pos)],
                     "target_pos": pos.tolist()}
        r = loo_per_user(blended_ranks(RETR, top, p, pos, full))["ndcg@10"]
        llm = loo_per_user(blended_ranks(LLM, top, p, pos, full))["ndcg@10"]
        fig = {"seconds_per_user": round(secs, 2), "wall_seconds": round(time.perf_counter() - t0, 1),
               "target_in_top_n": len(hits), "itemknn_ndcg@10": round(float(r.mean()), 6),
               "llm_alone": versus(llm, r, seed)}
        if st == "valid":
            fitted = fit_blend(top, p, pos, full, n=n, seed=seed)
            kept = loo_per_user(blended_ranks(fitted, top, p, pos, full))["ndcg@10"]
            gated, best, chosen = cross_fitted(top, p, pos, full, n, seed)
            fig["blend_in_sample"] = {**versus(kept, r, seed), "kept": fitted.fitted["kept"],
                                      "best": fitted.fitted.get("best"), "best_ndcg@10": fitted.fitted.get("ndcg@10_best")}
            fig["blend_cross_fitted"] = {"gated": versus(gated, r, seed), "ungated": versus(best, r, seed),
                                         "folds": chosen}
            res["blend"] = fitted
        else:  # test: the blend fitted on the validation users, as the benchmark's pipeline
            pipe = loo_per_user(blended_ranks(res["blend"], top, p, pos, full))["ndcg@10"]
            fig["pipeline"] = versus(pipe, r, seed)
        res[st] = fig
    res["blend"] = {"kind": res["blend"].kind, "feature": res["blend"].feature,
                    "llm_weight": res["blend"].llm_weight, "retriever_weight": res["blend"].retriever_weight}
    write_json_atomic(out / "rerank-scores.json", {"subset": subset, **cache})
    return res


def study_parser(doc: str, *, users: int, valid_users: int, valid_help: str, config: str, config_help: str,
                 eval_users: int, n_help: str, out: str, rows: Path) -> argparse.ArgumentParser:
    """The options both ranking studies take (this one and listwise-ranking), with each study's defaults."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="MovieLens-100K folder (default: DATA_DIR/ml-100k)")
    ap.add_argument("--users", type=int, default=users, help="users giving training examples")
    ap.add_argument("--valid-users", type=int, default=valid_users, help=valid_help)
    ap.add_argument("--seed", type=int, default=0, help="seed of the examples, the tuning and the user subset")
    ap.add_argument("--config", default=config, help=config_help)
    ap.add_argument("--eval-users", type=int, default=eval_users, help="seeded subset of users the LLM reranks for")
    ap.add_argument("--n", type=int, default=20, help=n_help)
    ap.add_argument("--untuned", action="store_true", help="no tuning: rerank with the base model")
    ap.add_argument("--out", default=out)
    ap.add_argument("--name", default=None, help="run name (default from the settings)")
    ap.add_argument("--rows", default=str(rows), help="append the result row here")
    return ap


def main(argv=None) -> dict:
    ap = study_parser(__doc__, users=24, valid_users=12, valid_help="other users giving the early-stopping samples",
                      config="ranking-cpu", config_help="rec-tuning recipe (a packaged name or a YAML file)",
                      eval_users=100, n_help="candidates the LLM reranks", out="runs/ranking-tuning",
                      rows=HERE / "ranking-tuning.jsonl")
    ap.add_argument("--hard", type=int, default=3, help="hard negatives per user (item-kNN top 20)")
    ap.add_argument("--random", type=int, default=1, help="random unrated negatives per user")
    ap.add_argument("--test", action="store_true", help="also report test figures (the final setting only, once)")
    a = ap.parse_args(argv)

    split = leave_one_out(a.data or data_dir() / "ml-100k")
    name = a.name or ("untuned" if a.untuned else f"u{a.users}-h{a.hard}-r{a.random}-s{a.seed}")
    out = Path(a.out) / name
    out.mkdir(parents=True, exist_ok=True)
    row: dict = {"name": name, "seed": a.seed}
    adapter = None
    if not a.untuned:
        ex = build_config(RankingExamples, {"users": a.users, "valid_users": a.valid_users, "hard_negatives": a.hard,
                                            "random_negatives": a.random, "top_n": a.n, "seed": a.seed}, "flags")
        train, valid = ranking_examples(split, ex, lambda seqs, rows: ItemKNN(last=KNN_LAST).fit(seqs, rows))
        cfg = load_config(TrainConfig, resolve_config(a.config, "rec"), {"seed": a.seed})
        row.update(examples={**ex.to_dict(), "retriever": f"itemknn last {KNN_LAST}"}, train_samples=len(train), early_stop_samples=len(valid),
                   recipe=a.config)
        c0, t0 = cpu_seconds(), time.perf_counter()
        trained_before = (out / "run" / "history.json").is_file()  # a finished run is reused, not retrained
        result = rec_tune(cfg, train, valid, out / "run")
        row["tuning"] = {"reused": trained_before, "best_early_stop_auc": result.best_valid_auc, "best_step": result.best_step,
                         "steps": result.steps, "wall_seconds": round(time.perf_counter() - t0, 1),
                         "cpu_minutes": round((cpu_seconds() - c0) / 60, 1), "checks": result.history}
        adapter = str(out / "run")
    c0 = cpu_seconds()
    stages = ("valid", "test") if a.test else ("valid",)
    row["rerank"] = rerank(split, adapter, a.eval_users, a.n, a.seed, stages, out)
    row["rerank"]["cpu_minutes"] = round((cpu_seconds() - c0) / 60, 1)
    write_json_atomic(out / "result.json", row)
    rows = Path(a.rows)
    write_text_atomic(rows, (rows.read_text() if rows.is_file() else "") + json.dumps(row) + "\n")
    print(json.dumps(row, indent=2))
    return row


if __name__ == "__main__":
    main()
