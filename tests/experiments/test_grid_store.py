"""The results store: append-only, fsync'd lines; a partial last line is skipped and repaired."""

import json

from tallrec.experiments.grid.store import ResultStore


def test_store_round_trip_and_truncated_last_line(tmp_path):
    store = ResultStore(tmp_path / "results.jsonl")
    assert store.load() == [] and store.repair() == 0
    rows = [{"key": f"m/movie/k16/s{i}/-", "auc": 0.5 + i / 100, "metrics": {"versions": {"torch": "x"}}} for i in range(3)]
    for r in rows:
        store.append(r)
    assert store.load() == rows
    # a kill during a write leaves a partial last line: readers skip it, a writer cuts it off first
    with open(store.path, "ab") as f:
        f.write(b'{"key": "m/movie/k16/s9/-", "auc": 0.7')
    assert store.load() == rows and store.partial_tail
    assert store.repair() == len(b'{"key": "m/movie/k16/s9/-", "auc": 0.7')
    assert store.path.read_bytes().endswith(b"\n") and store.load() == rows and not store.partial_tail
    store.append({"key": "m/movie/k16/s9/-", "auc": 0.7})
    assert [r["key"] for r in store.load()][-1] == "m/movie/k16/s9/-"
    # an unreadable complete line is counted and skipped; the first row of a key wins
    with open(store.path, "ab") as f:
        f.write(b"not json\n" + json.dumps({"key": rows[0]["key"], "auc": 0.1}).encode() + b"\n")
    loaded = store.load()
    assert store.bad_lines == 1 and len(loaded) == 4 and loaded[0]["auc"] == rows[0]["auc"]
