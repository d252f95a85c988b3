"""tallrec.Recommender: score, rank, batched forms, evaluate, loading from a run folder, one-line refusals."""

from __future__ import annotations

from dataclasses import replace

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


USER = tallrec.User(liked=LIKED, disliked=DISLIKED)


@pytest.fixture(scope="module")
def rec(tiny_model_dir):
    return tallrec.load(model=str(tiny_model_dir), precision="fp32", device="cpu")


def _samples(titles, liked=LIKED, disliked=DISLIKED):
    hist = tuple((t, True) for t in liked) + tuple((t, False) for t in disliked)
    return [Sample(hist, t) for t in titles]


def test_score_equals_the_single_sample_scorer(rec):
    got = rec.score(USER, CANDIDATES)
    want = reference_scores(rec.lm.model, rec.lm.tokenizer, _samples(CANDIDATES))
    assert isinstance(got, list) and len(got) == len(CANDIDATES)
    assert np.abs(np.array(got) - want).max() < 1e-4


def test_rank_is_the_sorted_scores_and_keeps_records(rec):
    cands = [tallrec.Item(id=i, title=t) for i, t in enumerate(CANDIDATES)]
    scores = rec.score(USER, cands)
    top = rec.rank(USER, cands, k=5)
    assert len(top) == 5
    assert [r.p_yes for r in top] == sorted(scores, reverse=True)[:5]
    assert all(r.item == cands[r.index] and r.item.id == r.index and r.p_yes == scores[r.index] for r in top)
    assert top[0].model_dump() == {"item": {"title": cands[top[0].index].title, "id": top[0].index},
                                   "p_yes": top[0].p_yes, "index": top[0].index}  # the HTTP shape
    assert len(rec.rank(USER, cands, k=None)) == len(cands)
    # A plain dict is a user too, and a dict is an item.
    assert rec.score({"liked": LIKED, "disliked": DISLIKED}, [{"title": CANDIDATES[0]}]) == scores[:1]


def test_batched_forms_match_the_single_user_ones(rec):
    other = tallrec.User(id="b", disliked=LIKED)
    requests = [(USER, CANDIDATES[:6]), (other, CANDIDATES[6:])]
    many = rec.score_many(requests)
    assert many[0] == pytest.approx(rec.score(USER, CANDIDATES[:6]), abs=1e-6)
    assert many[1] == pytest.approx(rec.score(other, CANDIDATES[6:]), abs=1e-6)
    ranked = rec.rank_many(requests, k=2)
    assert [len(r) for r in ranked] == [2, 2] and ranked[1][0].p_yes == max(many[1])


@pytest.mark.parametrize("candidates,message", [
    ([], "no candidates"),
    (["A", "B", "A"], "duplicate candidate 'A'"),
    ([{"id": 1, "title": "A"}, {"id": 1, "title": "B"}], "duplicate candidate 1"),
    (["A", "  "], "empty title"),
    (["A", {"title": "B", "genre": "x"}], "unknown field 'candidates.1.genre'"),
    (["A", {"id": 3}], "missing field 'candidates.1.title'"),
    (["A", 7], 'an item is a title or {"title", "id"}'),
    (["A\nB"], "line break"),
    ("A", "must be a list"),
])
def test_bad_candidates_are_one_line_errors(rec, candidates, message):
    with pytest.raises(DataError) as e:
        rec.score(USER, candidates)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_user_in_a_batch_is_refused_before_any_scoring(rec, monkeypatch):
    calls = []
    monkeypatch.setattr(rec.engine, "score", lambda *a: calls.append(a))
    with pytest.raises(DataError, match="request 1: user: unknown field 'rating'"):
        rec.score_many([({"liked": []}, ["A"]), ({"liked": [], "rating": 5}, ["A"])])
    with pytest.raises(DataError, match="request 0: user: liked: item 0: empty title"):
        rec.score_many([({"liked": [""]}, ["A"])])
    with pytest.raises(ValueError, match="empty title"):  # pydantic's own check on the type
        tallrec.User(liked=[""])
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
    save_adapter(model, run / "adapter", lm, {"config": {"model": str(tiny_model_dir), "cutoff": cutoff,
                                                          "prompt": prompt}, "domain": "book"})
    return run


