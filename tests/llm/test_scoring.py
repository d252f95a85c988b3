import numpy as np
import pytest
import torch
from helpers import synthetic
from transformers import AutoTokenizer

from tallrec.data import Sample
from tallrec.llm.encoding import common_prefix, encode_prompt
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions, Scorer, reference_scores


@pytest.fixture(scope="module")
def tiny_fp32(tiny_model_dir):
    return load_model(str(tiny_model_dir), precision="fp32", device="cpu")


@pytest.mark.parametrize("prefix_cache", [False, True])
@pytest.mark.parametrize("batch_size", [1, 5])
def test_fast_path_matches_plain_forward_fp32(tiny_fp32, prefix_cache, batch_size):
    samples = synthetic(13, seed=1)
    ref = reference_scores(tiny_fp32.model, tiny_fp32.tokenizer, samples)
    fast = Scorer(tiny_fp32.model, tiny_fp32.tokenizer,
                  ScoreOptions(batch_size=batch_size, prefix_cache=prefix_cache, progress=False)).score(samples)
    assert np.abs(fast - ref).max() < 1e-3
    assert ((fast > 0) & (fast < 1)).all()


@pytest.mark.integration  # inductor builds C++ kernels with the system compiler (~2 min)
@pytest.mark.compile
def test_compiled_path_matches_plain_forward_fp32(tiny_fp32):
    """`--compile` (torch.compile, inductor) scores what the plain forward pass scores."""
    samples = synthetic(11, seed=5)
    ref = reference_scores(tiny_fp32.model, tiny_fp32.tokenizer, samples)
    scorer = Scorer(tiny_fp32.model, tiny_fp32.tokenizer, ScoreOptions(batch_size=4, compile=True, progress=False))
    assert scorer._call is not scorer._decoder  # the compiled module is what runs
    fast = scorer.score(samples)
    assert np.abs(fast - ref).max() < 1e-3


def test_compile_failure_is_one_clear_error():
    from tallrec.core.errors import ModelError
    from tallrec.llm.scoring import _run

    def broken(**kwargs):
        raise torch._dynamo.exc.TorchDynamoException("C++ compile error\n...a page of inductor output...")

    with pytest.raises(ModelError, match=r"torch.compile failed \(TorchDynamoException: C\+\+ compile error\); "
                                         r"score without --compile"):
        _run(broken, {})


def test_fast_path_matches_plain_forward_bf16(tiny_model_dir):
    lm = load_model(str(tiny_model_dir), precision="bf16", device="cpu")
    samples = synthetic(9, seed=2)
    ref = reference_scores(lm.model, lm.tokenizer, samples)
    fast = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=4, progress=False)).score(samples)
    assert np.abs(fast - ref).max() < 2e-2


def test_scores_keep_input_order(tiny_fp32):
    samples = synthetic(8, seed=3)
    sc = Scorer(tiny_fp32.model, tiny_fp32.tokenizer, ScoreOptions(batch_size=3, progress=False))
    full = sc.score(samples)
    rev = sc.score(samples[::-1])
    assert np.allclose(full, rev[::-1], atol=1e-5)


def test_truncation_drops_oldest_history_never_the_question(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    s = Sample(tuple((f"Long title number {i} " * 5, i % 2 == 0) for i in range(10)), "The Target (1999)", True)
    ids = encode_prompt(tok, s, cutoff=160)
    text = tok.decode(ids)
    assert len(ids) <= 159
    assert text.endswith('Whether the user will like the target movie "The Target (1999)"?\n\n### Response:\n')
    assert "number 9" in text and "number 0 " not in text


def test_common_prefix():
    assert common_prefix([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix([[5], [6]]) == 0
