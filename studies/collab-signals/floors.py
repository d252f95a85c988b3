"""hist-cf against the like-share floor on the official movie test and 3 unpublished draws.

hist-cf is fitted once on the official validation file (its settings as chosen by
choose_features.py) and scores each test set; like-share needs no fitting. Each difference comes
with a paired-bootstrap 95% interval on the same samples, and UAUC with each.
Usage: python studies/collab-signals/floors.py [DATA_DIR]
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from tallrec.baselines.hist_cf import fit_hist_cf, open_signals
from tallrec.baselines.settings import CollabSettings
from tallrec.baselines.simple import like_share
from tallrec.core.metrics import quality
from tallrec.data.builders.movielens import unpublished_movielens
from tallrec.data.samples import load_samples
from tallrec.experiments.report.stats import paired_bootstrap

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")


def main() -> None:
    opts = asdict(CollabSettings()) | {"log": str(DATA / "ml-100k")}
    signals = open_signals(opts)
    valid = load_samples(DATA / "tallrec-official/movie/valid.json")
    tests = {"official": load_samples(DATA / "tallrec-official/movie/test.json")}
    tests |= {f"unpublished-{s}": unpublished_movielens(DATA / "ml-100k", 1000, seed=s) for s in range(3)}
    rows = {}
    for name, test in tests.items():
        cf, info = fit_hist_cf(valid, test, opts, signals)
        users, labels = info["users"], [s.label for s in test]
        floor = [like_share(s) for s in test]
        q_cf, q_floor = quality(labels, cf, users), quality(labels, floor, users)
        diff = paired_bootstrap(labels, cf, floor)
        rows[name] = {"hist_cf_auc": round(q_cf["auc"], 4), "hist_cf_uauc": round(q_cf["uauc"], 4),
                      "like_share_auc": round(q_floor["auc"], 4), "like_share_uauc": round(q_floor["uauc"], 4),
                      "diff": round(diff["diff"], 4), "ci95": [round(diff["lo"], 4), round(diff["hi"], 4)]}
        print(name, rows[name], flush=True)
    Path(__file__).with_name("floors.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
