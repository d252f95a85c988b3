"""`tallrec report DIR`: report.md and plots from a reproduce folder's results store, computing nothing.

report.md holds, from DIR/results.jsonl:

* the main table per domain: test AUC x 100, mean ± sample sd over seeds, beside the paper's Table 1
  (paper_table1.json: LLaMA-7B; only numbers transcribed with certainty, the others left empty);
* the AT / R / TALLRec ablation, when any of those rows exist;
* the cross-domain matrices, when present;
* plots/auc_vs_shots_<domain>.png: AUC against K for every method;
* time per method, the hardware, models, recipes and package versions the rows were produced with;
* every cell (in a collapsed list).

summary.json holds the same aggregates for programs.
"""

from __future__ import annotations

import io
import json
import statistics
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

from ..core.errors import TallrecError
from ..core.io import ensure_dir, write_bytes_atomic, write_json_atomic, write_text_atomic
from .cells import markdown_table
from .reproduce import (
    BASELINE_METHODS,
    DEFAULT_MODEL,
    DOMAINS,
    K_INDEPENDENT,
    METHOD_LABELS,
    XD_METHODS,
    XD_ROWS,
    fmt_duration,
    model_slug,
)
from .store import STORE_NAME, ResultStore

REPORT_ORDER = ("gru4rec", "caser", "sasrec", "dros", "gru-bert", "dros-bert", "like-share", "logreg",
                "icl", "at", "r", "tallrec")
PAPER_FILE = "paper_table1.json"


def load_paper() -> dict:
    return json.loads(resources.files("tallrec.experiments").joinpath(PAPER_FILE).read_text())


# ---------------------------------------------------------------- aggregation

def _short_model(model: str | None) -> str:
    if model is None:
        return "–"
    return model if len(model) <= 32 and "/" not in model else model_slug(model)


