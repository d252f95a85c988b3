"""Take docs/serving/page.png: the page of `tallrec serve --catalogue` in headless Chromium, 1280 wide.

    python docs/serving/page_screenshot.py --data ../shared/data/ml-100k [--adapter RUN] [--out FILE]

The server runs in this process with the real model (the untuned base model unless --adapter names
a run) and an item-kNN catalogue fitted on MovieLens-100K with a blend that gives the LLM half the
weight, so the page shows P(Yes). A person's clicks are played by Selenium: two films liked, one
disliked, the 10 recommendations, three films of their own ranked. Needs Debian's `chromium` and
`chromium-driver` and the `selenium` package (in the dev extra). The site build never runs this.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIKED, DISLIKED = ["Star Wars (1977)", "Fargo (1996)"], ["Mrs. Doubtfire (1993)"]
MINE = ["Heat (1995)", "Casablanca (1942)", "Babe (1995)"]


def browser():
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,960",
                "--hide-scrollbars"):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))


def play(b, url: str, out: Path) -> None:
    """Search, mark, recommend, rank, then photograph the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(b, 600)
    b.get(url)
    wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("data-ready") == "true")
    q = b.find_element(By.ID, "q")
    for title in LIKED + DISLIKED:
        q.clear()
        q.send_keys(title.split(" (")[0])
        css = f'#results li[data-title="{title}"] button.{"like" if title in LIKED else "dislike"}'
        wait.until(lambda d, css=css: d.find_elements(By.CSS_SELECTOR, css))[0].click()
    b.find_element(By.ID, "recommend").click()
    wait.until(lambda d: d.find_element(By.ID, "recs").get_attribute("data-count") == "10")
    b.find_element(By.ID, "candidates").send_keys("\n".join(MINE))
    b.find_element(By.ID, "rank").click()
    wait.until(lambda d: d.find_element(By.ID, "ranked").get_attribute("data-count") == "3")
    q.clear()
    q.send_keys("star")
    wait.until(lambda d: d.find_element(By.ID, "results").get_attribute("data-query") == "star")
    height = b.execute_script("return document.documentElement.scrollHeight")
    b.set_window_size(1280, height + 140)  # the whole page (the window's frame takes some of it)
    b.execute_script("window.scrollTo(0, 0)")
    b.save_screenshot(str(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="A MovieLens-100K folder (u.data, u.item).")
    ap.add_argument("--adapter", help="A run or adapter folder (default: the untuned base model).")
    ap.add_argument("--out", type=Path, default=HERE / "page.png")
    args = ap.parse_args()

    from tallrec.recommend.blend import Blend
    from tallrec.recommend.catalogue import build_recommender_folder
    from tallrec.serve.app import create_app
    from tallrec.serve.engine import AdapterSpec, load_engine
    from tallrec.serve.server import ServerThread

    with tempfile.TemporaryDirectory() as tmp:
        blend = Blend("weight", "score", 0.5, 0.5, 20, fitted={"kept": "page screenshot: half retriever, half LLM"})
        folder = build_recommender_folder(Path(tmp) / "rec", args.data, "itemknn", blend=blend)
        spec = AdapterSpec("base", None) if args.adapter is None else AdapterSpec(Path(args.adapter).name,
                                                                                  Path(args.adapter))
        srv = ServerThread(create_app(lambda: load_engine([spec], device="cpu", catalogue=folder))).start()
        b = browser()
        try:
            play(b, srv.url + "/", args.out)
        finally:
            b.quit()
            srv.stop()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
