"""Stage 2 of collm on cached prefixes: the frozen model runs each sample's prompt up to its soft
tokens once; each step runs only the short rest (the two soft tokens and the response header).

Exact, not an approximation: with the LoRA frozen and the soft tokens after the target, nothing
before the first soft token depends on the projector, so its keys and values are constants and the
gradient reaches the projector through the rest alone. Measured on the 135M model: a prompt of
about 250 tokens, of which 15 are run per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
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


def _stacked(lm, data: Cached, idx: Sequence[int]):
    """One cache for samples `idx`: their prefix caches left-padded to the longest, and the mask
    of those pads (the scorer's left padding, applied to cached keys and values)."""
    from transformers import DynamicCache

    from ..llm.models import unwrap_causal_lm

    longest = max(data.starts[k] for k in idx)
    cache = DynamicCache(config=unwrap_causal_lm(lm.model).config)
    for layer in range(len(data.caches[idx[0]].layers)):
        pad = [(0, 0, longest - data.starts[k], 0) for k in idx]
        keys = torch.cat([F.pad(data.caches[k].layers[layer].keys, p) for k, p in zip(idx, pad)])
        values = torch.cat([F.pad(data.caches[k].layers[layer].values, p) for k, p in zip(idx, pad)])
        cache.update(keys, values, layer)
    mask = torch.zeros((len(idx), longest), dtype=torch.long)
    for j, k in enumerate(idx):
        mask[j, longest - data.starts[k]:] = 1
    return cache, mask


def pair_logits(lm, soft, answer, data: Cached, idx: Sequence[int]) -> torch.Tensor:
    """(Yes, No) logits of samples `idx` in one forward pass over their rests (every rest is the
    same template tail, so no padding there), the projector's output bound with its gradient."""
    from ..llm.models import cache_argument, unwrap_causal_lm

    idx = list(idx)
    soft.embedding.table = soft.projector(data.users[idx], data.items[idx])
    rests = soft.rewrite([data.rests[k] for k in idx])
    if len({len(r) for r in rests}) != 1:
        raise ModelError("collm prompts must end with the same tokens after the soft tokens")
    cache, mask = _stacked(lm, data, idx)
    width = len(rests[0])
    pos = torch.tensor([data.starts[k] for k in idx])[:, None] + torch.arange(width)[None]
    mask = torch.cat([mask, torch.ones((len(idx), width), dtype=torch.long)], dim=1)
    kw = cache_argument(unwrap_causal_lm(lm.model))
    out = lm.model(input_ids=torch.tensor(rests, device=lm.device), attention_mask=mask.to(lm.device),
                   position_ids=pos.to(lm.device), use_cache=True, logits_to_keep=1, **{kw: cache})
    return out.logits[:, -1, [answer.yes, answer.no]].float()


def probabilities(lm, soft, answer, data: Cached, batch: int = 64) -> list[float]:
    """P(Yes) of every cached sample with the projector as it is (no gradient)."""
    out = []
    with torch.no_grad():
        for start in range(0, len(data.rests), batch):
            idx = range(start, min(start + batch, len(data.rests)))
            out += torch.softmax(pair_logits(lm, soft, answer, data, idx), -1)[:, 0].tolist()
    return out
