"""Training benchmark: tallrec's rec-tuning step against a plain Hugging Face Trainer, side by side.

Both train the same fresh LoRA (same seed, same samples, same recipe, bf16 base where the CPU
supports it) for the same number of optimizer steps in one process:
- plain: `Trainer` + `DataCollatorForSeq2Seq` (right padding, padding mask) + the model's own
  loss, which builds vocabulary-wide fp32 logits for every position;
- tallrec: what `tallrec train` runs: right padding without a mask, `TokenLoss` (the LM head on
  labelled positions only, chunked), and on a CPU eager attention and `Int16Dropout`.
`--loss-on all` is the paper's loss on the whole prompt, `answer` the CPU recipe's (cpu-quick.yaml).
Prints samples/s of each, the ratio, peak RSS, and the loss of each at every step.

    python benchmarks/train_bench.py --steps 6 [--loss-on all|answer] [--batch-size 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import tempfile
import time

import torch


def run(kind: str, samples, args):
    from transformers import (
        DataCollatorForSeq2Seq,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    from tallrec.llm.models import load_model
    from tallrec.prompts.templates import load_template
    from tallrec.tuning.adapters import wrap_lora
    from tallrec.tuning.config import TrainConfig
    from tallrec.tuning.cpu_engine import cpu_training_engine
    from tallrec.tuning.examples import ListDataset, PadCollator, encode_sample
    from tallrec.tuning.trainer import _trainer_class

    cfg = TrainConfig(model=args.model, precision=args.precision, loss_on=args.loss_on, seed=0)
    lm = load_model(cfg.model, cfg.precision)
    set_seed(0)
    model = wrap_lora(lm, cfg)
    rows = [encode_sample(lm.tokenizer, s, cfg, load_template()) for s in samples]
    losses = []

    class Record(TrainerCallback):
        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    targs = TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.batch_size,
                              max_steps=args.steps, learning_rate=1e-3, lr_scheduler_type="constant",
                              logging_steps=1, use_cpu=lm.device.type == "cpu", report_to=[], save_strategy="no",
                              remove_unused_columns=False, disable_tqdm=True, seed=0, data_seed=0)
    if kind == "plain":
        collator = DataCollatorForSeq2Seq(lm.tokenizer, padding=True, label_pad_token_id=-100)
        lm.tokenizer.padding_side = "right"
        trainer = Trainer(model=model, args=targs, train_dataset=ListDataset(rows), data_collator=collator,
                          callbacks=[Record()])
    else:
        trainer = _trainer_class()(model=model, args=targs, train_dataset=ListDataset(rows),
                                   data_collator=PadCollator(lm.tokenizer.pad_token_id), callbacks=[Record()])
    engine = cpu_training_engine(model) if kind == "tallrec" and lm.device.type == "cpu" else contextlib.nullcontext()
    t = time.perf_counter()
    with engine:
        trainer.train()
    seconds = time.perf_counter() - t
    return {"samples_per_s": args.steps * args.batch_size / seconds, "seconds": seconds, "losses": losses}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--loss-on", choices=["all", "answer"], default="all")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from tallrec.core.runtime import keep_freed_memory
    from tallrec.data.datasets import load_domain

    keep_freed_memory()  # what the tallrec command applies at start; here for both sides alike
    from tallrec.data.fewshot import draw_fewshot

    samples = draw_fewshot(load_domain("movie").train, args.steps * args.batch_size, seed=0)
    res = {}
    for kind in ("plain", "tallrec", "plain", "tallrec"):  # interleaved twice: the machine is noisy
        r = run(kind, samples, args)
        prev = res.get(kind)
        if prev is None or r["seconds"] < prev["seconds"]:
            res[kind] = r
    fig = {
        "plain_samples_per_s": res["plain"]["samples_per_s"],
        "tallrec_samples_per_s": res["tallrec"]["samples_per_s"],
        "ratio": res["tallrec"]["samples_per_s"] / res["plain"]["samples_per_s"],
        "plain_losses": res["plain"]["losses"], "tallrec_losses": res["tallrec"]["losses"],
        "max_loss_diff": max(abs(a - b) for a, b in zip(res["plain"]["losses"], res["tallrec"]["losses"])),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "threads": torch.get_num_threads(), "loss_on": args.loss_on, "steps": args.steps, "batch_size": args.batch_size,
    }
    print(f"{args.steps} steps x {args.batch_size} samples, loss on {args.loss_on}, best of 2 runs each")
    print(f"plain HF Trainer:   {fig['plain_samples_per_s']:.2f} samples/s")
    print(f"tallrec trainer:    {fig['tallrec_samples_per_s']:.2f} samples/s")
    print(f"ratio tallrec / plain: {fig['ratio']:.2f}x")
    print("loss per step  plain:   " + " ".join(f"{x:.4f}" for x in fig["plain_losses"]))
    print("loss per step  tallrec: " + " ".join(f"{x:.4f}" for x in fig["tallrec_losses"]))
    print(f"max loss difference {fig['max_loss_diff']:.2e}; peak RSS {fig['peak_rss_bytes'] / 2**30:.2f} GiB")
    if args.json:
        from tallrec.core.io import write_json_atomic

        write_json_atomic(args.json, fig)
    return fig


if __name__ == "__main__":
    main()
