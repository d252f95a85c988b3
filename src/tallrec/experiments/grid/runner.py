"""Run (or resume) a grid into one folder, one cell at a time; every finished cell recorded at once.

Layout of DIR::

    grid.json                       the grid of the last run (source, settings, planned cells, data)
    results.jsonl                   the store: one JSON line per finished cell (store.py)
    cells/<method>/<domain>/k<K>-s<seed>[-<model>]/   each cell's own output (cell.json, metrics.json,
                                    scores.jsonl, and for trained cells adapter/, config.yaml, ...);
                                    the model suffix only for an LLM other than the default model
    cells/stage1/<model>/           the stage-1 run of each model (methods that need stage 1)
    cells/cross-domain/k<K>-s<seed>[-<model>]/        one cross-domain matrix (cross_domain.py)
    report.md, summary.json, plots/ written at the end of a run; `tallrec paper report DIR` rebuilds them
    .grid.lock                      held while a run works here: one run per folder at a time

A rerun skips every cell in the store. A cell that finished its evaluation but was killed before its
row was written is recorded from its metrics.json; a trained but unevaluated LLM cell is only
evaluated. A cell recorded with other settings (test limit, recipe, ...) is an error naming them.
Everything that can be checked (settings against the store, data, shots against the training
pools, the stage-1 adapter's shape) is checked before anything is written.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ...core.errors import TallrecError
from ...core.host import host_info
from ...core.io import ensure_dir, write_json_atomic
from ...core.lock import FolderLock
from ...data.datasets import DomainData
from ...tuning.adapters import check_lora_shape
from .. import methods
from ..common import Outcome, now
from ..llm_cells import is_done, read_metrics
from .cells import Cell, cell_key, expand_grid
from .context import Context
from .estimate import Estimator, fmt_duration, stage1_seconds
from .store import GRID_JSON, STORE_NAME, ResultStore

LOCK_NAME = ".grid.lock"
Log = Callable[[str], None]


def _diff(a: dict, b: dict) -> list[str]:
    """Settings `a` (this grid's) against a recorded `b`: the differing top-level names. Recipes are
    compared as run folders compare them (tuning.run_folder.config_difference), so a training
    setting added since the record, at its default, is no difference."""
    from dataclasses import asdict

    from ...tuning.config import InstructConfig, TrainConfig, absent_means
    from ...tuning.run_folder import config_difference

    recipes = {"rec_config": TrainConfig, "stage1": None}
    out = []
    for k in set(a) | set(b):
        x, y = a.get(k), b.get(k)
        if k in recipes and isinstance(x, dict) and isinstance(y, dict):
            if k == "stage1":
                if set(x) != set(y) or any(x[f] != y[f] for f in x if f != "config") or config_difference(
                        y.get("config", {}), x.get("config", {}), asdict(InstructConfig())):
                    out.append(k)
            elif config_difference(y, x, absent_means(TrainConfig)):
                out.append(k)
        elif json.dumps(x, sort_keys=True) != json.dumps(y, sort_keys=True):
            out.append(k)
    return sorted(out)


def _cell_json(cdir: Path) -> dict | None:
    try:
        return json.loads((cdir / "cell.json").read_text())
    except (OSError, ValueError):
        return None


def recorded(out: Path, cells: list[Cell], settings: dict[str, dict], store: ResultStore) -> set[str]:
    """Keys already in the store; refuses a stored row or a cell folder holding other settings."""
    rows, done = store.by_key(), set()
    for c in cells:
        for key in c.keys:
            row = rows.get(key)
            if row is not None:
                diff = _diff(settings[c.key], row.get("settings", {}))
                if diff:
                    raise TallrecError(f"{out}: cell {key} was recorded with other settings ({', '.join(diff)} "
                                       f"differ); use another --out, or the recorded grid")
                done.add(key)
        prev = _cell_json(out / c.rel_dir())
        if prev is not None and not all(k in done for k in c.keys):
            diff = _diff(settings[c.key], prev.get("settings", {}))
            if diff:
                raise TallrecError(f"{out / c.rel_dir()}: holds a cell with other settings ({', '.join(diff)} "
                                   f"differ); use another --out, or remove that folder")
    return done


def preflight(ctx: Context, todo: list[Cell]) -> None:
    """Load the data of the unfinished cells and check what would fail later, before any work."""
    for c in todo:
        for d in c.domains:
            pool = ctx.domain(d).train
            if c.shots > len(pool):
                raise TallrecError(f"shots {c.shots}: the {d} training pool has only {len(pool)} samples")
            ctx.test(d, c.test_limit)
    for model in sorted({c.model for c in todo if methods.get(c.method).needs_stage1}):
        desc = ctx.stage1(model)
        if "adapter" in desc:
            check_lora_shape(Path(desc["adapter"]), ctx.rec_cfg(model))
        else:
            from ...tuning.instruct import instruct_done, load_alpaca_records

            if not instruct_done(ctx.stage1_dir(model), ctx.instruct_cfg(model)):
                load_alpaca_records(desc["alpaca"])


def make_row(cell: Cell, ctx: Context, settings: dict, o: Outcome, seconds: float | None) -> dict:
    rec = o.record
    return {"key": cell_key(o.method, o.domain, cell.shots, cell.seed, cell.model), "method": o.method,
            "domain": o.domain, "shots": cell.shots, "seed": cell.seed, "model": cell.model, "auc": rec["auc"],
            "n": rec["n"], "test_limit": cell.test_limit,
            "cell_seconds": None if seconds is None else round(seconds, 1),
            "dir": str(o.folder.relative_to(ctx.out)), "finished": now(), **o.extra, "settings": settings,
            "metrics": rec, "host": host_info()}


def run_cell(cell: Cell, ctx: Context, settings: dict, log: Log) -> list[dict]:
    """Do (or finish) one cell with its method's runner; return its store rows."""
    cdir = ensure_dir(ctx.out / cell.rel_dir())
    write_json_atomic(cdir / "cell.json", {"key": cell.key, "settings": settings, "started": now()})
    t0 = time.time()
    if not cell.rows and is_done(cdir):  # evaluated before a kill, not yet recorded: record it, compute nothing
        log(f"[grid] {cell.label()}: evaluated before (metrics.json found); recording it")
        return [make_row(cell, ctx, settings, Outcome(cell.method, cell.domain, read_metrics(cdir), cdir), None)]
    res = methods.get(cell.method).run(cell, ctx, cdir, log)
    outcomes = res if isinstance(res, list) else [Outcome(cell.method, cell.domain, res, cdir)]
    share = (time.time() - t0) / len(outcomes)
    return [make_row(cell, ctx, settings, o, share) for o in outcomes]


def _free_memory() -> None:
    """Drop the last cell's models (reference cycles in HF models outlive the cell otherwise)."""
    import gc

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class _Bar:
    """The progress bar (tqdm, on stderr) and the log lines written above it."""

    def __init__(self, name: str, total: int, done: int, show: bool, log: Log | None):
        self.bar = None
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=done, desc=name, unit="cell", dynamic_ncols=True, file=sys.stderr,
                            bar_format="{desc}: {n_fmt}/{total_fmt} cells |{bar}| {elapsed} elapsed{postfix}")
        self.say = log or (self.bar.write if self.bar is not None else print)

    def now(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str("", refresh=False)
            self.bar.close()


def _record(c: Cell, new_rows: list[dict], rows: list[dict], store: ResultStore, est: Estimator) -> str:
    have = {r["key"] for r in rows}
    for r in new_rows:
        if r["key"] not in have:
            store.append(r)
            rows.append(r)
            est.add(r)
    return ", ".join(f"{r['method']}->{r['domain']} {r['auc']:.4f}" if c.rows else f"{r['auc']:.4f}" for r in new_rows)


def _run_cells(ctx: Context, cells: list[Cell], todo: list[Cell], settings: dict, store: ResultStore,
               bar: _Bar, name: str) -> tuple[list[dict], list[tuple[Cell, str]]]:
    rows = store.load()
    est = Estimator(rows)

    def left(i: int) -> float:
        return sum(est.seconds(c, ctx.n_test(c), ctx) for c in todo[i:]) + stage1_seconds(ctx, todo[i:])

    bar.say(f"[{name}] {len(cells)} cells, {len(cells) - len(todo)} done before, {len(todo)} to run "
            f"(estimate {fmt_duration(left(0))}) -> {ctx.out}")
    failures: list[tuple[Cell, str]] = []
    for i, c in enumerate(todo):
        bar.now(f"~{fmt_duration(left(i))} left (estimate); now: {c.label()}")
        if c.model is not None:  # LLM cells take minutes: say what starts
            bar.say(f"[{name}] ({len(cells) - len(todo) + i + 1}/{len(cells)}) {c.label()}: running")
        t0 = time.time()
        try:
            new_rows = run_cell(c, ctx, settings[c.key], bar.say)
        except TallrecError as e:
            failures.append((c, str(e)))
            (ensure_dir(ctx.out / c.rel_dir()) / "error.txt").write_text(str(e) + "\n")
            bar.say(f"[{name}] {c.label()}: FAILED: {e}")
        else:
            auc = _record(c, new_rows, rows, store, est)
            bar.say(f"[{name}] {c.label()}: AUC {auc} ({time.time() - t0:.0f} s) recorded")
        bar.step()
        if c.model is not None:
            _free_memory()
    return rows, failures


def _write_grid_json(out: Path, ctx: Context, cells: list[Cell], todo: list[Cell], source: str) -> None:
    try:
        prev = json.loads((out / GRID_JSON).read_text()).get("data") or {}
    except (OSError, ValueError, AttributeError):
        prev = {}
    data = {d: ctx.domain(d).source for c in todo for d in c.domains}
    write_json_atomic(out / GRID_JSON, {"source": source, "grid": ctx.grid.to_dict(),
                                        "planned": [k for c in cells for k in c.keys], "started": now(),
                                        "data": {**prev, **data}})


def _report(out: Path, say: Log, name: str, data_dir=None, domains=None) -> None:
    from ..report import build_report

    try:
        say(f"[{name}] report -> {build_report(out, data_dir, domains)}")
    except Exception as e:  # the results are safe in the store; `tallrec paper report` can retry
        say(f"[{name}] report not written ({type(e).__name__}: {e}); run `tallrec paper report {out}`")


def run_grid(out: str | os.PathLike, grid, *, source: str = "", data_dir=None,
             domains: Mapping[str, DomainData] | None = None, log: Log | None = None, progress: bool = True,
             report: bool = True, name: str = "reproduce") -> dict:
    """Run (or resume) a validated grid into `out`; returns counts. `domains` injects loaded data
    (tests); `name` is the command, shown in the log and in the lock's message."""
    out = Path(out)
    ctx = Context(grid, out, data_dir, domains)
    cells = expand_grid(grid)
    settings = {c.key: ctx.settings(c) for c in cells}
    store = ResultStore(out / STORE_NAME)
    done = recorded(out, cells, settings, store)
    preflight(ctx, [c for c in cells if not all(k in done for k in c.keys)])
    with FolderLock(ensure_dir(out), LOCK_NAME, what=f"tallrec {name}"):
        cut = store.repair()
        done = recorded(out, cells, settings, store)  # again: another run may have finished cells meanwhile
        todo = [c for c in cells if not all(k in done for k in c.keys)]
        _write_grid_json(out, ctx, cells, todo, source)
        bar = _Bar(name, len(cells), len(cells) - len(todo), progress, log)
        if cut:
            bar.say(f"[{name}] {store.path}: dropped a partial last line ({cut} bytes) left by an interrupted write")
        try:
            rows, failures = _run_cells(ctx, cells, todo, settings, store, bar, name)
        finally:
            bar.close()
        if report and store.load():
            _report(out, bar.say, name, data_dir, domains)
    if failures:
        c, msg = failures[0]
        raise TallrecError(f"{len(failures)} of {len(todo)} cells failed (first: {c.label()}: {msg}); the others "
                           f"are recorded in {store.path}; rerun to retry the failed ones")
    return {"cells": len(cells), "done_before": len(cells) - len(todo), "ran": len(todo) - len(failures),
            "failed": len(failures), "store": str(store.path), "report": str(out / "report.md")}


# ---------------------------------------------------------------- dry run

def describe(out: str | os.PathLike, grid, source: str = "", data_dir=None,
             domains: Mapping[str, DomainData] | None = None) -> str:
    """The planned cells (done / to run) per method, with the time estimate; runs nothing."""
    out = Path(out)
    ctx = Context(grid, out, data_dir, domains)
    cells = expand_grid(grid)
    rows = ResultStore(out / STORE_NAME).by_key()
    for d in sorted({d for c in cells for d in c.domains}):
        try:
            ctx.domain(d)
        except TallrecError:  # no data yet: estimate with 1,000 test samples
            pass
    est = Estimator(rows.values())
    per: dict[str, dict] = {}
    for c in cells:
        done = all(k in rows for k in c.keys)
        p = per.setdefault(c.method, {"n": 0, "done": 0, "sec": 0.0, "domains": set(), "k": set(), "lim": set()})
        p["n"] += 1
        p["done"] += done
        p["sec"] += 0.0 if done else est.seconds(c, ctx.n_test(c), ctx)
        p["domains"].add(c.domain)
        p["k"].add(c.shots)
        p["lim"].add(c.test_limit)
    lines = [f"{source or 'grid'}: {len(cells)} cells -> {out}", "",
             "| method | cells | done | domains | K | test limit | estimate left |", "|---|---|---|---|---|---|---|"]
    for m, p in per.items():
        ks = ", ".join("–" if k == 0 else str(k) for k in sorted(p["k"]))
        lims = ", ".join("all" if x is None else str(x) for x in p["lim"])
        lines.append(f"| {m} | {p['n']} | {p['done']} | {', '.join(sorted(p['domains']))} | {ks} | {lims} | "
                     f"{fmt_duration(p['sec'])} |")
    total = sum(p["sec"] for p in per.values())
    s1 = stage1_seconds(ctx, [c for c in cells if not all(k in rows for k in c.keys)])
    if s1:
        total += s1
        lines += ["", f"stage 1 (Alpaca tuning, once per model, before the first cell that needs it): "
                      f"{fmt_duration(s1)}"]
    lines += ["", f"estimate left: {fmt_duration(total)} (2-core CPU figures until cells of a method have been timed "
                  f"in this folder)"]
    return "\n".join(lines)
