"""Stage 2 of collm on cached prefixes: the frozen model runs each sample's prompt up to its soft
tokens once; each step runs only the short rest (the two soft tokens and the response header).

Exact, not an approximation: with the LoRA frozen and the soft tokens after the target, nothing
before the first soft token depends on the projector, so its keys and values are constants and the
gradient reaches the projector through the rest alone. Measured on the 135M model: a prompt of
about 250 tokens, of which 15 are run per step.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ..core.errors import ModelError
from ..data.samples import Sample


@dataclass
class Cached:
    """Samples ready for stage 2: each prompt's prefix cache and rest, the projector's inputs."""

    caches: list
    rests: list[list[int]]   # the token ids from the first soft token on (placeholders unrewritten)
    starts: list[int]        # prefix lengths (the rest's first position)
    users: torch.Tensor
    items: torch.Tensor
    labels: list[bool]


@torch.no_grad()
def cache_prefixes(lm, soft, template, samples: Sequence[Sample], cutoff: int, where: str) -> Cached:
    from ..llm.encoding import encode_prompt
    from ..llm.models import cache_argument, unwrap_causal_lm

    user_id = soft.placeholders[0]
    kw = cache_argument(unwrap_causal_lm(lm.model))
    caches, rests, starts = [], [], []
    for s in tqdm(samples, desc=f"collm: caching {where}", unit="sample", leave=False):
        ids = encode_prompt(lm.tokenizer, s, cutoff, template)
        if user_id not in ids:
            raise ModelError("collm trains on prompts of the `collm` style only")
        p = ids.index(user_id)
        out = lm.model(input_ids=torch.tensor([ids[:p]], device=lm.device), use_cache=True, logits_to_keep=1)
        caches.append(getattr(out, kw, None) or out.past_key_values)
        rests.append(ids[p:])
        starts.append(p)
    u, i = soft.inputs(samples, where)
    return Cached(caches, rests, starts, u, i, [bool(s.label) for s in samples])


def pair_logits(lm, soft, answer, data: Cached, idx: Sequence[int]) -> torch.Tensor:
    """(Yes, No) logits of samples `idx`, the projector's output bound with its gradient."""
    from ..llm.models import cache_argument, unwrap_causal_lm

    kw = cache_argument(unwrap_causal_lm(lm.model))
    soft.embedding.table = soft.projector(data.users[list(idx)], data.items[list(idx)])
    rows = []
    for j, k in enumerate(idx):
        rest = soft.rewrite([data.rests[k]])[0]
        rest = [t + 2 * j if t >= soft.embedding.offset else t for t in rest]  # sample j of this table
        pos = torch.arange(data.starts[k], data.starts[k] + len(rest), device=lm.device)[None]
        out = lm.model(input_ids=torch.tensor([rest], device=lm.device), position_ids=pos, use_cache=True,
                       logits_to_keep=1, **{kw: copy.deepcopy(data.caches[k])})
        rows.append(out.logits[0, -1, [answer.yes, answer.no]].float())
    return torch.stack(rows)


def probabilities(lm, soft, answer, data: Cached, batch: int = 64) -> list[float]:
    """P(Yes) of every cached sample with the projector as it is (no gradient)."""
    out = []
    with torch.no_grad():
        for start in range(0, len(data.rests), batch):
            idx = range(start, min(start + batch, len(data.rests)))
            out += torch.softmax(pair_logits(lm, soft, answer, data, idx), -1)[:, 0].tolist()
    return out
