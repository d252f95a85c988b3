"""PadCollator (right padding, no attention mask) against transformers' DataCollatorForSeq2Seq.

Times LoRA training steps (collate + forward + backward) of the packaged model on real
rec-tuning batches, the two collators interleaved batch by batch, best of --rounds per batch.
Two loss paths are timed:

- `trainer`: what tallrec's Trainer runs (tuning/token_loss.TokenLoss under the CPU training
  engine). Its shared-prefix run (the ~70 prompt tokens every row shares run once) applies only to
  a batch without an attention mask, so this row shows what the mask costs tallrec's trainer.
- `hf-loss`: the model's own loss, `model(**batch).loss`: the mask's cost in attention alone.

Each step is timed in wall seconds and in this process's CPU seconds: on a shared machine the CPU
time (one torch thread by default) is the steadier measure of the work a step does.

Before timing, the losses of both collators are compared in eval mode (no LoRA dropout), and so is
the library collator with the tokenizer's own padding side (tallrec loads tokenizers padding on
the left, for scoring): left padding with a mask shifts the rows' positions and changes the loss.

    python studies/library-parts/collator_bench.py [--batches 2] [--rounds 2] [--micro 4] [--paths trainer,hf-loss]
"""

from __future__ import annotations

import argparse
import copy
import random
import time

import torch

from tallrec.data.samples import load_samples
from tallrec.llm.models import load_model
from tallrec.prompts.registry import load_template
from tallrec.tuning.adapters import lora_config
from tallrec.tuning.config import PAPER_SETTINGS, TrainConfig
from tallrec.tuning.cpu_engine import cpu_training_engine
from tallrec.tuning.examples import PadCollator, encode_sample
from tallrec.tuning.token_loss import TokenLoss


def trainer_loss(model, batch, token_loss):
    loss, n, _ = token_loss(model, batch)
    return loss / n


def hf_loss(model, batch, _token_loss):
    return model(**batch, use_cache=False).loss


def step(model, collate, rows, loss_fn, token_loss) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of one training step."""
    t, c = time.perf_counter(), time.process_time()
    loss = loss_fn(model, collate(rows), token_loss)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - t, time.process_time() - c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="samples file (default: $TALLREC_DATA_DIR/tallrec-official/movie/valid.json)")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--micro", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--paths", default="trainer,hf-loss", help="loss paths to time: trainer, hf-loss")
    args = ap.parse_args(argv)
    import os

    from peft import get_peft_model
    from transformers import DataCollatorForSeq2Seq

    if args.threads:
        torch.set_num_threads(args.threads)
    data = args.data or os.path.join(os.environ.get("TALLREC_DATA_DIR", "data"), "tallrec-official/movie/valid.json")
    samples = load_samples(data)
    random.Random(0).shuffle(samples)
    cfg = TrainConfig(**PAPER_SETTINGS)  # the settings it was measured with
    lm = load_model(args.model, "fp32")
    template = load_template(cfg.prompt, lm.tokenizer)
    rows = [encode_sample(lm.tokenizer, s, cfg, template) for s in samples[: args.batches * args.micro]]
    batches = [rows[i:i + args.micro] for i in range(0, len(rows), args.micro)]
    torch.manual_seed(0)
    model = get_peft_model(lm.model, lora_config(cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, tuple(cfg.lora.targets)))
    right = copy.deepcopy(lm.tokenizer)
    right.padding_side = "right"
    collators = {
        "PadCollator": PadCollator(lm.tokenizer.pad_token_id),
        "DataCollatorForSeq2Seq": DataCollatorForSeq2Seq(right, label_pad_token_id=-100),
    }
    left = DataCollatorForSeq2Seq(lm.tokenizer, label_pad_token_id=-100)
    paths = {p: {"trainer": trainer_loss, "hf-loss": hf_loss}[p] for p in args.paths.split(",")}
    widths = [max(len(r["input_ids"]) for r in b) for b in batches]
    pads = sum(w * len(b) - sum(len(r["input_ids"]) for r in b) for w, b in zip(widths, batches))
    print(f"{args.model} fp32 + LoRA r={cfg.lora.r} {'+'.join(cfg.lora.targets)}, {len(batches)} batches of "
          f"{args.micro} from {data}; widths {min(widths)}-{max(widths)} tokens, "
          f"{pads / sum(w * args.micro for w in widths):.1%} padding; torch threads {torch.get_num_threads()}")

    with cpu_training_engine(model):
        model.eval()  # no dropout: the losses must agree
        print("\nlosses (eval mode, first batch):")
        with torch.no_grad():
            for path, fn in paths.items():
                got = {name: float(fn(model, c(batches[0]), TokenLoss())) for name, c in collators.items()}
                got["DataCollatorForSeq2Seq, left padding"] = float(fn(model, left(batches[0]), TokenLoss()))
                print(f"  {path}: " + ", ".join(f"{k} {v:.6f}" for k, v in got.items()))
        model.train()
        token_loss = {name: TokenLoss() for name in collators}
        for name, c in collators.items():  # warm-up, and the TokenLoss head check
            step(model, c, batches[0], trainer_loss, token_loss[name])
            print(f"  {name}: shared prefix columns in the trainer path: {token_loss[name].shared_columns}")
        best = {(p, n, i): (float("inf"), float("inf")) for p in paths for n in collators for i in range(len(batches))}
        for r in range(args.rounds):
            for i, b in enumerate(batches):
                order = list(collators) if (r + i) % 2 == 0 else list(reversed(collators))
                for p, fn in paths.items():
                    for n in order:
                        wall, cpu = step(model, collators[n], b, fn, token_loss[n])
                        best[p, n, i] = (min(best[p, n, i][0], wall), min(best[p, n, i][1], cpu))
            print(f"  round {r + 1}/{args.rounds} done", flush=True)

    print(f"\nbest of {args.rounds} per batch, summed over {len(batches)} batches (s):\n\n"
          "| loss path | time | PadCollator | DataCollatorForSeq2Seq | Seq2Seq / Pad |\n|---|---|---:|---:|---:|")
    for p in paths:
        for k, kind in enumerate(("wall", "CPU")):
            pad, lib = (sum(best[p, n, i][k] for i in range(len(batches))) for n in collators)
            print(f"| {p} | {kind} | {pad:.2f} | {lib:.2f} | {lib / pad:.2f}x |")


if __name__ == "__main__":
    main()
