"""`tallrec data prepare ranking`, ranking metrics and `tallrec evaluate-ranking`."""

from __future__ import annotations

import hashlib
import itertools
import json
import math

import pytest
from helpers import one_line_error

from tallrec.data import load_samples
from tallrec.data.builders.movielens import build_movielens
from tallrec.recommend.metrics import metrics_from_ranks, random_expected, target_rank

from .helpers import synthetic_ml


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    from tallrec.cli import main

    root = tmp_path_factory.mktemp("ranking")
    raw, ratings, titles = synthetic_ml(root / "raw")
    assert main(["data", "prepare", "ranking", "--raw", str(raw), "--out", str(root / "bench")]) == 0
    return root, raw, ratings, titles


def _lists(folder):
    return [json.loads(x) for x in (folder / "test.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("split", ["test", "valid"])
def test_lists_follow_the_rule(bench, split):
    """test.jsonl from the liked test windows, valid.jsonl from the liked validation windows."""
    root, raw, ratings, titles = bench
    lists = [json.loads(x) for x in (root / "bench" / f"{split}.jsonl").read_text().splitlines()]
    liked = [s for s in build_movielens(raw)[split] if s.label]
    assert len(lists) == len(liked) > (5 if split == "test" else 0)
    rated = {}
    for u, i, _, _ in ratings:
        rated.setdefault(u, set()).add(i)
    for x, s in zip(lists, liked):
        ids = [c["id"] for c in x["candidates"]]
        assert len(ids) == 20 and len(set(ids)) == 20 and ids.count(x["target"]) == 1
        assert x["target"] == s.meta["item"] and x["user"] == s.meta["user"]
        assert x["liked"] == s.liked and x["disliked"] == s.disliked
        negatives = [i for i in ids if i != x["target"]]
        assert not set(negatives) & rated[x["user"]]
        assert all(c["title"] == titles[c["id"]] for c in x["candidates"])
        assert len({c["title"] for c in x["candidates"]}) == 20  # no title twice (ids 7 and 8 share one)
    if split == "test":
        assert len({[c["id"] for c in x["candidates"]].index(x["target"]) for x in lists}) > 3  # shuffled
        from tallrec.data.samples import samples_to_json

        assert (root / "bench" / "train.json").read_text() == samples_to_json(build_movielens(raw)["train"])


def test_deterministic_seeded_and_manifest(bench, tmp_path, run_cli):
    root, raw, _, _ = bench
    assert run_cli("data", "prepare", "ranking", "--raw", raw, "--out", tmp_path / "a")[0] == 0
    assert run_cli("data", "prepare", "ranking", "--raw", raw, "--out", tmp_path / "b", "--seed", "1")[0] == 0
    for name in ("train.json", "valid.json", "test.jsonl", "valid.jsonl", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (root / "bench" / name).read_bytes()
    assert (tmp_path / "b" / "test.jsonl").read_bytes() != (tmp_path / "a" / "test.jsonl").read_bytes()
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((tmp_path / "a" / name).read_bytes()).hexdigest() == digest
    assert manifest["negatives"] == 19 and manifest["lists"] == len(_lists(tmp_path / "a"))
    code, _, err = run_cli("data", "prepare", "ranking", "--raw", raw, "--out", tmp_path / "c", "--negatives", "0")
    one_line_error(code, err, "--negatives must be at least 1")
    code, _, err = run_cli("data", "prepare", "ranking", "--raw", raw, "--out", tmp_path / "d", "--negatives", "75")
    one_line_error(code, err, "cannot draw 75 negatives")
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


def test_metrics_by_hand():
    assert target_rank([0.1, 0.9, 0.5], 2) == 2
    assert target_rank([0.5, 0.5, 0.5], 0) == 1 and target_rank([0.5, 0.5, 0.5], 2) == 3  # ties: input order
    m = metrics_from_ranks([1, 3, 12])
    assert m["hr@1"] == pytest.approx(1 / 3) and m["hr@5"] == pytest.approx(2 / 3) and m["hr@10"] == pytest.approx(2 / 3)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(4)) / 3)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 12) / 3)


