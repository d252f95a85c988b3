"""In-context LLM baseline: the untuned base model, zero-shot or with k demonstrations.

The demonstrations are drawn once (with the seed, class-balanced) from the same few-shot pool the
tuned models train on, and the same demonstrations precede every test prompt as complete Alpaca
blocks (prompt + answer). Because they are identical for every sample they belong to the shared
prompt prefix, whose key/value cache the scorer computes once: k-shot costs about what zero-shot does.
Every block is written in the model's prompt style (`lm.prompt`; with the chat style each
demonstration is a complete chat prompt followed by its answer).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from ..core.metrics import metrics_record, write_metrics
from ..data.fewshot import draw_fewshot
from ..data.samples import Sample
from ..llm.encoding import encode_prompt, lm_template
from ..llm.models import LoadedModel
from ..llm.scoring import ScoreOptions, Scorer
from ..prompts.registry import DEFAULT_STYLE
from ..prompts.templates import ChatTemplate, Template, load_template, sample_prompt

ICL_CUTOFF = 2048  # demonstrations make prompts k+1 times longer than the tuned models' 512


def demonstrations(pool: Sequence[Sample], k: int, seed: int) -> list[Sample]:
    if k == 0:
        return []
    return draw_fewshot(pool, k, seed, balanced=k >= 2)


def demo_text(demos: Sequence[Sample], template: Template | ChatTemplate | None = None) -> str:
    template = template or load_template()
    return "".join(sample_prompt(d, template) + d.output + "\n\n" for d in demos)


def icl_scores(lm: LoadedModel, samples: Sequence[Sample], demos: Sequence[Sample],
               options: ScoreOptions | None = None) -> np.ndarray:
    """P(Yes) of each sample with `demos` prepended; the query keeps the usual truncation rule."""
    options = options or ScoreOptions(cutoff=ICL_CUTOFF)
    template = lm_template(lm)
    scorer = Scorer(lm.model, lm.tokenizer, options, template)
    prefix = demo_text(demos, template)
    prefix_ids = lm.tokenizer(prefix, add_special_tokens=template.add_special_tokens)["input_ids"] if prefix else []
    if len(prefix_ids) > options.cutoff - 256:
        raise DataError(f"{len(demos)} demonstrations take {len(prefix_ids)} tokens; raise the cutoff (now {options.cutoff})")
    ids = [encode_prompt(lm.tokenizer, s, options.cutoff, template, prefix=prefix) for s in samples]
    return scorer.score_ids(ids, desc=f"in-context k={len(demos)}")


def run_icl(lm: LoadedModel, pool: Sequence[Sample], test: Sequence[Sample], k: int, seed: int,
            out: str | Path | None, data: str, options: ScoreOptions | None = None) -> dict:
    t0 = time.time()
    demos = demonstrations(pool, k, seed)
    scores = icl_scores(lm, test, demos, options)
    labels = [bool(s.label) for s in test]
    rec = metrics_record(labels, scores, model=f"icl-k{k}:{lm.name}", data=data, seed=seed,
                         seconds=time.time() - t0, method="in-context", k=k, prompt=lm.prompt or DEFAULT_STYLE,
                         users=[s.user for s in test])
    if out is not None:
        write_metrics(out, rec, labels, scores)
    return rec
