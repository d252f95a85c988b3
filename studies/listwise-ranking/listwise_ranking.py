"""Does listwise tuning (LlamaRec's form) teach the LLM to rerank item-kNN's top 20? (validation only)

1. Listwise examples (tallrec.tuning.listwise_examples) from training-period targets: per user and
   target, the history and item-kNN's top 20 at that point (the true next item put in if absent),
   listed shuffled with index letters; the answer is the true item's letter. Held-out examples of
   the same kind from other users give a diagnostic: how often the true letter is the model's first
   choice, and its mean reciprocal rank among the 20 (chance: 0.05 and 0.18).
2. The stage-1 trainer (tallrec.tuning.instruct.tune_instruct) on those Alpaca records with the
   packaged `listwise-cpu` recipe (answer-only loss, one epoch).
3. The rerank of item-kNN's top 20 (last 3 items) at the VALIDATION stage on the 300-user seeded
   draw of studies/ranking-tuning, through its `rerank` (same users, figures, blends, bootstrap and
   2-fold cross-fitting); the LLM's scores come from tallrec.recommend.listwise (one forward pass
   per user: the letters' log-softmax). `--order shuffled` lists the candidates in a seeded random
   order (the training form; the letter says nothing), `--order retriever` in item-kNN's order
   (LlamaRec's; a position bias of the model then carries item-kNN's order).

`--untuned` skips the tuning (the base model, the reference on the same users). Test figures are
never computed. Results: OUT/NAME/result.json and a row of --rows.

    OMP_NUM_THREADS=1 python studies/listwise-ranking/listwise_ranking.py --untuned --name untuned-shuffled
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

from tallrec.core.config import build_config, load_config, resolve_config
from tallrec.core.io import write_json_atomic, write_text_atomic
from tallrec.core.paths import data_dir
from tallrec.data.builders.sequences import leave_one_out
from tallrec.recommend.listwise import ListwiseScorer, listwise_scorer
from tallrec.recommend.retrievers import ItemKNN
from tallrec.tuning.config import InstructConfig
from tallrec.tuning.instruct import tune_instruct
from tallrec.tuning.listwise_examples import ListwiseExamples, alpaca_records, listwise_examples

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "ranking-tuning"))  # the rerank protocol of the pointwise study
import ranking_tune as rt  # noqa: E402


def held_out(adapter, records: list[dict], titles: dict[int, str]) -> dict:
    """First-choice rate and mean reciprocal rank of the true letter on held-out listwise records."""
    scorer = ListwiseScorer.load(adapter, precision="auto")
    ranks = []
    for r in records:
        m = r["meta"]
        lp = np.asarray(scorer.log_probs(m["liked"], m["disliked"], [titles[i] for i in m["candidates"]]))
        t = m["candidates"].index(m["item"])
        ranks.append(1 + int(np.count_nonzero(lp > lp[t])))
    ranks = np.asarray(ranks)
    n = len(records[0]["meta"]["candidates"]) if records else 0
    return {"records": len(ranks), "first_choice": round(float(np.mean(ranks == 1)), 4),
            "mrr": round(float(np.mean(1.0 / ranks)), 4), "chance_first_choice": round(1 / n, 4) if n else None,
            "chance_mrr": round(float(np.mean(1.0 / np.arange(1, n + 1))), 4) if n else None}


def main(argv=None) -> dict:
    ap = rt.study_parser(__doc__, users=100, valid_users=30, valid_help="other users giving the held-out examples",
                         config="listwise-cpu", config_help="stage-1 recipe (a packaged name or a YAML file)",
                         eval_users=300, n_help="candidates the LLM reranks (at most 26)",
                         out="runs/listwise-ranking", rows=HERE / "listwise-ranking.jsonl")
    ap.add_argument("--targets-per-user", type=int, default=2, help="training-period targets per user")
    ap.add_argument("--order", choices=("shuffled", "retriever"), default="shuffled",
                    help="the candidates' order in the rerank prompt")
    ap.add_argument("--adapter", default=None, help="no tuning: rerank with this run (trained by an earlier call "
                    "with the same example settings; its tuning row holds the CPU minutes)")
    a = ap.parse_args(argv)

    split = leave_one_out(a.data or data_dir() / "ml-100k")
    name = a.name or (f"untuned-{a.order}" if a.untuned else f"u{a.users}-t{a.targets_per_user}-s{a.seed}-{a.order}")
    if a.adapter:
        name = a.name or f"adapter-{a.order}"
    out = Path(a.out) / name
    out.mkdir(parents=True, exist_ok=True)
    ex = build_config(ListwiseExamples, {"users": a.users, "valid_users": a.valid_users, "top_n": a.n,
                                         "targets_per_user": a.targets_per_user, "seed": a.seed}, "flags")
    train, valid = listwise_examples(split, ex, lambda seqs, rows: ItemKNN(last=rt.KNN_LAST).fit(seqs, rows))
    row: dict = {"name": name, "seed": a.seed, "order": a.order, "train_records": len(train),
                 "held_out_records": len(valid),
                 "target_inserted": sum(r["meta"]["inserted"] for r in train + valid),
                 "examples": {**ex.to_dict(), "retriever": f"itemknn last {rt.KNN_LAST}"}}
    adapter = a.adapter
    if a.adapter:
        row["adapter"] = a.adapter
    elif not a.untuned:
        cfg = load_config(InstructConfig, resolve_config(a.config, "instruct"), {"seed": a.seed})
        row["recipe"] = a.config
        c0, t0 = rt.cpu_seconds(), time.perf_counter()
        trained_before = (out / "run" / "instruct.json").is_file()  # a finished run is reused, not retrained
        res = tune_instruct(cfg, alpaca_records(train), out / "run", source="listwise examples")
        row["tuning"] = {"reused": trained_before, "steps": res.steps, "used": res.used, "skipped": res.skipped,
                         "wall_seconds": round(time.perf_counter() - t0, 1),
                         "cpu_minutes": round((rt.cpu_seconds() - c0) / 60, 1)}
        adapter = str(out / "run")
    row["held_out"] = held_out(adapter, valid, split.titles)
    c0 = rt.cpu_seconds()
    scorer = functools.partial(listwise_scorer, shuffle=a.seed if a.order == "shuffled" else None)
    row["rerank"] = rt.rerank(split, adapter, a.eval_users, a.n, a.seed, ("valid",), out, scorer=scorer)
    row["rerank"]["cpu_minutes"] = round((rt.cpu_seconds() - c0) / 60, 1)
    write_json_atomic(out / "result.json", row)
    rows = Path(a.rows)
    write_text_atomic(rows, (rows.read_text() if rows.is_file() else "") + json.dumps(row) + "\n")
    print(json.dumps(row, indent=2))
    return row


if __name__ == "__main__":
    main()