def test_random_baseline_is_the_exact_expectation():
    r = random_expected([20, 20])
    assert r["hr@1"] == 1 / 20 and r["hr@5"] == 5 / 20 and r["hr@10"] == 0.5
    n = 5  # brute force: every position of the target equally likely
    brute = metrics_from_ranks(list(range(1, n + 1)))
    assert all(random_expected([n])[k] == pytest.approx(v) for k, v in brute.items())
    perms = list(itertools.permutations(range(4)))
    ranks = [target_rank([-p.index(i) for i in range(4)], 0) for p in perms]
    assert metrics_from_ranks(ranks) == pytest.approx(random_expected([4]))


def test_evaluate_ranking_all_methods(bench, tmp_path, run_cli, tiny_model_dir):
    root = bench[0]
    folder = root / "bench"
    code, out, err = run_cli("evaluate-ranking", "--data", folder, "--out", tmp_path / "ev", "--adapter", "none",
                             "--model", tiny_model_dir, "--precision", "fp32", "--limit", "6", "--shots", "32")
    assert code == 0, err
    rec = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert set(rec["methods"]) == {"llm", "random", "popularity", "sasrec"} and rec["lists"] == 6
    for m in rec["methods"].values():
        assert {"hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr", "n", "model", "data", "versions"} <= set(m)
    assert rec["methods"]["random"]["hr@10"] == 0.5 and rec["methods"]["random"]["hr@1"] == 0.05
    rows = [json.loads(x) for x in (tmp_path / "ev" / "ranks.jsonl").read_text().splitlines()]
    assert rec["methods"]["llm"]["mrr"] == pytest.approx(sum(1 / r["ranks"]["llm"] for r in rows) / 6, abs=1e-6)
    # The LLM ranks are those of `tallrec rank` on the same lists.
    src = tmp_path / "six.jsonl"
    src.write_text("".join(x + "\n" for x in (folder / "test.jsonl").read_text().splitlines()[:6]))
    assert run_cli("rank", "--adapter", "none", "--model", tiny_model_dir, "--precision", "fp32", "--users", src,
                   "--out", tmp_path / "r.jsonl")[0] == 0
    lists = _lists(folder)[:6]
    for x, row, ranked in zip(lists, rows, (tmp_path / "r.jsonl").read_text().splitlines()):
        scores = json.loads(ranked)["scores"]
        t = [c["id"] for c in x["candidates"]].index(x["target"])
        assert row["ranks"]["llm"] == target_rank(scores, t)
    # Popularity: the count of training windows with the candidate as their target, nothing else.
    train = load_samples(folder / "train.json")
    counts = [sum(s.target == c["title"] for s in train) for c in lists[0]["candidates"]]
    t = [c["id"] for c in lists[0]["candidates"]].index(lists[0]["target"])
    assert rows[0]["ranks"]["popularity"] == target_rank(counts, t)


def test_evaluate_ranking_refusals(bench, tmp_path, run_cli):
    folder = bench[0] / "bench"
    code, _, err = run_cli("evaluate-ranking", "--data", folder, "--out", tmp_path / "x", "--methods", "llm,magic",
                           "--adapter", "none")
    one_line_error(code, err, "unknown method(s) magic")
    code, _, err = run_cli("evaluate-ranking", "--data", folder, "--out", tmp_path / "x", "--methods", "llm")
    one_line_error(code, err, "the llm and pipeline methods need --adapter RUN (or --adapter none)")
    bad = tmp_path / "bad"
    bad.mkdir()
    first = json.loads((folder / "test.jsonl").read_text().splitlines()[0])
    del first["target"]
    (bad / "test.jsonl").write_text(json.dumps(first) + "\n")
    code, _, err = run_cli("evaluate-ranking", "--data", bad, "--out", tmp_path / "x", "--methods", "random")
    one_line_error(code, err, "line 1: no target")
    assert not (tmp_path / "x").exists()


