"""The prompt-style registry: names, descriptions, one-line errors, and the paper's prompt unchanged."""

import json
from importlib import resources

import pytest

from tallrec.core.errors import TallrecError
from tallrec.data import Sample, load_samples
from tallrec.prompts.registry import (
    DEFAULT_STYLE,
    list_styles,
    load_style,
    load_template,
)
from tallrec.prompts.templates import sample_prompt, split_prompt

# The paper's Alpaca prompt, written out here independently of the style file.
OLD_INPUT = ("Below is an instruction that describes a task, paired with an input that provides further context. "
             "Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n"
             "### Input:\n{input}\n\n### Response:\n")
OLD_NO_INPUT = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
                "request.\n\n### Instruction:\n{instruction}\n\n### Response:\n")
TEXT_STYLES = [n for n in list_styles() if load_style(n).kind == "text"]


def test_registry_lists_every_style_file_with_a_description():
    names = list_styles()
    assert {"alpaca", "chat", "stats"} <= set(names) and DEFAULT_STYLE == "alpaca"
    files = sorted(p.name for p in resources.files("tallrec").joinpath("prompts", "styles").iterdir())
    assert [f"{n}.json" for n in names] == files
    for n in names:
        style = load_style(n)
        assert style.name == n and len(style.description) > 30
    assert load_style("chat").kind == "chat" and load_style("stats").kind == "text"


def test_unknown_style_is_one_line_naming_the_known_ones():
    with pytest.raises(TallrecError) as e:
        load_style("fancy")
    msg = str(e.value)
    assert "\n" not in msg and "'fancy'" in msg and "alpaca, chat, collm, stats" in msg
    with pytest.raises(TallrecError, match="unknown prompt style '../alpaca'"):
        load_template("../alpaca")


def test_alpaca_is_the_papers_prompt_byte_for_byte():
    t = load_template()
    assert t == load_template("alpaca")
    assert t.prompt_input == OLD_INPUT and t.prompt_no_input == OLD_NO_INPUT
    s = Sample((("A (1990)", True), ("B (1991)", False)), "C (1992)", True)
    assert sample_prompt(s) == OLD_INPUT.format(
        instruction="Given the user's preference and unpreference, identify whether the user will like the target "
                    'movie by answering "Yes." or "No.".',
        input='User Preference: "A (1990)"\nUser Unpreference: "B (1991)"\n'
              'Whether the user will like the target movie "C (1992)"?')


@pytest.mark.shared
def test_alpaca_prompts_of_official_samples_are_unchanged(shared_data):
    for domain in ("movie", "book"):
        path = shared_data / "tallrec-official" / domain / "test.json"
        records = json.loads(path.read_text())[:200]
        samples = load_samples(path)[:200]
        for r, s in zip(records, samples):
            assert sample_prompt(s, load_template("alpaca")) == OLD_INPUT.format(instruction=r["instruction"],
                                                                               input=r["input"])


def _samples():
    return [Sample(tuple((f"Movie {i} (19{50 + i})", i % 3 != 0) for i in range(10)), "Target (2000)", True),
            Sample((), "Lonely (1999)", False),
            Sample((('"Dune" written by Frank Herbert', True),), '"Emma" written by Jane Austen', None,
                   domain="book", quote_history=False)]


@pytest.mark.parametrize("name", TEXT_STYLES)
def test_text_styles_render_and_split_at_the_target(name):
    t = load_template(name)
    for s in _samples():
        full = sample_prompt(s, t)
        prefix, suffix = split_prompt(s, t)
        assert prefix + suffix == full
        assert suffix.startswith(s.target) and suffix.endswith("### Response:\n")
        assert prefix.endswith(f"Whether the user will like the target {s.domain} \"")
        # The prefix is the user's alone: another target leaves it unchanged.
        other = Sample(s.history, "Something Else", s.label, s.domain, s.quote_history)
        assert split_prompt(other, t)[0] == prefix
        assert split_prompt(other, t)[1] == suffix.replace(s.target, "Something Else", 1)


def test_stats_sentence_counts_the_shown_history():
    t = load_template("stats")
    many, empty, one_book = _samples()
    assert "\nThe user liked 6 of their 10 most recent movies.\nWhether the user" in sample_prompt(many, t)
    assert "\nThe user liked 6 of their 9 most recent movies.\n" in sample_prompt(many.drop_oldest(1), t)  # Movie 0 was disliked
    assert 'User Unpreference: \nThe user has rated no movies yet.\nWhether' in sample_prompt(empty, t)
    assert "\nThe user liked 1 of their 1 most recent book.\n" in sample_prompt(one_book, t)
    seven = Sample(tuple((f"M{i}", i < 7) for i in range(10)), "T", True)
    assert "The user liked 7 of their 10 most recent movies." in sample_prompt(seven, t)
    # Everything else is the Alpaca prompt.
    assert sample_prompt(seven, t).replace("The user liked 7 of their 10 most recent movies.\n", "") == sample_prompt(seven)
