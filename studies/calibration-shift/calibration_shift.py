"""Can a map fitted on the authors' movie validation file halve the quickstart adapter's test ECE?

Scores the validation and test files once with the adapter's raw P(Yes) (any calibration.json beside
the adapter is ignored), fits each calibration method of tallrec.llm.calibration on the validation
scores only, applies it to the test scores, and reports ECE (15 equal-mass bins), log-loss, the mean
P(Yes) against the Yes share, and the lower bound every equal-mass ECE obeys:

    ECE = sum_b (n_b / n) |mean_b(p) - mean_b(y)|  >=  |mean(p) - mean(y)|   (triangle inequality)

so a map whose mean test P(Yes) stays near the validation file's Yes share cannot bring the test ECE
below the gap between the two files' base rates.

    python studies/calibration-shift/calibration_shift.py runs/quickstart/train --json out.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tallrec.core.io import write_json_atomic
from tallrec.core.metrics import ece, logloss
from tallrec.core.paths import data_dir
from tallrec.data.samples import load_samples
from tallrec.llm.calibration import fit_calibration
from tallrec.llm.encoding import lm_template
from tallrec.llm.scoring import ScoreOptions, Scorer
from tallrec.recommend.recommender import Recommender


def raw_scores(rec: Recommender, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Labels and raw P(Yes) of a file: the scorer `tallrec calibrate` uses, at the adapter's cutoff."""
    samples = load_samples(path)
    scorer = Scorer(rec.lm.model, rec.lm.tokenizer, ScoreOptions(cutoff=rec.cutoff), lm_template(rec.lm))
    return np.array([bool(s.label) for s in samples]), np.asarray(scorer.score(samples, desc=path.name))


def figures(y: np.ndarray, p: np.ndarray) -> dict:
    return {"ece": round(ece(y, p), 4), "logloss": round(logloss(y, p), 4), "mean_p": round(float(p.mean()), 4),
            "yes_share": round(float(y.mean()), 4), "ece_lower_bound": round(abs(float(p.mean() - y.mean())), 4)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="run or adapter folder")
    ap.add_argument("--data", default=None, help="folder with valid.json and test.json "
                    "(default: DATA_DIR/tallrec-official/movie)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    folder = Path(a.data) if a.data else data_dir() / "tallrec-official" / "movie"
    rec = Recommender.load(a.run, precision=a.precision)
    yv, pv = raw_scores(rec, folder / "valid.json")
    yt, pt = raw_scores(rec, folder / "test.json")
    out = {"run": a.run, "data": str(folder), "raw": {"valid": figures(yv, pv), "test": figures(yt, pt)}}
    for method in ("temperature", "platt"):
        cal = fit_calibration(yv, pv, method)
        out[method] = {"params": cal.params, "valid": figures(yv, cal.apply(pv)), "test": figures(yt, cal.apply(pt))}
    out["target_test_ece"] = round(out["raw"]["test"]["ece"] / 2, 4)
    print(f"{'':12} {'valid ECE':>9} {'test ECE':>9} {'test log-loss':>13} {'test mean P':>11} {'bound':>6}")
    for k in ("raw", "temperature", "platt"):
        v, t = out[k]["valid"], out[k]["test"]
        print(f"{k:12} {v['ece']:9.4f} {t['ece']:9.4f} {t['logloss']:13.4f} {t['mean_p']:11.4f} "
              f"{t['ece_lower_bound']:6.4f}")
    print(f"Yes share: valid {out['raw']['valid']['yes_share']}, test {out['raw']['test']['yes_share']}; "
          f"target test ECE <= {out['target_test_ece']}")
    if a.json:
        write_json_atomic(a.json, out)
    return out


if __name__ == "__main__":
    main()
