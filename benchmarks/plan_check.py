"""Does `tallrec plan` estimate what training really takes? Estimate against measured peak RSS on a CPU.

Each case runs a short real `tallrec train` (one optimizer step: K=8 samples, batch 8, micro batch 4,
then a validation check on 16 samples) in its own process and reads that process's peak resident
set size from the kernel (os.wait4). The plan is computed for the same settings at the run's actual
longest example (the prompts are shorter than the cutoff, which the plan otherwise assumes), and the
ratio estimate / measured is printed and written as JSON.

    python benchmarks/plan_check.py [--cases 135m-fp32,135m-fp32-ckpt,135m-bf16,tiny-fp32] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

CASES = {
    "135m-fp32": ("smollm2-135m", {"precision": "fp32"}),
    "135m-fp32-ckpt": ("smollm2-135m", {"precision": "fp32", "gradient_checkpointing": True}),
    "135m-bf16": ("smollm2-135m", {"precision": "bf16"}),
    "tiny-fp32": ("tiny", {"precision": "fp32"}),
}
RUN = {"shots": 8, "augment": 0, "epochs": 1, "batch_size": 8, "micro_batch_size": 4, "valid_size": 16,
       "eval_batch_size": 4, "eval_every": 8}


def tiny_model(folder: Path) -> Path:
    """The tests' tiny model (tallrec.llm.tiny)."""
    from tallrec.llm.tiny import tiny_model as build

    return build(folder)


def measured_peak(argv: list[str], env: dict) -> tuple[int, float, int]:
    """(peak RSS bytes, seconds, exit code) of one child process."""
    t = time.time()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode:
        print(err[-2000:], file=sys.stderr)
    return usage.ru_maxrss * 1024, time.time() - t, proc.returncode


def longest_example(model: str, cfg, pool, valid) -> int:
    """Tokens of the longest example the run trains or validates on (as training encodes them)."""
    from transformers import AutoTokenizer

    from tallrec.data.fewshot import draw_fewshot, validation_subset
    from tallrec.llm.models import resolve_model_path
    from tallrec.prompts.registry import load_template
    from tallrec.tuning.examples import encode_sample

    tok = AutoTokenizer.from_pretrained(resolve_model_path(model)[0])
    template = load_template(cfg.prompt, tok)
    examples = draw_fewshot(pool, cfg.shots, cfg.seed, cfg.balanced) + list(validation_subset(valid, cfg.valid_size))
    # Validation prompts are the training encoding without the answer: at most as long.
    return max(len(encode_sample(tok, s, cfg, template)["input_ids"]) for s in examples)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="135m-fp32,135m-fp32-ckpt,tiny-fp32", help=f"of {', '.join(CASES)}")
    ap.add_argument("--config", default="cpu-augment")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")

    from tallrec.core.config import load_config, resolve_config
    from tallrec.data import save_samples
    from tallrec.data.datasets import load_domain
    from tallrec.llm.memory_plan import estimate, read_shape, setup_for
    from tallrec.tuning.config import TrainConfig

    domain = load_domain("movie")
    pool, valid = domain.train[:400], domain.valid[:200]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        save_samples(tmp / "train.json", pool)
        save_samples(tmp / "valid.json", valid)
        tiny = None
        for case in cases:
            model, over = CASES[case]
            if model == "tiny":
                tiny = tiny or tiny_model(tmp / "tiny")
                model = str(tiny)
            settings = {**RUN, **over, "model": model}
            cfg = load_config(TrainConfig, resolve_config(args.config, "rec"), settings)
            seq = longest_example(model, cfg, pool, valid)
            setup = replace(setup_for(cfg, "cpu"), seq=seq)
            terms = estimate(read_shape(model), setup)
            flags = [f"--{k.replace('_', '-')}" if v is True else f"--{k.replace('_', '-')}={v}"
                     for k, v in settings.items()]
            cmd = [sys.executable, "-m", "tallrec", "train", "--config", args.config, "--train",
                   str(tmp / "train.json"), "--valid", str(tmp / "valid.json"), "--out", str(tmp / f"run-{case}"),
                   *flags]
            peak, seconds, code = measured_peak(cmd, {**os.environ, "HF_HUB_OFFLINE": "1"})
            row = {"case": case, "model": CASES[case][0], "settings": over, "seq": seq, "estimate_bytes": terms["peak"],
                   "terms": terms, "measured_peak_rss_bytes": peak, "ratio": round(terms["peak"] / peak, 3),
                   "seconds": round(seconds, 1), "exit_code": code}
            results.append(row)
            print(f"{case:<16} seq {seq:>4}  estimate {terms['peak'] / 2**30:6.2f} GiB  measured "
                  f"{peak / 2**30:6.2f} GiB  ratio {row['ratio']:.3f}  ({seconds:.0f} s, exit {code})", flush=True)
    out = {"config": args.config, "run": RUN, "cases": results}
    if args.json:
        from tallrec.core.io import write_json_atomic

        write_json_atomic(Path(args.json), out)
    return out


if __name__ == "__main__":
    main()
