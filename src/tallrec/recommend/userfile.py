"""The files of `tallrec rank`: users.jsonl in, ranked.jsonl out, and users sharded over processes.

Input, one JSON object a line (blank lines are skipped)::

    {"user": "u1", "liked": ["Heat (1995)"], "disliked": [], "candidates": ["Casino (1995)", ...]}

"user" (a string or an integer), "liked", "disliked" and "candidates" are required; an optional
"target" (the id or title of one candidate: the item the user really chose) makes the file a
ranking benchmark (`tallrec evaluate-ranking`). Items are titles or {id, title} objects. The whole
file is checked before any model loads; an error names the file and the line.

Output, one line per user in input order::

    {"user": "u1", "top": [{"item": ..., "p_yes": 0.71}, ...], "scores": [P(Yes) per candidate]}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..core.errors import DataError
from ..data.samples import Sample
from .items import check_candidates, check_items, item_key, user_sample

REQUIRED = ("user", "liked", "disliked", "candidates")
OPTIONAL = ("target",)


@dataclass(frozen=True)
class UserLine:
    line: int
    user: Any
    liked: list
    disliked: list
    candidates: list
    target: int | None  # position of the target among the candidates, when the line names one

    def sample(self, domain: str = "movie", quote_history: bool = True) -> Sample:
        return user_sample(self.liked, self.disliked, domain, quote_history)

    @property
    def titles(self) -> list[str]:
        return check_candidates(self.candidates)


def parse_user(obj: Any, where: str, line: int = 0) -> UserLine:
    """One checked input line (see the module docstring)."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object with {', '.join(REQUIRED)}")
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise DataError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))} "
                        f"(known: {', '.join(REQUIRED + OPTIONAL)})")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(map(repr, missing))}")
    user = obj["user"]
    if isinstance(user, bool) or not isinstance(user, (str, int)):
        raise DataError(f"{where}: user must be a string or an integer, got {type(user).__name__}")
    check_items(obj["liked"], "liked", where)
    check_items(obj["disliked"], "disliked", where)
    check_candidates(obj["candidates"], where)
    target = None
    if "target" in obj:
        keys = [item_key(c) for c in obj["candidates"]]
        hits = [i for i, k in enumerate(keys) if k[1] == obj["target"]]
        if len(hits) != 1:
            raise DataError(f"{where}: target {obj['target']!r} is not the id or title of one candidate")
        target = hits[0]
    return UserLine(line, user, list(obj["liked"]), list(obj["disliked"]), list(obj["candidates"]), target)


def read_users(path: str | os.PathLike) -> list[UserLine]:
    """Every line of a users.jsonl file, checked; a one-line DataError naming the line otherwise."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file (users, one JSON object a line)")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    users = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{p}: line {n}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
        users.append(parse_user(obj, where, n))
    if not users:
        raise DataError(f"{p}: holds no users")
    return users


def ranked_line(u: UserLine, scores: Sequence[float], k: int) -> dict:
    from .recommender import top_k

    return {"user": u.user, "top": [{"item": item, "p_yes": p} for item, p in top_k(u.candidates, scores, k)],
            "scores": [float(s) for s in scores]}


def render_ranked(users: Sequence[UserLine], scores: Sequence[Sequence[float]], k: int) -> str:
    return "".join(json.dumps(ranked_line(u, s, k)) + "\n" for u, s in zip(users, scores))


def shard_users(engine, users: Sequence[UserLine], domain: str = "movie", quote_history: bool = True,
                progress: bool = True) -> list[np.ndarray] | None:
    """P(Yes) of every user's candidates, users split round-robin over the torch.distributed ranks
    (when initialized). Every rank gets the merged list in input order."""
    import torch.distributed as dist

    multi = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    rank, world = (dist.get_rank(), dist.get_world_size()) if multi else (0, 1)
    mine = list(range(rank, len(users), world))
    pairs = [(users[i].sample(domain, quote_history), users[i].titles) for i in mine]
    part = engine.score_many(pairs, progress=progress and rank == 0,
                             total=None if not multi else sum(len(users[i].candidates) for i in mine))
    if not multi:
        return part
    gathered: list = [None] * world
    dist.all_gather_object(gathered, (mine, [s.tolist() for s in part]))
    out: list = [None] * len(users)
    for idx, vals in gathered:
        for i, v in zip(idx, vals):
            out[i] = np.array(v)
    return out
