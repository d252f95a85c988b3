"""`tallrec paper report DIR`: report.md, summary.json and plots from a grid folder's store and its cells' scores.

report.md holds, from DIR/results.jsonl:

* the main table per domain: test AUC x 100, mean ± sample sd over seeds, beside the paper's Table 1
  (paper_table1.json: LLaMA-7B; only numbers transcribed with certainty, the others left empty);
* the AT / R / TALLRec ablation, when any of those rows exist;
* the cross-domain matrices, when present;
* plots/auc_vs_shots_<domain>.png: AUC against K for every method;
* time per method, the hardware, models, recipes and package versions the rows were produced with;
* every cell (in a collapsed list);
* paired differences, from each cell's own scores.jsonl: per method, AUC minus that of the paper's
  method (tallrec) and of the like-share floor on the same samples, per seed with a 95% paired
  bootstrap interval, and mean ± sd over seeds (compare.py, stats.py);
* AUC per slice: warm / cold target items and like-share buckets of the history (slices.py), when
  the data folder is there to give the test samples.

summary.json holds the same aggregates for programs. Methods, labels and order come from the
registry (experiments/methods.py).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ...core.errors import TallrecError
from ...core.extras import require_extra
from ...core.io import (
    ensure_dir,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from ..common import DOMAINS, markdown_table
from ..grid.store import GRID_JSON, STORE_NAME, ResultStore
from . import tables
from .plots import plot_domain

PAPER_FILE = "paper_table1.json"


def load_paper() -> dict:
    return json.loads(resources.files("tallrec.experiments").joinpath(PAPER_FILE).read_text())


def _read_meta(out: Path) -> dict:
    try:
        return json.loads((out / GRID_JSON).read_text())
    except (OSError, ValueError):
        return {}


def _main_section(rows, agg, paper, plots) -> list[str]:
    md = ["## Main table (paper Table 1 beside)", "", f"Paper: {paper['source']}; {paper['model']}.", ""]
    md += [f"- {n}" for n in paper.get("notes", [])] + [""]
    for d in DOMAINS:
        drows = [r for r in rows if r["domain"] == d]
        if not drows and not any(v is not None for m in paper["methods"].values() for v in m.get(d, [])):
            continue
        table, notes = tables.main_table(d, drows, agg, paper)
        md += [f"### {d}", "", table.rstrip()] + ([""] + notes if notes else [])
        if d in plots:
            md += ["", f"![{d}: AUC against K](plots/{plots[d].name})"]
        md.append("")
    return md


def _study_sections(rows, agg) -> list[str]:
    md = []
    abl = [(d, tables.ablation_table(d, rows, agg)) for d in DOMAINS]
    if any(t for _, t in abl):
        md += ["## Ablation: AT / R / TALLRec", "",
               "AT: the stage-1 (Alpaca-tuned) adapter alone, no rec-tuning (K-independent, †); R: rec-tuning "
               "from a fresh LoRA; TALLRec: rec-tuning continued from the stage-1 adapter on the same K samples. "
               "The paper shows these as bars (Figure 3); no numbers are transcribed. '–': not run.", ""]
        md += [line for d, t in abl if t for line in (f"### {d}", "", t.rstrip(), "")]
    xd = tables.cross_domain_tables(rows)
    if xd:
        md += ["## Cross-domain", "",
               "Rec-tuned (fresh LoRA unless the recipe sets init_adapter) on movie, on book, or on both; each "
               "adapter tested on both test sets.", "", xd.rstrip(), ""]
    return md


def _provenance_sections(rows, meta) -> list[str]:
    md = ["## Time", "", tables.timing_table(rows).rstrip(), "",
          "## Hardware, models, versions", "", "Hardware the rows were produced on:"] + tables.hardware(rows)
    models = tables.models_used(rows)
    md += ["", "LLMs (precision):"] + models if models else []
    recipes = tables.recipes(rows)
    md += ["", "Rec-tuning recipes:"] + recipes if recipes else []
    data = meta.get("data") or {}
    md += ["", "Data (last run):"] + [f"- {d}: {s}" for d, s in data.items()] if data else []
    return md + ["", f"Versions: {tables.versions(rows)}.", ""]


def _cell_lists(rows, missing) -> list[str]:
    md = []
    if missing:
        md += ["<details><summary>Cells not finished yet</summary>", "", *[f"- `{k}`" for k in missing], "",
               "</details>", ""]
    body = [[f"`{r['key']}`", f"{100 * r['auc']:.2f}", str(r["n"]),
             "–" if r.get("cell_seconds") is None else f"{r['cell_seconds']:.0f}", r.get("finished", ""), r["dir"]]
            for r in rows]
    return md + ["<details><summary>All cells</summary>", "",
                 markdown_table(["cell", "AUC×100", "test n", "seconds", "finished", "folder"], body).rstrip(), "",
                 "</details>", ""]


def _domains_for_slices(rows, meta, data_dir) -> tuple[dict, str | None]:
    from ...core.errors import TallrecError as Error
    from ...data.datasets import load_domain

    split = ((meta.get("grid") or {}).get("test_split")) or "official"
    out, problems = {}, []
    for d in sorted({r["domain"] for r in rows} & set(DOMAINS)):
        try:
            out[d] = load_domain(d, data_dir, split)
        except Error as e:
            problems.append(f"{d}: {e}")
    return out, "; ".join(problems) or None


def _per_domain(title: str, intro: str, table, data) -> list[str]:
    """A report section: its title, what it shows, and one table per domain that has rows."""
    md = [f"## {title}", "", intro, ""]
    for d in DOMAINS:
        t = table(d, data)
        md += [f"### {d}", "", t.rstrip(), ""] if t else []
    return md


def _paired_sections(out: Path, rows, meta, data_dir, domains) -> tuple[list[str], dict]:
    from .compare import load_scores, paired_differences, row_slices

    diffs, missing = paired_differences(out, rows)
    md = _per_domain("Paired differences",
                     "AUC × 100 of each method minus that of the reference on the same test samples, per seed: the "
                     "difference and its 95% paired-bootstrap interval (2,000 resamples, seed 0); * marks an "
                     "interval that excludes 0. mean ± sd: over the seeds' differences. A K-independent method is "
                     "paired with every seed of the reference.", tables.difference_table, diffs)
    if not diffs:
        md += ["No pair of cells with per-sample scores here.", ""]
    if missing:
        md += [f"Per-sample scores (scores.jsonl in the cell folder) not found here for {len(missing)} cell(s), so "
               f"they have no interval: {', '.join(f'`{k}`' for k in missing[:8])}"
               + (" ..." if len(missing) > 8 else ""), ""]
    scored = [r for r in rows if load_scores(out, r) is not None]
    problem = None
    if domains is None:
        domains, problem = _domains_for_slices(scored, meta, data_dir)
    sl, note = row_slices(out, scored, domains)
    md += _per_domain("AUC per slice",
                      "Warm target: the test target appears in the cell's K training samples (as a target or in a "
                      "history); cold: it does not. Like-share buckets: the share of liked items in the test "
                      "sample's history. AUC × 100, mean over seeds; n: test samples in the slice.",
                      tables.slice_table, sl)
    md += [f"({x})" for x in (problem and f"data not loaded: {problem}", note) if x] + [""]
    return md, {"differences": diffs, "missing_scores": missing, "slices": sl}


def build_report(out: str | Path, data_dir=None, domains=None) -> Path:
    """Write DIR/report.md, DIR/summary.json and DIR/plots/*.png from DIR/results.jsonl (and the cells'
    scores.jsonl; the data folder or `domains` (domain -> DomainData), for the slices' test samples)."""
    out = Path(out)
    store = ResultStore(out / STORE_NAME)
    if not store.path.is_file():
        raise TallrecError(f"{out}: no {STORE_NAME} here; run `tallrec paper reproduce --out {out}` first")
    require_extra("report", "the report (its plots)")
    rows, meta, paper = store.load(), _read_meta(out), load_paper()
    agg = tables.aggregate(rows)
    ensure_dir(out / "plots")
    plots = {}
    for d in DOMAINS:
        png = plot_domain(d, rows, agg, paper)
        if png is not None:
            plots[d] = write_bytes_atomic(out / "plots" / f"auc_vs_shots_{d}.png", png)
    planned = meta.get("planned") or []
    have = {r["key"] for r in rows}
    missing = [k for k in planned if k not in have]
    md = [f"# TALLRec reproduction: {out.name}", "",
          f"{len(rows)} finished cells in `{STORE_NAME}`"
          + (f"; the last grid run here ({meta.get('source')}) plans {len(planned)}, {len(missing)} not finished yet"
             if planned else "")
          + ". Test AUC × 100; mean ± sample sd over seeds (number of seeds in brackets) where more than one."]
    if store.partial_tail or store.bad_lines:
        md.append(f"\n(The store has {store.bad_lines} unreadable line(s) and "
                  f"{'a' if store.partial_tail else 'no'} partial last line, skipped.)")
    desc = (meta.get("grid") or {}).get("description")
    md += ["", desc.strip()] if desc else []
    md += [""] + _main_section(rows, agg, paper, plots) + _study_sections(rows, agg)
    paired_md, paired = _paired_sections(out, rows, meta, data_dir, domains)
    md += paired_md
    md += _provenance_sections(rows, meta) + _cell_lists(rows, missing)
    path = write_text_atomic(out / "report.md", "\n".join(md))
    write_json_atomic(out / "summary.json", {
        "metric": "test AUC", "cells": len(rows), "planned": len(planned), "missing": missing,
        "table": [{"method": m, "model": mo, "domain": d, "shots": k, **a} for (m, mo, d, k), a in sorted(
            agg.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2], kv[0][3]))],
        "plots": {d: str(p.relative_to(out)) for d, p in plots.items()}, **paired})
    return path
