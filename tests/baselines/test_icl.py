import numpy as np
import pytest
from helpers import synthetic

from tallrec.baselines.icl import demo_text, demonstrations, icl_scores, run_icl
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions, Scorer


@pytest.fixture(scope="module")
def lm(tiny_model_dir):
    return load_model(str(tiny_model_dir), precision="fp32", device="cpu")


def test_zero_shot_equals_the_plain_scorer(lm):
    test = synthetic(6, seed=7)
    opts = ScoreOptions(progress=False)
    assert np.allclose(icl_scores(lm, test, [], opts), Scorer(lm.model, lm.tokenizer, opts).score(test), atol=1e-6)


def test_demonstrations_are_balanced_deterministic_and_complete_blocks(lm, tmp_path):
    pool = synthetic(30, seed=0)
    d = demonstrations(pool, 2, seed=3)
    assert d == demonstrations(pool, 2, seed=3) and {s.label for s in d} == {True, False}
    text = demo_text(d)
    assert text.count("### Response:\n") == 2 and text.count("Yes.") >= 1
    rec = run_icl(lm, pool, synthetic(12, seed=2), k=2, seed=3, out=tmp_path, data="synthetic",
                  options=ScoreOptions(progress=False, cutoff=2048))
    assert rec["k"] == 2 and rec["n"] == 12 and (tmp_path / "metrics.json").exists()


def test_k_shot_fast_path_matches_plain_forward(lm):
    import torch

    demos = demonstrations(synthetic(20, seed=0), 2, seed=1)
    test = synthetic(5, seed=9)
    fast = icl_scores(lm, test, demos, ScoreOptions(batch_size=2, progress=False, cutoff=2048))
    from tallrec.llm.encoding import encode_prompt
    from tallrec.prompts.templates import answer_token_ids

    ans = answer_token_ids(lm.tokenizer)
    ref = []
    with torch.no_grad():
        for s in test:
            ids = torch.tensor([encode_prompt(lm.tokenizer, s, 2048, prefix=demo_text(demos))])
            logits = lm.model(input_ids=ids).logits[0, -1]
            ref.append(torch.softmax(logits[[ans.yes, ans.no]], -1)[0].item())
    assert np.abs(fast - np.array(ref)).max() < 1e-3


def test_icl_command(run_cli, tmp_path, tiny_model_dir):
    from tallrec.data import save_samples

    save_samples(tmp_path / "pool.json", synthetic(20, seed=0))
    save_samples(tmp_path / "test.json", synthetic(12, seed=2))
    code, out, err = run_cli("paper", "icl", "--train", tmp_path / "pool.json", "--test", tmp_path / "test.json",
                             "--out", tmp_path / "icl", "--k", 2, "--model", tiny_model_dir, "--precision", "fp32")
    assert code == 0, err
    assert "in-context k=2: AUC" in out and (tmp_path / "icl" / "metrics.json").exists()
    code, _, err = run_cli("paper", "icl", "--train", tmp_path / "pool.json", "--test", tmp_path / "test.json",
                           "--out", tmp_path / "icl", "--k", -1)
    assert code == 1 and "Invalid value for '--k'" in err
