"""collm against the text-only rec-tuned run it starts from and against hist-cf, on the same samples.

For a text run (a `tallrec train` folder) and its collm run (`tallrec train-collm --adapter TEXT`),
score the official movie test file and the unpublished draws with both, fit hist-cf on the official
validation file, and report AUC, UAUC and paired-bootstrap 95% intervals of collm minus each.
Usage: python studies/collm/collm_eval.py TEXT_RUN COLLM_RUN OUT.json [--draws 0,1,2] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from tallrec.baselines.hist_cf import fit_hist_cf, open_signals
from tallrec.baselines.settings import CollabSettings
from tallrec.core.metrics import quality
from tallrec.data.builders.movielens import unpublished_movielens
from tallrec.data.samples import load_samples
from tallrec.experiments.report.stats import paired_bootstrap
from tallrec.llm.adapters import find_adapter, with_adapter
from tallrec.llm.encoding import lm_template
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions, Scorer


def scores_of(run: Path, sets: dict) -> dict:
    adapter = find_adapter(run)
    lm = with_adapter(load_model("smollm2-135m"), adapter)
    scorer = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=16), lm_template(lm))
    return {name: scorer.score(samples, desc=f"{run.name}: {name}").tolist() for name, samples in sets.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("text_run", type=Path)
    ap.add_argument("collm_run", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--draws", default="0")
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    a = ap.parse_args()
    sets = {"official": load_samples(a.data / "tallrec-official/movie/test.json")}
    for d in [int(x) for x in a.draws.split(",") if x]:
        sets[f"unpublished-{d}"] = unpublished_movielens(a.data / "ml-100k", 1000, seed=d)
    opts = asdict(CollabSettings()) | {"log": str(a.data / "ml-100k")}
    signals = open_signals(opts)
    valid = load_samples(a.data / "tallrec-official/movie/valid.json")
    hist = {name: fit_hist_cf(valid, s, opts, signals) for name, s in sets.items()}
    methods = {"collm": scores_of(a.collm_run, sets), "text": scores_of(a.text_run, sets),
               "hist-cf": {name: h[0] for name, h in hist.items()}}
    rows = {}
    for name, samples in sets.items():
        labels, users = [s.label for s in samples], hist[name][1]["users"]
        row = {m: {k: round(v, 4) for k, v in quality(labels, methods[m][name], users).items()
                   if k in ("auc", "uauc", "gauc")} for m in methods}
        for other in ("text", "hist-cf"):
            d = paired_bootstrap(labels, methods["collm"][name], methods[other][name])
            row[f"collm-{other}"] = {"diff": round(d["diff"], 4), "ci95": [round(d["lo"], 4), round(d["hi"], 4)]}
        rows[name] = row
        print(name, json.dumps(row), flush=True)
    a.out.write_text(json.dumps({"text_run": str(a.text_run), "collm_run": str(a.collm_run), "rows": rows},
                                indent=1) + "\n")


if __name__ == "__main__":
    main()
