"""collm end to end on the tiny model: a text rec-tuned run, stage 2 (the projector, LoRA frozen),
then `tallrec evaluate --adapter` scoring with the soft tokens with no extra flag; the fast path
(shared prefix, batching) agrees with a plain per-sample forward on inputs_embeds."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import synthetic_log, write_log_as_movielens

from tallrec.data.builders.movielens import build_movielens
from tallrec.data.samples import save_samples

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def collm_run(tmp_path_factory, tiny_model_dir):
    from tallrec.cli import main

    root = tmp_path_factory.mktemp("collm")
    raw = write_log_as_movielens(synthetic_log(users=36), root / "data" / "ml-100k")
    splits = build_movielens(raw)
    for name, samples in splits.items():
        save_samples(root / f"{name}.json", samples)
    rec = root / "rec.yaml"
    rec.write_text(json.dumps({"batch_size": 4, "micro_batch_size": 4, "epochs": 1, "eval_every": 1, "patience": 5,
                               "valid_size": 16, "lr": 5e-3, "precision": "fp32", "eval_batch_size": 8,
                               "shots": 16, "model": str(tiny_model_dir)}))
    assert main(["train", "--train", str(root / "train.json"), "--valid", str(root / "valid.json"),
                 "--out", str(root / "text"), "--config", str(rec)]) == 0
    assert main(["train-collm", "--adapter", str(root / "text"), "--valid", str(root / "valid.json"),
                 "--out", str(root / "collm"), "--epochs", "3", "--batch-size", "8", "--lr", "0.01",
                 "--data-dir", str(root / "data")]) == 0
    return root


def test_stage_two_writes_a_run_that_evaluate_scores_with_soft_tokens(collm_run):
    from tallrec.cli import main

    root = collm_run
    adapter = root / "collm" / "adapter"
    for name in ("adapter_config.json", "projector.pt", "collm.json", "tallrec-base.json"):
        assert (adapter / name).is_file(), name
    cfg = json.loads((adapter / "collm.json").read_text())
    assert cfg["log_sha256"] and cfg["projector"]["hidden"] > 0
    assert json.loads((adapter / "tallrec-base.json").read_text())["prompt"] == "collm"
    record = json.loads((root / "collm" / "train.json").read_text())
    assert record["history"][0]["epoch"] == 0 and len(record["history"]) >= 2
    for run, out in (("collm", "ev-collm"), ("text", "ev-text")):
        assert main(["evaluate", "--adapter", str(root / run / "adapter"), "--data", str(root / "test.json"),
                     "--out", str(root / out)]) == 0
    soft = [json.loads(x)["score"] for x in (root / "ev-collm" / "scores.jsonl").read_text().splitlines()]
    text = [json.loads(x)["score"] for x in (root / "ev-text" / "scores.jsonl").read_text().splitlines()]
    assert len(soft) == len(text) and not np.allclose(soft, text)


def test_the_fast_scorer_agrees_with_a_plain_forward_on_inputs_embeds(collm_run, tiny_model_dir):
    from tallrec.data.samples import load_samples
    from tallrec.llm.adapters import with_adapter
    from tallrec.llm.encoding import encode_prompt
    from tallrec.llm.models import load_model
    from tallrec.llm.scoring import ScoreOptions, Scorer
    from tallrec.llm.soft_tokens import soft_tokens_of
    from tallrec.prompts.templates import answer_token_ids, load_template

    lm = with_adapter(load_model(str(tiny_model_dir), "fp32"), collm_run / "collm" / "adapter")
    samples = load_samples(collm_run / "test.json")[:10]
    template = load_template("collm", lm.tokenizer)
    fast = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=4, progress=False), template).score(samples)
    soft = soft_tokens_of(lm.model)
    user, item = soft.placeholders
    u, i = soft.inputs(samples)
    ans = answer_token_ids(lm.tokenizer, template)
    emb = soft.embedding.base
    plain = []
    with torch.no_grad():
        rows = soft.projector(u, i)
        for j, s in enumerate(samples):
            ids = torch.tensor(encode_prompt(lm.tokenizer, s, 512, template))
            x = emb(ids).clone()
            x[ids == user], x[ids == item] = rows[2 * j], rows[2 * j + 1]
            logits = lm.model(inputs_embeds=x[None]).logits[0, -1]
            plain.append(torch.softmax(logits[[ans.yes, ans.no]], -1)[0].item())
    np.testing.assert_allclose(fast, plain, atol=1e-4)
    # stage 2 trains on cached prefixes: the same probabilities as the scorer's
    from tallrec.tuning.collm_prefix import cache_prefixes, probabilities

    cached = cache_prefixes(lm, soft, template, samples, 512, "test")
    np.testing.assert_allclose(probabilities(lm, soft, ans, cached, batch=3), fast, atol=1e-4)


def test_a_sample_the_log_cannot_place_is_one_line(collm_run, tiny_model_dir, run_cli):
    from helpers import one_line_error

    from tallrec.data.samples import Sample

    stranger = collm_run / "stranger.json"
    save_samples(stranger, [Sample((("Item 1 (1990)", True),), "Nowhere (1900)", True)])
    code, _, err = run_cli("evaluate", "--adapter", str(collm_run / "collm" / "adapter"), "--data", str(stranger),
                           "--out", str(collm_run / "ev-stranger"))
    one_line_error(code, err, "is in no window of the log")
