"""The quickstart's AUC differences with intervals: every method against the others that a claim
compares it with, on the same 1,000 test samples (paired bootstrap, 2,000 resamples, seed 0; and
DeLong's test).

    python studies/quickstart-intervals/intervals.py runs/quickstart [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PAIRS = [("tuned", "untuned"), ("like-share", "tuned"), ("hybrid", "hist-valid"), ("hybrid", "like-share"),
         ("hist-valid", "like-share")]


def scores(folder: Path) -> tuple[list[int], list[float]]:
    rows = [json.loads(x) for x in (folder / "scores.jsonl").read_text().splitlines() if x.strip()]
    return [int(r["label"]) for r in rows], [float(r.get("raw_score", r["score"])) for r in rows]


def main(argv=None) -> dict:
    from tallrec.experiments.report.stats import delong, paired_bootstrap

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a quickstart folder (untuned/, tuned/, like-share/, hybrid/, hist-valid/)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    missing = [m for pair in PAIRS for m in pair if not (args.run / m / "scores.jsonl").is_file()]
    if missing:
        sys.exit(f"{args.run}: no {missing[0]}/scores.jsonl (run `tallrec quickstart --out {args.run}` first)")
    out = {}
    for a, b in PAIRS:
        (ya, sa), (yb, sb) = scores(args.run / a), scores(args.run / b)
        if ya != yb:
            sys.exit(f"{a} and {b} were not scored on the same samples")
        bs, dl = paired_bootstrap(ya, sa, sb), delong(ya, sa, sb)
        out[f"{a} - {b}"] = {"diff": bs["diff"], "ci95": [bs["lo"], bs["hi"]], "delong_p": dl["p"]}
        print(f"{a:>10} - {b:<10} {bs['diff']:+.4f}  95% [{bs['lo']:+.4f}, {bs['hi']:+.4f}]  DeLong p {dl['p']:.3g}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
