"""Draw the results pages' plots from the committed result files; the PNGs are committed beside them.

    python docs/gen_plots.py            # rewrites docs/results/*.png
    python docs/gen_plots.py --out DIR  # writes them into DIR instead

Nothing is measured here: every bar is a number of a JSON file in docs/results/, written by the
benchmark that measured it (its command is on the page that shows the plot). The site build does not
run this script, so the build needs no matplotlib and never changes a committed file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# The full-catalogue test metrics of recommend_bench.py's retriever table, and their labels.
LOO_METRICS = (("ndcg@10", "NDCG@10"), ("recall@10", "Recall@10"), ("ndcg@20", "NDCG@20"), ("mrr", "MRR"))
LOO_LABELS = {"popularity": "popularity", "itemknn": "item-kNN", "sasrec": "SASRec"}


def loo_retrievers_png(results: dict) -> bytes:
    """Grouped bars: each retriever's test metrics over the full catalogue (leave-one-out)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    details = results["retriever_details"]
    names = list(details)
    fig = Figure(figsize=(7.2, 3.8), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        values = [details[name]["test"][key] for key, _ in LOO_METRICS]
        xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(LOO_METRICS))]
        bars = ax.bar(xs, values, width, label=LOO_LABELS.get(name, name) + _setting(details[name]))
        ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], fontsize=7, padding=2)
    ax.set_xticks(range(len(LOO_METRICS)), [label for _, label in LOO_METRICS])
    ax.set_ylabel("test, full catalogue")
    ax.set_ylim(0, max(details[n]["test"][k] for n in names for k, _ in LOO_METRICS) * 1.2)
    ax.set_title(f"MovieLens-100K leave-one-out, {results['users_all']} users", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _setting(detail: dict) -> str:
    """The setting chosen on validation, as the legend shows it."""
    s = detail.get("settings", {})
    if "last" in s:
        return f" (last {s['last']} items)"
    if "chosen_epoch" in s:
        return f" (epoch {s['chosen_epoch']})"
    return ""


PLOTS = {"recommend-loo-retrievers.png": ("recommend-loo-retrievers.json", loo_retrievers_png)}


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the PNGs (default: docs/results)")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    written = []
    for png, (source, draw) in PLOTS.items():
        path = a.out / png
        path.write_bytes(draw(json.loads((RESULTS / source).read_text())))
        written.append(path)
        print(f"{RESULTS / source} -> {path}")
    return written


if __name__ == "__main__":
    main()
