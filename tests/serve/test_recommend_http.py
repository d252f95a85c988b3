"""POST /v1/recommend on a real uvicorn server: a catalogue folder's retrieval, the LLM's P(Yes)
through the micro-batcher and the blend; the refusals."""

import pytest
from helpers import write_raw_movielens

from tallrec.recommend.blend import Blend
from tallrec.recommend.catalogue import build_recommender_folder, load_recommender_folder

from .helpers import FakeEngine, expected

pytestmark = pytest.mark.integration  # a real uvicorn server


@pytest.fixture
def catalogue(tmp_path):
    titles = {i: f"Film {i} (19{50 + i})" for i in range(1, 31)}
    ratings = [(u, i, 1 + (u * i) % 5, u * 100 + i) for u in range(1, 21) for i in range(1 + u % 7, 13 + u % 7)]
    raw = write_raw_movielens(tmp_path / "ml", ratings, titles)
    out = build_recommender_folder(tmp_path / "rec", raw, "popularity", blend=Blend("weight", "score", 0.0, 1.0, 8),
                                   n=8)
    return load_recommender_folder(out)


def test_recommend_blends_the_llm_over_the_retrieval(start_server, catalogue):
    eng = FakeEngine()
    eng.catalogue = catalogue
    _, client = start_server(lambda: eng, max_wait_ms=1)
    liked, disliked = ["Film 1 (1951)", "Film 2 (1952)"], ["Film 3 (1953)"]
    r = client.post("/v1/recommend", json={"liked": liked, "disliked": disliked, "k": 3, "adapter": "other"})
    assert r.status_code == 200, r.text
    body = r.json()
    retrieval, ask = catalogue.candidates(disliked + liked, [False, True, True], 3)  # liked last (recency)
    p_yes = [expected("other", ask[0], ask[1], t) for t in retrieval.titles]
    want = catalogue.finish(retrieval, p_yes, 3)
    assert [x["item"] for x in body["items"]] == [{"title": x["title"], "id": x["id"]} for x in want.items]
    assert [x["p_yes"] for x in body["items"]] == [x["p_yes"] for x in want.items]
    assert body["stage"] == "retriever+llm" and body["adapter"] == "other" and len(eng.batches) == 1
    cold = client.post("/v1/recommend", json={"k": 2}).json()
    assert cold["stage"] == "popularity-fallback" and "no history" in cold["note"] and cold["adapter"] is None


def test_recommend_refusals(start_server, catalogue):
    eng = FakeEngine()
    _, client = start_server(lambda: eng, max_wait_ms=1)
    r = client.post("/v1/recommend", json={"liked": ["Film 1 (1951)"]})
    assert r.status_code == 404 and "--catalogue" in r.json()["error"]
    eng.catalogue = catalogue
    r = client.post("/v1/recommend", json={"liked": ["Nope (1900)"]})
    assert r.status_code == 422 and "not in the catalogue" in r.json()["error"]
    r = client.post("/v1/recommend", json={"liked": [], "k": 0})
    assert r.status_code == 422 and r.json()["error"].startswith("k:")
