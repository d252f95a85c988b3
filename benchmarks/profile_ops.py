"""Where the time goes: a torch.profiler table of one scoring pass or one rec-tuning step.

The scoring and training benchmarks say how fast; this says which operators take the time, which
is what decides the next optimization (see BENCHMARKS.md).

    python benchmarks/profile_ops.py score [--n 32] [--batch-size 16]
    python benchmarks/profile_ops.py train [--micro-batch-size 8] [--loss-on all|answer]
"""

from __future__ import annotations

import argparse
import contextlib

import torch
from torch.profiler import ProfilerActivity, profile


def profile_score(args):
    from tallrec.data.datasets import load_domain
    from tallrec.llm.models import load_model
    from tallrec.llm.scoring import ScoreOptions, Scorer

    lm = load_model(args.model, args.precision)
    scorer = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=args.batch_size, progress=False))
    prompts = scorer.encode(load_domain("movie").test[: args.n])
    scorer.score_ids(prompts[:4])  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        scorer.score_ids(prompts)
    return prof


def profile_train(args):
    from tallrec.data.datasets import load_domain
    from tallrec.data.fewshot import draw_fewshot
    from tallrec.llm.models import load_model
    from tallrec.prompts.templates import load_template
    from tallrec.tuning.adapters import wrap_lora
    from tallrec.tuning.config import PAPER_SETTINGS, TrainConfig
    from tallrec.tuning.cpu_engine import cpu_training_engine
    from tallrec.tuning.examples import PadCollator, encode_sample
    from tallrec.tuning.token_loss import TokenLoss

    cfg = TrainConfig(**{**PAPER_SETTINGS, "model": args.model, "precision": args.precision,
                         "loss_on": args.loss_on})
    lm = load_model(cfg.model, cfg.precision)
    model = wrap_lora(lm, cfg)
    model.train()
    samples = draw_fewshot(load_domain("movie").train, args.micro_batch_size, seed=0)
    batch = PadCollator(lm.tokenizer.pad_token_id)([encode_sample(lm.tokenizer, s, cfg, load_template()) for s in samples])

    token_loss = TokenLoss()

    def step():
        loss, n, _ = token_loss(model, batch)
        (loss / n).backward()
        model.zero_grad()

    with cpu_training_engine(model) if lm.device.type == "cpu" else contextlib.nullcontext():
        step()  # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
    return prof


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["score", "train"])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--n", type=int, default=32, help="test samples scored (score)")
    ap.add_argument("--batch-size", type=int, default=16, help="scorer batch size (score)")
    ap.add_argument("--micro-batch-size", type=int, default=8, help="samples in the training step (train)")
    ap.add_argument("--loss-on", choices=["all", "answer"], default="all", help="training loss (train)")
    ap.add_argument("--rows", type=int, default=15)
    args = ap.parse_args(argv)
    from tallrec.core.runtime import keep_freed_memory

    keep_freed_memory()  # as the tallrec command runs
    prof = profile_score(args) if args.what == "score" else profile_train(args)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows)
    print(f"{args.what}: {torch.get_num_threads()} threads; operators by self CPU time")
    print(table)
    return table


if __name__ == "__main__":
    main()