def test_load_a_run_folder_takes_its_prompt_style_cutoff_and_base(tmp_path, tiny_model_dir):
    from tallrec.llm.adapters import with_adapter
    from tallrec.llm.encoding import lm_template
    from tallrec.llm.models import load_model

    run = _run_folder(tmp_path, tiny_model_dir)
    rec = tallrec.Recommender.load(run, precision="fp32", device="cpu")
    assert rec.cutoff == 150 and rec.lm.prompt == "stats" and rec.lm.name == str(tiny_model_dir)
    assert rec.domain == "book" and rec.quote_history  # recorded beside the adapter; quoting: the default
    tuned = with_adapter(load_model(str(tiny_model_dir), precision="fp32", device="cpu"), run / "adapter")
    titles = CANDIDATES[:4] + LONG[:1]
    samples = [replace(s, domain="book") for s in _samples(titles)]
    want = reference_scores(tuned.model, tuned.tokenizer, samples, cutoff=150, template=lm_template(tuned))
    assert np.abs(np.array(rec.score(USER, titles)) - want).max() < 1e-4
    untuned = tallrec.load(model=str(tiny_model_dir), precision="fp32", device="cpu")
    assert np.abs(np.array(untuned.score(USER, titles)) - want).max() > 1e-3  # the adapter matters
    # The adapter folder itself loads the same way.
    again = tallrec.load(run / "adapter", precision="fp32", device="cpu")
    assert again.cutoff == 150 and again.domain == "book"


def test_load_refuses_a_folder_that_is_no_run(tmp_path):
    with pytest.raises(ModelError, match="no such run or adapter folder"):
        tallrec.Recommender.load(tmp_path / "missing")
    with pytest.raises(ModelError, match="not a run folder"):
        tallrec.Recommender.load(tmp_path)


def test_evaluate_is_the_common_metrics_record_in_the_adapters_prompt_style(tmp_path, tiny_model_dir):
    from tallrec.llm.encoding import lm_template

    run = _run_folder(tmp_path, tiny_model_dir)
    rec = tallrec.load(run, precision="fp32", device="cpu")
    samples = [replace(s, label=i % 2 == 0) for i, s in enumerate(_samples(CANDIDATES[:6]))]
    got = rec.evaluate(samples, data="tiny")
    want = reference_scores(rec.lm.model, rec.lm.tokenizer, samples, cutoff=150, template=lm_template(rec.lm))
    from tallrec.core.metrics import auc

    assert got["prompt"] == "stats" and got["n"] == len(samples) and got["data"] == "tiny"
    assert got["auc"] == pytest.approx(auc([s.label for s in samples], want), abs=1e-6)


def test_a_calibrated_adapter_serves_calibrated_probabilities_in_the_same_order(tmp_path, tiny_model_dir):
    from tallrec.llm.calibration import Calibration, save_calibration

    run = _run_folder(tmp_path, tiny_model_dir)
    raw = tallrec.load(run, precision="fp32", device="cpu")
    titles = CANDIDATES[:6]
    before = raw.score(USER, titles)
    cal = Calibration("temperature", {"temperature": 3.0})
    save_calibration(run / "adapter", cal)
    rec = tallrec.load(run, precision="fp32", device="cpu")
    after = rec.score(USER, titles)
    assert after == pytest.approx(list(cal.apply(before)), abs=1e-9) and after != pytest.approx(before, abs=1e-3)
    assert [r.index for r in rec.rank(USER, titles, k=None)] == [r.index for r in raw.rank(USER, titles, k=None)]
    assert rec.score_many([(USER, titles)])[0] == pytest.approx(after, abs=1e-9)
