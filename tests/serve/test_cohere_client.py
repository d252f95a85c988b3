"""`/v1/rerank` and `/v2/rerank` driven by the real Cohere SDK (v1 `Client`, v2 `ClientV2`) against a
server on loopback: the query as a string (JSON text of the user, or the TALLRec input text), the
documents as plain texts, results in Cohere's shapes."""

import json

import pytest

from .helpers import FakeEngine, expected

cohere = pytest.importorskip("cohere", reason="the Cohere SDK is not installed (pip install cohere)")

pytestmark = pytest.mark.integration  # a real uvicorn server

USER = {"liked": ["A (1990)", "B (1991)"], "disliked": ["C (1992)"]}
DOCS = ["D (1993)", "E (1994)", "F (1995)", "G (1996)"]
TALLREC_TEXT = ('User Preference: "A (1990)", "B (1991)"\nUser Unpreference: "C (1992)"\n'
                'Whether the user will like the target movie "D (1993)"?')


def _want(adapter="default", top=None):
    scores = [expected(adapter, USER["liked"], USER["disliked"], d) for d in DOCS]
    return sorted(zip(scores, range(len(DOCS))), key=lambda t: -t[0])[:top]


def test_cohere_sdk_v2_and_v1_rerank(start_server):
    srv, _ = start_server(lambda: FakeEngine(), max_wait_ms=1)
    v2 = cohere.ClientV2(api_key="unused", base_url=srv.url)
    for query in (json.dumps(USER), TALLREC_TEXT):
        res = v2.rerank(model="other", query=query, documents=DOCS, top_n=3)
        assert [(r.relevance_score, r.index) for r in res.results] == _want("other", 3)  # JSON keeps floats exact

    v1 = cohere.Client(api_key="unused", base_url=srv.url)
    res = v1.rerank(query=json.dumps(USER), documents=DOCS, top_n=2, return_documents=True)
    assert [(r.relevance_score, r.index) for r in res.results] == _want(top=2)
    assert [r.document.text for r in res.results] == [DOCS[i] for _, i in _want(top=2)]


def test_cohere_sdk_sees_a_bad_query_as_an_error(start_server):
    srv, _ = start_server(lambda: FakeEngine(), max_wait_ms=1)
    v2 = cohere.ClientV2(api_key="unused", base_url=srv.url)
    with pytest.raises(Exception) as e:
        v2.rerank(model="default", query="a film lover", documents=DOCS)
    assert getattr(e.value, "status_code", None) == 422 and "a query is" in str(e.value)
