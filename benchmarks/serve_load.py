"""A bounded load test of `tallrec serve` on loopback: micro-batching against --max-batch 1 and
against the offline Recommender, on the same requests, in one run.

    python benchmarks/serve_load.py --no-adapter --clients 50 --requests 2 --json serve_load.json
    python benchmarks/serve_load.py --adapter runs/k64 --model smollm2-135m --data-dir ../shared/data

1. Builds the requests (seeded): each user has `--history` liked/disliked titles and
   `--candidates` candidates drawn from MovieLens titles (ml-100k/u.item in `--data-dir`, default
   the tallrec data folder) or, without it, from synthetic titles.
2. Offline: `Recommender.rank` on every request (or the first `--offline-requests`), one after
   another, in this process (the throughput a batch job gets; its scores are what the server must
   return).
3. Starts `tallrec serve --batch-size B`, waits for /ready, runs `--clients` concurrent clients that
   each send `--requests` /v1/rank requests back to back, reads the batch sizes from /metrics,
   stops the server with SIGTERM (it must exit 0). One untimed warm-up request goes first.
4. The same with `--max-batch 1` on the first `--batch1-clients` x `--batch1-requests` requests
   (every candidate its own model call: slow, so fewer requests; throughput is a rate).

Throughput is candidates scored per second of wall time; latency is per request, seen by the
client. `errors` counts non-200 answers, `lost` requests that got no answer or not every score.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from tallrec.core.io import write_text_atomic
from tallrec.core.paths import data_dir
from tallrec.serve.server import free_port


def titles(n_min: int, folder: str | None = None) -> list[str]:
    items = data_dir(folder) / "ml-100k" / "u.item"
    if items.is_file():
        rows = [line.split("|")[1] for line in items.read_text(encoding="latin-1").splitlines() if "|" in line]
        names = sorted({r for r in rows if r.strip() and r != "unknown"})
        if len(names) >= n_min:
            return names
    return [f"Movie {i} ({1950 + i % 50})" for i in range(max(n_min, 2000))]


def make_requests(n: int, history: int, candidates: int, seed: int, folder: str | None = None) -> list[dict]:
    pool = titles(history + candidates, folder)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        picks = rng.sample(pool, history + candidates)
        hist, cands = picks[:history], picks[history:]
        liked = [t for t in hist if rng.random() < 0.6]
        out.append({"liked": liked, "disliked": [t for t in hist if t not in liked], "candidates": cands})
    return out


def offline(args, reqs: list[dict]) -> dict:
    from tallrec import Recommender, User
    from tallrec.core.runtime import keep_freed_memory

    keep_freed_memory()  # as the tallrec command (the server) does
    rec = Recommender.load(args.adapter or None, model=args.model, batch_size=args.max_batch, precision=args.precision)
    warm = reqs_warmup(args)
    def user(r):
        return User(liked=r["liked"], disliked=r["disliked"])

    rec.rank(user(warm), warm["candidates"], k=1)  # as the server's warm-up request
    t0 = time.perf_counter()
    ranked = [rec.rank(user(r), r["candidates"], k=None) for r in reqs]
    seconds = time.perf_counter() - t0
    scores = [{x.item.title: x.p_yes for x in r} for r in ranked]  # rank returns Items
    return {"seconds": seconds, "throughput": sum(len(r["candidates"]) for r in reqs) / seconds, "scores": scores,
            "dtype": str(rec.lm.dtype).removeprefix("torch.")}


def start_server(args, max_batch: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "tallrec", "serve", "--port", str(port), "--batch-size", str(max_batch),
           "--max-wait-ms", str(args.max_wait_ms), "--max-queue", str(max(256, 2 * args.clients)), "--log-level", "warning"]
    cmd += ["--adapter", args.adapter or "none"]
    cmd += ["--model", args.model] if args.model else []
    cmd += ["--precision", args.precision]
    proc = subprocess.Popen(cmd)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + args.start_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve_load: the server exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                warm = reqs_warmup(args)
                httpx.post(f"{url}/v1/rank", json=warm, timeout=args.request_timeout).raise_for_status()
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("serve_load: the server was not ready in time")


def reqs_warmup(args) -> dict:
    """An untimed first request (another seed), so neither setting times the first batch's set-up."""
    body = make_requests(1, args.history, args.candidates, args.seed + 1, args.data_dir)[0]
    return {**body, "top_k": 1}


