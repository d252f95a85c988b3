"""The MovieLens-25M-scale data benchmark, run tiny (--scale 0.002), and the k-core filter."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from tallrec.core.errors import DataError
from tallrec.data.filters import kcore
from tallrec.data.interactions import Interactions

REPO = Path(__file__).resolve().parents[2]
STAGES = ("read", "filter", "split", "knn_fit", "recommend")


def test_k_core_repeats_until_stable():
    # item d has one event; dropping it leaves user 3 with 2 events (still >= 2); user 4 has one
    log = Interactions.from_columns([1, 1, 1, 2, 2, 3, 3, 3, 4], list("abcabab" + "dc"), np.ones(9),
                                    np.ones(9, bool), np.arange(9))
    got = kcore(log, 2, 2)
    assert got.events["item"].tolist() == list("ababab") and got.items["item"].tolist() == ["a", "b"]
    with pytest.raises(DataError, match="leaves no interactions"):
        kcore(log, 10, 10)


@pytest.mark.integration
def test_data_bench_smoke(tmp_path):
    main = runpy.run_path(str(REPO / "benchmarks" / "data_bench.py"), run_name="bench")["main"]
    out = main(["--json", str(tmp_path / "bench.json"), "--scale", "0.002", "--workdir", str(tmp_path / "csv"),
                "--users", "50"])
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved == json.loads(json.dumps(out))
    assert set(saved["stages"]) == set(STAGES) and saved["ms_per_user"] > 0 and saved["recommended_users"] == 50
    peaks = [saved["stages"][s]["peak_rss_bytes"] for s in STAGES]
    assert peaks == sorted(peaks) and all(saved["stages"][s]["seconds"] >= 0 for s in STAGES)
    head = (tmp_path / "csv" / "ratings.csv").read_text().splitlines()[:2]
    assert head[0] == "userId,movieId,rating,timestamp" and head[1].split(",")[2].endswith((".0", ".5"))
    assert saved["generated"]["written_ratings"] == saved["generated"]["ratings"] and saved["generated"]["users"] == 324
