"""Attention for packed suffixes that skips the masked square (used by llm/packing.py).

A packed row holds many short suffixes after one cached prefix. With a 4D mask, attention is
computed over the whole (T, prefix + T) rectangle and most of the T x T part is then masked away:
the cost grows with the square of the packed length, so packs had to stay short, which in turn
keeps the linear layers' matrices thin. This attention computes the two parts that are not masked:

* every suffix token against the prefix: one dense (T, prefix) product;
* every suffix token against the earlier tokens of its own suffix: the suffixes gathered into a
  padded (suffixes, longest) block, causal inside each block;

and merges the two softmax parts by their log-sum-exp (the split softmax of flash attention), so
the result equals full attention with the packed mask. On a CPU the prefix part runs in torch's
fused flash-attention kernel, which returns the log-sum-exp with the output. Work is T x prefix + sum of suffix length
squared instead of T x (prefix + T), so a pack can hold all of a user's candidates.

Registered with transformers' AttentionInterface under `NAME`; the scorer switches a model to it
for a packed batch and passes the layout as the `tallrec_pack` keyword, which transformers hands to
the attention function of every layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NAME = "tallrec_packed"


@dataclass(frozen=True)
class PackLayout:
    """Where each suffix lies in the packed row: `index` (suffixes, longest) token positions
    (padding points at position 0), `valid` the same shape, True on real tokens, and `flat`, for
    each packed token, its place in the flattened (suffixes x longest) block."""

    index: torch.Tensor
    valid: torch.Tensor
    flat: torch.Tensor

    @classmethod
    def of(cls, lengths: list[int], device) -> PackLayout:
        longest, n = max(lengths), len(lengths)
        lens = torch.tensor(lengths)
        starts = torch.cumsum(lens, 0) - lens
        offs = torch.arange(longest)
        valid = offs[None, :] < lens[:, None]
        index = torch.where(valid, starts[:, None] + offs[None, :], torch.zeros((), dtype=torch.long))
        flat = (torch.arange(n)[:, None] * longest + offs[None, :])[valid]
        return cls(index.to(device), valid.to(device), flat.to(device))


FUSED_ON_CPU = True  # the prefix part in the flash kernel on CPU tensors (tests also check the plain path)


def _attend(q, k, v, scaling: float, mask=None):
    """Softmax attention with its log-sum-exp: (output (..., L, d) in fp32, lse (..., L)); `mask`
    (True = may attend) broadcasts over the scores. Without a mask, on a CPU, torch's fused flash
    kernel, which returns both."""
    if mask is None and FUSED_ON_CPU and q.device.type == "cpu":
        o, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, False, scale=scaling)
        return o.float(), lse
    s = (q @ k.transpose(-1, -2)).float() * scaling
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    lse = torch.logsumexp(s, -1)
    return (torch.exp(s - lse[..., None]).to(v.dtype) @ v).float(), lse


def packed_attention(module, query, key, value, attention_mask, scaling: float, dropout: float = 0.0,
                     tallrec_pack: PackLayout | None = None, **kwargs):
    """(attn_output (1, T, heads, dim), None) for one packed row; query (1, H, T, d), key and value
    (1, H_kv, prefix + T, d) with the prefix cache in front."""
    if tallrec_pack is None or query.shape[0] != 1:
        raise RuntimeError(f"{NAME} attention runs only on a packed row with its layout (tallrec_pack)")
    _, heads, t, d = query.shape
    kv_heads = key.shape[1]
    g = heads // kv_heads  # query heads per key/value head (grouped-query attention)
    plen = key.shape[2] - t
    k, v = key[0], value[0]
    lay = tallrec_pack
    # Every token against the prefix. With no mask, the g query heads of one key/value head are
    # one attention problem of g * T rows: (1, kv_heads, g * T, d), no copies of the keys.
    q = query[0].reshape(kv_heads, g * t, d)
    o_p, lse_p = _attend(q[None], k[None, :, :plen], v[None, :, :plen], scaling)
    o_p, lse_p = o_p[0], lse_p[0]
    # Every suffix against its own earlier tokens, gathered into (kv_heads, g, suffixes, L, d)
    # blocks, causal, padding masked.
    n, longest = lay.index.shape
    allowed = torch.ones(longest, longest, dtype=torch.bool, device=q.device).tril()[None] & lay.valid[:, None, :]
    o_s, lse_s = _attend(q.reshape(kv_heads, g, t, d)[:, :, lay.index], k[:, plen:][:, lay.index][:, None],
                         v[:, plen:][:, lay.index][:, None], scaling, allowed)
    o_s = o_s.reshape(kv_heads, g, n * longest, d)[:, :, lay.flat].reshape(kv_heads, g * t, d)  # packed order
    lse_s = lse_s.reshape(kv_heads, g, n * longest)[:, :, lay.flat].reshape(kv_heads, g * t)
    lse = torch.logaddexp(lse_p, lse_s)
    out = o_p * torch.exp(lse_p - lse)[..., None] + o_s * torch.exp(lse_s - lse)[..., None]
    return out.reshape(heads, t, d).transpose(0, 1)[None].to(query.dtype).contiguous(), None


def unsupported(config, tokens: int) -> str | None:
    """Why this attention would not equal the model's own for a packed row of `tokens` (prefix +
    longest suffix), or None. It has no logit soft-capping (Gemma 2) and no sliding window: a window
    (Mistral, Gemma 2/3) changes nothing only while every distance stays inside it."""
    cap = getattr(config, "attn_logit_softcapping", None)
    if cap not in (None, 0, 0.0):
        return f"{config.model_type}: attention logit soft-capping ({cap})"
    window = sliding_window(config, tokens)
    if window:
        return f"{config.model_type}: a sliding window of {window} tokens, shorter than the {tokens} packed"
    return None


def sliding_window(config, tokens: int) -> int | None:
    """The model's attention window when `tokens` exceed it (Mistral, Gemma 2/3), else None."""
    window = getattr(config, "sliding_window", None)
    if window and getattr(config, "use_sliding_window", True) is not False and tokens > window:
        return int(window)
    return None


def register() -> str:
    """Register `packed_attention` with transformers (idempotent); returns its name."""
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, packed_attention)
    return NAME
