"""Which hist-cf features and MF settings, chosen on the movie validation file only.

Repeated 5-fold cross-validated AUC (10 repeats) of the logistic regression on the validation file
for each MF setting and feature set; the test file is scored once, for the choice, afterwards.
Usage: python studies/collab-signals/choose_features.py [DATA_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tallrec.collab.signals import FEATURES, CFSignals, matrix
from tallrec.collab.snapshots import MFSettings
from tallrec.data.readers import read_log
from tallrec.data.samples import load_samples

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
MF = {"d8-l2e-2": MFSettings(dim=8, l2=1e-2), "d16-l2e-4": MFSettings(dim=16, l2=1e-4),
      "d32-l2e-3": MFSettings(dim=32, l2=1e-3, epochs=300)}
ALL = ("like_share", "user_like_rate", "user_log_count", "item_like_rate", "item_log_count", "mf_logit")
SETS = {"counts": ALL[:5], "counts+mf": ALL, "no-user-count": FEATURES}


def cv_auc(x, y) -> float:
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=10, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return float(cross_val_score(model, x, y, cv=folds, scoring="roc_auc").mean())


def main() -> None:
    log = read_log(DATA / "ml-100k")
    valid = load_samples(DATA / "tallrec-official/movie/valid.json")
    y = np.array([s.label for s in valid], dtype=int)
    rows = []
    for mf_name, mf in MF.items():
        feats = CFSignals(log, mf).features(valid, "valid")
        for set_name, names in SETS.items():
            rows.append({"mf": mf_name, "features": set_name, "cv_auc": round(cv_auc(matrix(feats, names), y), 4)})
            print(rows[-1], flush=True)
    best = max(rows, key=lambda r: r["cv_auc"])
    print("chosen on validation:", best)
    Path(__file__).with_name("choose_features.json").write_text(json.dumps({"rows": rows, "chosen": best}, indent=1) + "\n")


if __name__ == "__main__":
    main()
