"""MovieLens-100K ranking benchmark: per user, the liked target among sampled unrated movies.

Built from the raw files and the same time-ordered windows as the TALLRec movie split
(movielens.py): the last 10,000 windows split 8:1:1 in order. For each test window whose target the
user liked (rating > 3), one list: that target plus `negatives` (19) movies the user never rated,
drawn with `random.Random(seed)` in window order, and shuffled with the same generator so that the
target's position says nothing. Negatives never repeat a title of the user's rated movies or of
another candidate (u.item holds a few titles twice under different ids). The history is the
window's: its liked items, then its disliked ones (as the prompt shows them).

Outputs (written together, atomically): train.json and valid.json (the TALLRec split, authors'
format: the few-shot pool and early-stopping data of the baselines, the popularity counts),
test.jsonl (one `tallrec rank` input line per list, with its "target" id), valid.jsonl (the same
lists built from the validation windows, with their own generator, random.Random(f"{seed}:valid"),
so test.jsonl is unchanged by them: what the `pipeline` method fits its blend on) and manifest.json
(the rule, the seed, the counts and the sha256 of every other file).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

from ...core.errors import DataError
from ...core.io import sha256_file
from ..samples import Sample, samples_to_json
from .movielens import (
    HISTORY,
    LAST_WINDOWS,
    movielens_windows,
    read_ratings,
    read_titles,
)
from .windows import split_811

NEGATIVES = 19
RULE = ("each test window of the TALLRec movie split whose target the user liked: the target plus "
        "NEGATIVES movies the user never rated, sampled with random.Random(seed) in window order and "
        "shuffled with it; history = the window's")


def negative_pool(titles: dict[int, str], rated: set[int]) -> list[int]:
    """Movie ids the user never rated, one id per title (the lowest), no title the user rated."""
    rated_titles = {titles[i] for i in rated}
    seen: set[str] = set()
    pool = []
    for item in sorted(titles):
        t = titles[item]
        if item in rated or t in rated_titles or t in seen:
            continue
        seen.add(t)
        pool.append(item)
    return pool


def ranking_lists(test: list[Sample], titles: dict[int, str], rated: dict[int, set[int]],
                  negatives: int = NEGATIVES, seed: int | str = 0) -> list[dict]:
    """One `tallrec rank` line per liked window of `test` (see the module docstring)."""
    if negatives < 1:
        raise DataError(f"--negatives must be at least 1, got {negatives}")
    rng = random.Random(seed)
    pools: dict[int, list[int]] = {}
    out = []
    for s in test:
        if not s.label:
            continue
        user, target = s.meta["user"], s.meta["item"]
        pool = pools.setdefault(user, negative_pool(titles, rated[user]))
        if len(pool) < negatives:
            raise DataError(f"user {user} has rated all but {len(pool)} movies; cannot draw {negatives} negatives")
        cands = [target, *rng.sample(pool, negatives)]
        rng.shuffle(cands)
        out.append({"user": user, "liked": s.liked, "disliked": s.disliked,
                    "candidates": [{"id": i, "title": titles[i]} for i in cands], "target": target})
    if not out:
        raise DataError("no test window has a liked target; nothing to rank")
    return out


def build_ranking(raw_dir: str | os.PathLike, negatives: int = NEGATIVES, seed: int = 0) -> dict[str, bytes]:
    """{"train.json", "valid.json", "test.jsonl", "valid.jsonl", "manifest.json"}: bytes of every output file."""
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise DataError(f"{raw}: no such folder (expected MovieLens-100K with u.data and u.item; "
                        f"`tallrec data download movielens` fetches it)")
    titles = read_titles(raw / "u.item")
    ratings = read_ratings(raw / "u.data", titles, raw / "u.item")
    windows = movielens_windows(ratings, titles)
    if not windows:
        raise DataError(f"{raw / 'u.data'}: no user has more than {HISTORY} ratings; nothing to build")
    splits = dict(zip(("train", "valid", "test"), split_811(windows[-LAST_WINDOWS:])))
    rated: dict[int, set[int]] = {}
    for user, item, _, _ in ratings:
        rated.setdefault(user, set()).add(item)
    lists = ranking_lists(splits["test"], titles, rated, negatives, seed)
    valid_lists = ranking_lists(splits["valid"], titles, rated, negatives, f"{seed}:valid")
    files = {
        "train.json": samples_to_json(splits["train"]).encode(),
        "valid.json": samples_to_json(splits["valid"]).encode(),
        "test.jsonl": "".join(json.dumps(x) + "\n" for x in lists).encode(),
        "valid.jsonl": "".join(json.dumps(x) + "\n" for x in valid_lists).encode(),
    }
    manifest = {
        "benchmark": "movielens-100k ranking", "rule": RULE, "negatives": negatives, "seed": seed,
        "candidates_per_list": negatives + 1, "lists": len(lists), "valid_lists": len(valid_lists), "users": len({x["user"] for x in lists}),
        "history": HISTORY, "last_windows": LAST_WINDOWS,
        "samples": {k: len(v) for k, v in splits.items()},
        "sha256": {name: hashlib.sha256(b).hexdigest() for name, b in files.items()},
        "raw_sha256": {name: sha256_file(raw / name) for name in ("u.data", "u.item")},
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    return files