async def client(http: httpx.AsyncClient, reqs: list[dict], out: list) -> None:
    for body in reqs:
        t0 = time.perf_counter()
        try:
            r = await http.post("/v1/rank", json={**body, "top_k": len(body["candidates"])})
        except httpx.HTTPError as e:
            out.append({"latency": time.perf_counter() - t0, "status": None, "error": type(e).__name__})
            continue
        got = r.json()["ranked"] if r.status_code == 200 else []
        out.append({"latency": time.perf_counter() - t0, "status": r.status_code, "body": body,
                    "scores": {x["item"]: x["p_yes"] for x in got}})


async def load(url: str, per_client: list[list[dict]], timeout: float) -> tuple[list, float]:
    out: list = []
    limits = httpx.Limits(max_connections=len(per_client), max_keepalive_connections=len(per_client))
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http, reqs, out) for reqs in per_client))
        return out, time.perf_counter() - t0


def batch_stats(url: str) -> dict:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    val = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
           if line.startswith(("tallrec_batch_candidates_sum", "tallrec_batch_candidates_count"))}
    n = val.get("tallrec_batch_candidates_count", 0)
    return {"batches": int(n), "mean_batch_candidates": val.get("tallrec_batch_candidates_sum", 0) / n if n else 0}


def run_setting(args, max_batch: int, per_client: list[list[dict]]) -> dict:
    proc, url = start_server(args, max_batch)
    try:
        results, seconds = asyncio.run(load(url, per_client, args.request_timeout))
        stats = batch_stats(url)
    except BaseException:
        proc.kill()  # interrupted: the server must not outlive the benchmark, draining requests nobody awaits
        proc.wait()
        raise
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    sent = sum(len(r) for r in per_client)
    ok = [r for r in results if r["status"] == 200 and len(r["scores"]) == len(r["body"]["candidates"])]
    lat = np.array([r["latency"] for r in results]) * 1e3
    return {"max_batch": max_batch, "clients": len(per_client), "requests": sent, "seconds": seconds,
            "throughput": sum(len(r["body"]["candidates"]) for r in ok) / seconds,
            "errors": sum(1 for r in results if r["status"] not in (None, 200)),
            "lost": sent - len(ok) - sum(1 for r in results if r["status"] not in (None, 200)),
            "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
            "p99_ms": float(np.percentile(lat, 99)), "exit_code": code, "results": ok, **stats}


