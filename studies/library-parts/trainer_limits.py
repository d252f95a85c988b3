"""What the Trainer's own early stopping and best-checkpoint keeping would ask of tallrec, checked
against the installed transformers (no model is trained; each check prints what the library does).

1. EarlyStoppingCallback needs `metric_for_best_model` and an eval strategy, and the Trainer then
   needs an `eval_dataset`: the validation AUC would have to come through `Trainer.evaluate`.
2. `load_best_model_at_end` needs the save schedule to be a round multiple of the eval schedule:
   tallrec's `checkpoint_every` (independent of `eval_every`) cannot be expressed.
3. `get_last_checkpoint` takes the highest-numbered `checkpoint-N` folder whether or not it was
   written completely (a run killed while saving); tallrec's `latest` takes only committed ones.

    python studies/library-parts/trainer_limits.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Linear(2, 1)

    def forward(self, x=None, labels=None):
        return {"loss": self.w(x).pow(2).mean()}


def _try(what: str, fn) -> None:
    try:
        fn()
        print(f"- {what}: accepted")
    except (ValueError, AssertionError) as e:
        print(f"- {what}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")


def main(argv=None):
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    import transformers
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    from tallrec.tuning.checkpoints import STATE, latest

    print(f"transformers {transformers.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        common = {"output_dir": tmp, "report_to": [], "use_cpu": True}
        rows = [{"x": torch.zeros(2)}] * 4

        def early_stopping_without_metric():
            args = TrainingArguments(**common, max_steps=1, eval_strategy="steps", eval_steps=1)
            trainer = Trainer(model=_Tiny(), args=args, train_dataset=rows, eval_dataset=rows,
                              callbacks=[EarlyStoppingCallback(early_stopping_patience=10)])
            trainer.train()

        def eval_strategy_without_eval_dataset():
            args = TrainingArguments(**common, eval_strategy="steps", eval_steps=10, metric_for_best_model="auc")
            Trainer(model=_Tiny(), args=args, train_dataset=rows)

        def best_at_end_with_checkpoint_every_7():
            TrainingArguments(**common, eval_strategy="steps", eval_steps=10, save_strategy="steps", save_steps=7,
                              load_best_model_at_end=True, metric_for_best_model="auc")

        print("\nTrainer settings tallrec's recipe would need (eval_every 10, checkpoint_every 7):")
        _try("EarlyStoppingCallback without metric_for_best_model", early_stopping_without_metric)
        _try("eval_strategy 'steps' without an eval_dataset", eval_strategy_without_eval_dataset)
        _try("load_best_model_at_end, eval_steps 10, save_steps 7", best_at_end_with_checkpoint_every_7)

        root = Path(tmp) / "ckpt"
        for step, complete in ((10, True), (20, False)):  # step 20: killed while the Trainer was writing it
            folder = root / f"checkpoint-{step}"
            folder.mkdir(parents=True)
            if complete:
                (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        print(f"\nA run killed while writing checkpoint-20 (checkpoint-10 complete):\n"
              f"- transformers get_last_checkpoint: {Path(get_last_checkpoint(str(root))).name}")
        committed = Path(tmp) / "run"
        step10 = committed / "checkpoints" / "step-10"
        step10.mkdir(parents=True)
        (step10 / "trainer_state.json").write_text("{}")
        (step10 / STATE).write_text("{}")
        (committed / "checkpoints" / "checkpoint-20").mkdir()  # tallrec's staging folder, never committed
        print(f"- tallrec checkpoints.latest: {latest(committed).name}")


if __name__ == "__main__":
    main()
