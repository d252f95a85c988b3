"""P(Yes) scoring: one forward pass per sample, last-position logits only. Never `generate`.

score = softmax([logit(Yes), logit(No)])[0] at the position right after the response header.

Speed (see benchmarks/score_bench.py):
- prompts are sorted by length and batched (length bucketing) with left padding, so little padding;
- only the two answer rows of the LM head are applied, at the last position, in fp32: no
  vocabulary-wide matmul (a merged LoRA model made torch copy the whole head per batch there);
- the token prefix that every prompt shares (Alpaca header + instruction + "User Preference: ")
  is run once and its key/value cache reused by every batch.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..core.defaults import DEFAULT_BATCH_SIZE, DEFAULT_CUTOFF
from ..core.errors import ModelError
from ..data.samples import Sample
from ..prompts.templates import ChatTemplate, Template, answer_token_ids, load_template
from .encoding import common_prefix, encode_prompt
from .models import attention_implementation, cache_argument, unwrap_causal_lm
from .packed_attention import PackLayout, sliding_window, unsupported
from .packed_attention import register as register_packed_attention
from .packing import PACK_TOKENS, pack_batches, packed_inputs
from .soft_tokens import soft_tokens_of

log = logging.getLogger("tallrec")


@dataclass
class ScoreOptions:
    batch_size: int = DEFAULT_BATCH_SIZE
    cutoff: int = DEFAULT_CUTOFF
    prefix_cache: bool = True
    progress: bool = True
    # Experimental: torch.compile the forward pass (inductor) to fuse the memory-bound elementwise
    # ops. On the 2-core dev CPU it compiled in ~2 minutes and gave 1.02-1.36x (BENCHMARKS.md), so
    # it is off by default.
    compile: bool = False
    # Suffixes after the shared prefix packed into one row instead of padded rows (llm/packing.py),
    # attention split into prefix and own-suffix parts (llm/packed_attention.py): the ranking
    # engine's setting, where many short suffixes share one prefix.
    pack: bool = False
    pack_tokens: int = PACK_TOKENS  # most suffix tokens per packed row


class Scorer:
    """Scores Samples with a (possibly LoRA-wrapped) causal LM, in one prompt style (`template`;
    the Alpaca one by default: pass `encoding.lm_template(lm)` for the style of a loaded adapter)."""

    def __init__(self, model, tokenizer, options: ScoreOptions | None = None,
                 template: Template | ChatTemplate | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.options = options or ScoreOptions()
        self.template = template or load_template()
        self.answer = answer_token_ids(tokenizer, self.template)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else tokenizer.eos_token_id
        self._decoder, self._head = _answer_head(model, self.answer)
        # Looked up once, on the module that is actually called (not per batch).
        target = self._decoder if self._decoder is not None else model
        self._cache_kw = cache_argument(unwrap_causal_lm(target))
        self._eager = target
        self._call = _compiled(target) if self.options.compile else target
        # With compile, a few prompts are scored eagerly before the first trace: in score_bench the
        # compiled path traced first gained less over the eager one (see BENCHMARKS.md).
        self._warm = not self.options.compile
        self._said: set[str] = set()  # fallback reasons already logged

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, samples: Sequence[Sample]) -> list[list[int]]:
        return [encode_prompt(self.tokenizer, s, self.options.cutoff, self.template) for s in samples]

    @torch.inference_mode()
    def score(self, samples: Sequence[Sample], desc: str = "scoring") -> np.ndarray:
        """P(Yes) for every sample, in the input order. A model with collm soft tokens reads each
        sample's collaborative signals here (llm/soft_tokens.py)."""
        prompts = self.encode(samples)
        soft = soft_tokens_of(self.model)
        if soft is not None:
            prompts = soft.bind(samples, prompts, desc)
        return self.score_ids(prompts, desc=desc, names=[repr(s.target[:60]) for s in samples])

    @torch.inference_mode()
    def score_ids(self, prompts: list[list[int]], desc: str = "scoring",
                  names: Sequence[str] | None = None) -> np.ndarray:
        """P(Yes) of encoded prompts; a NaN or infinite score stops here with one line naming the
        sample (its index, and `names[i]` when given), so it never reaches an AUC or a ranking."""
        if not prompts:
            return np.zeros(0)
        if not self._warm:  # see __init__: an eager pass over a few prompts before the first trace
            self._warm = True
            self._score_all(prompts[:4], self._eager, desc="eager warm-up")
        return check_finite(self._score_all(prompts, self._call, desc), names)

    def _score_all(self, prompts: list[list[int]], call, desc: str) -> np.ndarray:
        was_training = self.model.training
        self.model.eval()
        try:
            out = np.empty(len(prompts), dtype=np.float64)
            # The prefix must leave at least one token of every prompt to run through the model.
            plen = min(common_prefix(prompts), min(len(p) for p in prompts) - 1) if self.options.prefix_cache else 0
            prefix_cache = self._run_prefix(prompts[0][:plen], call) if plen > 0 else None
            order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
            bs = max(1, self.options.batch_size)
            packed = self.options.pack and prefix_cache is not None and self._can_pack(prompts, plen)
            if packed:
                batches = pack_batches(order, [len(p) - plen for p in prompts], bs, self.options.pack_tokens)
            else:
                batches = _batches(order, prompts, bs, self._windowed(prompts))
            score = self._score_packed if packed else self._score_batch
            bar = tqdm(total=len(prompts), desc=desc, unit="sample", disable=not self.options.progress, leave=False)
            for idx in batches:
                rows = [prompts[i][plen:] for i in idx]
                out[idx] = score(rows, plen, prefix_cache, call)
                bar.update(len(idx))
            bar.close()
            return out
        finally:
            self.model.train(was_training)

    def _windowed(self, prompts: list[list[int]]) -> bool:
        """Whether a sliding window applies: then left padding shifts each row's window (padded
        batches over the prefix cache disagreed with the reference by 6e-3 on Gemma 2), so only
        prompts of one length share a batch."""
        cfg = getattr(unwrap_causal_lm(self.model), "config", None)
        window = sliding_window(cfg, max(len(p) for p in prompts)) if cfg is not None else None
        if window:
            self._say(f"a sliding window of {window} tokens: batches hold prompts of one length only")
        return window is not None

    def _can_pack(self, prompts: list[list[int]], plen: int) -> bool:
        """Whether packed attention equals this model's own here; if not, the padded batches run
        instead and the reason is logged once per scorer."""
        cfg = getattr(unwrap_causal_lm(self.model), "config", None)
        why = "logits transformed after the LM head (soft-capping, scaling)" if self._decoder is None else None
        why = why or (unsupported(cfg, max(len(p) for p in prompts)) if cfg is not None else None)
        if why:
            self._say(f"packed scoring falls back to padded batches: {why}")
        return why is None

    def _say(self, line: str) -> None:
        """Log a fallback once per scorer."""
        if line not in self._said:
            self._said.add(line)
            log.warning(line)

    def _forward(self, call, **kwargs):
        """(Yes, No) logits at the last position, and the model output (for its cache).

        With a plain LM head the decoder's last hidden state is multiplied by the two answer rows
        of the head only, in fp32: 2 dot products instead of a vocabulary-wide matmul (and no
        bf16 rounding of the two logits). Models with logit soft-capping or scaling take the
        model's own head (`logits_to_keep=1`).
        """
        if self._decoder is not None:
            out = _run(call, kwargs)
            return self._answer_logits(out.last_hidden_state[:, -1, :]), out
        out = _run(call, {"logits_to_keep": 1, **kwargs})
        logits = out.logits[:, -1, :]
        return logits[:, [self.answer.yes, self.answer.no]].float(), out

    def _answer_logits(self, h: torch.Tensor) -> torch.Tensor:
        """(Yes, No) logits of decoder hidden states: the two answer rows of the LM head, in fp32."""
        head, rows = self._head  # read each time: stays right if the head itself is trained
        pair = h.float() @ head.weight[rows].float().T
        return pair + head.bias[rows].float() if head.bias is not None else pair

    def _score_packed(self, rows: list[list[int]], plen: int, prefix_cache, call) -> np.ndarray:
        """One batch as one packed row after the prefix (llm/packing.py); decoder models only."""
        ids, pos, last = packed_inputs(rows, plen, self.device)
        kwargs = {"input_ids": ids, "attention_mask": None, "position_ids": pos, "use_cache": True,
                  self._cache_kw: copy.deepcopy(prefix_cache),
                  "tallrec_pack": PackLayout.of([len(r) for r in rows], self.device)}
        with attention_implementation(self.model, register_packed_attention()):
            out = _run(call, kwargs)
        pair = self._answer_logits(out.last_hidden_state[0, last])
        return torch.softmax(pair, dim=-1)[:, 0].cpu().numpy()

    def _run_prefix(self, ids: list[int], call):
        x = torch.tensor([ids], device=self.device)
        _, res = self._forward(call, input_ids=x, use_cache=True)
        return getattr(res, "cache", None) or res.past_key_values

    def _score_batch(self, rows: list[list[int]], plen: int, prefix_cache, call) -> np.ndarray:
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):  # left padding: every row ends with its last real token
            ids[j, width - len(r):] = torch.tensor(r)
            mask[j, width - len(r):] = 1
        dev = self.device
        ids, mask = ids.to(dev), mask.to(dev)
        kwargs = {}
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(len(rows))
            kwargs[self._cache_kw] = cache
            mask = torch.cat([torch.ones((len(rows), plen), dtype=mask.dtype, device=dev), mask], dim=1)
        # Positions count real tokens only, so padding never shifts a prompt's positions.
        pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, -width:]
        pair, _ = self._forward(call, input_ids=ids, attention_mask=mask, position_ids=pos,
                                use_cache=prefix_cache is not None, **kwargs)
        return torch.softmax(pair, dim=-1)[:, 0].cpu().numpy()


