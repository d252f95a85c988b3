"""Would int8 weights rescue CPUs without native bf16? fp32 against torch's dynamic int8 quantization.

On a CPU with AVX2 only (no AVX512-BF16, no AMX) the model runs in fp32 and the quickstart takes
about twice as long as on the bf16 machines. This script asks whether dynamic int8 quantization of
the decoder's Linear layers (`torch.ao.quantization.quantize_dynamic`; the LM head stays fp32, so the
scorer still reads only its two answer rows) would be a usable speed-up: same samples, same scorer,
both sides in one run; it prints the speed ratio, the largest change of P(Yes) and both AUCs.

    python studies/int8-probe/int8_probe.py --n 160 [--model smollm2-135m] [--json out.json]
"""

from __future__ import annotations

import argparse
import time
import warnings


def timed(scorer, prompts, reps: int):
    """Best of `reps` passes (after a short warm-up) and the scores of the last one."""
    scorer.score_ids(prompts[:8])
    best, scores = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        scores = scorer.score_ids(prompts)
        best = min(best, time.perf_counter() - t)
    return best, scores


def quantized(lm, engine: str):
    """The decoder's Linear layers as dynamic int8 (in place); the LM head is left alone."""
    import torch

    torch.backends.quantized.engine = engine
    with warnings.catch_warnings():  # torch says the eager API moved to torchao; it still runs
        warnings.simplefilter("ignore")
        lm.model.model = torch.ao.quantization.quantize_dynamic(lm.model.model, {torch.nn.Linear}, dtype=torch.qint8)
    return lm


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=160, help="official movie test samples (the first N)")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--data", default=None, help="a samples JSON file instead of the official movie test")
    ap.add_argument("--engine", default="x86", help="torch quantized engine (x86, fbgemm, ...)")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import torch

    if args.n < 2:
        ap.error("--n must be at least 2 (an AUC needs samples of both labels)")
    if args.engine not in torch.backends.quantized.supported_engines:
        ap.error(f"--engine {args.engine!r} is not available here (known: {', '.join(torch.backends.quantized.supported_engines)})")

    from tallrec.core.metrics import auc
    from tallrec.core.runtime import keep_freed_memory
    from tallrec.data import load_samples
    from tallrec.data.datasets import load_domain
    from tallrec.llm.models import load_model
    from tallrec.llm.scoring import ScoreOptions, Scorer

    keep_freed_memory()
    samples = (load_samples(args.data) if args.data else load_domain("movie").test)[: args.n]
    labels = [bool(s.label) for s in samples]
    fp32 = load_model(args.model, "fp32")
    ref = Scorer(fp32.model, fp32.tokenizer, ScoreOptions(progress=False))
    prompts = ref.encode(samples)
    t_fp32, p_fp32 = timed(ref, prompts, args.reps)
    q = quantized(load_model(args.model, "fp32"), args.engine)
    t_int8, p_int8 = timed(Scorer(q.model, q.tokenizer, ScoreOptions(progress=False)), prompts, args.reps)
    fig = {"n": len(samples), "model": args.model, "engine": args.engine,
           "fp32_seconds": round(t_fp32, 2), "int8_seconds": round(t_int8, 2), "speedup": round(t_fp32 / t_int8, 3),
           "max_abs_diff": float(abs(p_fp32 - p_int8).max()),
           "fp32_auc": auc(labels, p_fp32), "int8_auc": auc(labels, p_int8)}
    print(f"{fig['n']} samples: fp32 {t_fp32:.1f}s, int8 {t_int8:.1f}s ({fig['speedup']:.2f}x); "
          f"max |P(Yes) fp32 - int8| {fig['max_abs_diff']:.3f}; AUC fp32 {fig['fp32_auc']:.4f}, int8 {fig['int8_auc']:.4f}")
    if args.json:
        from tallrec.core.io import write_json_atomic
        write_json_atomic(args.json, fig)
    return fig


if __name__ == "__main__":
    main()
