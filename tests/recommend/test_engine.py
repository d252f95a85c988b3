"""The shared-user-prefix engine gives the single-sample scorer's scores (fp32, tiny model)."""

from __future__ import annotations

import numpy as np
import pytest

from tallrec.core.errors import DataError
from tallrec.llm.scoring import ScoreOptions, Scorer, reference_scores
from tallrec.recommend.prefix_engine import PrefixEngine, encode_user

from .helpers import BOUNDARY, CANDIDATES, LONG, SHORT, pairs, user


def _reference(lm, u, titles, cutoff):
    return reference_scores(lm.model, lm.tokenizer, pairs(u, titles), cutoff=cutoff)


@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_scores_equal_the_single_sample_scorer(tiny_lm, batch_size):
    u = user(10, seed=1)
    engine = PrefixEngine(tiny_lm.model, tiny_lm.tokenizer, batch_size=batch_size)
    got = engine.score(u, CANDIDATES)
    want = _reference(tiny_lm, u, CANDIDATES, 512)
    assert np.abs(got - want).max() < 1e-4
    fast = Scorer(tiny_lm.model, tiny_lm.tokenizer, ScoreOptions(progress=False)).score(pairs(u, CANDIDATES))
    assert np.abs(got - fast).max() < 1e-4
    assert np.ptp(got) > 1e-4  # the candidates really do get different scores


def test_candidate_prompts_are_the_single_sample_token_ids(tiny_lm):
    """Boundary titles (a leading quote, dots, a space) keep the exact tokenization of the full prompt."""
    from tallrec.llm.encoding import encode_prompt

    u = user(6, seed=2)
    groups = encode_user(tiny_lm.tokenizer, u, BOUNDARY + SHORT, 512)
    assert len(groups) == 1
    g = groups[0]
    for pos, ids in zip(g.positions, g.prompts):
        assert ids == encode_prompt(tiny_lm.tokenizer, pairs(u, [(BOUNDARY + SHORT)[pos]])[0], 512)
    # The shared part covers the whole user prefix except at most the boundary token.
    from tallrec.prompts.templates import split_prompt

    prefix_text, _ = split_prompt(pairs(u, ["x"])[0])
    prefix_ids = tiny_lm.tokenizer(prefix_text)["input_ids"]
    assert len(prefix_ids) - 2 <= g.shared <= len(prefix_ids)


def test_truncation_per_candidate_as_the_single_sample_scorer(tiny_lm):
    """A long history and a small cutoff: long candidates lose more history than short ones, and
    every candidate's score is what the single-sample scorer gives it."""
    u = user(30, seed=3)
    titles = SHORT + LONG
    short_len = len(encode_user(tiny_lm.tokenizer, u, SHORT[:1], 10_000)[0].prompts[0])
    cutoff = short_len - 40  # the short ones must drop a few items, the long ones more
    groups = encode_user(tiny_lm.tokenizer, u, titles, cutoff)
    assert len(groups) >= 2 and all(g.dropped > 0 for g in groups)
    assert all(len(p) <= cutoff - 1 for g in groups for p in g.prompts)
    engine = PrefixEngine(tiny_lm.model, tiny_lm.tokenizer, cutoff=cutoff, batch_size=3)
    got = engine.score(u, titles)
    want = _reference(tiny_lm, u, titles, cutoff)
    assert np.abs(got - want).max() < 1e-4


def test_candidates_that_fit_are_untouched_when_others_are_truncated(tiny_lm):
    u = user(12, seed=4)
    full = len(encode_user(tiny_lm.tokenizer, u, SHORT[:1], 10_000)[0].prompts[0])
    cutoff = full + 2  # the shortest titles fit whole; the long ones do not
    groups = encode_user(tiny_lm.tokenizer, u, SHORT + LONG, cutoff)
    assert groups[0].dropped == 0 and groups[-1].dropped > 0
    got = PrefixEngine(tiny_lm.model, tiny_lm.tokenizer, cutoff=cutoff).score(u, SHORT + LONG)
    assert np.abs(got - _reference(tiny_lm, u, SHORT + LONG, cutoff)).max() < 1e-4


def test_empty_history_and_one_candidate(tiny_lm):
    u = user(0)
    engine = PrefixEngine(tiny_lm.model, tiny_lm.tokenizer)
    assert np.abs(engine.score(u, ["Heat (1995)"]) - _reference(tiny_lm, u, ["Heat (1995)"], 512)).max() < 1e-4


def test_prompt_too_long_without_history_is_one_line(tiny_lm):
    engine = PrefixEngine(tiny_lm.model, tiny_lm.tokenizer, cutoff=60)
    with pytest.raises(DataError, match="even without history; raise the cutoff"):
        engine.score(user(3), ["Up", LONG[2]])


def test_many_users_in_order(tiny_lm):
    engine = PrefixEngine(tiny_lm.model, tiny_lm.tokenizer, batch_size=5)
    users = [(user(n, seed=n), CANDIDATES[n:n + 6]) for n in (2, 5, 9)]
    got = engine.score_many(users)
    for (u, titles), s in zip(users, got):
        assert np.abs(s - _reference(tiny_lm, u, titles, 512)).max() < 1e-4


def test_other_prompt_styles(tiny_lm):
    """The stats and chat styles split the same way (the user's part before the title)."""
    from dataclasses import replace

    from tallrec.llm.encoding import lm_template

    u = user(8, seed=6)
    for style in ("stats", "chat"):
        t = lm_template(replace(tiny_lm, prompt=style))
        got = PrefixEngine(tiny_lm.model, tiny_lm.tokenizer, template=t).score(u, SHORT + BOUNDARY[:3])
        want = reference_scores(tiny_lm.model, tiny_lm.tokenizer, pairs(u, SHORT + BOUNDARY[:3]), template=t)
        assert np.abs(got - want).max() < 1e-4
