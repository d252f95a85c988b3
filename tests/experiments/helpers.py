"""Shared helpers of the experiment tests: synthetic domain data, a fake data folder, a tiny Alpaca
file, grid files, store rows, and the one-error-line check."""

from __future__ import annotations

import json
import random
from pathlib import Path

from helpers import one_line_error

from tallrec.core.config import load_config
from tallrec.data import Sample, save_samples
from tallrec.data.datasets import DomainData
from tallrec.tuning.config import PAPER_SETTINGS, TrainConfig

MOVIES = [f"Movie {chr(65 + i % 26)}{i} ({1950 + i % 50})" for i in range(120)]
BOOKS = [f'"Book {chr(65 + i % 26)}{i}" written by Author {i % 17}' for i in range(120)]

# Tiny rec-tuning settings: one epoch of 1-2 steps, validation on 8 samples.
TINY_REC = {**PAPER_SETTINGS, **dict(batch_size=4, micro_batch_size=4, epochs=1, eval_every=1, patience=5, valid_size=8, lr=5e-3,
                precision="fp32", eval_batch_size=16)}
TINY_INSTRUCT = dict(batch_size=4, micro_batch_size=2, epochs=1, lr=5e-3, precision="fp32", warmup_steps=0,
                     cutoff=128)


def samples(n: int, domain: str = "movie", seed: int = 0, history: int = 6) -> list[Sample]:
    """Samples whose label follows the history's like share (book items carry their own quotes)."""
    rng = random.Random(seed)
    items = MOVIES if domain == "movie" else BOOKS
    out = []
    for _ in range(n):
        hist = tuple((rng.choice(items), rng.random() < 0.5) for _ in range(rng.randint(1, history)))
        share = sum(l for _, l in hist) / len(hist)
        target = rng.choice(items)
        if domain == "book":
            target = target.split('"')[1]
        out.append(Sample(history=hist, target=target, label=rng.random() < share, domain=domain,
                          quote_history=domain == "movie"))
    return out


def domain_data(domain: str, seed: int = 0) -> DomainData:
    base = 0 if domain == "movie" else 100
    return DomainData(domain, samples(40, domain, seed + base), samples(16, domain, seed + base + 1),
                      samples(12, domain, seed + base + 2), f"synthetic {domain} data")


def rec_config(model_dir, **over) -> TrainConfig:
    return load_config(TrainConfig, None, {**TINY_REC, "model": str(model_dir), **over})


def write_rec_yaml(path: Path, **over) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({**TINY_REC, **over}))
    return path


def write_instruct_yaml(path: Path, **over) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({**TINY_INSTRUCT, **over}))
    return path


def alpaca_records() -> list[dict]:
    return [
        {"instruction": "Give three tips for staying healthy.", "input": "",
         "output": "1. Eat well.\n2. Exercise.\n3. Sleep enough."},
        {"instruction": "Translate the sentence into French.", "input": "The cat sleeps.", "output": "Le chat dort."},
        {"instruction": "Name a primary colour.", "output": "Red."},  # no input field at all
        {"instruction": "Summarise the text.", "input": "word " * 400, "output": "Words."},  # longer than any cutoff here
        {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
        {"instruction": "Is water wet?", "input": "", "output": "Yes."},
    ]


def write_alpaca(path: Path, records=None) -> Path:
    path.write_text(json.dumps(alpaca_records() if records is None else records, indent=2))
    return path


def write_ml(folder: Path, users: int = 4, per_user: int = 30, seed: int = 0) -> Path:
    """A fake ml-100k folder (u.data, u.item): users x (per_user - 10) movie windows, split 8:1:1."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    items = list(range(1, 61))
    lines, t = [], 880000000
    for u in range(1, users + 1):
        for i in rng.sample(items, per_user):
            t += 1
            lines.append(f"{u}\t{i}\t{rng.randint(1, 5)}\t{t}\n")
    (folder / "u.data").write_text("".join(lines))
    (folder / "u.item").write_bytes("".join(f"{i}|Movie {i} (19{50 + i % 40})|01-Jan-1995||http://x|0|1\n"
                                            for i in items).encode("ISO-8859-1"))
    return folder


def write_data_dir(root: Path, book: bool = True) -> Path:
    """DATA_DIR with ml-100k/ and tallrec-official/book/{valid,test}.json (the book valid file must hold
    more than the 500 samples `load_domain` keeps for validation)."""
    write_ml(root / "ml-100k")
    if book:
        d = root / "tallrec-official" / "book"
        d.mkdir(parents=True, exist_ok=True)
        save_samples(d / "valid.json", samples(520, "book", seed=7))
        save_samples(d / "test.json", samples(20, "book", seed=8))
    return root


error_line = one_line_error


def write_grid_yaml(path: Path, **values) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return path


def domains() -> dict:
    """Synthetic movie and book data, as injected into a grid run."""
    return {d: domain_data(d) for d in ("movie", "book")}


HOST = {"hostname": "box", "cpu": "Test CPU 3000", "logical_cores": 2, "usable_cores": 2, "torch_threads": 2,
        "memory_gib": 8.0, "gpus": [], "os": "Linux"}


def store_row(method, domain, shots, seed, auc, model="smollm2-135m", n=100, **extra) -> dict:
    """A results-store row as the grid writes it (for report tests that compute nothing)."""
    from tallrec.experiments.grid.cells import cell_key

    return {"key": cell_key(method, domain, shots, seed, model), "method": method, "domain": domain, "shots": shots,
            "seed": seed, "model": model, "auc": auc, "n": n, "test_limit": None, "cell_seconds": 12.0,
            "dir": f"cells/{method}/{domain}/k{shots}-s{seed}", "finished": "2025-01-01T00:00:00+00:00",
            "settings": {"rec_config": {"lr": 1e-3, "epochs": 4}} if method in ("r", "tallrec") else {},
            "metrics": {"auc": auc, "dtype": "bfloat16", "versions": {"torch": "2.13.0", "tallrec": "0.1.0"}},
            "host": HOST, **extra}


def rows_by_method(out: Path) -> dict:
    """{method: [rows]} of a grid folder's store."""
    from tallrec.experiments.grid.store import ResultStore

    by: dict = {}
    for r in ResultStore(out / "results.jsonl").load():
        by.setdefault(r["method"], []).append(r)
    return by
