"""`tallrec evaluate-ranking`: the LLM and the baselines on a ranking benchmark folder.

The folder is what `tallrec data prepare ranking` writes: test.jsonl (lists with a "target"),
train.json (the training windows) and valid.json. Methods:

* llm: P(Yes) of each candidate from a Recommender (an adapter or the untuned model);
* random: the exact expectation of a uniformly random order (HR@k = k / n), no draw;
* popularity: how many training windows have the candidate as their target (train.json only);
* sasrec (or any other pairwise scorer passed in `pairwise`): a model trained on train.json and
  valid.json that scores each labelled (history, candidate) pair (`pair_samples`). The command
  passes the SASRec baseline (tallrec.baselines) trained like
  every baseline, on K samples drawn from train.json with the seed, early-stopped on valid.json.

Writes metrics.json ({"data", "lists", "methods": {name: record}}) and ranks.jsonl (per list: the
target's rank under each method) into the output folder, atomically.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from ..core.errors import DataError, TallrecError
from ..data.samples import Sample, load_samples
from .metrics import metrics_from_ranks, random_expected, ranking_record, target_rank
from .userfile import UserLine, read_users

METHODS = ("llm", "random", "popularity", "sasrec")


def check_methods(methods: Sequence[str]) -> list[str]:
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise TallrecError(f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(METHODS)}")
    return list(dict.fromkeys(methods))


def load_lists(folder: str | os.PathLike, limit: int | None = None) -> list[UserLine]:
    """The lists of a benchmark folder, each with its target (checked)."""
    path = Path(folder) / "test.jsonl"
    lines = read_users(path)
    for u in lines:
        if u.target is None:
            raise DataError(f"{path}: line {u.line}: no target (a ranking benchmark names each list's target)")
    return lines[:limit] if limit else lines


def pair_samples(u: UserLine) -> list[Sample]:
    """(history, candidate) samples of one list, labelled: the target True, the others False."""
    base = u.sample()
    return [replace(base, target=t, label=i == u.target) for i, t in enumerate(u.titles)]


def popularity_scores(train: Sequence[Sample], lines: Sequence[UserLine]) -> list[list[float]]:
    counts = Counter(s.target for s in train)
    return [[float(counts[t]) for t in u.titles] for u in lines]


def split_flat(flat: Sequence[float], lines: Sequence[UserLine]) -> list[list[float]]:
    """Scores of all (list, candidate) pairs in order, cut back into one list per user."""
    out, at = [], 0
    for u in lines:
        out.append(list(flat[at:at + len(u.candidates)]))
        at += len(u.candidates)
    return out


def _record(name: str, lines, scores, data: str, seconds: float, **meta) -> tuple[dict, list[int]]:
    ranks = [target_rank(s, u.target) for u, s in zip(lines, scores)]
    return ranking_record(metrics_from_ranks(ranks), n=len(lines), data=data, seconds=seconds, **meta), ranks


def evaluate_ranking(folder: str | os.PathLike, out: str | os.PathLike, methods: Sequence[str],
                     recommender: Callable[[], object] | None = None, pairwise: dict | None = None,
                     limit: int | None = None, progress: bool = True) -> dict:
    """Run `methods` on the benchmark in `folder`; write out/metrics.json and out/ranks.jsonl.

    `recommender` is called (once, after every input is checked) to get the LLM's Recommender;
    `pairwise[name](train, valid, pairs)` returns (scores of the flat list of pairs, record extras).
    """
    from ..core.io import check_writable, write_files_atomic

    methods = check_methods(methods)
    if "llm" in methods and recommender is None:
        raise TallrecError("the llm method needs a model: give --adapter RUN or --no-adapter")
    missing = [m for m in methods if m == "sasrec" and m not in (pairwise or {})]
    if missing:
        raise TallrecError(f"method {missing[0]} needs its scorer (pairwise={{{missing[0]!r}: ...}})")
    lines = load_lists(folder, limit)
    data = str(Path(folder) / "test.jsonl")
    needs_train = {"popularity", "sasrec"} & set(methods)
    train = load_samples(Path(folder) / "train.json") if needs_train else []
    valid = load_samples(Path(folder) / "valid.json") if "sasrec" in methods else []
    check_writable(out)
    records, ranks = {}, {}
    for m in methods:
        t0 = time.perf_counter()
        if m == "random":
            records[m] = ranking_record(random_expected([len(u.candidates) for u in lines]), n=len(lines),
                                        model="random (expected value)", data=data, seconds=0.0)
            continue
        if m == "llm":
            rec = recommender()
            scores = rec.engine.score_many([(u.sample(rec.domain, rec.quote_history), u.titles) for u in lines],
                                           progress=progress)
            meta = {"model": rec.lm.name, "adapter": rec.adapter}
        elif m == "popularity":
            scores, meta = popularity_scores(train, lines), {"model": "popularity (train.json targets)"}
        else:
            flat, extra = pairwise[m](train, valid, [s for u in lines for s in pair_samples(u)])
            scores, meta = split_flat(flat, lines), {"model": m, **extra}
        records[m], ranks[m] = _record(m, lines, [list(map(float, s)) for s in scores], data,
                                       time.perf_counter() - t0, **meta)
    summary = {"data": data, "lists": len(lines), "candidates": sum(len(u.candidates) for u in lines),
               "methods": records}
    rows = [json.dumps({"index": i, "user": u.user, "target": u.candidates[u.target],
                        "ranks": {m: r[i] for m, r in ranks.items()}}) for i, u in enumerate(lines)]
    write_files_atomic(out, {"metrics.json": (json.dumps(summary, indent=2) + "\n").encode(),
                             "ranks.jsonl": ("\n".join(rows) + "\n").encode()})
    return summary
