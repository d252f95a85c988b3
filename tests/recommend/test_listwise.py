"""The listwise prompt (prompts/listwise.py) and scorer (recommend/listwise.py) on the tiny model:
the prompt's form, the letter-token check, and scores read at the answer position."""

from __future__ import annotations

import math

import pytest
import torch

from tallrec.core.errors import DataError, ModelError
from tallrec.prompts.listwise import listwise_record
from tallrec.prompts.templates import load_template, record_prompt
from tallrec.recommend.listwise import ListwiseScorer, letter_token_ids, listwise_scorer

CANDS = ["Casino (1995)", "Fargo (1996)", "Toy Story (1995)"]


def test_the_prompt_lists_the_history_and_lettered_candidates():
    r = listwise_record(["Heat (1995)", "Babe (1995)"], ["Jumanji (1995)"], CANDS, answer=1)
    assert r["input"] == ('User Preference: "Heat (1995)", "Babe (1995)"\nUser Unpreference: "Jumanji (1995)"\n'
                          "Candidate movies:\nA. Casino (1995)\nB. Fargo (1996)\nC. Toy Story (1995)")
    assert r["output"] == "B" and "letter" in r["instruction"] and "movie" in r["instruction"]
    assert listwise_record([], [], CANDS)["output"] == ""
    assert record_prompt(r).endswith("C. Toy Story (1995)\n\n### Response:\n")


@pytest.mark.parametrize("bad", [dict(candidates=[f"M{i}" for i in range(27)]), dict(candidates=[]),
                                 dict(candidates=["A\nB"]), dict(candidates=CANDS, answer=3)])
def test_bad_prompts_are_one_line_errors(bad):
    with pytest.raises(DataError, match="listwise prompt"):
        listwise_record(["x"], [], **bad)


def test_every_letter_is_one_token_after_the_response_header(tiny_lm):
    ids = letter_token_ids(tiny_lm.tokenizer, load_template())
    assert len(ids) == 26 and [tiny_lm.tokenizer.decode([i]) for i in ids] == list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class SplittingTokenizer:
    """Characters as ids, except that 'Q' is written as two tokens."""

    def __call__(self, text, add_special_tokens=True):
        ids = []
        for c in text:
            ids += [1000, 1001] if c == "Q" else [ord(c)]
        return {"input_ids": ids}


def test_a_letter_of_two_tokens_is_a_clear_error():
    with pytest.raises(ModelError, match="index letter 'Q' is not one token"):
        letter_token_ids(SplittingTokenizer(), load_template())
    assert len(letter_token_ids(SplittingTokenizer(), load_template(), n=16)) == 16  # A..P are fine


def test_scores_are_the_letters_log_softmax_at_the_answer_position(tiny_lm):
    scorer = ListwiseScorer(tiny_lm)
    got = scorer.log_probs(["Heat (1995)"], ["Babe (1995)"], CANDS)
    prompt = record_prompt(listwise_record(["Heat (1995)"], ["Babe (1995)"], CANDS), load_template())
    ids = tiny_lm.tokenizer(prompt)["input_ids"]
    with torch.no_grad():
        logits = tiny_lm.model(input_ids=torch.tensor([ids])).logits[0, len(ids) - 1]
    want = torch.log_softmax(logits[scorer.letter_ids[:3]], dim=-1).tolist()
    assert len(got) == 3 and got == pytest.approx(want, abs=1e-5)
    assert math.fsum(math.exp(x) for x in got) == pytest.approx(1.0)


def test_listwise_scorer_has_llm_scorers_call_shape(tiny_model_dir):
    cands = [{"id": i, "title": t} for i, t in enumerate(CANDS)]
    score, label = listwise_scorer(None, str(tiny_model_dir), "fp32")
    p = score(["Heat (1995)"], ["Babe (1995)"], cands)
    assert "listwise" in label and len(p) == 3 and sum(p) == pytest.approx(1.0) and all(0 < x < 1 for x in p)
    shuffled, _ = listwise_scorer(None, str(tiny_model_dir), "fp32", shuffle=0)
    q = shuffled(["Heat (1995)"], ["Babe (1995)"], cands)
    assert len(q) == 3 and sum(q) == pytest.approx(1.0) and q == shuffled(["Heat (1995)"], ["Babe (1995)"], cands)


def test_a_trained_adapter_loads(tiny_model_dir, tmp_path):
    from tallrec.core.config import load_config
    from tallrec.tuning.config import InstructConfig
    from tallrec.tuning.instruct import tune_instruct

    rec = listwise_record(["Heat (1995)"], [], CANDS, answer=2)
    cfg = load_config(InstructConfig, None, {"model": str(tiny_model_dir), "batch_size": 2, "micro_batch_size": 2,
                                             "epochs": 1, "precision": "fp32", "loss_on": "answer", "warmup_steps": 0})
    tune_instruct(cfg, [rec, rec], tmp_path / "run", log=lambda *_: None)
    scorer = ListwiseScorer.load(tmp_path / "run", precision="fp32")
    assert len(scorer.log_probs(["Heat (1995)"], [], CANDS)) == 3
