"""The recommender folder, the catalogue pipeline, `tallrec recommend build`, and the benchmark smoke run."""

from __future__ import annotations

import json
import random
import runpy
from pathlib import Path

import numpy as np
import pytest
from helpers import one_line_error, write_raw_movielens

from tallrec.core.errors import DataError
from tallrec.recommend.blend import Blend
from tallrec.recommend.catalogue import (
    build_recommender_folder,
    load_recommender_folder,
    read_catalogue,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def raw(tmp_path):
    rng = random.Random(0)
    titles = {i: f"Film {i} (19{50 + i})" for i in range(1, 41)}
    titles[40] = titles[39]  # u.item holds a few titles twice
    ratings, ts = [], 0
    for u in range(1, 31):
        for i in rng.sample(range(1, 21) if u % 2 else range(15, 39), 10):
            ts += 1
            ratings.append((u, i, rng.randint(1, 5), ts))
    return write_raw_movielens(tmp_path / "ml", ratings, titles)


def test_build_load_retrieve(tmp_path, raw):
    out = build_recommender_folder(tmp_path / "rec", raw, "itemknn")
    assert sorted(p.name for p in out.iterdir()) == ["blend.json", "catalogue.csv", "config.json",
                                                      "popularity.npz", "retriever"]
    pipe = load_recommender_folder(out)
    assert pipe.titles[3] == "Film 3 (1953)" and pipe.config["selection"]["chosen"] == pipe.retriever.last
    ids, scores = pipe.retrieve([1, "Film 2 (1952)", {"id": 3, "title": "Film 3 (1953)"}], n=5)
    assert len(ids) == 5 and not {1, 2, 3} & set(ids) and scores == sorted(scores, reverse=True)
    titles = pipe.retrieve([1], n=40).titles
    assert len(titles) == len(set(titles)) == 38 and 40 not in pipe.retrieve([1], n=40).ids  # each title once
    assert 39 not in pipe.retrieve([40], n=40).ids  # its twin was rated
    r = pipe.retrieve([], n=3)
    assert r.stage == "popularity-fallback" and "no history" in r.note
    np.testing.assert_array_equal(r.scores, np.sort(pipe.popularity.counts)[::-1][:3])
    rec = pipe.recommend([1, 2, 3], k=2)
    assert rec.stage == "retriever" and len(rec.items) == 2 and rec.items[0]["p_yes"] is None
    for bad, match in (([999], "history\\[0\\]: .*not in the catalogue"), (["Nope (1900)"], "not in the catalogue"),
                       ([True], "not an item id")):
        with pytest.raises(DataError, match=match):
            pipe.retrieve(bad)


def test_search_and_because(tmp_path, raw):
    pipe = load_recommender_folder(build_recommender_folder(tmp_path / "rec", raw, "itemknn", settings={"last": 3}))
    hits = pipe.search("  FILM 3 ")
    assert {h["title"] for h in hits} == {"Film 3 (1953)"} | {f"Film {i} (19{50 + i})" for i in range(30, 40)}
    counts = [pipe.popularity.counts[h["id"]] for h in hits]
    assert counts == sorted(counts, reverse=True) and 40 not in [h["id"] for h in hits]  # a twin title once
    assert len(pipe.search("", limit=7)) == 7 and pipe.search("no such title") == []
    rec = pipe.recommend([5, 1, 2, 3], k=5)
    for x in rec.items:  # the last 3 history items that co-occur with the item, most similar first
        want = sorted((h for h in (1, 2, 3) if pipe.retriever.sim[h, x["id"]] > 0),
                      key=lambda h: -pipe.retriever.sim[h, x["id"]])
        assert x["because"] == [pipe.titles[h] for h in want]
    assert any(x["because"] for x in rec.items)
    assert all(x["because"] == [] for x in pipe.recommend([], k=3).items)


def test_llm_rerank_through_the_blend(tmp_path, raw):
    out = build_recommender_folder(tmp_path / "rec", raw, "popularity", blend=Blend("weight", "score", 0.0, 1.0, 10),
                                   n=10)
    pipe = load_recommender_folder(out)
    seen = {}

    def score(liked, disliked, titles):
        seen.update(liked=liked, disliked=disliked, titles=titles)
        return [0.9 if t == titles[-1] else 0.1 for t in titles]

    history = list(range(1, 13))
    rec = pipe.recommend(history, [h % 2 == 0 for h in history], score=score, k=3)
    assert rec.stage == "retriever+llm" and rec.candidates == 10
    assert rec.items[0]["title"] == seen["titles"][-1] and rec.items[0]["p_yes"] == 0.9
    assert len(seen["liked"]) + len(seen["disliked"]) == 10          # the last 10 ratings
    assert seen["liked"][0] == "Film 4 (1954)" and seen["disliked"][0] == "Film 3 (1953)"
    assert pipe.recommend(history, score=None, k=3).note.startswith("no LLM scorer")
    with pytest.raises(DataError, match="returned 1 scores"):
        pipe.recommend(history, score=lambda a, b, c: [0.5], k=3)


def test_bad_catalogue_and_folder(tmp_path, raw):
    (tmp_path / "c.csv").write_text("id,name\n1,x\n")
    with pytest.raises(DataError, match="needs columns id,title"):
        read_catalogue(tmp_path / "c.csv")
    (tmp_path / "c2.csv").write_text("id,title\n1,Film\n2,\n")
    with pytest.raises(DataError, match="item 2 has no title"):
        read_catalogue(tmp_path / "c2.csv")
    (tmp_path / "c3.csv").write_text("id,title\n1,Film\n")
    with pytest.raises(DataError, match="has no title"):
        build_recommender_folder(tmp_path / "rec", raw, "popularity", catalogue=tmp_path / "c3.csv")
    assert not (tmp_path / "rec").exists()
    with pytest.raises(DataError, match="not a recommender folder"):
        load_recommender_folder(tmp_path)
    (tmp_path / "c4.csv").write_text("id,title\n" + "".join(f"{i},Titled {i}\n" for i in range(1, 45)))
    pipe = load_recommender_folder(build_recommender_folder(tmp_path / "rec", raw, "popularity",
                                                            catalogue=tmp_path / "c4.csv"))
    assert pipe.titles[44] == "Titled 44" and 44 in pipe.retrieve([1], n=50).ids  # unrated, still ranked


def test_cli_build(tmp_path, raw, run_cli):
    code, out, err = run_cli("recommend", "build", "--data", raw, "--retriever", "itemknn", "--last", "2",
                             "--out", tmp_path / "rec")
    assert code == 0, err
    assert "itemknn" in out and json.loads((tmp_path / "rec" / "config.json").read_text())["settings"] == {"last": 2}
    code, out, err = run_cli("recommend", "build", "--data", raw, "--retriever", "bm25", "--out", tmp_path / "r2")
    one_line_error(code, err, "unknown retriever")
    code, out, err = run_cli("recommend", "build", "--data", tmp_path / "none", "--out", tmp_path / "r3")
    one_line_error(code, err, "no such data folder")


@pytest.mark.integration
def test_recommend_bench_smoke(tmp_path, shared_data, tiny_model_dir):
    main = runpy.run_path(str(REPO / "benchmarks" / "recommend_bench.py"), run_name="bench")["main"]
    out = tmp_path / "rec.json"
    fig = main(["--data", str(shared_data / "ml-100k"), "--retrievers", "popularity,itemknn", "--users", "3",
                "--llm", "untuned", "--llm", "untuned", "--llm", "listwise:untuned", "--time-users", "2",
                "--model", str(tiny_model_dir), "--precision", "fp32", "--json", str(out)])
    saved = json.loads(out.read_text())
    assert saved["users"] == 3 and saved["best_retriever"] == "itemknn"
    assert round(saved["popularity_ndcg10_test"], 4) == 0.0450
    for key in ("protocol", "retrievers", "llm_rerank", "pipeline", "diff_ndcg10", "diff_ci95", "seconds_per_user"):
        assert key in saved, key
    assert saved["diff_ci95"][0] <= saved["diff_ndcg10"] <= saved["diff_ci95"][1]
    assert fig["blend"]["fitted"]["users"] == 3 and len(fig["llm_rerank"]) == 2   # one name per model and form
    assert any("listwise" in name for name in fig["llm_rerank"])
    assert fig["timing"]["users"] == 2 and fig["timing"]["stages"] == ["retriever+llm"] and fig["seconds_per_user"] > 0
    assert 0 < fig["timing"]["retriever_only_seconds_per_user"]


def test_recommender_recommends_from_the_catalogue(tmp_path, raw, tiny_model_dir):
    """tallrec.load(catalogue=FOLDER).recommend: unrated items only, the LLM's P(Yes) through the
    blend, the stage on every record; no history falls back to popularity and says so."""
    import tallrec

    out = build_recommender_folder(tmp_path / "rec", raw, "popularity", blend=Blend("weight", "score", 0.0, 1.0, 10),
                                   n=10)
    rec = tallrec.load(model=str(tiny_model_dir), precision="fp32", device="cpu", catalogue=out)
    me = tallrec.User(liked=["Film 1 (1951)", "Film 2 (1952)"], disliked=["Film 3 (1953)"])
    top = rec.recommend(me, k=4)
    assert len(top) == 4 and all(r.stage == "retriever+llm" for r in top)
    assert not {r.item.title for r in top} & {"Film 1 (1951)", "Film 2 (1952)", "Film 3 (1953)"}
    assert [r.score for r in top] == sorted((r.score for r in top), reverse=True)
    want = rec.score(me, [r.item.title for r in top])
    assert [r.p_yes for r in top] == pytest.approx(want, abs=1e-6)  # the same scorer, the same prompts
    cold = rec.recommend(tallrec.User(), k=2)
    assert [r.stage for r in cold] == ["popularity-fallback"] * 2 and "no history" in cold[0].note
    with pytest.raises(DataError, match="not in the catalogue"):
        rec.recommend(tallrec.User(liked=["Nope (1900)"]))
    with pytest.raises(DataError, match="recommend needs a catalogue"):
        tallrec.load(model=str(tiny_model_dir), precision="fp32", device="cpu").recommend(me)


def test_cli_recommend_writes_one_line_per_user_and_refuses_bad_lines(tmp_path, raw, tiny_model_dir, run_cli):
    out = build_recommender_folder(tmp_path / "rec", raw, "itemknn")
    users = tmp_path / "users.jsonl"
    users.write_text('{"user": "a", "liked": ["Film 1 (1951)"], "disliked": ["Film 2 (1952)"]}\n{"user": 7}\n')
    code, _, err = run_cli("recommend", "--catalogue", out, "--users", users, "--out", tmp_path / "recs.jsonl",
                           "--k", "3", "--model", tiny_model_dir, "--precision", "fp32")
    assert code == 0, err
    rows = [json.loads(x) for x in (tmp_path / "recs.jsonl").read_text().splitlines()]
    assert [r["user"] for r in rows] == ["a", 7] and [len(r["items"]) for r in rows] == [3, 3]
    assert rows[0]["items"][0]["stage"] == "retriever" and rows[1]["items"][0]["stage"] == "popularity-fallback"
    users.write_text('{"user": "a", "liked": ["Film 1 (1951)"], "candidates": ["x"]}\n')
    code, _, err = run_cli("recommend", "--catalogue", out, "--users", users, "--out", tmp_path / "r2.jsonl",
                           "--model", tiny_model_dir)
    assert code == 1 and "line 1: unknown field 'candidates'" in err and not (tmp_path / "r2.jsonl").exists()


def test_cli_recommend_loads_no_model_when_the_blend_keeps_the_retriever(tmp_path, raw, tiny_model_dir, run_cli,
                                                                       monkeypatch):
    """A folder whose blend is the retriever alone recommends without loading an LLM; one whose blend
    uses the LLM loads it and marks its records retriever+llm."""
    from tallrec.recommend.recommender import Recommender

    users = tmp_path / "users.jsonl"
    users.write_text('{"user": "a", "liked": ["Film 1 (1951)"], "disliked": ["Film 2 (1952)"]}\n')
    alone = build_recommender_folder(tmp_path / "alone", raw, "itemknn")

    def no_model(*a, **k):
        raise AssertionError("the LLM was loaded for a retriever-only blend")

    with monkeypatch.context() as m:
        m.setattr(Recommender, "load", no_model)
        code, _, err = run_cli("recommend", "--catalogue", alone, "--users", users, "--out", tmp_path / "a.jsonl",
                               "--adapter", tmp_path / "unused")
    assert code == 0, err
    assert "--adapter" in err and "not used" in err
    assert json.loads((tmp_path / "a.jsonl").read_text())["items"][0]["stage"] == "retriever"
    mixed = build_recommender_folder(tmp_path / "mixed", raw, "popularity",
                                     blend=Blend("weight", "score", 0.5, 0.5, 10), n=10)
    code, _, err = run_cli("recommend", "--catalogue", mixed, "--users", users, "--out", tmp_path / "m.jsonl",
                           "--model", tiny_model_dir, "--precision", "fp32")
    assert code == 0, err
    items = json.loads((tmp_path / "m.jsonl").read_text())["items"]
    assert items[0]["stage"] == "retriever+llm" and all(0 < x["p_yes"] < 1 for x in items)


@pytest.mark.integration
def test_cli_recommend_under_torchrun_matches_one_process(tmp_path, raw, tiny_model_dir, run_cli):
    import os
    import subprocess
    import sys

    from helpers import free_port

    mixed = build_recommender_folder(tmp_path / "mixed", raw, "popularity",
                                     blend=Blend("weight", "score", 0.5, 0.5, 10), n=10)
    users = tmp_path / "users.jsonl"
    users.write_text("".join(json.dumps({"user": u, "liked": [f"Film {u} (19{50 + u})"]}) + "\n" for u in range(1, 6)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TALLREC_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
           "-m", "tallrec", "recommend", "--catalogue", mixed, "--users", users, "--out", tmp_path / "ddp.jsonl",
           "--k", "3", "--model", tiny_model_dir, "--precision", "fp32"]
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    code, _, err = run_cli("recommend", "--catalogue", mixed, "--users", users, "--out", tmp_path / "one.jsonl",
                           "--k", "3", "--model", tiny_model_dir, "--precision", "fp32")
    assert code == 0, err
    ddp = [json.loads(x) for x in (tmp_path / "ddp.jsonl").read_text().splitlines()]
    one = [json.loads(x) for x in (tmp_path / "one.jsonl").read_text().splitlines()]
    assert [r["user"] for r in ddp] == [1, 2, 3, 4, 5]
    for a, b in zip(ddp, one):
        assert [x["item"]["id"] for x in a["items"]] == [x["item"]["id"] for x in b["items"]]
        assert np.allclose([x["p_yes"] for x in a["items"]], [x["p_yes"] for x in b["items"]], atol=1e-5)


def test_recommend_bench_refuses_a_bad_llm_row_before_any_work(tmp_path, capsys):
    main = runpy.run_path(str(REPO / "benchmarks" / "recommend_bench.py"), run_name="bench")["main"]
    for spec in (str(tmp_path / "nope"), "listwise:"):
        with pytest.raises(SystemExit) as e:
            main(["--data", str(tmp_path / "no-data"), "--llm", spec])
        assert e.value.code == 2
        assert f"--llm {spec}:" in capsys.readouterr().err


def test_cli_build_fits_and_gates_the_blend_with_the_adapter(tmp_path, raw, tiny_model_dir, run_cli):
    """`recommend build --adapter RUN` fits the blend on validation users and writes it into the folder
    (here the untuned tiny model: `--adapter none`)."""
    code, out, err = run_cli("recommend", "build", "--data", raw, "--retriever", "popularity", "--out",
                             tmp_path / "rec", "--adapter", "none", "--model", tiny_model_dir, "--precision", "fp32",
                             "--n", "10", "--blend-users", "12")
    assert code == 0, err
    blend = json.loads((tmp_path / "rec" / "blend.json").read_text())
    assert blend["n"] == 10 and blend["fitted"]["users"] == 12 and "kept" in blend["fitted"]
    assert "blend:" in out


def test_a_blend_refuses_another_candidate_count(tmp_path, raw):
    mixed = load_recommender_folder(build_recommender_folder(
        tmp_path / "mixed", raw, "popularity", blend=Blend("weight", "score", 0.5, 0.5, 10), n=10))
    with pytest.raises(DataError, match="fitted for the retriever's top 10"):
        mixed.recommend([1], k=3, n=20, score=lambda liked, disliked, titles: [0.5] * len(titles))
    with pytest.raises(DataError, match="fitted for 10 candidates, not --n 20"):
        build_recommender_folder(tmp_path / "m2", raw, "popularity", blend=Blend("weight", "score", 0.5, 0.5, 10),
                                 n=20)
