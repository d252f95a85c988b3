"""Two implementations of tallrec.core.config side by side: the messages they give and their cold start.

Each variant is a `src` folder (the package as it is, and a copy with config_pydantic.patch applied).
Every setting of every config schema is given each value of VALUES through `build_config`, in a
fresh process per variant, and the outcomes (the value built, or the one-line error) are compared.
Then `load_config(TrainConfig, paper)` is timed in fresh processes, imports included (what a
`tallrec` command pays once), the variants interleaved; and `build_config` warm, per call.

    mkdir -p /tmp/pyd && git archive HEAD src | tar -x -C /tmp/pyd
    patch -p1 -d /tmp/pyd < studies/library-parts/config_pydantic.patch
    python studies/library-parts/config_variants.py src /tmp/pyd/src [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import Counter

VALUES = [None, True, False, 0, 1, -1, 2.5, 3.0, "3", "2.0", "-1", "1e-4", "nan", "inf", float("inf"), "auto",
          "fp8", "x", "a,b", "", [], ["a"], [1, 2], {"a": 1}, 7, 0.5, 1.0, 64, "q_proj, v_proj", "none", "bf16"]


def _outcomes() -> dict:
    import dataclasses
    import typing

    from tallrec.baselines.settings import SeqSettings, SimpleSettings
    from tallrec.core.config import build_config
    from tallrec.core.errors import TallrecError
    from tallrec.experiments.grid.schema import GridConfig
    from tallrec.tuning.config import InstructConfig, TrainConfig

    def one(cls, values):
        try:
            return "ok " + repr(build_config(cls, values, "w"))
        except TallrecError as e:
            return "error " + str(e)
        except Exception as e:  # noqa: BLE001  (a crash is an outcome to compare)
            return f"crash {type(e).__name__}: {e}"

    out = {}
    for cls in (TrainConfig, InstructConfig, SeqSettings, SimpleSettings, GridConfig):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            inner = hints[f.name]
            names = [g.name for g in dataclasses.fields(inner)] if dataclasses.is_dataclass(inner) else [None]
            for g in names:
                for v in VALUES:
                    values = {f.name: {g: v}} if g else {f.name: v}
                    out[f"{cls.__name__}.{f.name}{'.' + g if g else ''}={v!r}"] = one(cls, values)
    return out


def _cold() -> dict:
    import time

    t = time.perf_counter()
    from tallrec.core.config import build_config, load_config, resolve_config
    from tallrec.tuning.config import TrainConfig

    load_config(TrainConfig, resolve_config("paper", "rec"), {"lr": 3e-4, "lora.r": 4})
    cold = time.perf_counter() - t
    values = {"lr": "1e-4", "epochs": 3, "lora": {"r": 4, "targets": "q_proj,v_proj"}, "micro_batch_size": "auto"}
    t = time.perf_counter()
    for _ in range(200):
        build_config(TrainConfig, values, "x")
    return {"cold": cold, "warm": (time.perf_counter() - t) / 200}


def _worker(src: str, what: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    out = subprocess.run([sys.executable, __file__, "--worker", what], env=env, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="*", help="two src folders: the package as it is, and the other variant")
    ap.add_argument("--runs", type=int, default=5, help="fresh processes per variant for the cold start")
    ap.add_argument("--worker", choices=("outcomes", "cold"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(_outcomes() if args.worker == "outcomes" else _cold()))
        return
    a, b = args.variants
    ra, rb = _worker(a, "outcomes"), _worker(b, "outcomes")
    differ = [k for k in ra if ra[k] != rb[k]]
    print(f"{len(ra)} (setting, value) cases; {len(differ)} give a different outcome")

    def kind(k):
        return f"{ra[k].split()[0]} -> {rb[k].split()[0]}" + (" (a choices setting)" if "is not one of" in rb[k] else "")

    for what, n in Counter(map(kind, differ)).most_common():
        example = next(k for k in differ if kind(k) == what)
        print(f"  {n:4d} {what}; e.g. {example}: {ra[example]!r} / {rb[example]!r}")
    times = {a: [], b: []}
    for _ in range(args.runs):
        for src in (a, b):
            times[src].append(_worker(src, "cold"))
    print(f"\nfresh processes, {args.runs} each, interleaved:\n\n| variant | load_config cold (ms, median / min) "
          "| build_config warm (us, median) |\n|---|---:|---:|")
    for src, runs in times.items():
        cold = [r["cold"] * 1000 for r in runs]
        print(f"| {src} | {statistics.median(cold):.0f} / {min(cold):.0f} | "
              f"{statistics.median(r['warm'] * 1e6 for r in runs):.0f} |")


if __name__ == "__main__":
    main()
