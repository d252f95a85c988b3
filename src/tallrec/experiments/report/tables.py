"""The report's tables, from the store's rows: the main table beside the paper's Table 1, the
AT / R / TALLRec ablation, the cross-domain matrices, time per method, and the provenance lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from ...core.defaults import DEFAULT_MODEL
from .. import methods
from ..common import DOMAINS, markdown_table, mean_sd
from ..grid.cells import model_slug
from ..grid.estimate import fmt_duration

XD_UNIT = "cross-domain"


def short_model(model: str | None) -> str:
    if model is None:
        return "–"
    return model if len(model) <= 32 and "/" not in model else model_slug(model)


def is_unit_row(method: str) -> bool:
    return methods.unit_of(method) != method


def _independent(method: str) -> bool:
    m = methods.REGISTRY.get(method)
    return m is not None and not m.uses_k


def label(method: str) -> str:
    m = methods.REGISTRY.get(method)
    return m.label if m is not None else method


def aggregate(rows: Iterable[dict]) -> dict:
    """(method, model, domain, shots) -> {"mean", "sd", "seeds", "n"} over the rows' seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r.get("model"), r["domain"], r["shots"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        mean, sd = mean_sd([float(r["auc"]) for r in rs])
        out[key] = {"mean": mean, "sd": sd, "seeds": sorted(r["seed"] for r in rs), "n": sorted({r["n"] for r in rs})}
    return out


def cell_text(agg: dict | None, mark: str = "") -> str:
    """AUC x 100, with ± sd (seeds) where more than one seed."""
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


def series(rows: Sequence[dict]) -> list[tuple[str, str | None]]:
    """(method, model) pairs present, in report order, default model first."""
    pairs = {(r["method"], r.get("model")) for r in rows if not is_unit_row(r["method"])}
    return sorted(pairs, key=lambda p: (methods.report_rank(p[0]), p[1] != DEFAULT_MODEL, p[1] or ""))


def _main_row(method: str, model: str | None, domain: str, ks: list[int], agg: dict, paper: dict) -> list[str]:
    independent = _independent(method)
    m = methods.REGISTRY.get(method)
    line = [label(method), "–" if m is not None and not m.llm else (short_model(model) if model else "(not run)")]
    ns = set()
    for k in ks:
        a = agg.get((method, model, domain, 0 if independent else k))
        if a:
            ns.update(a["n"])
        line.append(cell_text(a, " †" if independent and a else ""))
        if k in paper["shots"]:
            line.append(_paper_value(paper, method, domain, k))
    return line + [", ".join(map(str, sorted(ns))) or "–"]


def main_table(domain: str, rows: Sequence[dict], agg: dict, paper: dict) -> tuple[str, list[str]]:
    """The main table of one domain (markdown) and its notes."""
    ks = sorted({r["shots"] for r in rows if r["shots"] > 0 and not is_unit_row(r["method"])} | set(paper["shots"]))
    header = ["method", "model"]
    for k in ks:
        header += [f"K={k}"] + ([f"paper K={k}"] if k in paper["shots"] else [])
    header.append("test n")
    pairs = series(rows)
    present = {m for m, _ in pairs}
    # the paper's methods with numbers, even when not run here
    pairs += [(m.name, None) for m in methods.ordered() if m.name in paper["methods"] and m.name not in present
              and any(v is not None for v in paper["methods"][m.name].get(domain, []))]
    table = [_main_row(method, model, domain, ks, agg, paper) for method, model in pairs]
    notes = {"† does not depend on K: one evaluation, shown in every K column"
             for method, model in pairs if _independent(method) and agg.get((method, model, domain, 0))}
    return markdown_table(header, table), sorted(notes)


def arms() -> list[str]:
    """The ablation's arms: the methods with a short name (AT, R, TALLRec), in report order."""
    return [m.name for m in methods.ordered() if m.short]


