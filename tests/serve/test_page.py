"""The page at `/` and the routes it uses (`GET /v1/items`, `because` in `POST /v1/recommend`), on a
real uvicorn server; the page itself is driven in headless Chromium (Debian's `chromium` and
`chromium-driver`, through Selenium). Outside CI a machine without them skips the browser test;
in CI (CI=true) it fails instead, since .ci/run installs them."""

import os
import shutil
from pathlib import Path

import pytest
from helpers import write_raw_movielens

from tallrec.recommend.blend import Blend
from tallrec.recommend.catalogue import build_recommender_folder, load_recommender_folder

from .helpers import FakeEngine

pytestmark = pytest.mark.integration  # a real uvicorn server (and a browser)

IN_CI = os.environ.get("CI", "").lower() in ("true", "1")


@pytest.fixture
def knn_catalogue(tmp_path):
    """Item-kNN over 30 films: odd users watch films 1-15, even users 12-30; the blend uses the LLM."""
    titles = {i: f"Film {i} (19{50 + i})" for i in range(1, 31)}
    ratings = [(u, i, 1 + (u * i) % 5, u * 100 + i) for u in range(1, 41)
               for i in (range(1 + u % 5, 16, 2 - u % 2) if u % 2 else range(12 + u % 6, 31))]
    raw = write_raw_movielens(tmp_path / "ml", ratings, titles)
    out = build_recommender_folder(tmp_path / "rec", raw, "itemknn", settings={"last": 5},
                                   blend=Blend("weight", "score", 0.6, 0.4, 20), n=20)
    return load_recommender_folder(out)


@pytest.fixture
def page_server(start_server, knn_catalogue):
    eng = FakeEngine()
    eng.catalogue = knn_catalogue
    _, client = start_server(lambda: eng, max_wait_ms=1)
    return eng, client


def test_items_search_and_because(page_server, knn_catalogue):
    _, client = page_server
    r = client.get("/v1/items", params={"q": "film 2", "limit": 5})
    assert r.status_code == 200 and r.json()["query"] == "film 2"
    assert r.json()["items"] == knn_catalogue.search("film 2", 5) and len(r.json()["items"]) == 5
    assert len(client.get("/v1/items").json()["items"]) == 20
    for params, says in (({"limit": "0"}, "limit: an integer from 1 to 100"), ({"limit": "x"}, "limit:"), ({"limit": "²"}, "limit:"),
                         ({"q": "x" * 301}, "q: 301 characters; at most 300"), ({"title": "a"}, "unknown query")):
        r = client.get("/v1/items", params=params)
        assert r.status_code == 422 and says in r.json()["error"], r.text
    body = client.post("/v1/recommend", json={"liked": ["Film 3 (1953)", "Film 5 (1955)"], "k": 10}).json()
    want = knn_catalogue.recommend(["Film 3 (1953)", "Film 5 (1955)"], k=20)  # the retriever's order, all 20
    because = {x["id"]: x["because"] for x in want.items}
    assert [x["because"] for x in body["items"]] == [because[x["item"]["id"]] for x in body["items"]]
    assert any(x["because"] for x in body["items"])
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="recommend"' in page.text and client.get("/static/page.js").status_code == 200


def test_the_page_without_a_catalogue_answers_404_for_items(start_server):
    _, client = start_server(lambda: FakeEngine())
    r = client.get("/v1/items", params={"q": "a"})
    assert r.status_code == 404 and "--catalogue" in r.json()["error"]
    assert client.get("/").status_code == 200


