"""The architecture matrix (issue 43): tiny random-weight models of each family tallrec is meant to
run, built from their config classes with the real SmolLM2 tokenizer, through every path: 2 training
steps, the scorer, the shared-prefix ranking engine and the listwise scorer. Every fast path must equal
a plain reference (one unpadded sequence at a time, the model's own head) to 1e-4 in fp32; a family a
fast path cannot take falls back and says so once. The table in docs/training.md is this file's."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers import synthetic

pytestmark = pytest.mark.integration

TINY = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=2048)
WINDOW = 16  # shorter than every prompt, so the sliding window matters
# family -> (config class, model class, extra config, the packed path falls back)
FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", {}, False),
    "smollm2": ("LlamaConfig", "LlamaForCausalLM", {"tie_word_embeddings": True, "rope_theta": 100000.0}, False),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", {}, False),
    "mistral": ("MistralConfig", "MistralForCausalLM", {"sliding_window": WINDOW}, True),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", {"head_dim": 8, "sliding_window": WINDOW,
                                                     "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
                                                     "query_pre_attn_scalar": 8}, True),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", {"head_dim": 8, "sliding_window": WINDOW,
                                                         "query_pre_attn_scalar": 8}, True),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", {}, False),
}
TOL = 1e-4


@pytest.fixture(scope="module")
def families(tmp_path_factory, tiny_model_dir):
    """family -> a saved tiny model folder (built on first use)."""
    import transformers
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    built = {}

    def build(family: str):
        if family not in built:
            cfg_name, model_name, extra, _ = FAMILIES[family]
            ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
                   "pad_token_id": tok.eos_token_id}
            cfg = getattr(transformers, cfg_name)(vocab_size=len(tok), **TINY, **ids, **extra)
            torch.manual_seed(0)
            model = getattr(transformers, model_name)(cfg)
            folder = tmp_path_factory.mktemp(family)
            model.save_pretrained(folder)
            tok.save_pretrained(folder)
            built[family] = folder
        return built[family]

    return build


def loaded(folder):
    from tallrec.llm.models import load_model

    return load_model(str(folder), "fp32", "cpu")


def fallback_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "falls back" in r.getMessage()]


@pytest.mark.parametrize("family", FAMILIES)
def test_scorer_equals_reference(family, families, caplog):
    """Length-bucketed padded batches over the cached shared prefix, Yes/No rows of the head only."""
    from tallrec.llm.scoring import ScoreOptions, Scorer, reference_scores

    lm = loaded(families(family))
    samples = synthetic(6, seed=3, history=4)
    fast = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=4, progress=False)).score(samples)
    ref = reference_scores(lm.model, lm.tokenizer, samples)
    assert np.abs(fast - ref).max() < TOL, (family, fast, ref)


@pytest.mark.parametrize("family", FAMILIES)
def test_prefix_engine_equals_reference(family, families, caplog):
    """The ranking engine: packed suffixes after one prefix, or the padded fallback (logged once)."""
    from tallrec.llm.scoring import reference_scores
    from tallrec.recommend.prefix_engine import PrefixEngine

    lm = loaded(families(family))
    user = synthetic(1, seed=4, history=4)[0]
    titles = [s.target for s in synthetic(7, seed=5)]
    engine = PrefixEngine(lm.model, lm.tokenizer, batch_size=4)
    with caplog.at_level(logging.WARNING, logger="tallrec"):
        fast = engine.score(user, titles)
        engine.score(user, titles)
    ref = reference_scores(lm.model, lm.tokenizer, [replace(user, target=t) for t in titles])
    assert np.abs(fast - ref).max() < TOL, (family, fast, ref)
    assert len(fallback_lines(caplog)) == (1 if FAMILIES[family][3] else 0), fallback_lines(caplog)


@pytest.mark.parametrize("family", FAMILIES)
def test_listwise_equals_reference(family, families):
    """The listwise rerank's letter log-probabilities against the full logits of a plain pass."""
    from tallrec.recommend.listwise import ListwiseScorer

    lm = loaded(families(family))
    scorer = ListwiseScorer(lm)
    titles = [s.target for s in synthetic(5, seed=6)]
    fast = np.array(scorer.log_probs(["A (1990)"], ["B (1991)"], titles))
    with torch.no_grad():
        ids = torch.tensor([scorer.prompt_ids(["A (1990)"], ["B (1991)"], titles)])
        logits = lm.model(input_ids=ids).logits[0, -1]
    ref = torch.log_softmax(logits[scorer.letter_ids[:len(titles)]].float(), -1).numpy()
    assert np.abs(fast - ref).max() < TOL


@pytest.mark.parametrize("family", FAMILIES)
def test_two_training_steps_then_scoring(family, families, tmp_path):
    """rec_tune for 2 optimizer steps with the default LoRA targets (Phi-3: its fused qkv_proj), then
    the saved adapter scores through the fast scorer as through the reference."""
    from tallrec.core.config import load_config
    from tallrec.llm.adapters import with_adapter
    from tallrec.llm.scoring import ScoreOptions, Scorer, reference_scores
    from tallrec.tuning.adapters import lora_b_norm
    from tallrec.tuning.config import TrainConfig
    from tallrec.tuning.rec_tune import rec_tune

    folder = families(family)
    cfg = load_config(TrainConfig, None, dict(model=str(folder), shots=4, batch_size=2, micro_batch_size=2, epochs=1, augment=0,
                                              eval_every=1, patience=5, valid_size=6, lr=5e-3, precision="fp32",
                                              cutoff=128))
    res = rec_tune(cfg, synthetic(20, seed=0, history=3), synthetic(12, seed=1, history=3), tmp_path / "run",
                   progress=False, log=lambda *a: None)
    assert res.steps == 2 and lora_b_norm(res.adapter) > 0
    tuned = with_adapter(loaded(folder), res.adapter)
    samples = synthetic(4, seed=7, history=3)
    fast = Scorer(tuned.model, tuned.tokenizer, ScoreOptions(progress=False)).score(samples)
    assert np.abs(fast - reference_scores(tuned.model, tuned.tokenizer, samples)).max() < TOL