def ablation_table(domain: str, rows: Sequence[dict], agg: dict) -> str | None:
    """AT / R / TALLRec against K, per model (None when none of those rows exist)."""
    names = arms()
    mine = [r for r in rows if r["domain"] == domain and r["method"] in names]
    if not mine:
        return None
    ks = sorted({r["shots"] for r in mine if r["shots"] > 0}) or [64]
    models = sorted({r.get("model") for r in mine}, key=lambda m: (m != DEFAULT_MODEL, m or ""))
    out = []
    for model in models:
        body = []
        for arm in names:
            mark = " †" if _independent(arm) else ""
            keys = [(arm, model, domain, 0 if mark else k) for k in ks]
            body.append([methods.get(arm).short] + [cell_text(agg[key], mark) if key in agg else "–" for key in keys])
        title = f"model `{short_model(model)}`\n\n" if len(models) > 1 else ""
        out.append(title + markdown_table(["arm"] + [f"K={k}" for k in ks], body))
    return "\n".join(out)


def cross_domain_tables(rows: Sequence[dict]) -> str | None:
    """One 3x2 matrix per model and K (mean ± sd over seeds); None without cross-domain rows."""
    row_methods = methods.rows_of(XD_UNIT)
    xd = [r for r in rows if r["method"] in row_methods]
    if not xd:
        return None
    parts = []
    for model in sorted({r.get("model") for r in xd}, key=lambda m: (m != DEFAULT_MODEL, m or "")):
        for k in sorted({r["shots"] for r in xd if r.get("model") == model}):
            mine = [r for r in xd if r.get("model") == model and r["shots"] == k]
            agg = aggregate(mine)
            body = [[methods.get(rm).label + (" (K movie + K book)" if rm == "xd-both" else "")] +
                    [cell_text(agg.get((rm, model, col, k))) for col in DOMAINS] for rm in row_methods]
            seeds = sorted({r["seed"] for r in mine})
            vf = sorted({r.get("valid_from") for r in mine if r.get("trained_on") == "both"} - {None})
            parts.append(f"K={k} per domain, model `{short_model(model)}`, seeds {seeds}"
                         + (f", early stopping of the 'both' row on the {'/'.join(vf)} validation set" if vf else "")
                         + "\n\n" + markdown_table([""] + [f"test {c}" for c in DOMAINS], body))
    return "\n".join(parts)


