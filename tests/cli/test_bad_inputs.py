"""A table of bad inputs across every command (README, "Errors").

Each case asserts: exit code 1, exactly one `tallrec: error:` line on stderr (the last one), the
expected fragment in it, no traceback, and nothing written where the command was told to write.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import synthetic

from tallrec.data import save_samples

TAB = "\t"


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_model_dir):
    """A workspace of good and bad inputs, and one tiny trained adapter."""
    from tallrec.cli import main

    d = tmp_path_factory.mktemp("bad-inputs")
    save_samples(d / "train.json", synthetic(24, seed=0))
    save_samples(d / "valid.json", synthetic(12, seed=1))
    save_samples(d / "test.json", synthetic(8, seed=2))
    good = json.loads((d / "test.json").read_text())
    (d / "truncated.json").write_text((d / "test.json").read_text()[:150])
    (d / "empty.json").write_text("")
    (d / "binary.json").write_bytes(bytes(range(256)) * 4)
    (d / "latin1.json").write_bytes(json.dumps([{**good[0], "input": good[0]["input"] + " Amélie"}],
                                               ensure_ascii=False).encode("latin-1"))
    (d / "fields.json").write_text(json.dumps([{"question": "x", "answer": "Yes."}]))
    (d / "label.json").write_text(json.dumps([{**good[0], "output": "Maybe."}]))
    (d / "object.json").write_text(json.dumps({"samples": good}))
    (d / "folder.json").mkdir()
    (d / "a-file").write_text("not a folder\n")
    (d / "alpaca-empty.json").write_text("[]")
    (d / "alpaca-no-output.json").write_text(json.dumps([{"instruction": "Say hi."}]))
    (d / "lr-fast.yaml").write_text("lr: fast\n")
    (d / "unknown-key.yaml").write_text("learning_rate: 0.001\n")
    (d / "malformed.yaml").write_text("lr: [1, 2\n")
    (d / "list.yaml").write_text("- lr\n- 1\n")
    (d / "grid-method.yaml").write_text("methods: [gpt5]\n")
    (d / "model.txt").write_text("weights\n")
    (d / "no-config").mkdir()
    (d / "empty-adapter").mkdir()
    _raw_movielens(d / "ml-good")
    _raw_movielens(d / "ml-bad-rating", rating=7)
    _raw_movielens(d / "ml-dup-item", duplicate_item=True)
    (d / "inter.csv").write_text("user,item,rating,timestamp\n" + "".join(
        f"u{u},i{k},{9 if (u, k) == (1, 3) else 4},{k}\n" for u in range(3) for k in range(1, 8)))
    (d / "inter-nocol.csv").write_text("user,item\nu1,i1\n")
    (d / "items.csv").write_text("item,title\n" + "".join(f"i{k},Title {k}\n" for k in range(1, 8)))
    (d / "items-dup.csv").write_text("item,title\ni1,A\ni1,B\n")
    code = main(["train", "--config", "paper", "--train", str(d / "train.json"), "--valid", str(d / "valid.json"), "--out",
                 str(d / "run"), "--model", str(tiny_model_dir), "--precision", "fp32", "--shots", "8",
                 "--batch-size", "4", "--micro-batch-size", "4", "--epochs", "1", "--eval-every", "1"])
    assert code == 0
    foreign = d / "foreign-adapter"
    shutil.copytree(d / "run" / "adapter", foreign)
    meta = json.loads((foreign / "tallrec-base.json").read_text())
    meta["fingerprint"]["hidden_size"] = 4096
    (foreign / "tallrec-base.json").write_text(json.dumps(meta))
    return d


def _raw_movielens(folder: Path, rating: int = 4, duplicate_item: bool = False) -> None:
    folder.mkdir()
    rows = [(u, i, rating if (u, i) == (1, 3) else 4, 100 + i) for u in (1, 2) for i in range(1, 13)]
    (folder / "u.data").write_text("".join(TAB.join(map(str, r)) + "\n" for r in rows))
    items = [(i, f"Movie {i} (1995)") for i in range(1, 13)] + ([(3, "Again (1996)")] if duplicate_item else [])
    (folder / "u.item").write_bytes("".join(f"{i}|{t}|01-Jan-1995||http://x|0|1\n" for i, t in items)
                                    .encode("ISO-8859-1"))


# (case id, command line with {ws}/{model} placeholders, fragment of the error line, path that must stay absent)
EV = "evaluate --adapter none --model {model} --precision fp32 --out {ws}/out-ev --data"
CASES = [
    # data files
    ("data-truncated", f"{EV} {{ws}}/truncated.json", "malformed JSON", "out-ev"),
    ("data-empty", f"{EV} {{ws}}/empty.json", "file is empty", "out-ev"),
    ("data-binary", f"{EV} {{ws}}/binary.json", "not UTF-8", "out-ev"),
    ("data-latin1", f"{EV} {{ws}}/latin1.json", "not UTF-8", "out-ev"),
    ("data-wrong-fields", f"{EV} {{ws}}/fields.json", "fields.json", "out-ev"),
    ("data-bad-label", f"{EV} {{ws}}/label.json", "Maybe.", "out-ev"),
    ("data-not-a-list", f"{EV} {{ws}}/object.json", "object.json", "out-ev"),
    ("data-is-a-folder", f"{EV} {{ws}}/folder.json", "is a folder", "out-ev"),
    ("data-missing", f"{EV} {{ws}}/nope.json", "no such file", "out-ev"),
    ("train-pool-truncated", "train --train {ws}/truncated.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model}", "malformed JSON", "out-tr"),
    ("stats-binary", "data stats {ws}/binary.json", "not UTF-8", None),
    ("movielens-rating-out-of-scale", "data prepare movielens --raw {ws}/ml-bad-rating --out {ws}/out-ml",
     "rating", "out-ml"),
    ("movielens-duplicate-item", "data prepare movielens --raw {ws}/ml-dup-item --out {ws}/out-ml",
     "appears twice", "out-ml"),
    ("movielens-no-folder", "data prepare movielens --raw {ws}/nope --out {ws}/out-ml", "no such folder", "out-ml"),
    ("csv-rating-out-of-scale", "data prepare csv --interactions {ws}/inter.csv --items {ws}/items.csv "
     "--out {ws}/out-csv --history 3", "rating", "out-csv"),
    ("csv-missing-column", "data prepare csv --interactions {ws}/inter-nocol.csv --items {ws}/items.csv "
     "--out {ws}/out-csv", "missing column", "out-csv"),
    ("csv-duplicate-item", "data prepare csv --interactions {ws}/inter.csv --items {ws}/items-dup.csv "
     "--out {ws}/out-csv", "appears twice", "out-csv"),
    ("alpaca-empty", "tune-instruct --data {ws}/alpaca-empty.json --out {ws}/out-ti --model {model}",
     "no records", "out-ti"),
    ("alpaca-no-output", "tune-instruct --data {ws}/alpaca-no-output.json --out {ws}/out-ti --model {model}",
     "missing field 'output'", "out-ti"),
    # options
    ("evaluate-no-adapter-flag", "evaluate --data {ws}/test.json --out {ws}/out-ev", "Missing option '--adapter'",
     "out-ev"),
    ("evaluate-device", "evaluate --adapter none --model {model} --device gpu0 --data {ws}/test.json "
     "--out {ws}/out-ev", "gpu0", "out-ev"),
    ("calibrate-untuned", "calibrate --adapter none --valid {ws}/test.json", "calibration is saved beside an adapter",
     "out-ev"),
    ("recommend-precision", "recommend --catalogue {ws} --users {ws}/test.json --out {ws}/out-ev --precision fp8",
     "fp8", "out-ev"),
    ("evaluate-batch-size-0", f"{EV} {{ws}}/test.json --batch-size 0", "batch", "out-ev"),
    ("evaluate-limit-0", f"{EV} {{ws}}/test.json --limit 0", "limit", "out-ev"),
    ("evaluate-precision", "evaluate --adapter none --model {model} --precision fp8 --data {ws}/test.json "
     "--out {ws}/out-ev", "fp8", "out-ev"),
    ("icl-negative-k", "paper icl --train {ws}/train.json --test {ws}/test.json --out {ws}/out-icl --k -1 "
     "--model {model}", "--k", "out-icl"),
    ("train-negative-lr", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --lr -1", "--lr: must be more than 0", "out-tr"),
    ("train-batch-size-0", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --batch-size 0", "--batch-size: must be at least 1", "out-tr"),
    ("train-micro-batch-not-dividing", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --batch-size 8 --micro-batch-size 3", "micro_batch_size", "out-tr"),
    ("train-loss-on", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --loss-on tokens", "--loss-on: 'tokens' is not one of all, answer", "out-tr"),
    ("train-precision", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --precision fp8", "--precision: 'fp8'", "out-tr"),
    ("train-negative-shots", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--model {model} --shots -1", "--shots: must be at least 0", "out-tr"),
    ("train-patience-0", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --patience 0", "--patience: must be at least 1", "out-tr"),
    ("baseline-unknown", "paper baseline gpt5 --train {ws}/train.json --valid {ws}/valid.json --test {ws}/test.json "
     "--out {ws}/out-bl", "gpt5", "out-bl"),
    ("reproduce-budget", "paper reproduce --budget huge --out {ws}/out-rp", "huge", "out-rp"),
    ("ablation-domain", "paper ablation --domain music --out {ws}/out-ab --alpaca {ws}/alpaca-empty.json", "music", "out-ab"),
    ("ablation-shots", "paper ablation --domain movie --out {ws}/out-ab --shots a,b --alpaca {ws}/alpaca-empty.json",
     "--shots", "out-ab"),
    ("cross-domain-valid-from", "paper cross-domain --out {ws}/out-xd --valid-from last", "last", "out-xd"),
    # configs
    ("config-lr-fast", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr --shots 8 --model {model} "
     "--config {ws}/lr-fast.yaml", "lr-fast.yaml: lr: expected a number, got 'fast'", "out-tr"),
    ("config-unknown-key", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --config {ws}/unknown-key.yaml", "learning_rate", "out-tr"),
    ("config-malformed", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --config {ws}/malformed.yaml", "malformed YAML", "out-tr"),
    ("config-missing", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --config {ws}/nope.yaml", "no such config file", "out-tr"),
    ("config-not-a-mapping", "tune-instruct --data {ws}/alpaca-no-output.json --out {ws}/out-ti "
     "--config {ws}/list.yaml", "mapping", "out-ti"),
    ("grid-unknown-method", "paper reproduce --config {ws}/grid-method.yaml --out {ws}/out-rp", "gpt5", "out-rp"),
    # model paths
    ("model-missing", "evaluate --adapter none --model {ws}/nope --data {ws}/test.json --out {ws}/out-ev",
     "no such model folder or file", "out-ev"),
    ("model-no-config", "evaluate --adapter none --model {ws}/no-config --data {ws}/test.json --out {ws}/out-ev",
     "config.json", "out-ev"),
    ("model-not-gguf", "evaluate --adapter none --model {ws}/model.txt --data {ws}/test.json --out {ws}/out-ev",
     ".gguf", "out-ev"),
    # adapters
    ("adapter-empty-folder", "evaluate --adapter {ws}/empty-adapter --data {ws}/test.json --out {ws}/out-ev",
     "not a run folder (with adapter/) or an adapter folder", "out-ev"),
    ("adapter-other-base", "evaluate --adapter {ws}/foreign-adapter --model {model} --precision fp32 "
     "--data {ws}/test.json --out {ws}/out-ev", "trained on base model", "out-ev"),
    ("init-adapter-not-an-adapter", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--shots 8 --model {model} --precision fp32 --init-adapter {ws}/empty-adapter", "not a LoRA adapter folder", "out-tr"),
    ("adapter-other-prompt-style", "evaluate --adapter {ws}/run/adapter --prompt stats --data {ws}/test.json "
     "--out {ws}/out-ev", "trained with prompt style 'alpaca', not 'stats'", "out-ev"),
    ("prompt-unknown", f"{EV} {{ws}}/test.json --prompt fancy", "unknown prompt style 'fancy'", "out-ev"),
    ("predict-no-adapter-flag", "predict --data {ws}/test.json --out {ws}/out-pred.json", "Missing option '--adapter'",
     "out-pred.json"),
    ("option-unknown", f"{EV} {{ws}}/test.json --bogus 1", "No such option: --bogus", "out-ev"),
    ("option-wrong-type", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/out-tr "
     "--model {model} --epochs many", "--epochs", "out-tr"),
    # output paths
    ("evaluate-out-unwritable", "evaluate --adapter none --model {model} --data {ws}/test.json --out /proc/nope",
     "/proc/nope", None),
    ("evaluate-out-is-a-file", "evaluate --adapter none --model {model} --data {ws}/test.json --out {ws}/a-file",
     "a-file", None),
    ("predict-out-parent-is-a-file", "predict --adapter none --model {model} --data {ws}/test.json "
     "--out {ws}/a-file/pred.json", "a-file", None),
    ("train-out-is-a-file", "train --train {ws}/train.json --valid {ws}/valid.json --out {ws}/a-file "
     "--shots 8 --model {model}", "a-file", None),
    ("prepare-out-is-a-file", "data prepare movielens --raw {ws}/ml-good --out {ws}/a-file", "a-file", None),
]


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES) and len({c[1] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case, command, fragment, absent", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(ws, tiny_model_dir, run_cli, case, command, fragment, absent):
    args = command.format(ws=ws, model=tiny_model_dir).split()
    before = (ws / "a-file").read_text()
    code, out, err = run_cli(*args)
    lines = err.strip().splitlines()
    assert code == 1, (code, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    assert [line for line in lines if line.startswith("tallrec: error")] == lines[-1:], err[-2000:]
    assert fragment in lines[-1], lines[-1]
    if absent is not None:
        assert not (ws / absent).exists(), f"{absent} was written"
    assert (ws / "a-file").read_text() == before