def max_diff(results: list[dict], reqs: list[dict], offline_scores: list[dict]) -> float:
    """Largest |served - offline| P(Yes) over the requests scored both ways."""
    index = {id(r): i for i, r in enumerate(reqs[:len(offline_scores)])}
    return max((abs(r["scores"][c] - offline_scores[index[id(r["body"])]][c]) for r in results
                if id(r["body"]) in index for c in r["scores"]), default=0.0)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--adapter", default=None, help="run or adapter folder (default: the untuned model)")
    which.add_argument("--no-adapter", action="store_true", help="serve the untuned model (the default)")
    ap.add_argument("--model", default=None, help="base model: registry name or HF folder (default: the adapter's "
                    "base, else smollm2-135m)")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                    help="weights dtype of the servers and the offline Recommender (fp32: served and offline "
                    "scores agree to ~1e-6; in bf16 they differ by the rounding of other batch shapes)")
    ap.add_argument("--data-dir", default=None, help="folder holding ml-100k/ (titles); default the tallrec data folder")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=2, help="requests per client, micro-batched run")
    ap.add_argument("--batch1-clients", type=int, default=10)
    ap.add_argument("--batch1-requests", type=int, default=1, help="requests per client, --max-batch 1 run")
    ap.add_argument("--offline-requests", type=int, default=0, help="time the offline Recommender on the first N "
                    "requests only (a rate; default all)")
    ap.add_argument("--candidates", type=int, default=20)
    ap.add_argument("--history", type=int, default=10)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--max-wait-ms", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start-timeout", type=float, default=600.0)
    ap.add_argument("--request-timeout", type=float, default=900.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    for name in ("clients", "requests", "batch1_clients", "batch1_requests", "candidates", "max_batch"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.batch1_clients * args.batch1_requests > args.clients * args.requests:
        ap.error("the --max-batch 1 run sends a subset of the requests: --batch1-clients x --batch1-requests "
                 "at most --clients x --requests")
    started, load_before = time.perf_counter(), os.getloadavg()
    reqs = make_requests(args.clients * args.requests, args.history, args.candidates, args.seed, args.data_dir)
    per_client = [reqs[i * args.requests:(i + 1) * args.requests] for i in range(args.clients)]
    b1 = [reqs[i * args.batch1_requests:(i + 1) * args.batch1_requests] for i in range(args.batch1_clients)]
    off = offline(args, reqs[:args.offline_requests or None])
    print(f"offline Recommender.rank: {off['throughput']:.1f} candidates/s ({len(off['scores'])} requests, "
          f"{off['seconds']:.1f} s)")
    runs = {}
    for label, mb, pc in (("batched", args.max_batch, per_client), ("batch1", 1, b1)):
        r = runs[label] = run_setting(args, mb, pc)
        print(f"--max-batch {mb:>3}: {r['throughput']:7.1f} candidates/s  p50 {r['p50_ms']:.0f} ms  p95 {r['p95_ms']:.0f} ms"
              f"  p99 {r['p99_ms']:.0f} ms  {r['requests']} requests from {r['clients']} clients, errors {r['errors']},"
              f" lost {r['lost']}, mean batch {r['mean_batch_candidates']:.1f} candidates, exit {r['exit_code']}")
    bt, b1t = runs["batched"], runs["batch1"]
    out = {"clients": args.clients, "requests": bt["requests"], "candidates_per_request": args.candidates,
           "errors": bt["errors"] + b1t["errors"], "lost": bt["lost"] + b1t["lost"],
           "throughput_batched": bt["throughput"], "throughput_batch1": b1t["throughput"],
           "throughput_offline": off["throughput"], "ratio": bt["throughput"] / b1t["throughput"],
           "ratio_vs_offline": bt["throughput"] / off["throughput"],
           "p50_ms_batched": bt["p50_ms"], "p95_ms_batched": bt["p95_ms"], "p99_ms_batched": bt["p99_ms"],
           "p50_ms_batch1": b1t["p50_ms"], "p95_ms_batch1": b1t["p95_ms"], "p99_ms_batch1": b1t["p99_ms"],
           "max_abs_diff_vs_offline": max(max_diff(r["results"], reqs, off["scores"]) for r in (bt, b1t)),
           "settings": {"max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "batch1_clients": args.batch1_clients,
                        "batch1_requests": b1t["requests"],
                        "offline_requests": len(off["scores"]), "model": args.model or "default", "adapter": args.adapter,
                        "precision": args.precision, "dtype": off["dtype"],
                        "mean_batch_candidates": bt["mean_batch_candidates"], "exit_codes": [bt["exit_code"], b1t["exit_code"]],
                        "cpu_count": os.cpu_count(), "loadavg_1m": [load_before[0], os.getloadavg()[0]],
                        "wall_s": time.perf_counter() - started}}
    print(f"micro-batching / --max-batch 1: {out['ratio']:.2f}x; served / offline: {out['ratio_vs_offline']:.2f};"
          f" max |served - offline| {out['max_abs_diff_vs_offline']:.2e}")
    if args.json:
        write_text_atomic(args.json, json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` or a kill: stop the server too
    main()
