"""Ranking-aware examples (tuning/ranking_examples.py) on a small synthetic MovieLens: training-period
targets only, right labels, unrated negatives, hard negatives from the retriever's top N, seeded."""

from __future__ import annotations

import pytest
from helpers import synthetic_sequences

from tallrec.core.config import build_config
from tallrec.core.errors import DataError, TallrecError
from tallrec.recommend.loo import top_n
from tallrec.recommend.retrievers import ItemKNN
from tallrec.tuning.ranking_examples import RankingExamples, before_targets, ranking_examples


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return synthetic_sequences(tmp_path_factory.mktemp("ml"), same_title_pair=False)


def knn(sequences, rows):
    return ItemKNN(last=3).fit(sequences, rows)


CFG = RankingExamples(users=12, valid_users=8, hard_negatives=3, random_negatives=2, top_n=10, seed=3)


def by_user(samples):
    out = {}
    for s in samples:
        out.setdefault(s.user, []).append(s)
    return out


def test_examples_come_from_the_training_parts_only(split):
    train, valid = ranking_examples(split, CFG, knn)
    users = {u.user: u for u in split.users}
    for samples in (train, valid):
        for uid, group in by_user(samples).items():
            u = users[uid]
            target = u.train[-1]
            assert group[0].meta["item"] == target and group[0].label is True and group[0].target == split.titles[target]
            held_out = {u.target("valid"), u.target("test")}
            assert not held_out & {s.meta["item"] for s in group}
            before = list(zip(u.items, u.ratings))[:len(u.train) - 1][-10:]
            expected = tuple((split.titles[i], r > 3) for i, r in before)
            assert all(s.history == expected for s in group)  # the ratings before the target, TALLRec form
            assert not held_out & {i for i, _ in before}


def test_labels_counts_and_disjoint_users(split):
    train, valid = ranking_examples(split, CFG, knn)
    assert len(train) == 12 * (1 + 3 + 2) and len(valid) == 8 * (1 + 3 + 2)
    assert not set(by_user(train)) & set(by_user(valid))
    for s in train + valid:
        assert s.label is (s.meta["kind"] == "target")
    for group in by_user(train).values():
        kinds = [s.meta["kind"] for s in group]
        assert kinds == ["target"] + ["hard"] * 3 + ["random"] * 2
        assert len({s.meta["item"] for s in group}) == len(group)


def test_negatives_are_unrated_and_hard_ones_come_from_the_top_n(split):
    train, valid = ranking_examples(split, CFG, knn)
    users = {u.user: u for u in split.users}
    fitted = knn([u.train[:-1] for u in split.users], split.rows)
    for uid, group in by_user(train + valid).items():
        u = users[uid]
        rated_titles = {split.titles[i] for i in u.items}
        ranked = split.catalogue.copy()
        ranked[list(u.train[:-1])] = False
        top = set(top_n(fitted.scores(u.train[:-1]), ranked, CFG.top_n).tolist())
        for s in group[1:]:
            assert s.label is False and s.meta["item"] not in u.items and s.target not in rated_titles
            if s.meta["kind"] == "hard":
                assert s.meta["item"] in top


def test_the_retriever_never_sees_the_training_targets(split):
    seen = []
    ranking_examples(split, CFG, lambda s, rows: seen.append(s) or knn(s, rows))
    assert seen == [before_targets(split)]
    assert all(len(s) == len(u.train) - 1 and tuple(s) == u.train[:-1] for s, u in zip(seen[0], split.users))


def test_deterministic_by_seed(split):
    def key(samples):
        return [(s.to_record(), s.meta) for s in samples]

    a, b = ranking_examples(split, CFG, knn), ranking_examples(split, CFG, knn)
    assert key(a[0]) == key(b[0]) and key(a[1]) == key(b[1])
    other = ranking_examples(split, RankingExamples(**{**CFG.to_dict(), "seed": 4}), knn)
    assert key(other[0]) != key(a[0])


def test_bad_settings_are_one_line_errors(split):
    with pytest.raises(DataError, match="only 30 have two training items"):
        ranking_examples(split, RankingExamples(users=25, valid_users=10), knn)
    with pytest.raises(DataError, match="at least one negative"):
        ranking_examples(split, RankingExamples(users=2, valid_users=2, hard_negatives=0, random_negatives=0), knn)
    with pytest.raises(TallrecError, match="hard_negatives"):
        build_config(RankingExamples, {"hard_negatives": -1}, "flags")


def test_rec_tune_trains_on_them(split, tmp_path, tiny_model_dir):
    from tallrec.core.config import load_config
    from tallrec.tuning.config import PAPER_SETTINGS, TrainConfig
    from tallrec.tuning.rec_tune import rec_tune

    train, valid = ranking_examples(split, RankingExamples(users=4, valid_users=4, hard_negatives=1,
                                                           random_negatives=1, top_n=10), knn)
    cfg = load_config(TrainConfig, None, {**PAPER_SETTINGS, "model": str(tiny_model_dir), "shots": 0, "batch_size": 4,
                                          "micro_batch_size": 4, "epochs": 1, "eval_every": 2, "precision": "fp32",
                                          "loss_on": "answer", "cutoff": 128, "lr": 5e-3})
    res = rec_tune(cfg, train, valid, tmp_path / "run", progress=False)
    assert res.steps == 3 and res.best_valid_auc is not None and (tmp_path / "run" / "adapter").is_dir()
