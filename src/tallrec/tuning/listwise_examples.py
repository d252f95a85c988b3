"""Listwise rec-tuning examples (as LlamaRec): "which of these N candidates does the user pick next?"

The listwise form of ranking_examples.py: one Alpaca record per (user, target) lists the history
and the retriever's top N with index letters (prompts/listwise.py); the output is the letter of the
item the user actually rated next. Trained with the stage-1 trainer (tuning/instruct.py), answer
tokens only; scored by recommend/listwise.py from the letters' next-token distribution.

Built from the leave-one-out split using training-period targets only. With `targets_per_user` t,
a user's targets are the last t items of the training part (t = 1: the last one, as
ranking_examples.py); the validation and test targets are never a target, a candidate or part of
a history. Per (user, target at position k):

* history: the TALLRec form of the last `history` ratings before the target (liked = rating > 3);
* candidates: the retriever's top `top_n` at that point, the retriever fitted on every user's
  training part minus its last t items (so it saw none of the targets), items the user rated before
  the target not ranked (as at recommendation time) and, beyond that, no item the user rated at any
  time (nor one whose title equals a rated one), so no later rating, the validation and test
  targets included, is listed as "not next"; titles listed once. When the target is not among them
  it replaces one candidate, drawn with the seed; then the N are shuffled with the seed, so the
  letter says nothing about the retriever's order.

Users are drawn as in ranking_examples.py (`draw_users`: the seed, disjoint training and
early-stopping users, two training items or more); a target with no item before it is skipped.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..core.config import setting
from ..data.builders.movielens import LIKE_ABOVE
from ..data.builders.sequences import TALLREC_HISTORY, LeaveOneOut, UserSequence
from ..prompts.listwise import LETTERS, listwise_record
from .ranking_examples import Fit, before_targets, best_ids, draw_users


@dataclass
class ListwiseExamples:
    """How the listwise examples are drawn (module docstring)."""

    users: int = setting(60, "users whose training-period targets give training examples", min=1)
    valid_users: int = setting(30, "other users whose training-period targets give held-out examples", min=1)
    targets_per_user: int = setting(1, "the last T items of each user's training part are targets (one "
                                    "example each); the retriever is fitted without all of them", min=1)
    top_n: int = setting(20, "candidates listed in one prompt (the rerank's N; one letter each)", min=2,
                         below=len(LETTERS) + 1)
    history: int = setting(TALLREC_HISTORY, "history items in the prompt (TALLRec: the last 10)", min=1)
    seed: int = setting(0, "seed of the user draw, the target's slot and the candidates' order", min=0)

    def to_dict(self) -> dict:
        return asdict(self)


def fitted_on(split: LeaveOneOut, targets: int) -> list[tuple[int, ...]]:
    """What the retriever is fitted on: every user's training part minus its last `targets` items."""
    return before_targets(split) if targets == 1 else [u.train[:max(0, len(u.train) - targets)] for u in split.users]


def candidates(split: LeaveOneOut, u: UserSequence, k: int, scores: np.ndarray, n: int) -> list[int]:
    """The retriever's top `n` for `u` before position k, none of the user's rated items (module
    docstring), each title once; best first."""
    rated_titles = {split.titles[i] for i in split.rated(u)}
    ranked = split.catalogue.copy()
    ranked[[i for i in split.titles if split.titles[i] in rated_titles]] = False
    ranked[u.items[k]] = True                 # the target itself (its own title) stays rankable
    out, seen = [], set()
    for i in best_ids(scores, ranked, int(ranked.sum())):
        if split.titles[i] not in seen:
            out.append(int(i))
            seen.add(split.titles[i])
            if len(out) == n:
                break
    return out


def user_records(split: LeaveOneOut, u: UserSequence, k: int, scores: np.ndarray, cfg: ListwiseExamples) -> dict:
    """The listwise record of user `u` with target u.items[k] (its `meta`: user, item, candidates)."""
    target = u.items[k]
    pairs = list(zip(u.items[max(0, k - cfg.history):k], u.ratings[max(0, k - cfg.history):k]))
    rng = random.Random(f"{cfg.seed}:{u.user}:{k}")
    cands = candidates(split, u, k, scores, cfg.top_n)
    inserted = target not in cands
    if inserted:
        cands[rng.randrange(len(cands))] = target
    rng.shuffle(cands)
    liked = [split.titles[i] for i, r in pairs if r > LIKE_ABOVE]
    disliked = [split.titles[i] for i, r in pairs if r <= LIKE_ABOVE]
    rec = listwise_record(liked, disliked, [split.titles[i] for i in cands], answer=cands.index(target))
    return {**rec, "meta": {"user": u.user, "item": target, "position": k, "candidates": cands,
                            "inserted": inserted, "liked": liked, "disliked": disliked}}


def listwise_examples(split: LeaveOneOut, cfg: ListwiseExamples, fit: Fit) -> tuple[list[dict], list[dict]]:
    """(training records, held-out records) from training-period targets; `fit(sequences, rows)` gives
    the retriever (e.g. `lambda s, rows: ItemKNN(last=3).fit(s, rows)`). Each record is an Alpaca
    record plus `meta` (drop it with `alpaca_records` before writing or training)."""
    train_users, valid_users = draw_users(split, cfg)
    retriever = fit(fitted_on(split, cfg.targets_per_user), split.rows)

    def build(users: Sequence[UserSequence]) -> list[dict]:
        points = [(u, len(u.train) - t) for u in users for t in range(1, cfg.targets_per_user + 1)
                  if len(u.train) - t >= 1]
        scores = retriever.scores_many([u.items[:k] for u, k in points])
        return [user_records(split, u, k, row, cfg) for (u, k), row in zip(points, scores)]

    return build(train_users), build(valid_users)


def alpaca_records(records: Sequence[dict]) -> list[dict]:
    """The {instruction, input, output} part of each record (what tune_instruct trains on)."""
    return [{k: r[k] for k in ("instruction", "input", "output")} for r in records]
