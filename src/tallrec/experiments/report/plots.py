"""The report's plots: test AUC x 100 against K for every method on one domain (PNG bytes)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from ...core.defaults import DEFAULT_MODEL
from .. import methods
from .tables import is_unit_row, label, series, short_model


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]


def _draw_series(ax, method: str, model: str | None, domain: str, ks: list[int], agg: dict, color):
    """One method's line (K-dependent) or horizontal line (K-independent); None when nothing to draw."""
    m = methods.REGISTRY.get(method)
    name = label(method) + (f" [{short_model(model)}]" if model and model != DEFAULT_MODEL else "")
    if m is not None and not m.uses_k:
        a = agg.get((method, model, domain, 0))
        return ax.axhline(100 * a["mean"], color=color, ls="--", lw=1.6, label=f"{name} (K-independent)") if a else None
    pts = [(k, agg[(method, model, domain, k)]) for k in ks if (method, model, domain, k) in agg]
    if not pts:
        return None
    err = [100 * (a["sd"] or 0.0) for _, a in pts]
    tuned = m is not None and m.kind == "llm-tuned"
    return ax.errorbar([k for k, _ in pts], [100 * a["mean"] for _, a in pts], yerr=err if any(err) else None,
                       color=color, marker="o", ms=5 if tuned else 4, lw=2.2 if tuned else 1.2,
                       ls="-." if m is not None and m.kind == "floor" else "-", capsize=3, label=name)


def _paper_line(ax, paper: dict, domain: str) -> list:
    entry = paper["methods"].get("tallrec", {})
    pv = [(k, v) for k, v in zip(paper["shots"], entry.get(domain, [])) if v is not None]
    if not pv:
        return []
    return ax.plot([k for k, _ in pv], [v for _, v in pv], color="black", ls=":", marker="x", ms=7, lw=1.5,
                   label=f"paper: {entry.get('label', 'TALLRec')}")


def plot_domain(domain: str, rows: Sequence[dict], agg: dict, paper: dict) -> bytes | None:
    """PNG bytes: AUC x 100 against K for every method on one domain (None when no rows)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    mine = [r for r in rows if r["domain"] == domain and not is_unit_row(r["method"])]
    if not mine:
        return None
    pairs = series(mine)
    ks = sorted({r["shots"] for r in mine if r["shots"] > 0} | set(paper["shots"]))
    fig = Figure(figsize=(9.5, 5.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    handles = [_draw_series(ax, method, model, domain, ks, agg, color)
               for (method, model), color in zip(pairs, _colors(len(pairs)))]
    handles = [h for h in handles if h is not None] + _paper_line(ax, paper, domain)
    ax.axhline(50, color="grey", lw=0.8, ls=":", zorder=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("K (training samples)")
    ax.set_ylabel("test AUC × 100")
    seeds = sorted({r["seed"] for r in mine})
    ax.set_title(f"{domain}: test AUC against K (mean ± sd over seeds {seeds}; grey: chance)")
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
