"""Scoring benchmark: tallrec's P(Yes) scorer against a reference-style scorer, side by side.

The reference does what the authors' evaluate.py does: Hugging Face `generate` with greedy decoding,
max_new_tokens=128, batch 32, and P(Yes) from the scores of the first generated token. Both run on
the same model and the same N official test samples in one process; the script checks that they
agree, prints samples/s of each and the ratio, the FLOP/s tallrec's scorer achieves against this
machine's GEMM peak (large matmuls in the same dtype, measured in the same run) and peak RSS.
Both scorers are timed twice: under glibc's default allocator, and under the setting the `tallrec`
command applies at start (tallrec.runtime.keep_freed_memory); the headline ratio compares each as
it runs by default (reference: default allocator; tallrec: its own), and both same-allocator
ratios are printed too. Within a phase the runs are interleaved, `--reps` rounds, best of each:
the machine is shared, and a single pass can be off by 20% or more.

It also counts the matmul FLOPs each side did (the reference: its padded batches and every token it
generated), so the ratio splits into a work ratio (what the reference wastes) and a FLOP-rate ratio
(how efficiently each runs): ratio = work ratio x rate ratio. From these it prints a ceiling: the
ratio that a scorer doing tallrec's FLOPs at 100% of the GEMM peak would reach against the reference
as timed in this run. And it counts what an exact scorer could still cut (every token prefix shared by
several prompts run once, the last layer at the last position only) and the ceiling after that.
The two allocator phases run one after the other in one process, so they are no clean A/B of the
allocator setting: studies/allocator/allocator_ab.py is.

    python benchmarks/score_bench.py --n 64 [--model smollm2-135m] [--batch-size 16] [--compile] [--json out.json]

With --compile the scorer runs torch.compile'd (`tallrec evaluate --compile`); the compile happens in
the warm-up and its time is printed apart (`compile_seconds`), not counted in samples/s.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import torch

from tallrec.core.runtime import keep_freed_memory
from tallrec.data import load_samples
from tallrec.data.datasets import load_domain
from tallrec.llm.encoding import common_prefix
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions, Scorer
from tallrec.prompts.templates import answer_token_ids


def reference_generate_scores(lm, prompts_text: list[str], batch_size: int = 32, max_new_tokens: int = 128,
                              shapes: list | None = None):
    """The authors' way: generate up to 128 tokens per batch, keep the first step's scores. If
    `shapes` is a list, (rows, padded prompt length, tokens generated) of each batch is appended
    to it, for counting the work the reference did."""
    tok, model = lm.tokenizer, lm.model
    ans = answer_token_ids(tok)
    out = []
    for i in range(0, len(prompts_text), batch_size):
        enc = tok(prompts_text[i:i + batch_size], return_tensors="pt", padding=True).to(lm.device)
        with torch.no_grad():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 output_scores=True, return_dict_in_generate=True, pad_token_id=tok.pad_token_id)
        first = gen.scores[0]
        out.append(torch.softmax(first[:, [ans.yes, ans.no]].float(), -1)[:, 0].cpu().numpy())
        if shapes is not None:
            shapes.append((enc["input_ids"].shape[0], enc["input_ids"].shape[1], len(gen.scores)))
    return np.concatenate(out)


GEMM_SHAPES = ((2048, 2048, 2048, "mm"), (4096, 2048, 2048, "linear"), (8192, 1024, 1024, "linear"),
               (4096, 576, 1536, "linear"))


def gemm_rates(dtype: torch.dtype, reps: int = 5) -> dict[str, float]:
    """Best FLOP/s of a few large products in `dtype`, by shape, through torch.mm and through
    F.linear (the call the model's layers make). The peak is the best of them, so one slow kernel
    or shape does not understate it and overstate the scorer's fraction of it."""
    rates = {}
    for m, k, n, op in GEMM_SHAPES:
        a = torch.randn(m, k, dtype=dtype)
        w = torch.randn(k, n, dtype=dtype) if op == "mm" else torch.randn(n, k, dtype=dtype)
        run = (lambda a=a, w=w: torch.mm(a, w)) if op == "mm" else (lambda a=a, w=w: torch.nn.functional.linear(a, w))
        run()
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
        rates[f"{op} {m}x{k}x{n}"] = 2 * m * k * n / best
    return rates


def _weights(model) -> tuple[int, int]:
    """(non-embedding weights, LM-head rows x hidden): the matmul weights a token runs through."""
    emb = model.get_input_embeddings().weight.numel()
    non_emb = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n and "lm_head" not in n)
    return non_emb, emb


