"""Does the LLM's sense of which films are alike add to the history statistics?

A content signal the few-shot samples cannot give: is the target closer to the films the user liked
than to the ones they did not? Each title ("Movie: Fargo (1996)") is embedded by the untuned LLM as
its hidden states averaged over the tokens, at the middle and at the last layer, centred on the
mean title and normalised. The feature is the target's mean cosine to the liked history items minus
its mean cosine to the disliked ones (0 where a side is empty), read from the sample alone, so it
stays within the few-shot protocol.

Chosen on validation only, like the feature study (../feature-study/): the `hist-valid` regression
with and without the feature is fitted on the 200 early-stopping validation samples and compared on the 800
other validation samples, for the K draws of seeds 0, 1, 2; the test file is never read.

    python studies/title-similarity/title_similarity_study.py --models smollm2-135m gemma3-270m [PATH.gguf]
        [--out runs/title-similarity]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from tallrec.baselines.simple import ItemRates, features
from tallrec.core.metrics import auc
from tallrec.data.fewshot import draw_fewshot
from tallrec.data.samples import Sample

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # the studies' shared helpers
from validation_protocol import (  # noqa: E402
    mean_sd,
    open_study,
    regression_auc,
    run_study,
    study_parser,
    write_rows,
)


def title_embeddings(model: str, titles: list[str], precision: str, batch: int = 32) -> dict[str, dict[str, np.ndarray]]:
    """{"middle"|"last": {title: unit vector}}: mean-pooled hidden states, centred, normalised."""
    import torch

    from tallrec.llm.models import load_model

    lm = load_model(model, precision)
    raw: dict[str, list[np.ndarray]] = {"middle": [], "last": []}
    with torch.no_grad():
        for i in range(0, len(titles), batch):
            enc = lm.tokenizer([f"Movie: {t}" for t in titles[i:i + batch]], return_tensors="pt", padding=True)
            hidden = lm.model(**enc, output_hidden_states=True).hidden_states
            mask = enc["attention_mask"].unsqueeze(-1).float()
            for name, layer in (("middle", len(hidden) // 2), ("last", -1)):
                pooled = (hidden[layer].float() * mask).sum(1) / mask.sum(1)
                raw[name].extend(pooled.numpy())
    out = {}
    for name, vectors in raw.items():
        x = np.stack(vectors)
        x = x - x.mean(0)
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        out[name] = dict(zip(titles, x))
    return out


def similarity_gap(s: Sample, unit: dict[str, np.ndarray]) -> float:
    """Mean cosine of the target to the liked history items minus that to the disliked ones."""
    t = unit[s.target]
    liked = [float(t @ unit[h]) for h, l in s.history if l]
    disliked = [float(t @ unit[h]) for h, l in s.history if not l]
    return (np.mean(liked) if liked else 0.0) - (np.mean(disliked) if disliked else 0.0)


def main():
    args = study_parser(__doc__, "runs/title-similarity", models=True).parse_args()
    out, data, fit_on, select = open_study(args)
    y = [bool(s.label) for s in select]
    titles = sorted({t for s in fit_on + select for t, _ in s.history} | {s.target for s in fit_on + select})
    rows = []
    for model in args.models:
        t0 = time.time()
        layers = title_embeddings(model, titles, args.precision)
        seconds = round(time.time() - t0, 1)
        for seed in args.seeds:
            rates = ItemRates(draw_fewshot(data.train, args.shots, seed))
            x_fit, x_sel = features(fit_on, rates), features(select, rates)
            row = {"model": model, "seed": seed, "shots": args.shots, "select_n": len(select),
                   "hist_valid": regression_auc(fit_on, select, x_fit, x_sel), "embed_seconds": seconds}
            for name, unit in layers.items():
                g_fit = [similarity_gap(s, unit) for s in fit_on]
                g_sel = [similarity_gap(s, unit) for s in select]
                row[f"plus_{name}"] = regression_auc(fit_on, select, np.column_stack([x_fit, g_fit]),
                                                     np.column_stack([x_sel, g_sel]))
                row[f"{name}_alone"] = auc(y, g_sel)
            rows.append(row)
            print(json.dumps(row), flush=True)
        write_rows(out / "results.jsonl", rows)  # after each model

    print("\n| model, layer | hist-valid (800) | + similarity (800) | difference | similarity alone |")
    print("|---|---:|---:|---:|---:|")
    for model in args.models:
        rs = [r for r in rows if r["model"] == model]
        base = np.array([r["hist_valid"] for r in rs])
        for name in ("middle", "last"):
            plus = np.array([r[f"plus_{name}"] for r in rs])
            print(f"| {model}, {name} | {mean_sd(base)} | {mean_sd(plus)} | {mean_sd(plus - base)} | {rs[0][name + '_alone']:.4f} |")


if __name__ == "__main__":
    run_study(main)
