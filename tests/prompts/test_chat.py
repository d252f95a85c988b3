"""The chat style: the model's own chat template, on the default model's real tokenizer."""

import pytest
from transformers import AutoTokenizer

from tallrec.core.errors import ModelError
from tallrec.data import Sample
from tallrec.prompts.registry import load_template
from tallrec.prompts.templates import (
    answer_token_ids,
    record_prompt,
    sample_prompt,
    split_prompt,
)


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_chat_prompt_is_the_tokenizers_chat_template(tok):
    s = Sample((("A (1990)", True), ("B (1991)", False)), "C (1992)", True)
    text = sample_prompt(s, load_template("chat", tok))
    want = tok.apply_chat_template([{"role": "user", "content": s.instruction + "\n\n" + s.input}],
                                   tokenize=False, add_generation_prompt=True)
    assert text == want
    assert text.startswith("<|im_start|>") and text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert record_prompt({"instruction": "Say hi."}, load_template("chat", tok)).endswith(
        "<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n")


def test_chat_prompt_splits_at_the_target(tok):
    t = load_template("chat", tok)
    s = Sample(tuple((f"M{i}", i % 2 == 0) for i in range(5)), "Target (2001)", False)
    prefix, suffix = split_prompt(s, t)
    assert prefix + suffix == sample_prompt(s, t)
    assert suffix == 'Target (2001)"?<|im_end|>\n<|im_start|>assistant\n'


def test_answer_tokens_after_the_assistant_header(tok):
    t = load_template("chat", tok)
    ids = answer_token_ids(tok, t)
    assert ids.yes != ids.no
    assert tok.decode([ids.yes]).strip() == "Yes" and tok.decode([ids.no]).strip() == "No"
    # Read after the chat header, not the Alpaca one: the ids are the next token of that prompt.
    prompt = t.render("Answer.", "x")
    assert tok(prompt + "Yes.", add_special_tokens=False)["input_ids"][len(tok(prompt, add_special_tokens=False)["input_ids"])] == ids.yes


def test_chat_style_needs_a_tokenizer_with_a_chat_template(tok):
    with pytest.raises(ModelError, match="needs a tokenizer"):
        load_template("chat")
    plain = AutoTokenizer.from_pretrained(tok.name_or_path)
    plain.chat_template = None
    with pytest.raises(ModelError) as e:
        load_template("chat", plain)
    assert "has no chat template" in str(e.value) and "\n" not in str(e.value)
