"""`tallrec rank`: input checked before any model loads, output in input order, torchrun sharding."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import free_port, one_line_error

from tallrec.data import Sample
from tallrec.llm.scoring import reference_scores

from .helpers import CANDIDATES


def _users(n=5):
    return [{"user": f"u{i}", "liked": CANDIDATES[i:i + 2], "disliked": CANDIDATES[i + 2:i + 3],
             "candidates": CANDIDATES[(i + 3) % 5:(i + 3) % 5 + 4 + i]} for i in range(n)]


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_rank_writes_top_k_and_all_scores_in_input_order(tmp_path, run_cli, tiny_model_dir, tiny_lm):
    users = _users()
    src = _write(tmp_path / "users.jsonl", users)
    code, _, err = run_cli("rank", "--adapter", "none", "--model", tiny_model_dir, "--precision", "fp32",
                           "--users", src, "--out", tmp_path / "ranked.jsonl", "--k", "3", "--batch-size", "2")
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "ranked.jsonl").read_text().splitlines()]
    assert [r["user"] for r in rows] == [u["user"] for u in users]
    for u, r in zip(users, rows):
        hist = tuple((t, True) for t in u["liked"]) + tuple((t, False) for t in u["disliked"])
        want = reference_scores(tiny_lm.model, tiny_lm.tokenizer, [Sample(hist, c) for c in u["candidates"]])
        assert np.abs(np.array(r["scores"]) - want).max() < 1e-4
        order = np.argsort(-np.array(r["scores"]), kind="stable")[:3]
        assert [t["item"] for t in r["top"]] == [u["candidates"][i] for i in order]
        assert [t["p_yes"] for t in r["top"]] == [r["scores"][i] for i in order]


BAD = [
    ("{not json", "line 2: invalid JSON"),
    ({"user": "x", "liked": [], "disliked": [], "candidates": []}, "line 2: candidates: no candidates"),
    ({"user": "x", "liked": [], "disliked": [], "candidates": ["A", "A"]}, "line 2: candidates: duplicate candidate 'A'"),
    ({"user": "x", "liked": [""], "disliked": [], "candidates": ["A"]}, "line 2: liked: item 0: empty title"),
    ({"user": "x", "liked": [], "disliked": [], "candidates": ["A"], "age": 3}, "line 2: unknown field 'age'"),
    ({"user": "x", "liked": []}, "line 2: missing field 'candidates'"),
    ({"user": "x", "liked": [], "disliked": [], "candidates": ["A"], "target": "B"}, "line 2: target 'B'"),
    ([1, 2], "line 2: expected a JSON object"),
]


@pytest.mark.parametrize("row,message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_line_naming_the_line_before_the_model_loads(tmp_path, run_cli, row, message):
    src = _write(tmp_path / "users.jsonl", [_users(1)[0], row])
    # A model that does not exist: the input error must come first.
    code, _, err = run_cli("rank", "--adapter", "none", "--model", tmp_path / "no-model", "--users", src,
                           "--out", tmp_path / "ranked.jsonl")
    one_line_error(code, err, message)
    assert not (tmp_path / "ranked.jsonl").exists()


def test_refusals_before_any_work(tmp_path, run_cli):
    src = _write(tmp_path / "users.jsonl", _users(1))
    code, _, err = run_cli("rank", "--users", src, "--out", tmp_path / "r.jsonl")
    one_line_error(code, err, "Missing option '--adapter'")
    code, _, err = run_cli("rank", "--adapter", tmp_path / "nope", "--users", src, "--out", tmp_path / "r.jsonl")
    one_line_error(code, err, "no such run or adapter folder")
    (tmp_path / "blocker").write_text("")
    code, _, err = run_cli("rank", "--adapter", "none", "--model", tmp_path / "no-model", "--users", src,
                           "--out", tmp_path / "blocker" / "r.jsonl")
    one_line_error(code, err, "blocker")
    _write(tmp_path / "empty.jsonl", ["", "  "])
    code, _, err = run_cli("rank", "--adapter", "none", "--users", tmp_path / "empty.jsonl", "--out", tmp_path / "r.jsonl")
    one_line_error(code, err, "holds no users")


@pytest.mark.integration
def test_torchrun_two_cpu_processes_merge_in_input_order(tmp_path, tiny_model_dir, run_cli):
    users = _users(5)
    src = _write(tmp_path / "users.jsonl", users)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TALLREC_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
           "-m", "tallrec", "rank", "--adapter", "none", "--model", tiny_model_dir, "--precision", "fp32",
           "--users", src, "--out", tmp_path / "ddp.jsonl", "--k", "2"]
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    code, _, err = run_cli("rank", "--adapter", "none", "--model", tiny_model_dir, "--precision", "fp32",
                           "--users", src, "--out", tmp_path / "one.jsonl", "--k", "2")
    assert code == 0, err
    ddp = [json.loads(x) for x in (tmp_path / "ddp.jsonl").read_text().splitlines()]
    one = [json.loads(x) for x in (tmp_path / "one.jsonl").read_text().splitlines()]
    assert [r["user"] for r in ddp] == [u["user"] for u in users]
    for a, b in zip(ddp, one):
        assert np.abs(np.array(a["scores"]) - np.array(b["scores"])).max() < 1e-5
        assert [t["item"] for t in a["top"]] == [t["item"] for t in b["top"]]
