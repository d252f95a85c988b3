"""Paired differences and slices for the report, from the per-sample scores every cell stores.

Each finished cell's folder (the store row's `dir`) holds scores.jsonl (index, label, score per test
sample). Two methods are compared on the same samples only (labels checked equal): the paired
bootstrap interval and DeLong's p of AUC(method) - AUC(reference) (stats.py), per seed, where the
references are the paper's method (`tallrec`) and the like-share floor. A K-independent or
seed-independent row is paired with every seed of the reference at that K. A cell whose folder is
not here (a store copied without its cells) is listed as missing, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...llm.models import DEFAULT_MODEL
from .. import methods
from .stats import delong, paired_bootstrap

REFERENCES = ("tallrec", "like-share")


def load_scores(out: Path, row: dict) -> dict | None:
    """{"labels", "scores"} of a row's cell folder (None when its scores.jsonl is not there)."""
    path = Path(out) / row.get("dir", "") / "scores.jsonl"
    try:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    if len(lines) != row.get("n") or any(l.get("label") is None for l in lines):
        return None
    return {"labels": np.asarray([int(l["label"]) for l in lines]), "scores": np.asarray([float(l["score"]) for l in lines])}


def _seeded(method: str) -> bool:
    m = methods.REGISTRY.get(method)
    return m is None or m.uses_seed is not False


def _uses_k(method: str) -> bool:
    m = methods.REGISTRY.get(method)
    return m is None or m.uses_k


def _reference_row(ref_rows: dict, ref: str, domain: str, k: int, seed: int, model: str | None) -> dict | None:
    m = methods.REGISTRY.get(ref)
    k = k if _uses_k(ref) else 0
    seed = seed if _seeded(ref) else 0
    if m is not None and not m.llm:
        return ref_rows.get((domain, k, seed, None))
    return ref_rows.get((domain, k, seed, model)) or ref_rows.get((domain, k, seed, DEFAULT_MODEL))


def paired_differences(out: Path, rows: Sequence[dict], n_boot: int = 2000) -> tuple[list[dict], list[str]]:
    """One entry per (row, reference, seed): {"method", "model", "domain", "shots", "seed", "vs", "diff",
    "lo", "hi", "excludes_0", "p"}; and the keys of the rows whose scores are missing here."""
    from .tables import is_unit_row

    cache: dict[str, dict | None] = {}

    def scores(row):
        if row["key"] not in cache:
            cache[row["key"]] = load_scores(out, row)
        return cache[row["key"]]

    plain = [r for r in rows if not is_unit_row(r["method"])]
    refs = {ref: {(r["domain"], r["shots"], r["seed"], r.get("model")): r for r in plain if r["method"] == ref}
            for ref in REFERENCES}
    entries, missing = [], set()
    for r in plain:
        for ref in REFERENCES:
            if r["method"] == ref:
                continue
            ref_keys = [key for key in refs[ref] if key[0] == r["domain"]]
            ks = [r["shots"]] if r["shots"] > 0 else sorted({key[1] for key in ref_keys if key[1] > 0}) or [0]
            seeds = [r["seed"]] if _seeded(r["method"]) else sorted({key[2] for key in ref_keys})
            for k in ks:
                for seed in seeds:
                    other = _reference_row(refs[ref], ref, r["domain"], k, seed, r.get("model"))
                    if other is None:
                        continue
                    a, b = scores(r), scores(other)
                    for row, s in ((r, a), (other, b)):
                        if s is None:
                            missing.add(row["key"])
                    if a is None or b is None or not np.array_equal(a["labels"], b["labels"]):
                        continue
                    boot = paired_bootstrap(a["labels"], a["scores"], b["scores"], n_boot=n_boot, seed=0)
                    entries.append({"method": r["method"], "model": r.get("model"), "domain": r["domain"],
                                    "shots": k, "seed": seed, "vs": ref, "diff": boot["diff"], "lo": boot["lo"],
                                    "hi": boot["hi"], "excludes_0": boot["excludes_0"],
                                    "p": delong(a["labels"], a["scores"], b["scores"])["p"]})
    return entries, sorted(missing)


def row_slices(out: Path, rows: Sequence[dict], domains: dict) -> tuple[list[dict], str | None]:
    """Per row with scores: AUC per slice (slices.py). `domains` maps a domain to its DomainData (the
    test samples and the training pool); the K samples are the cell's train_samples.json, else the
    draw every method makes with the row's seed. Returns the entries and a note on what was skipped."""
    from ...data.fewshot import draw_fewshot
    from ...data.samples import load_samples
    from .slices import slices
    from .tables import is_unit_row

    entries, skipped = [], 0
    for r in rows:
        data = domains.get(r["domain"])
        s = load_scores(out, r) if data is not None and not is_unit_row(r["method"]) else None
        test = data.test[: r["n"]] if data is not None else []
        if s is None or [bool(x.label) for x in test] != [bool(x) for x in s["labels"]]:
            skipped += 1
            continue
        train = None
        if r["shots"] > 0:
            own = Path(out) / r["dir"] / "train_samples.json"
            settings = r.get("settings") or {}
            balanced = bool((settings.get("rec_config") or settings.get("baseline_options") or {}).get("balanced"))
            train = load_samples(own) if own.is_file() else draw_fewshot(data.train, r["shots"], r["seed"], balanced)
        entries.append({"method": r["method"], "model": r.get("model"), "domain": r["domain"], "shots": r["shots"],
                        "seed": r["seed"], "slices": slices(test, s["scores"], train)})
    note = f"{skipped} cell(s) without their scores or test samples here are left out" if skipped else None
    return entries, note
