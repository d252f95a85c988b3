"""The main job on a fake MovieLens folder and the tiny model: every line of the picture, on the
same test samples, in quickstart.json and on stdout."""

import json

import pytest

from .helpers import write_ml, write_rec_yaml

# The main job end to end: train, score four ways, fit the hybrid.
pytestmark = pytest.mark.integration


def test_quickstart_reports_every_method_on_the_same_samples(tmp_path, tiny_model_dir, run_cli, check_auc):
    write_ml(tmp_path / "data" / "ml-100k", users=8, per_user=40)
    cfg = write_rec_yaml(tmp_path / "rec.yaml", valid_size=None)
    out = tmp_path / "qs"
    code, stdout, err = run_cli("quickstart", "--out", str(out), "--data-dir", str(tmp_path / "data"),
                                "--config", str(cfg), "--model", str(tiny_model_dir), "--shots", "16")
    assert code == 0, err[-2000:]
    res = json.loads((out / "quickstart.json").read_text())
    names = ("untuned", "tuned", "like_share", "hybrid", "hist_valid", "hist_cf")
    assert {res[n]["n"] for n in names} == {24}
    for folder in ("untuned", "tuned", "like-share", "hybrid", "hist-valid", "hist-cf"):
        check_auc(out / folder)
    assert res["hybrid"]["features"][0] == "llm_logit" and res["hist_valid"]["features"][0] == "like_share"
    assert res["hybrid"]["fitted_on"] == "24 early-stopping validation samples"
    assert res["best_tallrec_method"] in ("tuned", "hybrid")
    for label in ("untuned LLM", "rec-tuned LLM", "like-share floor", "hybrid: tuned LLM", "hybrid without the LLM", "hist-cf: CF signals"):
        assert label in stdout
