"""tallrec.Recommender: score, rank, batched forms, loading from a run folder, one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tallrec
from tallrec.core.errors import DataError, ModelError
from tallrec.data import Sample
from tallrec.llm.scoring import reference_scores

from .helpers import CANDIDATES, LONG

LIKED = ["Heat (1995)", "Casino (1995)", "Se7en (1995)"]
DISLIKED = ["Babe (1995)"]


@pytest.fixture(scope="module")
def rec(tiny_model_dir):
    return tallrec.Recommender.load(model=str(tiny_model_dir), precision="fp32", device="cpu")


def _samples(titles, liked=LIKED, disliked=DISLIKED):
    hist = tuple((t, True) for t in liked) + tuple((t, False) for t in disliked)
    return [Sample(hist, t) for t in titles]


def test_score_equals_the_single_sample_scorer(rec):
    got = rec.score(LIKED, DISLIKED, CANDIDATES)
    want = reference_scores(rec.lm.model, rec.lm.tokenizer, _samples(CANDIDATES))
    assert isinstance(got, list) and len(got) == len(CANDIDATES)
    assert np.abs(np.array(got) - want).max() < 1e-4


def test_rank_is_the_sorted_scores_and_keeps_records(rec):
    cands = [{"id": i, "title": t} for i, t in enumerate(CANDIDATES)]
    scores = rec.score(LIKED, DISLIKED, cands)
    top = rec.rank(LIKED, DISLIKED, cands, k=5)
    assert len(top) == 5
    assert [p for _, p in top] == sorted(scores, reverse=True)[:5]
    assert all(item is cands[item["id"]] and p == scores[item["id"]] for item, p in top)
    assert len(rec.rank(LIKED, DISLIKED, cands, k=None)) == len(cands)


def test_batched_forms_match_the_single_user_ones(rec):
    users = [{"liked": LIKED, "disliked": DISLIKED, "candidates": CANDIDATES[:6]},
             {"user": "b", "liked": [], "disliked": LIKED, "candidates": CANDIDATES[6:]}]
    many = rec.score_many(users)
    assert many[0] == pytest.approx(rec.score(LIKED, DISLIKED, CANDIDATES[:6]), abs=1e-6)
    assert many[1] == pytest.approx(rec.score([], LIKED, CANDIDATES[6:]), abs=1e-6)
    ranked = rec.rank_many(users, k=2)
    assert [len(r) for r in ranked] == [2, 2] and ranked[1][0][1] == max(many[1])


@pytest.mark.parametrize("candidates,message", [
    ([], "no candidates"),
    (["A", "B", "A"], "duplicate candidate 'A'"),
    ([{"id": 1, "title": "A"}, {"id": 1, "title": "B"}], "duplicate candidate 1"),
    (["A", "  "], "empty title"),
    (["A", {"title": "B", "genre": "x"}], "unknown field(s) 'genre'"),
    (["A", {"id": 3}], "missing field 'title'"),
    (["A", 7], "got int"),
    (["A\nB"], "line break"),
    ("A", "must be a list"),
])
def test_bad_candidates_are_one_line_errors(rec, candidates, message):
    with pytest.raises(DataError) as e:
        rec.score(LIKED, DISLIKED, candidates)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_user_in_a_batch_is_refused_before_any_scoring(rec, monkeypatch):
    calls = []
    monkeypatch.setattr(rec.engine, "score", lambda *a: calls.append(a))
    with pytest.raises(DataError, match="user 1: unknown field"):
        rec.score_many([{"liked": [], "disliked": [], "candidates": ["A"]},
                        {"liked": [], "disliked": [], "candidates": ["A"], "rating": 5}])
    with pytest.raises(DataError, match="user 0: liked\\[0\\]: empty title"):
        rec.score_many([{"liked": [""], "disliked": [], "candidates": ["A"]}])
    assert not calls


def _run_folder(tmp_path, tiny_model_dir, prompt="stats", cutoff=150):
    from peft import get_peft_model

    from tallrec.llm.models import load_model
    from tallrec.tuning.adapters import lora_config, save_adapter

    lm = load_model(str(tiny_model_dir), precision="fp32", device="cpu")
    torch.manual_seed(1)
    model = get_peft_model(lm.model, lora_config())
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.5)
    run = tmp_path / "run"
    save_adapter(model, run / "adapter", lm, prompt=prompt)
    (run / "config.yaml").write_text(f"model: {tiny_model_dir}\ncutoff: {cutoff}\nprompt: {prompt}\n")
    return run


def test_load_a_run_folder_takes_its_prompt_style_cutoff_and_base(tmp_path, tiny_model_dir):
    from tallrec.llm.adapters import with_adapter
    from tallrec.llm.encoding import lm_template
    from tallrec.llm.models import load_model

    run = _run_folder(tmp_path, tiny_model_dir)
    rec = tallrec.Recommender.load(run, precision="fp32", device="cpu")
    assert rec.engine.cutoff == 150 and rec.lm.prompt == "stats" and rec.lm.name == str(tiny_model_dir)
    tuned = with_adapter(load_model(str(tiny_model_dir), precision="fp32", device="cpu"), run / "adapter")
    titles = CANDIDATES[:4] + LONG[:1]
    want = reference_scores(tuned.model, tuned.tokenizer, _samples(titles), cutoff=150, template=lm_template(tuned))
    assert np.abs(np.array(rec.score(LIKED, DISLIKED, titles)) - want).max() < 1e-4
    untuned = tallrec.Recommender.load(model=str(tiny_model_dir), precision="fp32", device="cpu")
    assert np.abs(np.array(untuned.score(LIKED, DISLIKED, titles)) - want).max() > 1e-3  # the adapter matters
    # The adapter folder itself loads the same way (its run's config.yaml is found beside it).
    again = tallrec.Recommender.load(run / "adapter", precision="fp32", device="cpu")
    assert again.engine.cutoff == 150


def test_load_refuses_a_folder_that_is_no_run(tmp_path):
    with pytest.raises(ModelError, match="no such run or adapter folder"):
        tallrec.Recommender.load(tmp_path / "missing")
    with pytest.raises(ModelError, match="not a run folder"):
        tallrec.Recommender.load(tmp_path)
