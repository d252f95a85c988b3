"""Stage 1: Alpaca instruction tuning (the "AT" of the paper), as alpaca-lora does it.

TALLRec first LoRA-tunes the base model on Alpaca records (instruction, optional input, output) with
alpaca-lora's recipe, then continues that adapter on recommendation samples (stage 2, `rec_tune`
with `init_adapter`). Differences from alpaca-lora, on purpose:

* a record longer than the cutoff is skipped (and counted), not truncated: a truncated record
  teaches the model to stop mid-answer;
* there is no validation split: alpaca-lora holds out `val_set_size` records and keeps the
  checkpoint of lowest validation loss; here the final adapter is kept (`fit_lora` without
  validation), so every record can be used for training.

The prompt is the configured prompt style (`cfg.prompt`; by default the shared Alpaca template,
prompts/styles/alpaca.json) in its with-input and without-input variants, exactly the text stage 2
and the scorer use; the style is recorded beside the adapter.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.config import dump_config
from ..core.errors import DataError, TallrecError
from ..core.io import read_json, write_json_atomic
from ..llm.models import LoadedModel, load_model
from ..prompts.registry import load_style, load_template
from ..prompts.templates import ChatTemplate, Template, record_prompt
from .config import InstructConfig, TrainConfig
from .distributed import is_main
from .examples import encode_example
from .rec_tune import check_config
from .run_folder import RunFolder, fingerprint
from .trainer import TrainResult, fit_lora

# ---------------------------------------------------------------- the data

def load_alpaca_records(path: str | os.PathLike) -> list[dict]:
    """Alpaca records {"instruction", "input" (optional), "output"} from a JSON list, validated.

    Any problem (missing/empty/malformed file, a record that is not an object, a missing field, a
    field that is not a string) is a one-line DataError naming the file and the record index.
    """
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of Alpaca records (instruction, input, output)")
    if not data:
        raise DataError(f"{path}: contains no records")
    out = []
    for i, r in enumerate(data):
        where = f"{path}: record {i}"
        if not isinstance(r, dict):
            raise DataError(f"{where}: expected an object with instruction, input (optional) and output")
        missing = [k for k in ("instruction", "output") if k not in r]
        if missing:
            raise DataError(f"{where}: missing field {', '.join(repr(k) for k in missing)}")
        for k in ("instruction", "input", "output"):
            if k in r and not isinstance(r[k], str):
                raise DataError(f"{where}: field {k!r} must be a string, got {type(r[k]).__name__}")
        if not r["instruction"].strip():
            raise DataError(f"{where}: field 'instruction' is empty")
        out.append({"instruction": r["instruction"], "input": r.get("input", ""), "output": r["output"]})
    return out


def encode_record(tokenizer, record: dict, cfg: TrainConfig, template: Template | ChatTemplate | None = None) -> dict | None:
    """Token ids + labels of one Alpaca record; None when longer than the cutoff."""
    template = template or load_template()
    return encode_example(tokenizer, record_prompt(record, template), record["output"], cfg.cutoff, cfg.loss_on,
                          template.add_special_tokens)


@dataclass
class InstructResult:
    adapter: Path
    steps: int
    seconds: float
    records: int      # records given
    skipped: int      # longer than the cutoff
    used: int         # trained on (after --limit)


# ---------------------------------------------------------------- stage 1

def tune_instruct(cfg: InstructConfig | TrainConfig, records: Sequence[dict], out: str | os.PathLike,
                  lm: LoadedModel | None = None, overwrite: bool = False, source: str | None = None,
                  log=print) -> InstructResult:
    """LoRA-tune on Alpaca records; write out/adapter (the final adapter), out/config.yaml, out/instruct.json.

    Records longer than `cfg.cutoff` tokens are skipped and counted; with `cfg.limit` N of the
    remaining records are drawn with `cfg.seed`. Load a fresh base model for each call (LoRA layers
    are injected into `lm.model` in place). Resumable like `rec_tune`: checkpoints in
    out/checkpoints/ (every `checkpoint_every` steps, or at each epoch's end), and a finished run of
    the same settings and records is not redone.
    """
    check_config(cfg)
    limit = getattr(cfg, "limit", None)
    if limit is not None and limit <= 0:
        raise TallrecError(f"limit must be a positive number of records, got {limit}")
    if not records:
        raise DataError(f"{source or 'instruction data'}: contains no records")
    load_style(cfg.prompt)  # an unknown style is refused before the model loads
    folder = RunFolder(out, cfg, {"records": fingerprint(json.dumps(list(records), sort_keys=True))},
                       overwrite=overwrite, what="tallrec tune-instruct", done="instruct.json")
    with folder:
        if folder.finished:
            return _finished(folder, log)
        lm = lm or load_model(cfg.model, cfg.precision, quantize=cfg.quantize)
        fitting, skipped, tokens = _encode(lm, cfg, records, source)
        if is_main():
            log(f"[tune-instruct] {len(records)} records; {skipped} longer than the cutoff ({cfg.cutoff} tokens) "
                f"skipped; training on {len(fitting)} ({tokens / len(fitting):.0f} tokens on average), "
                f"{cfg.epochs} epoch(s), model {lm.name} ({str(lm.dtype).replace('torch.', '')})")
        resume = folder.start()
        if resume is not None and is_main():
            log(f"[tune-instruct] {folder.out}: resuming from {resume.name}")
        res: TrainResult = fit_lora(lm, fitting, cfg, folder.out, None, desc="tune-instruct", resume=resume)
        result = InstructResult(adapter=res.adapter, steps=res.steps, seconds=res.seconds, records=len(records),
                                skipped=skipped, used=len(fitting))
        if is_main():
            write_json_atomic(folder.out / "instruct.json", {
                "data": source, "records": len(records), "skipped_longer_than_cutoff": skipped,
                "trained_on": len(fitting), "mean_tokens": round(tokens / len(fitting), 1), "cutoff": cfg.cutoff,
                "steps": res.steps, "seconds": round(res.seconds, 1), "adapter": str(res.adapter),
                "config": cfg.to_dict()})
        folder.finish()
    return result


def _encode(lm: LoadedModel, cfg, records: Sequence[dict], source: str | None) -> tuple[list[dict], int, int]:
    """(the rows trained on, records skipped as longer than the cutoff, tokens in the rows)."""
    template = load_template(cfg.prompt, lm.tokenizer)
    rows = [encode_record(lm.tokenizer, r, cfg, template) for r in records]
    fitting = [row for row in rows if row is not None]
    skipped = len(rows) - len(fitting)
    if not fitting:
        raise DataError(f"{source or 'instruction data'}: all {len(rows)} records are longer than the cutoff "
                        f"({cfg.cutoff} tokens); raise --cutoff")
    limit = getattr(cfg, "limit", None)
    if limit and limit < len(fitting):
        fitting = random.Random(cfg.seed).sample(fitting, limit)
    return fitting, skipped, sum(len(r["input_ids"]) for r in fitting)


def _finished(folder: RunFolder, log) -> InstructResult:
    """The result of a finished stage-1 run of the same settings, read back from its folder."""
    h = folder.read_done()
    if is_main():
        log(f"already trained: {folder.out} ({h['steps']} steps on {h['trained_on']} records); nothing to do")
    return InstructResult(adapter=folder.out / "adapter", steps=h["steps"], seconds=h.get("seconds", 0.0),
                          records=h["records"], skipped=h["skipped_longer_than_cutoff"], used=h["trained_on"])


def instruct_done(out: str | os.PathLike, cfg: TrainConfig) -> bool:
    """True when `out` holds a finished stage-1 run of exactly this config (for resuming)."""
    out = Path(out)
    return ((out / "instruct.json").is_file() and (out / "adapter" / "adapter_config.json").is_file()
            and (out / "config.yaml").is_file() and (out / "config.yaml").read_text() == dump_config(cfg))
