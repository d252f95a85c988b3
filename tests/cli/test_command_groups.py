"""The command layout: product verbs at the top level, the paper's experiments under `tallrec paper`,
and the old top-level spellings of those still working (hidden, with one notice line) for a release."""

from __future__ import annotations

import re

import pytest

PRODUCT = ["data", "train", "tune-instruct", "evaluate", "predict", "calibrate", "plan", "rank", "recommend", "evaluate-ranking", "serve",
           "quickstart"]
PAPER = ["reproduce", "ablation", "cross-domain", "report", "baseline", "icl"]


def notice(name: str) -> str:
    return f"tallrec: notice: 'tallrec {name}' is now 'tallrec paper {name}'; the old spelling goes in the next release"


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
def test_old_spelling_is_the_same_command_with_one_notice(run_cli, name):
    code, old_help, err = run_cli(name, "--help")
    assert code == 0 and err.splitlines() == [notice(name)]
    _, new_help, _ = run_cli("paper", name, "--help")
    options = re.findall(r"--[a-z][a-z-]*", new_help)
    assert len(options) > 1 and re.findall(r"--[a-z][a-z-]*", old_help) == options


def test_old_spelling_runs_the_command(run_cli):
    code, out, err = run_cli("baseline", "list")
    assert code == 0 and err.splitlines() == [notice("baseline")]
    assert (code, out, "") == run_cli("paper", "baseline", "list")


def test_old_spelling_error_is_still_one_error_line(run_cli, tmp_path):
    code, _, err = run_cli("reproduce", "--budget", "huge", "--out", tmp_path / "o")
    assert code == 1 and err.splitlines() == [notice("reproduce"), "tallrec: error: --budget 'huge': expected one of "
                                              "quick, full"]
    assert not (tmp_path / "o").exists()
