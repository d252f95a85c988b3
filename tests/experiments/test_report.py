"""`tallrec paper report` and `tallrec paper reproduce` from the command line: the report rendered from a store,
the dry run of the quick budget, bad input as one line."""

import json

from tallrec.experiments.grid.store import ResultStore
from tallrec.experiments.report import load_paper

from .helpers import error_line, store_row, write_data_dir, write_grid_yaml


def test_report_renders_from_a_store(tmp_path, run_cli):
    out = tmp_path / "run"
    store = ResultStore(out / "results.jsonl")
    out.mkdir()
    for d in ("movie", "book"):
        for k in (16, 64, 256):
            for s in (0, 1, 2):
                store.append(store_row("gru4rec", d, k, s, 0.50 + 0.01 * s, model=None))
                store.append(store_row("like-share", d, k, s, 0.70, model=None))
                store.append(store_row("r", d, k, s, 0.55 + k / 2000 + 0.01 * s))
                store.append(store_row("tallrec", d, k, s, 0.58 + k / 2000 + 0.01 * s))
        store.append(store_row("icl", d, 0, 0, 0.49))
        store.append(store_row("at", d, 0, 0, 0.52))
    for r in ("movie", "book", "both"):
        for c in ("movie", "book"):
            store.append(store_row(f"xd-{r}", c, 64, 0, 0.6, trained_on=r, tested_on=c, valid_from="both"))
    with open(store.path, "ab") as f:
        f.write(b'{"key": "partial')  # a kill mid-write: ignored
    code, stdout, err = run_cli("paper", "report", out)
    assert code == 0, err
    md = (out / "report.md").read_text()
    assert "| method | model | K=16 | paper K=16 | K=64 | paper K=64 | K=256 | paper K=256 | test n |" in md
    paper = load_paper()["methods"]["tallrec"]
    assert paper["movie"] == [67.24, 67.48, 71.98] and paper["book"] == [56.36, 60.39, 64.38]
    tallrec_row = next(l for l in md.splitlines() if l.startswith("| TALLRec (stage 1 + rec-tuning) |"))
    assert "67.24" in tallrec_row and "59.80 ± 1.00 (3)" in tallrec_row
    assert "| in-context (untuned LLM) | smollm2-135m | 49.00 † |" in md
    assert "| gru4rec | – | 51.00 ± 1.00 (3) |" in md  # baselines have no model column
    # report order: classic baselines, floors, then the LLM methods
    assert md.index("| gru4rec |") < md.index("| like-share |") < md.index("| in-context") < md.index("| TALLRec (")
    assert "## Ablation: AT / R / TALLRec" in md and "| AT | 52.00 † |" in md
    assert "## Cross-domain" in md and "| trained on both (K movie + K book) | 60.00 | 60.00 |" in md
    assert "| cross-domain | 1 | 72 s | 72 s |" in md  # six rows (a sixth of the time each) are one cell
    assert "Test CPU 3000" in md and "torch 2.13.0" in md and "`smollm2-135m` (bfloat16)" in md
    assert "partial last line" in md
    for d in ("movie", "book"):
        png = out / "plots" / f"auc_vs_shots_{d}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f"(plots/{png.name})" in md
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cells"] == 2 * 3 * 3 * 4 + 4 + 6


def test_cli_bad_input_is_one_line(tmp_path, run_cli):
    def err(*args):
        code, _, e = run_cli(*args)
        return error_line(code, e)

    bad = write_grid_yaml(tmp_path / "bad.yaml", methods=["r", "magic"])
    assert "unknown method 'magic'" in err("paper", "reproduce", "--config", bad, "--out", tmp_path / "o")
    bad = write_grid_yaml(tmp_path / "bad2.yaml", domains=["music"])
    assert "unknown domain 'music'" in err("paper", "reproduce", "--config", bad, "--out", tmp_path / "o")
    assert "--budget 'huge'" in err("paper", "reproduce", "--budget", "huge", "--out", tmp_path / "o")
    assert "not both" in err("paper", "reproduce", "--budget", "quick", "--config", bad, "--out", tmp_path / "o")
    assert "no such config file" in err("paper", "reproduce", "--config", tmp_path / "nope.yaml", "--out", tmp_path / "o")
    assert "no results.jsonl" in err("paper", "report", tmp_path)
    assert not (tmp_path / "o").exists()


def test_cli_dry_run_lists_the_quick_budget(tmp_path, run_cli):
    data = write_data_dir(tmp_path / "data")
    code, out, err = run_cli("paper", "reproduce", "--budget", "quick", "--out", tmp_path / "o", "--data-dir", data, "--dry-run")
    assert code == 0, err
    assert "--budget quick: 52 cells" in out and "| r | 2 | 0 | book, movie | 64 | 1000 |" in out and "estimate left" in out
    assert not (tmp_path / "o").exists()