def _batches(order: list[int], prompts: list[list[int]], size: int, same_length: bool) -> list[list[int]]:
    """`order` (sorted by length) cut into batches of `size`; with `same_length`, never mixing
    lengths, so no row is padded."""
    if not same_length:
        return [order[i:i + size] for i in range(0, len(order), size)]
    out: list[list[int]] = []
    for i in order:
        if out and len(out[-1]) < size and len(prompts[out[-1][0]]) == len(prompts[i]):
            out[-1].append(i)
        else:
            out.append([i])
    return out


def check_finite(scores: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
    """`scores`, or a one-line ModelError naming the first sample whose score is NaN or infinite
    (fp16 overflow, a broken adapter)."""
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        i = int(bad[0])
        what = f"sample {i}" + (f" ({names[i]})" if names is not None else "")
        raise ModelError(f"{what} scored {scores[i]} ({bad.size} of {len(scores)} not finite): the model overflowed "
                         "or produced NaN; try precision fp32 or bf16 instead of fp16")
    return scores


def _run(call, kwargs: dict):
    """call(**kwargs); a torch.compile failure (no working compiler, an unsupported model) becomes
    one line instead of a page of inductor traceback."""
    try:
        return call(**kwargs)
    except torch._dynamo.exc.TorchDynamoException as e:
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ModelError(f"torch.compile failed ({type(e).__name__}: {first}); score without --compile") from None


def _compiled(module):
    """torch.compile(module) for dynamic shapes; on CPU inductor needs a C++ compiler, so say so up front."""
    import shutil

    on_cpu = next(module.parameters()).device.type == "cpu"
    if on_cpu and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        raise ModelError("--compile needs a C++ compiler on PATH for torch.compile on CPU (g++ or clang++); "
                         "install one or score without --compile")
    return torch.compile(module, dynamic=True)


_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")


def _answer_head(model, answer) -> tuple:
    """(decoder, (LM head, answer rows)) or (None, None) to use the full model."""
    base = unwrap_causal_lm(model)
    cfg = getattr(base, "config", None)
    if cfg is None or any(getattr(cfg, k, None) not in (None, 1, 1.0) for k in _LOGIT_TRANSFORMS):
        return None, None
    decoder = getattr(base, "base_model", None)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    if decoder is None or decoder is base or not isinstance(head, torch.nn.Linear):
        return None, None
    return decoder, (head, [answer.yes, answer.no])


def reference_scores(model, tokenizer, samples: Sequence[Sample], cutoff: int = DEFAULT_CUTOFF,
                     template: Template | ChatTemplate | None = None) -> np.ndarray:
    """Plain full forward pass, one sample at a time, full logits: the yardstick the fast path is
    tested against."""
    ans = answer_token_ids(tokenizer, template)
    out = []
    with torch.inference_mode():
        for s in samples:
            ids = torch.tensor([encode_prompt(tokenizer, s, cutoff, template)], device=next(model.parameters()).device)
            logits = model(input_ids=ids).logits[0, -1]
            out.append(torch.softmax(logits[[ans.yes, ans.no]].float(), -1)[0].item())
    return np.array(out)


def shard_ids(scorer: Scorer, prompts: list[list[int]], desc: str = "validating") -> np.ndarray:
    """Score encoded prompts split across torch.distributed ranks (if initialized), gathered on all."""
    from ..core.distributed import shard_and_gather

    return np.asarray(shard_and_gather(prompts, lambda mine, _: scorer.score_ids(mine, desc=desc).tolist()),
                      dtype=np.float64)
