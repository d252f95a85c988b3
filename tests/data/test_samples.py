import json

import pytest

from tallrec.core.errors import DataError
from tallrec.data import Sample, load_samples, samples_to_json
from tallrec.data.fewshot import draw_fewshot, permute_history

OFFICIAL = ["movie/valid.json", "movie/test.json", "book/valid.json", "book/test.json"]


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_files_round_trip_byte_for_byte(shared_data, name):
    path = shared_data / "tallrec-official" / name
    samples = load_samples(path)
    assert samples_to_json(samples).encode() == path.read_bytes()
    assert {s.domain for s in samples} == {name.split("/")[0]}


def test_book_titles_with_quotes_round_trip(shared_data):
    samples = load_samples(shared_data / "tallrec-official" / "book" / "test.json")
    quoted = [s for s in samples if '"' in s.target]
    assert quoted and all(not s.quote_history for s in samples)
    for s in quoted[:50]:
        assert Sample.from_record(s.to_record()) == s


def test_sample_renders_authors_form():
    s = Sample(history=(("A (1990)", True), ("B (1991)", False), ("C (1992)", True)), target="D", label=False)
    rec = s.to_record()
    assert rec["input"] == (
        'User Preference: "A (1990)", "C (1992)"\nUser Unpreference: "B (1991)"\n'
        'Whether the user will like the target movie "D"?'
    )
    assert rec["output"] == "No."
    assert "noqa" not in rec["instruction"]
    back = Sample.from_record(rec)
    assert back.liked == ["A (1990)", "C (1992)"] and back.disliked == ["B (1991)"] and back.label is False


def test_titles_containing_no_keep_their_label():
    s = Sample(history=(("No Country for Old Men", True),), target="No. 1 Ladies", label=True)
    assert Sample.from_record(s.to_record()).label is True


@pytest.mark.parametrize(
    "record, message",
    [
        ({"input": "x", "output": "Yes."}, "missing field 'instruction'"),
        ({"instruction": Sample((), "t").instruction, "input": Sample((), "t").input, "output": "Maybe"}, "output must be"),
        ({"instruction": "Say hi", "input": "x", "output": "Yes."}, "not the TALLRec instruction"),
        ([1, 2], "expected an object"),
    ],
)
def test_bad_records_give_one_line_errors(record, message):
    with pytest.raises(DataError, match=message):
        Sample.from_record(record, where="f.json: record 3")


def test_load_samples_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    with pytest.raises(DataError, match="bad.json: malformed JSON at line 1"):
        load_samples(bad)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.json: file is empty"):
        load_samples(empty)
    with pytest.raises(DataError, match="no such file"):
        load_samples(tmp_path / "missing.json")
    rec = Sample((("a", True),), "t", True).to_record()
    del rec["input"]
    one = tmp_path / "one.json"
    one.write_text(json.dumps([Sample((), "t", True).to_record(), rec]))
    with pytest.raises(DataError, match=r"one.json: record 1: missing field 'input'"):
        load_samples(one)


def _pool(n):
    return [Sample(((f"h{i}", i % 2 == 0),), f"t{i}", label=i % 3 == 0) for i in range(n)]


def test_fewshot_is_deterministic_and_balanced():
    pool = _pool(100)
    a, b = draw_fewshot(pool, 16, seed=0), draw_fewshot(pool, 16, seed=0)
    assert a == b and len(a) == 16 and draw_fewshot(pool, 16, seed=1) != a
    bal = draw_fewshot(pool, 16, seed=0, balanced=True)
    assert sum(s.label for s in bal) == 8
    assert len(draw_fewshot(pool, None, seed=0)) == 100  # "all samples" works
    with pytest.raises(DataError, match="cannot draw 101 shots from a pool of 100"):
        draw_fewshot(pool, 101, seed=0)


def test_permute_history_keeps_items_labels_and_targets():
    pool = [Sample(tuple((f"h{i}-{j}", (i + j) % 3 == 0) for j in range(5)), f"t{i}", label=i % 2 == 0)
            for i in range(8)]
    out = permute_history(pool, 3, seed=0)
    assert out[:8] == pool and len(out) == 32 and permute_history(pool, 3, seed=0) == out
    for i, s in enumerate(out[8:]):
        orig = pool[i % 8]
        assert (s.target, s.label, sorted(s.history)) == (orig.target, orig.label, sorted(orig.history))
    assert any(s.history != pool[i % 8].history for i, s in enumerate(out[8:]))  # orders do change
    assert permute_history(pool, 0, seed=0) == pool
    with pytest.raises(DataError, match="0 or more"):
        permute_history(pool, -1, seed=0)
