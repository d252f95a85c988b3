"""The shared-user-prefix engine: P(Yes) of many candidate items of one user.

In the TALLRec prompt the user's part (instruction, liked and disliked items) comes before the
target title, so every candidate of one user shares a long token prefix and differs only in a short
suffix (the title, the closing quote and the response header; `prompts.templates.split_prompt`).
The engine runs that prefix through the model once per user and scores the candidates as batches of
suffixes attending to its key/value cache (`llm.scoring.Scorer.score_ids` on one user's prompts:
the prefix shared by the prompts is run once, the cache copied per batch, the suffixes left-padded
with a mask, positions continuing after the prefix, only the Yes/No rows of the LM head applied).

Exactness. Scores equal the single-sample scorer's (`Scorer.score`, `reference_scores`), because
every candidate's prompt is exactly the token ids `llm.encoding.encode_prompt` gives it:

* Tokenization at the prefix/suffix boundary: each candidate's full prompt is tokenized (one batched
  tokenizer call per user) and the shared prefix is the longest token prefix common to all of them,
  never a separately tokenized prefix text. A title whose first characters merge with the opening
  quote into one token therefore shortens the shared prefix by a token instead of changing a score.
* Truncation: a candidate's prompt loses the oldest history items, one at a time, until it fits the
  cutoff (as `encode_prompt` does per sample), so candidates of very different lengths may keep
  different amounts of history. Candidates are grouped by the number of items dropped and each group
  shares its own prefix: usually there is one group; a user at the cutoff boundary costs one more
  prefix pass. (The alternative, one truncation for all, set by the longest candidate, would save
  that pass but change the scores of the shorter candidates.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from tqdm.auto import tqdm

from ..core.defaults import DEFAULT_BATCH_SIZE, DEFAULT_CUTOFF
from ..core.errors import DataError
from ..data.samples import Sample
from ..llm.scoring import ScoreOptions, Scorer
from ..llm.soft_tokens import soft_tokens_of
from ..prompts.templates import ChatTemplate, Template, load_template, sample_prompt

# Candidates per forward pass: core.defaults.DEFAULT_BATCH_SIZE, the one scoring batch of every
# command. Split attention (llm/packed_attention.py) makes long packs cheap, so the candidates of a
# batch run in one pass (up to llm.packing.PACK_TOKENS suffix tokens).
DEFAULT_BATCH = DEFAULT_BATCH_SIZE


@dataclass(frozen=True)
class Group:
    """Candidates of one user that keep the same history: their positions and prompt token ids."""

    dropped: int                 # oldest history items dropped to fit the cutoff
    positions: list[int]         # indices into the user's candidate list
    prompts: list[list[int]]     # full prompt token ids, as encode_prompt gives them

    @property
    def shared(self) -> int:
        """Tokens run once for the whole group (what the scorer takes as its prefix)."""
        from ..llm.encoding import common_prefix

        return min(common_prefix(self.prompts), min(len(p) for p in self.prompts) - 1)


def encode_user(tokenizer, user: Sample, titles: Sequence[str], cutoff: int,
                template: Template | ChatTemplate | None = None, reserve: int = 1) -> list[Group]:
    """Every candidate's prompt token ids, grouped by truncation level (see the module docstring)."""
    template = template or load_template()
    budget = cutoff - reserve
    pending = list(range(len(titles)))
    groups: list[Group] = []
    dropped = 0
    while pending:
        s = user.drop_oldest(dropped)
        texts = [sample_prompt(replace(s, target=titles[i]), template) for i in pending]
        ids = tokenizer(texts, add_special_tokens=template.add_special_tokens)["input_ids"]
        fit = [j for j, x in enumerate(ids) if len(x) <= budget]
        if fit:
            groups.append(Group(dropped, [pending[j] for j in fit], [list(ids[j]) for j in fit]))
        over = [j for j, x in enumerate(ids) if len(x) > budget]
        if over and not s.history:
            j = over[0]
            raise DataError(f"prompt for target {titles[pending[j]][:60]!r} is {len(ids[j])} tokens even without "
                            f"history; raise the cutoff (now {cutoff})")
        pending = [pending[j] for j in over]
        dropped += 1
    return groups


class PrefixEngine:
    """Scores the candidates of each user with the user's prefix run once (see the module docstring).

    model, tokenizer: a loaded causal LM (`LoadedModel.model`, `.tokenizer`); template: the prompt
    style (`llm.encoding.lm_template(lm)` for a loaded adapter's); cutoff: the prompt length limit
    (the adapter's training cutoff); batch_size: candidates per forward pass.
    """

    def __init__(self, model, tokenizer, template: Template | ChatTemplate | None = None, cutoff: int = DEFAULT_CUTOFF,
                 batch_size: int = DEFAULT_BATCH):
        if cutoff < 2:
            raise DataError(f"cutoff must be at least 2 tokens, got {cutoff}")
        if batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {batch_size}")
        self.tokenizer = tokenizer
        self.template = template or load_template()
        self.cutoff, self.batch_size = cutoff, batch_size
        self.scorer = Scorer(model, tokenizer, ScoreOptions(batch_size=batch_size, cutoff=cutoff, prefix_cache=True,
                                                            progress=False, pack=True), self.template)

    def encode(self, user: Sample, titles: Sequence[str]) -> list[Group]:
        return encode_user(self.tokenizer, user, titles, self.cutoff, self.template)

    def score(self, user: Sample, titles: Sequence[str]) -> np.ndarray:
        """P(Yes) of each candidate title for one user (history from `user`; its target is ignored)."""
        out = np.empty(len(titles), dtype=np.float64)
        soft = soft_tokens_of(self.scorer.model)
        for g in self.encode(user, titles):
            prompts = g.prompts
            if soft is not None:  # a collm adapter: each candidate's signals, as of the user's time
                candidates = [replace(user.drop_oldest(g.dropped), target=titles[i], label=None) for i in g.positions]
                prompts = soft.bind(candidates, prompts, "candidates", live=True)
            out[g.positions] = self.scorer.score_ids(prompts, names=[repr(titles[i][:60]) for i in g.positions])
        return out

    def score_many(self, users: Iterable[tuple[Sample, Sequence[str]]], progress: bool = False,
                   total: int | None = None, desc: str = "ranking") -> list[np.ndarray]:
        """`score` for each (user, titles) pair, in order; the progress bar counts candidates."""
        users = list(users)
        bar = tqdm(total=total if total is not None else sum(len(t) for _, t in users), desc=desc, unit="cand",
                   disable=not progress, leave=False)
        out = []
        for user, titles in users:
            out.append(self.score(user, titles))
            bar.update(len(titles))
        bar.close()
        return out