def _attention_flops(model, first: int, last: int) -> int:
    """QK^T and AV for query positions first+1..last, each over every key up to itself."""
    cfg = model.config
    return 2 * 2 * cfg.num_hidden_layers * cfg.hidden_size * sum(range(first + 1, last + 1))


def scorer_flops(model, prompts: list[list[int]], prefix_len: int) -> float:
    """Matmul FLOPs the scorer must do: 2 x (non-embedding weights) per token run through the
    model (the shared prefix once), plus attention (QK^T and AV), plus the LM head at the last
    position only."""
    non_emb, emb = _weights(model)
    tokens = prefix_len + sum(len(p) - prefix_len for p in prompts)
    attn = _attention_flops(model, 0, prefix_len) + sum(_attention_flops(model, prefix_len, len(p)) for p in prompts)
    return 2 * non_emb * tokens + attn + 2 * emb * len(prompts)


def _last_layer_per_token(model) -> int:
    """Weights of the last decoder layer that only the last position needs (query, output and MLP
    projections; the keys and values are needed at every position). 0 if the layout is unknown."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    if not layers:
        return 0
    return sum(p.numel() for n, p in layers[-1].named_parameters()
               if "q_proj" in n or "o_proj" in n or n.startswith("mlp."))


def minimal_flops(model, prompts: list[list[int]]) -> float:
    """Matmul FLOPs of an exact scorer that also (1) ran every token prefix shared by several prompts
    once (a prefix tree over the prompts, not only the prefix all of them share) and (2) ran the last
    layer's query, output and MLP at each prompt's last position only. What is left to cut by work."""
    non_emb, emb = _weights(model)
    layers = model.config.num_hidden_layers

    def last_layer_part(depth: int) -> int:  # what only a prompt's last position needs of the last layer
        return 2 * _last_layer_per_token(model) + _attention_flops(model, depth - 1, depth) // layers

    root: dict = {}
    total = 0
    for p in prompts:
        node = root
        for depth, tok in enumerate(p, start=1):
            if tok not in node:  # a new position: one token's pass, less the last layer's part
                node[tok] = {}
                total += 2 * non_emb + _attention_flops(model, depth - 1, depth) - last_layer_part(depth)
            node = node[tok]
        total += last_layer_part(len(p)) + 2 * emb  # the last position does run all of it, and the head
    return total


def reference_flops(model, shapes: list[tuple[int, int, int]]) -> float:
    """Matmul FLOPs `generate` did: every padded prompt position through the model, the LM head
    at the last position, then each further generated token (with the full head) over its cache.
    A lower bound on its work: it leaves out what generate does besides matmuls."""
    non_emb, emb = _weights(model)
    total = 0
    for rows, length, steps in shapes:
        total += rows * (2 * non_emb * length + _attention_flops(model, 0, length) + 2 * emb)
        decoded = steps - 1  # the first generated token comes from the prompt's pass
        total += rows * (decoded * 2 * (non_emb + emb) + _attention_flops(model, length, length + decoded))
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64, help="test samples scored by both")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--batch-size", type=int, default=16, help="tallrec scorer batch size")
    ap.add_argument("--ref-batch-size", type=int, default=32)
    ap.add_argument("--data", default=None, help="samples file (default: the official movie test set)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions; the best of each is reported")
    ap.add_argument("--compile", action="store_true", help="torch.compile the tallrec scorer (compiled in the warm-up)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args(argv)

    samples = load_samples(args.data) if args.data else load_domain("movie").test
    samples = samples[: args.n]
    lm = load_model(args.model, args.precision)
    tok = lm.tokenizer
    scorer = Scorer(lm.model, tok, ScoreOptions(batch_size=args.batch_size, progress=False, compile=args.compile))
    prompts = scorer.encode(samples)
    texts = [tok.decode(p, skip_special_tokens=True) for p in prompts]

    plain = Scorer(lm.model, tok, ScoreOptions(batch_size=args.batch_size, progress=False)) if args.compile else None
    t = time.perf_counter()
    # Warm-up on two batches (the compile, if any, sizes its kernels on what it sees first).
    scorer.score_ids(prompts[: 2 * args.batch_size])
    compile_seconds = time.perf_counter() - t if args.compile else 0.0
    if plain is not None:
        plain.score_ids(prompts[:4])
    reference_generate_scores(lm, texts[:2], batch_size=2, max_new_tokens=2)

    def timed(fn):
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out

    # Two phases: first glibc's default allocator (how the authors' script runs), then with
    # tallrec.runtime.keep_freed_memory(), which the `tallrec` command applies at start (it cannot be
    # undone in-process). In each phase, interleaved repetitions, best of each: the machine is noisy.
    best: dict[str, dict[str, float]] = {}
    page_faults: dict[str, int] = {}  # minor page faults of one tallrec pass, fewest of the rounds
    gemm: dict[str, float] = {}
    ref_shapes: list[tuple[int, int, int]] = []  # the reference's batches: greedy, the same every round
    ref = fast = None
    for phase in ("default", "tuned"):
        if phase == "tuned" and not keep_freed_memory():
            print("(not glibc: the allocator setting does not apply; both phases use the default)")
        times = best.setdefault(phase, {})
        for _ in range(args.reps):
            ref_shapes.clear()
            dt, ref = timed(lambda: reference_generate_scores(lm, texts, batch_size=args.ref_batch_size, shapes=ref_shapes))
            times["reference"] = min(times.get("reference", float("inf")), dt)
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            dt, fast = timed(lambda: scorer.score_ids(prompts))
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
            times["tallrec"] = min(times.get("tallrec", float("inf")), dt)
            page_faults[phase] = min(page_faults.get(phase, faults), faults)
            if plain is not None:
                times["uncompiled"] = min(times.get("uncompiled", float("inf")), timed(lambda: plain.score_ids(prompts))[0])
            for name, rate in gemm_rates(lm.dtype).items():
                gemm[name] = max(gemm.get(name, 0.0), rate)
    peak = max(gemm.values())
    t_ref, t_fast = best["default"]["reference"], best["tuned"]["tallrec"]
    t_plain = best["tuned"].get("uncompiled", float("inf"))

    prefix = common_prefix(prompts)
    flops = scorer_flops(lm.model, prompts, prefix)
    ref_work = reference_flops(lm.model, ref_shapes)
    least = minimal_flops(lm.model, prompts)
    attn_share = sum(_attention_flops(lm.model, prefix, len(p)) for p in prompts) / flops
    fig = {
        "model": args.model, "dtype": str(lm.dtype).replace("torch.", ""), "n": len(samples),
        "threads": torch.get_num_threads(), "compile": args.compile, "compile_seconds": compile_seconds,
        "reference_samples_per_s": len(samples) / t_ref,
        "tallrec_samples_per_s": len(samples) / t_fast,
        "ratio": t_ref / t_fast,
        "gemm_peak_flops": peak,
        "gemm_flops_by_shape": gemm,
        "achieved_flops": flops / t_fast,
        "tallrec_flops": flops,
        "fraction_of_peak": flops / t_fast / peak,
        "attention_flops_share": attn_share,
        "reference_flops": ref_work,
        "reference_achieved_flops": ref_work / t_ref,
        "work_ratio": ref_work / flops,
        # What a scorer doing tallrec's FLOPs at 100 % of the GEMM peak would reach against this
        # reference: t_ref / (flops / peak). A ratio target above it needs less work per sample.
        "ceiling_ratio": t_ref * peak / flops,
        "minimal_flops": least,
        "ceiling_ratio_minimal": t_ref * peak / least,
        "reference_tokens_generated": sum(r * g for r, _, g in ref_shapes),
        "max_abs_diff": float(np.abs(ref - fast).max()),
        "reps": args.reps,
        "samples_per_s_by_allocator": {ph: {k: len(samples) / v for k, v in d.items()} for ph, d in best.items()},
        "tallrec_page_faults_by_allocator": page_faults,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(f"model {fig['model']} ({fig['dtype']}), {fig['n']} samples, {fig['threads']} threads")
    by = fig["samples_per_s_by_allocator"]
    print(f"reference (generate, 128 new tokens, batch {args.ref_batch_size}), default allocator: "
          f"{fig['reference_samples_per_s']:.2f} samples/s")
    how = f"batch {args.batch_size}" + (f", compiled in {compile_seconds:.0f} s beforehand" if args.compile else "")
    print(f"tallrec scorer ({how}), allocator as the tallrec command sets it: {fig['tallrec_samples_per_s']:.2f} samples/s")
    for ph in ("default", "tuned"):
        print(f"  {ph} allocator for both: reference {by[ph]['reference']:.2f}, tallrec {by[ph]['tallrec']:.2f} samples/s "
              f"({by[ph]['tallrec'] / by[ph]['reference']:.1f}x); minor page faults per tallrec pass {page_faults[ph]:,}")
    if plain is not None:
        fig["tallrec_uncompiled_samples_per_s"] = len(samples) / t_plain
        print(f"tallrec scorer uncompiled, same run: {fig['tallrec_uncompiled_samples_per_s']:.2f} samples/s "
              f"(compile speedup {t_plain / t_fast:.2f}x)")
    print(f"ratio tallrec / reference: {fig['ratio']:.1f}x (each as it runs by default; best of {args.reps} interleaved runs)")
    print(f"achieved {fig['achieved_flops'] / 1e9:.1f} GFLOP/s = {100 * fig['fraction_of_peak']:.0f}% of the measured "
          f"GEMM peak {fig['gemm_peak_flops'] / 1e9:.1f} GFLOP/s; attention (QK^T, AV) is "
          f"{100 * attn_share:.1f}% of those FLOPs")
    print(f"work: the reference did {fig['work_ratio']:.2f}x tallrec's matmul FLOPs (padding, no shared prefix, "
          f"{fig['reference_tokens_generated']:,} generated tokens) at {fig['reference_achieved_flops'] / 1e9:.1f} GFLOP/s; "
          f"the ratio = work ratio x FLOP-rate ratio ({fig['achieved_flops'] / fig['reference_achieved_flops']:.2f}x)")
    print(f"ceiling: tallrec's FLOPs at 100% of the GEMM peak would be {fig['ceiling_ratio']:.1f}x the reference "
          f"(= work ratio x peak / reference FLOP rate); a higher ratio needs less work per sample")
    print(f"work left to cut exactly: a prefix tree over the prompts plus the last layer at the last position only "
          f"would do {100 * (1 - least / flops):.1f}% fewer FLOPs; ceiling then {fig['ceiling_ratio_minimal']:.1f}x")
    print("GEMM by shape (GFLOP/s): " + ", ".join(f"{k} {v / 1e9:.0f}" for k, v in gemm.items()))
    print(f"max |P(Yes) reference - tallrec| = {fig['max_abs_diff']:.2e}; peak RSS {fig['peak_rss_bytes'] / 2**30:.2f} GiB")
    if args.json:
        from tallrec.core.io import write_json_atomic

        write_json_atomic(args.json, fig)
    return fig


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
