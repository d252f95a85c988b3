"""Next-token cross-entropy without the vocabulary-wide logits tensor.

A plain causal-LM loss builds a [batch, length, vocab] logits tensor, copies it to fp32, takes a
log-softmax, and in the backward pass fills and reads a gradient of the same size. With a 49k
vocabulary and a 576-wide model, that costs about as much as the decoder itself on a CPU. Here the
LM head runs on the labelled positions only, a few hundred rows at a time: each chunk's logits,
loss and gradient are made and dropped while they are still in cache. The gradient with respect to
the hidden states is computed in the forward pass (the loss is a sum, so the backward pass only
scales it). The result equals the model's own loss up to float rounding (tested).
"""

from __future__ import annotations

import torch

from ..llm.models import unwrap_causal_lm
from .examples import IGNORE

CHUNK_ELEMENTS = 1 << 23  # fp32 logits per chunk: 32 MiB (170 rows of a 49k vocabulary)


class _HeadCrossEntropySum(torch.autograd.Function):
    """sum_i w_i CE(hidden_i @ weight.T, target_i), with d/d hidden computed chunk by chunk up front."""

    @staticmethod
    def forward(ctx, hidden, weight, target, row_weight):
        rows = max(1, CHUNK_ELEMENTS // weight.shape[0])
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        for start in range(0, hidden.shape[0], rows):
            y = target[start:start + rows]
            w = row_weight[start:start + rows]
            logits = torch.nn.functional.linear(hidden[start:start + rows], weight)  # as the model's head
            logp = torch.log_softmax(logits.float(), dim=-1)
            total -= (logp.gather(1, y[:, None]).squeeze(1) * w).sum()
            if grad is not None:
                prob = logp.exp_()
                prob[torch.arange(len(y), device=y.device), y] -= 1.0
                grad[start:start + rows] = (prob * w[:, None]).to(weight.dtype) @ weight
        ctx.save_for_backward(grad)
        return total

    @staticmethod
    def backward(ctx, grad_out):
        (grad,) = ctx.saved_tensors
        if grad.dtype == torch.float16:  # fp16 loss scaling starts at 2**16, which fp16 rounds to inf
            return (grad.float() * grad_out.float()).half(), None, None, None
        return grad * grad_out.to(grad.dtype), None, None, None


def head_cross_entropy_sum(hidden: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(summed next-token loss, number of predicted tokens) from final hidden states [B, T, H] and
    unshifted labels [B, T] (-100 = no loss), as a causal LM's own loss computes it."""
    target = labels[:, 1:].to(hidden.device)
    keep = target != IGNORE
    return _weighted_sum(hidden[:, :-1][keep], target[keep], weight, None), int(keep.sum())


def _weighted_sum(hidden, target, weight, row_weight):
    if weight.requires_grad:
        raise ValueError("the chunked head loss does not train the LM head; use the model's own loss")
    if row_weight is None:
        row_weight = torch.ones(len(target), dtype=torch.float32, device=hidden.device)
    return _HeadCrossEntropySum.apply(hidden, weight, target, row_weight)


def shared_prefix_length(input_ids: torch.Tensor, labels: torch.Tensor, minimum: int = 8) -> int:
    """Columns at the start that every row has in common, ids and labels alike, leaving at least one
    column after them; 0 when fewer than `minimum` or for a single row."""
    if input_ids.shape[0] < 2 or input_ids.shape[1] < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(0) & (labels == labels[:1]).all(0)
    differ = torch.nonzero(~same[: input_ids.shape[1] - 1])
    n = int(differ[0, 0]) if differ.numel() else input_ids.shape[1] - 1
    return n if n >= minimum else 0


def plain_head(lm: torch.nn.Module) -> torch.nn.Linear | None:
    """The LM head when it is a frozen bias-free linear layer (the only case this loss handles)."""
    head = lm.get_output_embeddings() if hasattr(lm, "get_output_embeddings") else None
    if not isinstance(head, torch.nn.Linear) or head.bias is not None or head.weight.requires_grad:
        return None
    if not hasattr(lm, "get_decoder"):
        return None
    return head


class TokenLoss:
    """The training loss of a causal LM, summed over labelled tokens, without vocabulary-wide logits.

    - The decoder's final hidden states are caught with a forward hook and fed to the chunked head
      loss; the model itself computes no logits (an empty `logits_to_keep`). The first call checks
      that the head applied to the caught states reproduces the model's own last-position logit;
      a model that post-processes its logits (soft-capping, scaling) fails the check, and every
      call then uses the model's own logits instead.
    - Shared prefix: every rec-tuning prompt starts with the same ~70 tokens (Alpaca header,
      instruction, "User Preference: "). The columns that all rows of a batch share run once, as a batch of one, and the rest of each row attends to that run's key/value
      cache, through which gradients flow back. The loss of the shared positions is counted once
      per row. The math is the same as running every row in full. One thing differs: the LoRA
      dropout mask on the shared positions is the same for every row of the batch, where a full run
      draws one per row.
    """

    def __init__(self, share_prefix: bool = True):
        self.fused: bool | None = None  # None until the first batch has been checked
        self.share_prefix = share_prefix
        self.shared_columns = 0  # of the last batch (0: every row ran in full)

    def __call__(self, model: torch.nn.Module, inputs: dict) -> tuple[torch.Tensor, int, object]:
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        lm = unwrap_causal_lm(model)
        head = plain_head(lm) if self.fused is not False else None
        if head is None:
            self.fused = False
            return self._plain(model, inputs, labels)
        plen = shared_prefix_length(inputs["input_ids"], labels) if self.share_prefix and set(inputs) == {"input_ids"} else 0
        self.shared_columns = plen
        check = self.fused is None
        if plen:
            result = self._shared(lm, model, inputs["input_ids"], labels, plen, head, check)
        else:
            hidden, outputs = _hidden(lm, model, inputs, keep=1 if check else None)
            result = None if check and not self._head_matches(hidden, head, outputs.logits) else \
                (*head_cross_entropy_sum(hidden, labels, head.weight), outputs)
        self.fused = result is not None
        return result if result is not None else self._plain(model, inputs, labels)

    @staticmethod
    def _shared(lm, model, ids, labels, plen, head, check):
        from ..llm.models import cache_argument

        rows, width = ids.shape
        # The prefix runs on the causal LM itself, outside any DDP wrapper: DDP expects one forward
        # per backward, and the suffix call below is that one.
        first, out = _hidden(lm, lm, {"input_ids": ids[:1, :plen]}, keep=1 if check else None, use_cache=True)
        if check and not TokenLoss._head_matches(first, head, out.logits):
            return None
        cache = getattr(out, "cache", None) or out.past_key_values
        cache.batch_repeat_interleave(rows)
        pos = torch.arange(plen, width, device=ids.device).expand(rows, -1)
        rest, outputs = _hidden(lm, model, {"input_ids": ids[:, plen:], "position_ids": pos,
                                            cache_argument(lm): cache}, use_cache=True)
        target = labels.to(first.device)
        # Positions 0..plen-2 predict the shared columns 1..plen-1: once, weighted by the row count.
        shared_y = target[0, 1:plen]
        keep = shared_y != IGNORE
        # Positions plen-1..width-2 predict each row's own columns plen..width-1.
        own = torch.cat([first[:, plen - 1:].expand(rows, -1, -1), rest[:, :-1]], dim=1)
        own_y = target[:, plen:]
        own_keep = own_y != IGNORE
        hidden = torch.cat([first[0, : plen - 1][keep], own[own_keep]])
        y = torch.cat([shared_y[keep], own_y[own_keep]])
        w = torch.cat([torch.full((int(keep.sum()),), float(rows), device=first.device),
                       torch.ones(int(own_keep.sum()), device=first.device)])
        loss = _weighted_sum(hidden, y, head.weight, w)
        return loss, rows * int(keep.sum()) + int(own_keep.sum()), outputs

    @staticmethod
    def _head_matches(hidden, head, logits) -> bool:
        if hidden is None:
            return False
        with torch.no_grad():
            mine = torch.nn.functional.linear(hidden[:, -1:], head.weight).float()
            theirs = logits[:, -1:].float()
            return mine.shape == theirs.shape and torch.allclose(mine, theirs, rtol=1e-3, atol=1e-3)

    @staticmethod
    def _plain(model, inputs, labels):
        outputs = model(**inputs, use_cache=False)
        logits = outputs.logits[:, :-1].float()
        target = labels[:, 1:].to(logits.device)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                 ignore_index=IGNORE, reduction="sum")
        return loss, int((target != IGNORE).sum()), outputs


def _hidden(lm, call, inputs: dict, keep=None, use_cache: bool = False):
    """(final hidden states of lm's decoder, output) of call(**inputs); no logits unless keep says so.

    An empty index list as `logits_to_keep` skips the head; the model's own head on a [B, 1, H]
    slice would even copy the whole weight matrix per call on a CPU."""
    caught = {}

    def catch(_module, _args, output):
        caught["hidden"] = output[0] if isinstance(output, tuple) else output.last_hidden_state

    if keep is None:
        keep = torch.empty(0, dtype=torch.long, device=inputs["input_ids"].device)
    handle = lm.get_decoder().register_forward_hook(catch)
    try:
        outputs = call(**inputs, logits_to_keep=keep, use_cache=use_cache)
    finally:
        handle.remove()
    return caught.get("hidden"), outputs