def chromium():
    """A headless Chromium driven by Selenium, 1280 pixels wide; skipped (failed in CI) without one."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
    except ImportError:
        webdriver = None
    if webdriver is None or not binary or not driver:
        why = "needs selenium and Debian's chromium + chromium-driver (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000",
                "--hide-scrollbars"):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=driver))


@pytest.fixture
def browser():
    b = chromium()
    yield b
    b.quit()


def rows(browser, css: str, *attrs: str) -> list[tuple]:
    from selenium.webdriver.common.by import By

    return [tuple(e.get_attribute(f"data-{a}") for a in attrs) for e in browser.find_elements(By.CSS_SELECTOR, css)]


def test_a_person_searches_marks_two_items_and_gets_the_api_s_ten(page_server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    eng, client = page_server
    browser.get(f"{client.base_url}/")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda b: b.find_element(By.ID, "status").get_attribute("data-ready") == "true")
    browser.find_element(By.ID, "q").send_keys("Film 1")
    wait.until(lambda b: b.find_element(By.ID, "results").get_attribute("data-query") == "Film 1")
    found = rows(browser, "#results li", "title")
    assert [t for (t,) in found] == [x["title"] for x in client.get("/v1/items", params={"q": "Film 1"}).json()["items"]]
    results = browser.find_elements(By.CSS_SELECTOR, "#results li")
    results[0].find_element(By.CSS_SELECTOR, "button.like").click()
    results[1].find_element(By.CSS_SELECTOR, "button.dislike").click()
    assert rows(browser, "#history li", "title", "liked") == [(found[0][0], "true"), (found[1][0], "false")]

    browser.find_element(By.ID, "recommend").click()
    wait.until(lambda b: b.find_element(By.ID, "recs").get_attribute("data-count") == "10")
    shown = rows(browser, "#recs tbody tr", "id", "title", "score", "p-yes", "stage")
    api = client.post("/v1/recommend", json={"liked": [found[0][0]], "disliked": [found[1][0]], "k": 10}).json()
    assert [(int(i), t, float(s), float(p), st) for i, t, s, p, st in shown] == [
        (x["item"]["id"], x["item"]["title"], x["score"], x["p_yes"], x["stage"]) for x in api["items"]]
    assert api["stage"] == "retriever+llm" and eng.batches  # P(Yes) came through the model
    because = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#recs td.because")]
    assert because == [", ".join(x["because"]) or "—" for x in api["items"]] and any(x["because"] for x in api["items"])

    mine = ["Film 20 (1970)", "Film 2 (1952)", "Film 29 (1979)"]
    browser.find_element(By.ID, "candidates").send_keys("\n".join(mine))
    browser.find_element(By.ID, "rank").click()
    wait.until(lambda b: b.find_element(By.ID, "ranked").get_attribute("data-count") == "3")
    ranked = client.post("/v1/rank", json={"liked": [found[0][0]], "disliked": [found[1][0]],
                                           "candidates": mine}).json()["ranked"]
    assert [(t, float(p)) for t, p in rows(browser, "#ranked tbody tr", "title", "p-yes")] == [
        (x["item"], x["p_yes"]) for x in ranked]
    assert not browser.find_element(By.ID, "error").is_displayed()
    shot = Path(os.environ.get("TALLREC_PAGE_SCREENSHOT", tmp_path / "page.png"))
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    assert browser.execute_script("return window.innerWidth") == 1280


def test_the_page_asks_for_the_api_key_and_then_works(start_server, knn_catalogue, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    eng = FakeEngine()
    eng.catalogue = knn_catalogue
    _, client = start_server(lambda: eng, api_key="s3cret")
    browser.get(f"{client.base_url}/")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda b: b.find_element(By.ID, "key-box").is_displayed())
    assert "API key" in browser.find_element(By.ID, "error").text
    browser.find_element(By.ID, "key").send_keys("s3cret", Keys.TAB)
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#results li[data-title]")) == 20)
    assert not browser.find_element(By.ID, "error").is_displayed()
    browser.find_element(By.CSS_SELECTOR, "#results li button.like").click()
    browser.find_element(By.ID, "recommend").click()
    wait.until(lambda b: b.find_element(By.ID, "recs").get_attribute("data-count") == "10")