def test_movielens_ranking_benchmark(shared_data, tmp_path, run_cli):
    code, out, err = run_cli("data", "prepare", "ranking", "--raw", shared_data / "ml-100k", "--out", tmp_path / "r")
    assert code == 0, err
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["lists"] == 528 and manifest["users"] == 16
    official = shared_data / "tallrec-official" / "movie"
    assert (tmp_path / "r" / "valid.json").read_bytes() == (official / "valid.json").read_bytes()
    assert manifest["sha256"]["train.json"].startswith("460a8639")
    assert manifest["sha256"]["test.jsonl"].startswith("02512b65c4d9")  # unchanged by the validation lists
    assert manifest["valid_lists"] == 658
    code, out, err = run_cli("evaluate-ranking", "--data", tmp_path / "r", "--out", tmp_path / "ev",
                             "--methods", "random,popularity")
    assert code == 0, err
    rec = json.loads((tmp_path / "ev" / "metrics.json").read_text())["methods"]
    assert rec["random"]["hr@10"] == 0.5 and rec["popularity"]["hr@10"] > 0.5


def _fake_llm(part, oracle):
    """P(Yes) that knows the target (oracle) or is seeded noise."""
    import random

    rng = random.Random(0)
    return [[(0.9 if i == u.target_index else 0.1) if oracle else rng.random() for i in range(len(u.candidates))]
            for u in part]


@pytest.mark.parametrize("oracle", [True, False])
def test_pipeline_keeps_popularity_unless_the_llm_helps_on_validation(bench, oracle):
    """An LLM that knows the target is blended in (HR@1 = 1 on test); one that is noise is not, and
    the pipeline's ranks are popularity's exactly (its floor)."""
    from tallrec.experiments.ranking_benchmark import load_lists, pipeline_scores, popularity_scores

    folder = bench[0] / "bench"
    lines, valid = load_lists(folder), load_lists(folder, name="valid.jsonl")
    train = load_samples(folder / "train.json")
    scores, meta = pipeline_scores(train, valid, lines, _fake_llm(valid, oracle), _fake_llm(lines, oracle))
    ranks = [target_rank(s, u.target_index) for u, s in zip(lines, scores)]
    pop = [target_rank(s, u.target_index) for u, s in zip(lines, popularity_scores(train, lines))]
    assert meta["blend"]["fitted"]["users"] == len(valid) and meta["valid_lists"] == len(valid)
    if oracle:
        assert meta["blend"]["llm_weight"] > 0 and set(ranks) == {1}
    else:
        assert meta["blend"]["llm_weight"] == 0 and ranks == pop


def test_evaluate_ranking_pipeline_row(bench, tmp_path, run_cli, tiny_model_dir):
    folder = bench[0] / "bench"
    code, out, err = run_cli("evaluate-ranking", "--data", folder, "--out", tmp_path / "ev", "--adapter", "none",
                             "--model", tiny_model_dir, "--precision", "fp32", "--methods", "llm,popularity,pipeline")
    assert code == 0, err
    rec = json.loads((tmp_path / "ev" / "metrics.json").read_text())["methods"]
    pipe = rec["pipeline"]
    assert pipe["retriever"] == "popularity" and pipe["blend"]["fitted"]["kept"]
    assert rec["popularity"]["popularity_spearman"] == 1.0 and -1 <= rec["llm"]["popularity_spearman"] <= 1
    for key in ("hr@1", "ndcg@10"):
        d = pipe["minus_popularity"][key]
        assert d["ci95"][0] <= d["diff"] <= d["ci95"][1]
    assert "minus popularity on test" in out
    # An old folder without validation lists: one line, nothing written.
    old = tmp_path / "old"
    old.mkdir()
    for name in ("train.json", "valid.json", "test.jsonl"):
        (old / name).write_bytes((folder / name).read_bytes())
    code, _, err = run_cli("evaluate-ranking", "--data", old, "--out", tmp_path / "x", "--adapter", "none",
                           "--model", tiny_model_dir, "--methods", "pipeline")
    one_line_error(code, err, "no validation lists")
    assert not (tmp_path / "x").exists()


def test_a_folder_without_train_json_still_runs_the_random_row(bench, tmp_path, run_cli):
    only = tmp_path / "only"
    only.mkdir()
    (only / "test.jsonl").write_bytes((bench[0] / "bench" / "test.jsonl").read_bytes())
    code, _, err = run_cli("evaluate-ranking", "--data", only, "--out", tmp_path / "ev", "--methods", "random")
    assert code == 0, err
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["methods"]["random"]["hr@1"] == 0.05
