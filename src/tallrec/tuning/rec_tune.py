"""LoRA tuning on the Hugging Face Trainer: stage 2 (rec-tuning) and the shared machinery for stage 1.

The Trainer gives multi-process training for free: the same code runs as one process, under
`torchrun --nproc_per_node N` (gloo on CPU, NCCL on GPUs) or `accelerate launch`.
Early stopping is on validation AUC (the paper's criterion), checked every `eval_every` optimizer
steps; the best adapter is kept on disk and is what the run returns. A run is resumable: the same
call after a kill continues from its last checkpoint (run_folder.py, checkpoints.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..core.errors import TallrecError
from ..core.io import write_json_atomic
from ..core.metrics import auc
from ..data.fewshot import draw_fewshot, permute_history, validation_subset
from ..data.samples import Sample, samples_to_json
from ..llm.models import LoadedModel, load_model
from ..llm.scoring import ScoreOptions, Scorer, shard_ids
from ..prompts.registry import load_style, load_template
from .config import TrainConfig
from .distributed import is_main
from .examples import encode_sample
from .run_folder import RunFolder, fingerprint
from .trainer import TrainResult, fit_lora

# ---------------------------------------------------------------- stage 2: rec-tuning

def check_config(cfg) -> None:
    """A config built in Python (not through load_config) gets the same cross-field checks."""
    problems = cfg.check() if hasattr(cfg, "check") else []
    if problems:
        raise TallrecError(f"settings: {problems[0]}")


def rec_tune(cfg: TrainConfig, pool: Sequence[Sample], valid: Sequence[Sample], out: str | os.PathLike,
             lm: LoadedModel | None = None, overwrite: bool = False, progress: bool = True,
             log=print) -> TrainResult:
    """Stage 2: draw K samples from `pool` with the seed, LoRA-tune, early-stop on validation AUC.

    Writes out/adapter (best adapter, loadable with plain PeftModel.from_pretrained), out/config.yaml,
    out/inputs.json, out/train_samples.json (the K samples), out/history.json (validation AUC per
    check), and resumable checkpoints in out/checkpoints/ while it trains (removed at the end).
    Training and validation prompts are in the style `cfg.prompt`, recorded beside the adapter.
    The same call after an interruption resumes from the last checkpoint; on a finished run of
    the same settings it trains nothing and returns that run (run_folder.py).
    """
    check_config(cfg)
    train = draw_fewshot(pool, cfg.shots, cfg.seed, cfg.balanced)
    if not valid:
        raise TallrecError("rec-tuning needs validation samples for early stopping")
    vsub = validation_subset(valid, cfg.valid_size)
    if len({bool(s.label) for s in vsub}) < 2:
        raise TallrecError("validation samples must contain both liked and not-liked samples")
    load_style(cfg.prompt)  # an unknown style is refused before the model loads
    train_json = samples_to_json(train)
    folder = RunFolder(out, cfg, {"train samples": fingerprint(train_json),
                                  "validation samples": fingerprint(samples_to_json(vsub))},
                       overwrite=overwrite, what="tallrec train", done="history.json",
                       outputs=("train_samples.json",))
    with folder:
        if folder.finished:
            return _finished(folder, log)
        lm = lm or load_model(cfg.model, cfg.precision, quantize=cfg.quantize)
        template = load_template(cfg.prompt, lm.tokenizer)
        examples = permute_history(train, cfg.augment, cfg.seed)  # the K samples first, then their rewrites
        rows = [encode_sample(lm.tokenizer, s, cfg, template) for s in examples]
        resume = folder.start({"train_samples.json": train_json})
        if resume is not None and is_main():
            log(f"[rec-tune] {folder.out}: resuming from {resume.name}")
        best = {"auc": None, "scores": None}  # the best check's validation scores (for the calibration)
        make_validate = _validation(lm, cfg, template, vsub, progress, best)
        result = fit_lora(lm, rows, cfg, folder.out, make_validate, desc=f"rec-tune K={cfg.shots} seed={cfg.seed}",
                          resume=resume, meta={"domain": train[0].domain, "quote_history": train[0].quote_history})
        if is_main():
            record = {}
            if cfg.calibrate != "none":  # written before history.json, which marks the run finished
                known = best["scores"] if resume is None and best["auc"] == result.best_valid_auc else None
                record["calibration"] = _calibrate(cfg, result.adapter, vsub, known, log)
            write_json_atomic(folder.out / "history.json", {
                "best_valid_auc": result.best_valid_auc, "best_step": result.best_step, "steps": result.steps,
                "seconds": round(result.seconds, 1), "valid_samples": len(vsub), "train_samples": len(train),
                "train_examples": len(examples),
                "checks": result.history, **record})
        folder.finish()
    return result


def _validation(lm: LoadedModel, cfg: TrainConfig, template, vsub: Sequence[Sample], progress: bool, best: dict):
    """make_validate(model) for fit_lora: validation AUC, the prompts tokenized once; `best` keeps the
    best check's scores (the callback keeps the adapter by the same rule)."""
    labels = [bool(s.label) for s in vsub]

    def make_validate(model):
        scorer = Scorer(model, lm.tokenizer, ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=cfg.cutoff,
                                                          progress=progress and is_main()), template)
        prompts = scorer.encode(vsub)

        def validate() -> float:
            scores = shard_ids(scorer, prompts)
            value = auc(labels, scores)
            if best["auc"] is None or value > best["auc"]:
                best.update(auc=value, scores=scores)
            return value

        return validate

    return make_validate


def _calibrate(cfg: TrainConfig, adapter, vsub: Sequence[Sample], scores, log) -> dict:
    """Fit `cfg.calibrate` on the best adapter's validation scores (those of its check, else scored
    again from the saved adapter, e.g. after a resume) and save it beside the adapter."""
    from ..llm.adapters import with_adapter
    from ..llm.calibration import fit_calibration, samples_fingerprint, save_calibration
    from ..llm.encoding import lm_template

    if scores is None:
        # Unmerged: merging into a bitsandbytes base rounds the LoRA into 8/4-bit weights (lossy).
        tuned = with_adapter(load_model(cfg.model, cfg.precision, quantize=cfg.quantize), adapter, merge=False)
        scores = Scorer(tuned.model, tuned.tokenizer, ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=cfg.cutoff),
                        lm_template(tuned)).score(vsub, desc="calibrating")
    cal = fit_calibration([bool(s.label) for s in vsub], scores, cfg.calibrate, data="rec-tuning validation samples",
                          sha256=samples_fingerprint(vsub), prompt=cfg.prompt, cutoff=cfg.cutoff)
    save_calibration(adapter, cal)
    b, a = cal.fitted_on["valid_before"], cal.fitted_on["valid_after"]
    log(f"[rec-tune] {cfg.calibrate} calibration on {len(vsub)} validation samples: log-loss {b['logloss']:.4f} -> "
        f"{a['logloss']:.4f}, ECE {b['ece']:.4f} -> {a['ece']:.4f}")
    return {"method": cal.method, "params": cal.params, "valid_before": b, "valid_after": a}


def _finished(folder: RunFolder, log) -> TrainResult:
    """The result of a finished run of the same settings, read back from its folder."""
    h = folder.read_done()
    if is_main():
        log(f"already trained: {folder.out} (best validation AUC {h['best_valid_auc']:.4f} at step "
            f"{h['best_step']}, {h['steps']} steps); nothing to do")
    return TrainResult(adapter=folder.out / "adapter", best_valid_auc=h["best_valid_auc"], best_step=h["best_step"],
                       steps=h["steps"], history=h.get("checks", []), seconds=h.get("seconds", 0.0))
