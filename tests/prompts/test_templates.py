import pytest
from transformers import AutoTokenizer

from tallrec.core.errors import ModelError
from tallrec.data import Sample
from tallrec.prompts.templates import answer_token_ids, load_template, sample_prompt


def test_template_is_clean_alpaca():
    t = load_template()
    p = t.render("Do X.", "the input")
    assert p.endswith("### Input:\nthe input\n\n### Response:\n")
    assert "noqa" not in p and "#" not in p.replace("###", "")
    assert t.render("Do X.").endswith("### Instruction:\nDo X.\n\n### Response:\n")


def test_answer_ids_come_from_the_tokenizer(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = answer_token_ids(tok)
    assert ids.yes != ids.no
    assert tok.decode([ids.yes]).strip() == "Yes" and tok.decode([ids.no]).strip() == "No"


class _SameFirstToken:
    """A tokenizer where 'Yes' and 'No' share their first token."""

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [ord(c) for c in text.replace("Yes", "Y1").replace("No", "Y2")]}


def test_tokenizer_with_shared_first_answer_token_is_refused():
    with pytest.raises(ModelError, match="start with the same token"):
        answer_token_ids(_SameFirstToken())


def test_sample_prompt_contains_question():
    s = Sample((("A", True),), "B", True)
    assert sample_prompt(s).endswith('Whether the user will like the target movie "B"?\n\n### Response:\n')