def aggregate(rows: Iterable[dict]) -> dict:
    """(method, model, domain, shots) -> {"mean", "sd", "seeds", "n"} over the rows' seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r.get("model"), r["domain"], r["shots"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        aucs = [float(r["auc"]) for r in rs]
        out[key] = {"mean": statistics.fmean(aucs), "sd": statistics.stdev(aucs) if len(aucs) > 1 else None,
                    "seeds": sorted(r["seed"] for r in rs), "n": sorted({r["n"] for r in rs})}
    return out


def _cell(agg: dict | None, mark: str = "") -> str:
    if agg is None:
        return "–"
    s = f"{100 * agg['mean']:.2f}"
    if agg["sd"] is not None:
        s += f" ± {100 * agg['sd']:.2f} ({len(agg['seeds'])})"
    return s + mark


def _paper_value(paper: dict, method: str, domain: str, k: int) -> str:
    entry = paper["methods"].get(method)
    if entry is None:
        return "n/a"
    if k not in paper["shots"]:
        return ""
    v = entry.get(domain, [None] * len(paper["shots"]))[paper["shots"].index(k)]
    return entry.get("approx", "–") if v is None else f"{v:.2f}"


def _series(rows: Sequence[dict]) -> list[tuple[str, str | None]]:
    """(method, model) pairs present, in report order, default model first."""
    pairs = {(r["method"], r.get("model")) for r in rows if r["method"] not in XD_METHODS}
    rank = {m: i for i, m in enumerate(REPORT_ORDER)}
    return sorted(pairs, key=lambda p: (rank.get(p[0], 99), p[1] != DEFAULT_MODEL, p[1] or ""))


def _main_table(domain: str, rows: Sequence[dict], agg: dict, paper: dict) -> tuple[str, list[str]]:
    ks = sorted({r["shots"] for r in rows if r["shots"] > 0 and r["method"] not in XD_METHODS} | set(paper["shots"]))
    header = ["method", "model"]
    for k in ks:
        header.append(f"K={k}")
        if k in paper["shots"]:
            header.append(f"paper K={k}")
    header.append("test n")
    series = _series(rows)
    present = {m for m, _ in series}
    # the paper's methods with numbers, even when not run here
    series += [(m, None) for m in REPORT_ORDER if m in paper["methods"] and m not in present
               and any(v is not None for v in paper["methods"][m].get(domain, []))]
    table, notes = [], []
    for method, model in series:
        independent = method in K_INDEPENDENT
        line = [METHOD_LABELS.get(method, method), "–" if method in BASELINE_METHODS else
                (_short_model(model) if model else "(not run)")]
        ns = set()
        for k in ks:
            a = agg.get((method, model, domain, 0 if independent else k))
            if a:
                ns.update(a["n"])
            line.append(_cell(a, " †" if independent and a else ""))
            if k in paper["shots"]:
                line.append(_paper_value(paper, method, domain, k))
        line.append(", ".join(map(str, sorted(ns))) or "–")
        table.append(line)
        if independent and agg.get((method, model, domain, 0)):
            notes.append("† does not depend on K: one evaluation, shown in every K column")
    return markdown_table(header, table), sorted(set(notes))


def _ablation(domain: str, rows: Sequence[dict], agg: dict) -> str | None:
    arms = ("at", "r", "tallrec")
    mine = [r for r in rows if r["domain"] == domain and r["method"] in arms]
    if not mine:
        return None
    ks = sorted({r["shots"] for r in mine if r["shots"] > 0}) or [64]
    models = sorted({r.get("model") for r in mine}, key=lambda m: (m != DEFAULT_MODEL, m or ""))
    out = []
    for model in models:
        body = []
        for arm in arms:
            independent = arm in K_INDEPENDENT
            body.append([{"at": "AT", "r": "R", "tallrec": "TALLRec"}[arm]] +
                        [_cell(agg.get((arm, model, domain, 0 if independent else k)), " †" if independent else "")
                         if agg.get((arm, model, domain, 0 if independent else k)) else "–" for k in ks])
        title = f"model `{_short_model(model)}`" if len(models) > 1 else ""
        out.append((title + "\n\n" if title else "") + markdown_table(["arm"] + [f"K={k}" for k in ks], body))
    return "\n".join(out)


def _cross_domain(rows: Sequence[dict]) -> str | None:
    xd = [r for r in rows if r["method"] in XD_METHODS]
    if not xd:
        return None
    parts = []
    for model in sorted({r.get("model") for r in xd}, key=lambda m: (m != DEFAULT_MODEL, m or "")):
        for k in sorted({r["shots"] for r in xd if r.get("model") == model}):
            agg = aggregate(r for r in xd if r.get("model") == model and r["shots"] == k)
            body = [[f"trained on {row}" + (" (K movie + K book)" if row == "both" else "")] +
                    [_cell(agg.get((f"xd-{row}", model, col, k))) for col in DOMAINS] for row in XD_ROWS]
            seeds = sorted({r["seed"] for r in xd if r.get("model") == model and r["shots"] == k})
            vf = sorted({r.get("valid_from") for r in xd if r.get("trained_on") == "both"} - {None})
            parts.append(f"K={k} per domain, model `{_short_model(model)}`, seeds {seeds}"
                         + (f", early stopping of the 'both' row on the {'/'.join(vf)} validation set" if vf else "")
                         + "\n\n" + markdown_table(["", "test movie", "test book"], body))
    return "\n".join(parts)


# ---------------------------------------------------------------- plots

def plot_domain(domain: str, rows: Sequence[dict], agg: dict, paper: dict) -> bytes | None:
    """PNG bytes: AUC x 100 against K for every method on one domain (None when no rows)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    mine = [r for r in rows if r["domain"] == domain and r["method"] not in XD_METHODS]
    if not mine:
        return None
    series = _series(mine)
    ks = sorted({r["shots"] for r in mine if r["shots"] > 0} | set(paper["shots"]))
    fig = Figure(figsize=(9.5, 5.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    colors = _colors(len(series))
    handles = []
    for (method, model), color in zip(series, colors):
        label = METHOD_LABELS.get(method, method) + (f" [{_short_model(model)}]" if model and model != DEFAULT_MODEL else "")
        if method in K_INDEPENDENT:
            a = agg.get((method, model, domain, 0))
            if a:
                handles.append(ax.axhline(100 * a["mean"], color=color, ls="--", lw=1.6,
                                          label=f"{label} (K-independent)"))
            continue
        pts = [(k, agg[(method, model, domain, k)]) for k in ks if (method, model, domain, k) in agg]
        if not pts:
            continue
        x = [k for k, _ in pts]
        y = [100 * a["mean"] for _, a in pts]
        err = [100 * (a["sd"] or 0.0) for _, a in pts]
        llm = method in ("tallrec", "r")
        handles.append(ax.errorbar(x, y, yerr=err if any(err) else None, color=color, marker="o", ms=5 if llm else 4,
                                   lw=2.2 if llm else 1.2, ls="-" if method not in ("like-share", "logreg") else "-.",
                                   capsize=3, label=label))
    entry = paper["methods"].get("tallrec", {})
    pv = [(k, v) for k, v in zip(paper["shots"], entry.get(domain, [])) if v is not None]
    if pv:
        handles += ax.plot([k for k, _ in pv], [v for _, v in pv], color="black", ls=":", marker="x", ms=7, lw=1.5,
                           label=f"paper: {entry.get('label', 'TALLRec')}")
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


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]


# ---------------------------------------------------------------- provenance

def _hardware(rows: Sequence[dict]) -> list[str]:
    hosts: dict[str, tuple[dict, int]] = {}
    for r in rows:
        h = r.get("host") or {}
        key = json.dumps({k: h.get(k) for k in ("hostname", "cpu", "logical_cores", "gpus")}, sort_keys=True)
        hosts[key] = (h, hosts.get(key, (h, 0))[1] + 1)
    lines = []
    for h, count in hosts.values():
        gpu = ", ".join(h.get("gpus") or []) or "none"
        lines.append(f"- {h.get('cpu', '?')}; {h.get('logical_cores', '?')} logical cores "
                     f"({h.get('usable_cores', '?')} usable, torch threads {h.get('torch_threads', '?')}); "
                     f"memory {h.get('memory_gib', '?')} GiB; GPU: {gpu}; {h.get('os', '')} "
                     f"(host `{h.get('hostname', '?')}`, {count} rows)")
    return lines


def _versions(rows: Sequence[dict]) -> str:
    seen: dict[str, set] = {}
    for r in rows:
        for k, v in ((r.get("metrics") or {}).get("versions") or {}).items():
            seen.setdefault(k, set()).add(v)
    return ", ".join(f"{k} {' / '.join(sorted(v))}" for k, v in sorted(seen.items())) or "not recorded"


def _models(rows: Sequence[dict]) -> list[str]:
    out = {}
    for r in rows:
        if r.get("model") is None:
            continue
        m = r.get("metrics") or {}
        out.setdefault(r["model"], set()).add(str(m.get("dtype") or "?"))
    return [f"- `{m}` ({', '.join(sorted(d - {'?'}) or ['dtype not recorded'])})" for m, d in sorted(out.items())]


_RECIPE_KEYS = ("lr", "epochs", "batch_size", "micro_batch_size", "eval_every", "patience", "valid_size", "loss_on",
                "cutoff", "precision", "lora")


def _recipes(rows: Sequence[dict]) -> list[str]:
    seen = {}
    for r in rows:
        cfg = (r.get("settings") or {}).get("rec_config")
        if cfg:
            txt = ", ".join(f"{k} {cfg.get(k)}" for k in _RECIPE_KEYS if k in cfg)
            seen.setdefault(txt, set()).add(r["method"])
    return [f"- {', '.join(sorted(m))}: {t}" for t, m in seen.items()]


def _timing(rows: Sequence[dict]) -> str:
    per: dict[str, list[float]] = {}
    for r in rows:
        sec = r.get("cell_seconds")
        method = "cross-domain" if r["method"] in XD_METHODS else r["method"]
        per.setdefault(method, [])
        if isinstance(sec, (int, float)):
            per[method].append(float(sec) * (6 if r["method"] in XD_METHODS else 1))
    rank = {m: i for i, m in enumerate(REPORT_ORDER + ("cross-domain",))}
    body = []
    for m in sorted(per, key=lambda m: rank.get(m, 99)):
        n = sum(1 for r in rows if (("cross-domain" if r["method"] in XD_METHODS else r["method"]) == m))
        secs = per[m]
        cells = n // 6 if m == "cross-domain" else n
        timed = len(secs) // (6 if m == "cross-domain" else 1)
        total = sum(secs) / (6 if m == "cross-domain" else 1)
        body.append([m, str(cells), fmt_duration(total) if secs else "–",
                     fmt_duration(total / max(1, timed)) if secs else "–"])
    return markdown_table(["method", "cells", "time (timed cells)", "per cell"], body)


# ---------------------------------------------------------------- the report

def build_report(out: str | Path) -> Path:
    """Write DIR/report.md, DIR/summary.json and DIR/plots/*.png from DIR/results.jsonl."""
    out = Path(out)
    store = ResultStore(out / STORE_NAME)
    if not store.path.is_file():
        raise TallrecError(f"{out}: no {STORE_NAME} here; run `tallrec reproduce --out {out}` first")
    rows = store.load()
    meta = {}
    if (out / "reproduce.json").is_file():
        try:
            meta = json.loads((out / "reproduce.json").read_text())
        except ValueError:
            meta = {}
    paper = load_paper()
    agg = aggregate(rows)
    ensure_dir(out / "plots")
    plots = {}
    for d in DOMAINS:
        png = plot_domain(d, rows, agg, paper)
        if png is not None:
            plots[d] = write_bytes_atomic(out / "plots" / f"auc_vs_shots_{d}.png", png)

    planned = meta.get("planned") or []
    have = {r["key"] for r in rows}
    missing = [k for k in planned if k not in have]
    md = [f"# TALLRec reproduction: {out.name}", ""]
    src = meta.get("source")
    md.append(f"{len(rows)} finished cells in `{STORE_NAME}`"
              + (f"; the last grid run here ({src}) plans {len(planned)}, {len(missing)} not finished yet" if planned else "")
              + ". Test AUC × 100; mean ± sample sd over seeds (number of seeds in brackets) where more than one.")
    if store.partial_tail or store.bad_lines:
        md.append(f"\n(The store has {store.bad_lines} unreadable line(s) and "
                  f"{'a' if store.partial_tail else 'no'} partial last line, skipped.)")
    desc = (meta.get("grid") or {}).get("description")
    if desc:
        md += ["", desc.strip()]
    md += ["", "## Main table (paper Table 1 beside)", "",
           f"Paper: {paper['source']}; {paper['model']}.", ""] + [f"- {n}" for n in paper.get("notes", [])] + [""]
    for d in DOMAINS:
        drows = [r for r in rows if r["domain"] == d]
        if not drows and not any(v is not None for m in paper["methods"].values() for v in m.get(d, [])):
            continue
        table, notes = _main_table(d, drows, agg, paper)
        md += [f"### {d}", "", table.rstrip()]
        md += [""] + notes if notes else []
        if d in plots:
            md += ["", f"![{d}: AUC against K](plots/{plots[d].name})"]
        md.append("")
    abl = [(d, _ablation(d, rows, agg)) for d in DOMAINS]
    if any(t for _, t in abl):
        md += ["## Ablation: AT / R / TALLRec", "",
               "AT: the stage-1 (Alpaca-tuned) adapter alone, no rec-tuning (K-independent, †); R: rec-tuning "
               "from a fresh LoRA; TALLRec: rec-tuning continued from the stage-1 adapter on the same K samples. "
               "The paper shows these as bars (Figure 3); no numbers are transcribed. '–': not run.", ""]
        for d, t in abl:
            if t:
                md += [f"### {d}", "", t.rstrip(), ""]
    xd = _cross_domain(rows)
    if xd:
        md += ["## Cross-domain", "",
               "Rec-tuned (fresh LoRA, as `tallrec cross-domain` does) on movie, on book, or on both; each adapter "
               "tested on both test sets.", "", xd.rstrip(), ""]
    md += ["## Time", "", _timing(rows).rstrip(), "",
           "## Hardware, models, versions", "", "Hardware the rows were produced on:"] + _hardware(rows)
    models = _models(rows)
    if models:
        md += ["", "LLMs (precision):"] + models
    recipes = _recipes(rows)
    if recipes:
        md += ["", "Rec-tuning recipes:"] + recipes
    data = meta.get("data") or {}
    if data:
        md += ["", "Data (last run):"] + [f"- {d}: {s}" for d, s in data.items()]
    md += ["", f"Versions: {_versions(rows)}.", ""]
    if missing:
        md += ["<details><summary>Cells not finished yet</summary>", "", *[f"- `{k}`" for k in missing], "",
               "</details>", ""]
    body = [[f"`{r['key']}`", f"{100 * r['auc']:.2f}", str(r["n"]),
             "–" if r.get("cell_seconds") is None else f"{r['cell_seconds']:.0f}", r.get("finished", ""), r["dir"]]
            for r in rows]
    md += ["<details><summary>All cells</summary>", "",
           markdown_table(["cell", "AUC×100", "test n", "seconds", "finished", "folder"], body).rstrip(), "",
           "</details>", ""]
    path = write_text_atomic(out / "report.md", "\n".join(md))
    write_json_atomic(out / "summary.json", {
        "metric": "test AUC", "cells": len(rows), "planned": len(planned), "missing": missing,
        "table": [{"method": m, "model": mo, "domain": d, "shots": k, **a} for (m, mo, d, k), a in sorted(
            agg.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2], kv[0][3]))],
        "plots": {d: str(p.relative_to(out)) for d, p in plots.items()}})
    return path
