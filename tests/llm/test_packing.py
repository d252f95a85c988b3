import pytest
import torch

from tallrec.llm.packing import pack_batches, packed_inputs


def test_pack_batches_respects_rows_and_tokens():
    lengths = [3, 5, 2, 7, 1]
    assert pack_batches(list(range(5)), lengths, max_rows=2, max_tokens=100) == [[0, 1], [2, 3], [4]]
    assert pack_batches(list(range(5)), lengths, max_rows=10, max_tokens=8) == [[0, 1], [2], [3, 4]]
    assert pack_batches([3], lengths, max_rows=1, max_tokens=2) == [[3]]  # a long suffix alone


def packed_mask(rows, plen):
    """The reference: an additive 4D mask over the whole packed row (every suffix token sees the
    prefix and the earlier tokens of its own suffix)."""
    lens = torch.tensor([len(r) for r in rows])
    seg = torch.repeat_interleave(torch.arange(len(rows)), lens)
    offset = torch.arange(int(lens.sum())) - torch.repeat_interleave(torch.cumsum(lens, 0) - lens, lens)
    own = (seg[:, None] == seg[None, :]) & (offset[:, None] >= offset[None, :])
    allowed = torch.cat([torch.ones(len(seg), plen, dtype=torch.bool), own], dim=1)
    return torch.zeros(allowed.shape).masked_fill_(~allowed, torch.finfo(torch.float32).min)[None, None]


def test_packed_inputs_positions_and_last_tokens():
    ids, pos, last = packed_inputs([[7, 8], [9, 10, 11]], plen=4, device="cpu")
    assert ids.tolist() == [[7, 8, 9, 10, 11]]
    assert pos.tolist() == [[4, 5, 4, 5, 6]]
    assert last.tolist() == [1, 4]
    seen = (packed_mask([[7, 8], [9, 10, 11]], 4)[0, 0] == 0).int()
    assert seen[:, 4:].tolist() == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0],
                                    [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1]]


@pytest.mark.parametrize("fused", [True, False])
def test_split_attention_equals_masked_attention(fused, monkeypatch):
    """packed_attention (prefix part + own-suffix part, merged by log-sum-exp) is full attention
    under the packed 4D mask: random grouped-query tensors, suffixes of different lengths."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from tallrec.llm import packed_attention as pa
    from tallrec.llm.packed_attention import PackLayout, packed_attention

    monkeypatch.setattr(pa, "FUSED_ON_CPU", fused)
    torch.manual_seed(0)
    rows, plen, heads, kv_heads, d = [[0] * 3, [0] * 7, [0], [0] * 5], 6, 4, 2, 8
    t = sum(map(len, rows))
    q = torch.randn(1, heads, t, d)
    k, v = torch.randn(1, kv_heads, plen + t, d), torch.randn(1, kv_heads, plen + t, d)
    mask = packed_mask(rows, plen)

    class Module(torch.nn.Module):  # what sdpa_attention_forward reads off the attention layer
        num_key_value_groups, is_causal, training = heads // kv_heads, False, False

    want, _ = sdpa_attention_forward(Module(), q, k, v, mask, scaling=d ** -0.5)
    got, _ = packed_attention(Module(), q, k, v, None, scaling=d ** -0.5,
                              tallrec_pack=PackLayout.of([len(r) for r in rows], "cpu"))
    assert got.shape == want.shape == (1, t, heads, d)
    assert (got - want).abs().max() < 1e-5


def test_scorer_packed_split_attention_matches_padded_batches(tiny_model_dir, monkeypatch):
    """The scorer's packed path (split attention, which it really calls) gives the scores of plain
    padded batches, with packs cut small so several rows run."""
    import numpy as np

    from tallrec.llm import packed_attention as pa
    from tallrec.llm.models import base_attention, load_model
    from tallrec.llm.scoring import ScoreOptions, Scorer

    lm = load_model(str(tiny_model_dir), precision="fp32", device="cpu")
    calls = []
    real = pa.packed_attention
    monkeypatch.setattr(pa, "packed_attention", lambda *a, **k: calls.append(1) or real(*a, **k))
    prefix = lm.tokenizer("Given the user's preference, a shared prefix of some length")["input_ids"]
    prompts = [prefix + lm.tokenizer(f" title {'x ' * i}{i}")["input_ids"] for i in range(9)]
    before = base_attention(lm.model)
    packed = Scorer(lm.model, lm.tokenizer, ScoreOptions(pack=True, pack_tokens=12, progress=False)).score_ids(prompts)
    assert calls and base_attention(lm.model) == before  # used, then the model's own is restored
    padded = Scorer(lm.model, lm.tokenizer, ScoreOptions(progress=False)).score_ids(prompts)
    assert np.abs(packed - padded).max() < 1e-4
