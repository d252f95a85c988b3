"""The collaborative signals are leak-free, placed by text where samples carry no ids, and cached."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import synthetic_log

from tallrec.collab import snapshots as snapshots_module
from tallrec.collab.signals import FEATURES, CFSignals
from tallrec.collab.snapshots import MFSettings
from tallrec.core.errors import DataError
from tallrec.data.builders.log_windows import log_windows
from tallrec.data.interactions import Interactions
from tallrec.data.samples import Sample

DAY = 86_400
START = 880_000_000  # 1997-11-20 (helpers.synthetic_log starts there)


def changed(log: Interactions, keep) -> Interactions:
    """`log` with every row where keep(row) is False given another rating (and so another like)."""
    ev = log.events.copy()
    flip = ~keep(ev)
    ev.loc[flip, "rating"] = 6 - ev.loc[flip, "rating"]
    ev.loc[flip, "liked"] = ev.loc[flip, "rating"] > 3
    return Interactions(ev, log.items, "changed")


@pytest.fixture()
def cache(tmp_path):
    return tmp_path / "collab"


def test_signals_do_not_see_the_target_its_future_or_other_users_at_or_after_t(cache):
    log = synthetic_log()
    windows = list(log_windows(log))
    late = [w for w in windows if w.meta["timestamp"] > START + 70 * DAY][::7][:6]
    assert len(late) >= 4
    mf = MFSettings(dim=4, epochs=30, period="W-MON")
    for w in late:
        t, user, row = w.meta["timestamp"], w.meta["user"], w.meta["row"]
        order = log.user_orders()[user].tolist()
        own_later = set(order[order.index(row):])  # the target and everything after it
        other = changed(log, lambda e, u=user, t=t, o=own_later: ~(((e["user"] != u) & (e["timestamp"] >= t))
                                                                   | e.index.isin(o)))
        assert other.checksum() != log.checksum()
        a, b = CFSignals(log, mf, cache=cache / "a"), CFSignals(other, mf, cache=cache / "b")
        placed = Sample(w.history, w.target, w.label, meta={"user": user, "row": row})
        fa, fb = a.features([placed]), b.features([placed])
        assert all(np.allclose(fa[n], fb[n]) for n in FEATURES), (fa, fb)
        for x, y in zip(a.embeddings([placed]), b.embeddings([placed])):
            np.testing.assert_array_equal(x, y)
        # and a change before t does show: the signals are not constant
        before = changed(log, lambda e, u=user, t=t: ~((e["user"] != u) & (e["timestamp"] < t)))
        fc = CFSignals(before, mf, cache=cache / "c").features([placed])
        assert not np.allclose(fa["item_like_rate"], fc["item_like_rate"]) or fa["item_log_count"][0] == 0


def test_samples_without_ids_are_placed_by_their_text(cache):
    log = synthetic_log()
    windows = list(log_windows(log))[::11]
    bare = [Sample(w.history, w.target, w.label) for w in windows]  # what a JSON file gives
    sig = CFSignals(log, MFSettings(dim=4, epochs=10), cache=cache)
    p = sig.place(bare)
    assert p.times.tolist() == [w.meta["timestamp"] for w in windows]
    assert p.items.tolist() == [w.meta["item"] for w in windows]
    assert p.users.tolist() == [w.meta["user"] for w in windows]
    np.testing.assert_allclose(sig.features(bare)["item_like_rate"], sig.features(windows)["item_like_rate"])


def test_a_sample_the_log_cannot_place_is_one_line(cache):
    log = synthetic_log()
    w = next(iter(log_windows(log)))
    stranger = Sample(w.history, "Not In The Log (1901)", True)
    with pytest.raises(DataError, match=r"^--test: sample 1 \(target 'Not In The Log \(1901\)'\) is in no window"):
        CFSignals(log, cache=cache).features([w, stranger], "--test")


def test_snapshots_are_cached_by_the_logs_checksum(cache, monkeypatch):
    log = synthetic_log()
    windows = list(log_windows(log))[-5:]
    mf = MFSettings(dim=4, epochs=10)
    first = CFSignals(log, mf, cache=cache).features(windows)
    calls = []
    real = snapshots_module.fit_mf
    monkeypatch.setattr(snapshots_module, "fit_mf", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = CFSignals(log, mf, cache=cache).features(windows)
    assert calls == [] and np.array_equal(first["mf_logit"], again["mf_logit"])
    default = CFSignals(log, mf).snapshots.folder
    assert log.checksum()[:0] == "" and default != CFSignals(changed(log, lambda e: e["user"] != 1), mf).snapshots.folder
    assert np.abs(first["mf_logit"]).sum() > 0  # the snapshots learned something


def test_log_windows_reproduce_the_movielens_builder(shared_data):
    from tallrec.data.builders.movielens import raw_windows
    from tallrec.data.readers import read_log

    raw = shared_data / "ml-100k"
    assert list(log_windows(read_log(raw))) == raw_windows(raw)


def test_live_candidates_are_placed_at_the_users_time_or_after_the_log(cache):
    """Ranking and serving: a candidate nobody rated sits at its user's time (meta) or, for a user
    the log lacks, after the whole log with its history as the user's list; unknown titles are None."""
    log = synthetic_log()
    sig = CFSignals(log, MFSettings(dim=4, epochs=10), cache=cache)
    w = list(log_windows(log))[40]
    known = Sample(w.history, "Item 3 (1990)", None, meta={"user": w.meta["user"], "timestamp": w.meta["timestamp"]})
    stranger = Sample(w.history, "Not In The Log (1901)", None)
    p = sig.place([known, stranger], live=True)
    order = log.user_orders()[w.meta["user"]]
    before = int((log.events["timestamp"].to_numpy()[order] < w.meta["timestamp"]).sum())
    assert p.users.tolist() == [w.meta["user"], None] and p.items.tolist() == [3, None]
    assert p.positions.tolist() == [before, len(w.history)] and p.own_likes[1] == len(w.liked)
    assert p.times[1] == log.events["timestamp"].max() + 1
    f = sig.features([known, stranger], live=True)
    assert f["item_log_count"][1] == 0 and np.isfinite(f["mf_logit"]).all()
    with pytest.raises(DataError, match="is in no window"):
        sig.place([stranger])
