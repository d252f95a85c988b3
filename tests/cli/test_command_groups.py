"""The command layout: product verbs at the top level, the paper's experiments under `tallrec paper`,
and no old top-level spelling of those (the hidden aliases went in the release after the move)."""

from __future__ import annotations

import re

import pytest

PRODUCT = ["data", "train", "train-collm", "tune-instruct", "evaluate", "predict", "calibrate", "plan", "rank", "recommend", "evaluate-ranking", "serve",
           "quickstart"]
PAPER = ["reproduce", "ablation", "cross-domain", "report", "baseline", "icl"]


def listed(help_text: str) -> set[str]:
    """The command names of a --help page: the first word of each row of its Commands table."""
    table = help_text.split("Commands")[-1]
    return set(re.findall(r"^\W ([a-z][a-z-]*) ", table, flags=re.M))


def test_top_level_help_lists_product_verbs_and_paper_only(run_cli):
    code, out, err = run_cli("--help")
    assert code == 0 and err == ""
    assert listed(out) == {*PRODUCT, "paper"}


def test_paper_help_lists_the_experiment_verbs(run_cli):
    code, out, err = run_cli("paper", "--help")
    assert code == 0 and err == ""
    assert listed(out) == set(PAPER)


@pytest.mark.parametrize("name", PAPER)
def test_new_spelling_runs_without_a_notice(run_cli, name):
    code, out, err = run_cli("paper", name, "--help")
    assert code == 0 and err == "" and f"Usage: tallrec paper {name}" in out


@pytest.mark.parametrize("name", PAPER)
def test_old_top_level_spelling_is_gone(run_cli, name):
    code, _, err = run_cli(name, "--help")
    assert code == 1 and len(err.splitlines()) == 1 and "No such command" in err