def timing_table(rows: Sequence[dict]) -> str:
    """Cells and seconds per grid unit (a unit's rows counted as one cell)."""
    per: dict[str, list] = {}
    for r in rows:
        unit = methods.unit_of(r["method"])
        size = max(1, len(methods.rows_of(unit)) * len(DOMAINS)) if unit != r["method"] else 1
        p = per.setdefault(unit, [0, [], size])
        p[0] += 1
        if isinstance(r.get("cell_seconds"), (int, float)):
            p[1].append(float(r["cell_seconds"]) * size)
    body = []
    for unit in sorted(per, key=methods.report_rank):
        n, secs, size = per[unit]
        total = sum(secs) / size
        timed = max(1, len(secs) // size)
        body.append([unit, str(n // size), fmt_duration(total) if secs else "–",
                     fmt_duration(total / timed) if secs else "–"])
    return markdown_table(["method", "cells", "time (timed cells)", "per cell"], body)


# ---------------------------------------------------------------- provenance

def hardware(rows: Sequence[dict]) -> list[str]:
    hosts: dict[str, tuple[dict, int]] = {}
    for r in rows:
        h = r.get("host") or {}
        key = json.dumps({k: h.get(k) for k in ("hostname", "cpu", "logical_cores", "gpus")}, sort_keys=True)
        hosts[key] = (h, hosts.get(key, (h, 0))[1] + 1)
    return [f"- {h.get('cpu', '?')}; {h.get('logical_cores', '?')} logical cores "
            f"({h.get('usable_cores', '?')} usable, torch threads {h.get('torch_threads', '?')}); "
            f"memory {h.get('memory_gib', '?')} GiB; GPU: {', '.join(h.get('gpus') or []) or 'none'}; "
            f"{h.get('os', '')} (host `{h.get('hostname', '?')}`, {count} rows)" for h, count in hosts.values()]


def versions(rows: Sequence[dict]) -> str:
    seen: dict[str, set] = {}
    for r in rows:
        for k, v in ((r.get("metrics") or {}).get("versions") or {}).items():
            seen.setdefault(k, set()).add(v)
    return ", ".join(f"{k} {' / '.join(sorted(v))}" for k, v in sorted(seen.items())) or "not recorded"


def models_used(rows: Sequence[dict]) -> list[str]:
    out: dict[str, set] = {}
    for r in rows:
        if r.get("model") is not None:
            out.setdefault(r["model"], set()).add(str((r.get("metrics") or {}).get("dtype") or "?"))
    return [f"- `{m}` ({', '.join(sorted(d - {'?'}) or ['dtype not recorded'])})" for m, d in sorted(out.items())]


RECIPE_KEYS = ("prompt", "lr", "scheduler", "warmup_steps", "epochs", "batch_size", "micro_batch_size", "augment", "balanced",
               "eval_every", "patience", "valid_size", "loss_on", "cutoff", "precision", "lora")


def recipes(rows: Sequence[dict]) -> list[str]:
    seen: dict[str, set] = {}
    for r in rows:
        cfg = (r.get("settings") or {}).get("rec_config")
        if cfg:
            seen.setdefault(", ".join(f"{k} {cfg.get(k)}" for k in RECIPE_KEYS if k in cfg), set()).add(r["method"])
    return [f"- {', '.join(sorted(m))}: {t}" for t, m in seen.items()]


# ---------------------------------------------------------------- paired differences and slices

def _signed(x: float) -> str:
    return f"{100 * x:+.2f}"


def difference_table(domain: str, entries: Sequence[dict]) -> str | None:
    """Per method and K: AUC(method) - AUC(reference) x 100 per seed with its 95% paired-bootstrap
    interval (* when it excludes 0), and mean ± sd over seeds; one column group per reference."""
    mine = [e for e in entries if e["domain"] == domain]
    if not mine:
        return None
    refs = [ref for ref in dict.fromkeys(e["vs"] for e in mine)]
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for e in mine:
        groups.setdefault((e["method"], e.get("model"), e["shots"]), {}).setdefault(e["vs"], []).append(e)
    body = []
    for (method, model, k) in sorted(groups, key=lambda g: (g[2], methods.report_rank(g[0]), g[1] or "")):
        line = [label(method), short_model(model), str(k)]
        for ref in refs:
            es = sorted(groups[(method, model, k)].get(ref, []), key=lambda e: e["seed"])
            if not es:
                line += ["–", "–"]
                continue
            line.append("; ".join(f"s{e['seed']} {_signed(e['diff'])} [{_signed(e['lo'])}, {_signed(e['hi'])}]"
                                  + ("*" if e["excludes_0"] else "") for e in es))
            mean, sd = mean_sd([e["diff"] for e in es])
            line.append(_signed(mean) + ("" if sd is None else f" ± {100 * sd:.2f} ({len(es)})"))
        body.append(line)
    header = ["method", "model", "K"]
    for ref in refs:
        header += [f"Δ vs {label(ref)} per seed [95% CI]", "mean ± sd"]
    return markdown_table(header, body)


def slice_table(domain: str, entries: Sequence[dict]) -> str | None:
    """Per method and K: AUC x 100 on each slice (mean over seeds; n = samples in the slice)."""
    mine = [e for e in entries if e["domain"] == domain]
    if not mine:
        return None
    names = list(dict.fromkeys(name for e in mine for name in e["slices"]))
    groups: dict[tuple, list[dict]] = {}
    for e in mine:
        groups.setdefault((e["method"], e.get("model"), e["shots"]), []).append(e)
    body = []
    for (method, model, k) in sorted(groups, key=lambda g: (g[0] != "tallrec", g[2], methods.report_rank(g[0]))):
        line = [label(method), short_model(model), "–" if k == 0 else str(k)]
        for name in names:
            vals = [e["slices"][name] for e in groups[(method, model, k)] if name in e["slices"]]
            aucs = [v["auc"] for v in vals if v["auc"] is not None]
            line.append(f"{100 * sum(aucs) / len(aucs):.2f} (n {vals[0]['n']})" if aucs else "–")
        body.append(line)
    return markdown_table(["method", "model", "K"] + names, body)
