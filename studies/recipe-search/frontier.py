"""The measured frontier of the recipe study: validation AUC against model size and CPU minutes.

Reads the results files `recipe_search.py` (beside it) writes (one JSON line per recipe, model and
seed), groups them by recipe and model, and prints one markdown row each: parameters, seeds,
selection AUC (mean +- sd over seeds), minutes per run. `--plot FILE` draws selection AUC against
minutes per run, one marker per model, so a reader sees what each extra minute or parameter
bought. Only validation data is involved: the study never reads a test file.

    python studies/recipe-search/frontier.py studies/recipe-search/recipe-study.jsonl --plot frontier.png
        [--model-path qwen2.5-coder-0.5b=PATH.gguf]   # a model the registry does not name
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def load_rows(paths: list[Path]) -> list[dict]:
    rows = []
    for p in paths:
        rows += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return rows


def aggregate(rows: list[dict]) -> list[dict]:
    """One entry per (recipe, model): mean and sd of the selection AUC over seeds, mean minutes."""
    by: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        model = r.get("model", "smollm2-135m")
        by.setdefault((r["name"].split("@")[0], model), []).append(r)
    out = []
    for (name, model), rs in by.items():
        sel = [r["select_auc"] for r in rs]
        out.append({"recipe": name, "model": model, "seeds": sorted(r.get("seed", 0) for r in rs),
                    "mean": float(np.mean(sel)), "sd": float(np.std(sel, ddof=1)) if len(sel) > 1 else None,
                    "minutes": float(np.mean([r["seconds"] for r in rs])) / 60, "n": rs[0]["select_n"],
                    # process CPU time (all threads): unlike wall time, not inflated by other jobs
                    "cpu_minutes": (float(np.mean([r["cpu_seconds"] for r in rs])) / 60
                                    if all("cpu_seconds" in r for r in rs) else None)})
    return sorted(out, key=lambda e: (e["model"], -e["mean"]))


def parameter_counts(models: set[str], paths: dict[str, str] | None = None) -> dict[str, int]:
    """Parameters of each base model, counted on the loaded weights (embeddings included). A model
    the registry no longer names (qwen2.5-coder-0.5b) is loaded from its path in `paths`."""
    from tallrec.llm.models import load_model

    paths = paths or {}
    return {m: sum(p.numel() for p in load_model(paths.get(m, m)).model.parameters()) for m in sorted(models)}


def table(entries: list[dict], params: dict[str, int]) -> str:
    lines = ["| model | parameters | recipe | seeds | selection AUC (mean +- sd) | wall min / run | CPU min / run |",
             "|---|---:|---|---|---|---:|---:|"]
    for e in entries:
        sd = f" +- {e['sd']:.4f}" if e["sd"] is not None else ""
        lines.append(f"| {e['model']} | {params[e['model']] / 1e6:.0f}M | {e['recipe']} | "
                     f"{','.join(map(str, e['seeds']))} | {e['mean']:.4f}{sd} (n={e['n']}) | {e['minutes']:.1f} | "
                     f"{'-' if e['cpu_minutes'] is None else format(e['cpu_minutes'], '.1f')} |")
    return "\n".join(lines)


def plot(entries: list[dict], params: dict[str, int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    cpu = all(e["cpu_minutes"] is not None for e in entries)  # CPU time where every run recorded it
    x = {id(e): e["cpu_minutes"] if cpu else e["minutes"] for e in entries}
    markers = dict(zip(sorted(params), "osD^v"))
    for e in entries:
        ax.errorbar(x[id(e)], e["mean"], yerr=e["sd"] or 0, fmt=markers[e["model"]], capsize=3,
                    color="tab:gray" if e["recipe"] == "untuned" else "tab:blue")
        ax.annotate(e["recipe"], (x[id(e)], e["mean"]), textcoords="offset points", xytext=(5, 3), fontsize=8)
    for m, mk in markers.items():
        ax.plot([], [], mk, color="k", label=f"{m} ({params[m] / 1e6:.0f}M parameters)")
    what = "CPU minutes (process time, all threads)" if cpu else "wall minutes"
    ax.set_xlabel(f"{what} per run (training + validation checks + selection scoring)")
    ax.set_ylabel("selection AUC (movie valid.json, 800 samples)")
    ax.set_title("Recipe study: validation AUC against CPU minutes (K=64; mean +- sd over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, nargs="+", help="results.jsonl files of recipe_search.py")
    ap.add_argument("--plot", type=Path, default=None, help="write the frontier plot (PNG) here")
    ap.add_argument("--model-path", action="append", default=[], metavar="NAME=PATH",
                    help="load the rows' model NAME from PATH (a .gguf file or HF folder); repeatable")
    args = ap.parse_args()
    bad = [m for m in args.model_path if "=" not in m]
    if bad:
        ap.error(f"--model-path {bad[0]!r}: expected NAME=PATH")
    entries = aggregate(load_rows(args.results))
    params = parameter_counts({e["model"] for e in entries}, dict(m.split("=", 1) for m in args.model_path))
    print(table(entries, params))
    if args.plot:
        plot(entries, params, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
