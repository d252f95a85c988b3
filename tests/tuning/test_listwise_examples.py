"""Listwise examples (tuning/listwise_examples.py) on a small synthetic MovieLens: training-period
targets only, the true item listed exactly once with its letter as the answer, no validation or
test target anywhere, seeded, and trainable by the stage-1 trainer."""

from __future__ import annotations

import pytest
from helpers import synthetic_sequences

from tallrec.core.config import build_config
from tallrec.core.errors import TallrecError
from tallrec.prompts.listwise import LETTERS, listwise_record
from tallrec.recommend.retrievers import ItemKNN
from tallrec.tuning.listwise_examples import ListwiseExamples, alpaca_records, listwise_examples


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return synthetic_sequences(tmp_path_factory.mktemp("ml"), same_title_pair=True)


def knn(sequences, rows):
    return ItemKNN(last=3).fit(sequences, rows)


CFG = ListwiseExamples(users=12, valid_users=8, targets_per_user=3, top_n=10, seed=3)


def test_the_true_item_is_listed_once_and_its_letter_is_the_answer(split):
    train, valid = listwise_examples(split, CFG, knn)
    assert len(train) == 12 * 3 and len(valid) == 8 * 3
    assert not {r["meta"]["user"] for r in train} & {r["meta"]["user"] for r in valid}
    for r in train + valid:
        m = r["meta"]
        titles = [split.titles[i] for i in m["candidates"]]
        assert len(m["candidates"]) == CFG.top_n and m["candidates"].count(m["item"]) == 1
        assert len(set(titles)) == len(titles)
        assert r["output"] == LETTERS[m["candidates"].index(m["item"])]
        assert f"\n{r['output']}. {split.titles[m['item']]}\n" in r["input"] + "\n"
        assert {k: r[k] for k in ("instruction", "input", "output")} == listwise_record(
            m["liked"], m["disliked"], titles, answer=m["candidates"].index(m["item"]))


def test_no_validation_or_test_target_and_no_later_item_anywhere(split):
    train, valid = listwise_examples(split, CFG, knn)
    users = {u.user: u for u in split.users}
    for r in train + valid:
        u, m = users[r["meta"]["user"]], r["meta"]
        k = m["position"]
        assert len(u.train) - CFG.targets_per_user <= k < len(u.train) and u.items[k] == m["item"]
        held_out = {u.target("valid"), u.target("test")}
        held_titles = {split.titles[i] for i in held_out}
        assert not held_out & set(m["candidates"])
        assert not held_titles & ({split.titles[i] for i in m["candidates"]} - {split.titles[m["item"]]})
        assert not held_out & set(u.items[max(0, k - 10):k])  # the history: ratings before the target only
        # every other candidate is an item the user never rated (nor one of the same title)
        rated_titles = {split.titles[i] for i in u.items}
        assert all(split.titles[i] not in rated_titles for i in m["candidates"] if i != m["item"])
        pairs = list(zip(u.items, u.ratings))[max(0, k - 10):k]
        assert m["liked"] == [split.titles[i] for i, x in pairs if x > 3]
        assert m["disliked"] == [split.titles[i] for i, x in pairs if x <= 3]


def test_the_retriever_never_sees_a_target(split):
    seen = []
    listwise_examples(split, CFG, lambda s, rows: seen.append(s) or knn(s, rows))
    assert seen == [[u.train[:-3] for u in split.users]]
    seen.clear()
    listwise_examples(split, ListwiseExamples(users=4, valid_users=4, top_n=10), lambda s, rows: seen.append(s) or knn(s, rows))
    assert seen == [[u.train[:-1] for u in split.users]]


def test_deterministic_by_seed_and_shuffled(split):
    a, b = listwise_examples(split, CFG, knn), listwise_examples(split, CFG, knn)
    assert a == b
    other = listwise_examples(split, ListwiseExamples(**{**CFG.to_dict(), "seed": 4}), knn)
    assert [r["input"] for r in other[0]] != [r["input"] for r in a[0]]
    assert len({r["output"] for r in a[0] + a[1]}) > 3  # the answer letter varies


def test_bad_settings_are_one_line_errors():
    with pytest.raises(TallrecError, match="top_n"):
        build_config(ListwiseExamples, {"top_n": 27}, "flags")
    with pytest.raises(TallrecError, match="targets_per_user"):
        build_config(ListwiseExamples, {"targets_per_user": 0}, "flags")


def test_the_stage_1_trainer_trains_on_them(split, tmp_path, tiny_model_dir):
    from tallrec.core.config import load_config
    from tallrec.tuning.config import InstructConfig
    from tallrec.tuning.instruct import tune_instruct

    train, _ = listwise_examples(split, ListwiseExamples(users=4, valid_users=2, top_n=10), knn)
    cfg = load_config(InstructConfig, None, {"model": str(tiny_model_dir), "batch_size": 4, "micro_batch_size": 4,
                                             "epochs": 1, "precision": "fp32", "loss_on": "answer", "cutoff": 512,
                                             "warmup_steps": 0, "lr": 5e-3})
    res = tune_instruct(cfg, alpaca_records(train), tmp_path / "run", log=lambda *_: None)
    assert res.steps == 1 and res.skipped == 0 and (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
