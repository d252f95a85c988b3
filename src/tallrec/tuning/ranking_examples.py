"""Ranking-aware rec-tuning examples: "what does this user pick next, among the retriever's candidates?"

Pointwise TALLRec tuning teaches "liked vs disliked among rated items"; the catalogue rerank
(recommend/) asks the LLM to order a retriever's top N unseen items instead. These examples ask
that question, still as TALLRec Samples (P(Yes)), so `rec_tune` trains on them unchanged.

Built from the leave-one-out split (data/builders/sequences.py) using training-period targets
only: for a user, the target is the LAST item of the training part (the validation and test
targets are never a target, a negative or part of a history). Per user:

* history: the TALLRec form of the ratings before that target (last `history`, liked = rating > 3);
* Yes: the target, the item the user actually rated next;
* No (hard): `hard_negatives` items drawn (seeded) from the retriever's top `top_n` for that
  history, the retriever fitted here on every user's training part minus its last item (so it never
  saw the target), items rated before the target not ranked, as at recommendation time. The caller
  gives the retriever as `fit(sequences, rows) -> retriever` with `scores_many(histories)` (e.g. the
  catalogue's item-kNN: `lambda s, rows: ItemKNN(last=3).fit(s, rows)`), since tuning/ sits below
  recommend/ in the package's layers;
* No (random): `random_negatives` catalogue items drawn uniformly.

Negatives are items the user never rated at all (nor titles equal to a rated one), so no later
rating is called a "No". Users are drawn with the seed among those whose training part has two
items or more: the first `users` give the training examples, the next `valid_users` (disjoint)
the early-stopping samples.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..core.config import setting
from ..core.errors import DataError
from ..data.builders.movielens import LIKE_ABOVE
from ..data.builders.sequences import TALLREC_HISTORY, LeaveOneOut, UserSequence
from ..data.samples import Sample


@dataclass
class RankingExamples:
    """How the ranking examples are drawn (module docstring)."""

    users: int = setting(60, "users whose training-period target gives training examples", min=1)
    valid_users: int = setting(30, "other users whose training-period target gives the early-stopping samples",
                               min=1)
    hard_negatives: int = setting(3, "No examples per user from the retriever's top N (not the item picked next)",
                                  min=0)
    random_negatives: int = setting(1, "No examples per user drawn uniformly from the unrated catalogue", min=0)
    top_n: int = setting(20, "candidates of the retriever the hard negatives are drawn from (the rerank's N)",
                         min=1)
    history: int = setting(TALLREC_HISTORY, "history items in the prompt (TALLRec: the last 10)", min=1)
    seed: int = setting(0, "seed of the user draw and of the negatives", min=0)

    def check(self) -> list[str]:
        return [] if self.hard_negatives + self.random_negatives else ["at least one negative per user is needed"]

    def to_dict(self) -> dict:
        return asdict(self)


def eligible(split: LeaveOneOut) -> list[UserSequence]:
    """Users whose training part holds a target and at least one item before it."""
    return [u for u in split.users if len(u.train) >= 2]


def draw_users(split: LeaveOneOut, cfg: RankingExamples) -> tuple[list[UserSequence], list[UserSequence]]:
    """(training users, early-stopping users): disjoint, drawn with the seed."""
    pool = eligible(split)
    need = cfg.users + cfg.valid_users
    if need > len(pool):
        raise DataError(f"ranking examples: {cfg.users} + {cfg.valid_users} users asked, "
                        f"only {len(pool)} have two training items")
    drawn = random.Random(cfg.seed).sample(pool, need)
    return drawn[:cfg.users], drawn[cfg.users:]


Fit = Callable[[Sequence[Sequence[int]], int], object]


def before_targets(split: LeaveOneOut) -> list[tuple[int, ...]]:
    """What the retriever is fitted on: every user's training part minus its last item (the targets)."""
    return [u.train[:-1] for u in split.users]


def best_ids(scores: np.ndarray, ranked: np.ndarray, n: int) -> list[int]:
    """The `n` best ranked ids (`ranked` mask), best first, ties by lower id (as recommend/loo.py's top_n)."""
    s = np.where(ranked, scores, -np.inf)
    return np.lexsort((np.arange(len(s)), -s))[:min(n, int(ranked.sum()))].tolist()


def user_samples(split: LeaveOneOut, u: UserSequence, scores: np.ndarray, cfg: RankingExamples) -> list[Sample]:
    """The Yes example and the No examples of one user (module docstring); target first."""
    k = len(u.train) - 1                      # the target: the training part's last item
    target = u.items[k]
    pairs = list(zip(u.items[max(0, k - cfg.history):k], u.ratings[max(0, k - cfg.history):k]))
    history = tuple((split.titles[i], r > LIKE_ABOVE) for i, r in pairs)
    rng = random.Random(f"{cfg.seed}:{u.user}")
    rated_titles = {split.titles[i] for i in split.rated(u)}
    allowed = split.catalogue.copy()
    allowed[[i for i in split.titles if split.titles[i] in rated_titles]] = False   # every rated item, any id
    ranked = split.catalogue.copy()
    ranked[list(u.items[:k])] = False         # what the retriever would rank at that point
    top = [int(i) for i in best_ids(scores, ranked, cfg.top_n) if allowed[i]]
    hard = rng.sample(top, min(cfg.hard_negatives, len(top)))
    allowed[hard] = False
    rest = np.flatnonzero(allowed).tolist()
    rand = rng.sample(rest, min(cfg.random_negatives, len(rest)))

    def sample(item: int, label: bool, kind: str) -> Sample:
        return Sample(history, split.titles[item], label, meta={"user": u.user, "item": item, "kind": kind})

    return ([sample(target, True, "target")] + [sample(i, False, "hard") for i in hard]
            + [sample(i, False, "random") for i in rand])


def ranking_examples(split: LeaveOneOut, cfg: RankingExamples, fit: Fit) -> tuple[list[Sample], list[Sample]]:
    """(training samples, early-stopping samples) from training-period targets; `fit(sequences, rows)`
    gives the retriever of the hard negatives (module docstring)."""
    problems = cfg.check()
    if problems:
        raise DataError(f"ranking examples: {problems[0]}")
    train_users, valid_users = draw_users(split, cfg)
    retriever = fit(before_targets(split), split.rows)

    def build(users: list[UserSequence]) -> list[Sample]:
        scores = retriever.scores_many([u.train[:-1] for u in users])
        return [s for u, row in zip(users, scores) for s in user_samples(split, u, row, cfg)]

    return build(train_users), build(valid_users)
