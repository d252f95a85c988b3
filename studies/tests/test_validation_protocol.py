"""The split every validation-only study shares: 200 early-stopping samples, the rest to select on."""

from helpers import synthetic
from validation_protocol import fit_and_select, selection_part

from tallrec.data.fewshot import validation_subset


def test_the_selection_part_is_the_rest_of_validation_in_file_order():
    valid = synthetic(50, seed=6)
    stop, rest = validation_subset(valid, 20), selection_part(valid, 20)
    assert len(rest) == 30 and not any(s is t for s in rest for t in stop)
    assert rest == [s for s in valid if s in rest] and selection_part(valid, 20, 5) == rest[:5]
    assert selection_part(valid, None) == []  # early stopping on all of them leaves nothing to select on


def test_fit_and_select_split_the_validation_file_in_two():
    valid = synthetic(300, seed=7)
    fit_on, select = fit_and_select(valid)
    assert len(fit_on) == 200 and len(select) == 100
    assert {id(s) for s in fit_on}.isdisjoint(id(s) for s in select)
