"""Does the LLM's zero-shot judgement of the target item alone add to the history statistics?

The probe asks the untuned LLM the paper's question with an empty history ("Whether the user will
like the target movie X?", no liked or disliked items): its P(Yes) is what the model believes of
the item before knowing anything about the user, i.e. world knowledge, which the few-shot samples
cannot supply (the target's like rate in K=64 samples is mostly the prior).

Chosen on validation only, like the recipe search (../recipe-search/): the regression is fitted on
the 200 early-stopping validation samples (as `hybrid` and `hist-valid` are) and compared on the 800 other
validation samples, for the K draws of seeds 0, 1, 2 (the draw sets the target like rates). The
test file is never read. Rows: `hist-valid` (the history statistics), `+probe` (plus the probe's
log-odds), and `probe` alone. Probe scores are cached per model in OUT/probe-MODEL.json.

    python studies/item-probe/item_probe_study.py --models smollm2-135m gemma3-270m [PATH.gguf] [--out runs/item-probe]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from tallrec.core.io import write_text_atomic
from tallrec.core.metrics import auc
from tallrec.data.fewshot import draw_fewshot
from tallrec.data.samples import Sample
from tallrec.experiments.hybrid import fit_combiner, logit
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions, Scorer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # the studies' shared helpers
from validation_protocol import mean_sd, open_study, run_study, study_parser, write_rows  # noqa: E402


def probe_scores(model: str, titles: list[str], cache: Path, precision: str) -> dict[str, float]:
    """P(Yes) of the empty-history question for each title (cached: the probe never changes)."""
    done = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [t for t in titles if t not in done]
    if todo:
        lm = load_model(model, precision)
        scorer = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=16))
        probes = [Sample((), t, None, domain="movie") for t in todo]
        done.update(zip(todo, scorer.score(probes, desc=f"probe {model}")))
        write_text_atomic(cache, json.dumps(done, indent=0, sort_keys=True))
    return {t: done[t] for t in titles}


def main():
    args = study_parser(__doc__, "runs/item-probe", models=True).parse_args()
    out, data, fit_on, select = open_study(args)
    y = [bool(s.label) for s in select]
    rows = []
    for model in args.models:
        t0 = time.time()
        probe = probe_scores(model, sorted({s.target for s in data.valid}), out / f"probe-{Path(model).name}.json",
                             args.precision)
        seconds = time.time() - t0
        p_fit = [probe[s.target] for s in fit_on]
        p_sel = [probe[s.target] for s in select]
        for seed in args.seeds:
            train = draw_fewshot(data.train, args.shots, seed)
            base, _ = fit_combiner(train, fit_on, select)
            plus, info = fit_combiner(train, fit_on, select, p_fit, p_sel)
            rows.append({"model": model, "seed": seed, "shots": args.shots, "select_n": len(select),
                         "hist_valid": auc(y, base), "plus_probe": auc(y, plus), "probe_alone": auc(y, logit(p_sel)),
                         "probe_coef": info["coef"][0], "probe_seconds": round(seconds, 1)})
            print(json.dumps(rows[-1]), flush=True)
    write_rows(out / "results.jsonl", rows)
    print("\n| probe model | hist-valid (800) | + probe (800) | difference | probe alone | probe coef |")
    print("|---|---:|---:|---:|---:|---:|")
    for model in args.models:
        rs = [r for r in rows if r["model"] == model]
        a, b = np.array([r["hist_valid"] for r in rs]), np.array([r["plus_probe"] for r in rs])
        print(f"| {model} | {mean_sd(a)} | {mean_sd(b)} | {mean_sd(b - a)} | {rs[0]['probe_alone']:.4f} | "
              f"{np.mean([r['probe_coef'] for r in rs]):+.3f} |")


if __name__ == "__main__":
    run_study(main)
