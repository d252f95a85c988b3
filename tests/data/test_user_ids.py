"""User ids beside the samples: the side file of `data prepare`, and the official movie files mapped
back to their users through the raw build (the JSON files stay the authors' bytes)."""

from __future__ import annotations

import json

import pytest
from helpers import write_raw_movielens

from tallrec.core.errors import DataError
from tallrec.data import build_movielens, load_samples, samples_to_json, save_samples
from tallrec.data.samples import users_path
from tallrec.data.user_ids import attach_users, movielens_users


def _ratings(users=3, per_user=14):
    return [(u, (u * 7 + k) % 40 + 1, 1 + (u + k) % 5, 1000 * u + k) for u in range(1, users + 1)
            for k in range(per_user)]


def test_prepare_writes_a_side_file_and_load_samples_reads_it(run_cli, tmp_path):
    raw = write_raw_movielens(tmp_path / "ml", _ratings())
    built = build_movielens(raw)
    code, out, err = run_cli("data", "prepare", "movielens", "--raw", raw, "--out", tmp_path / "o")
    assert code == 0, err
    for split in ("train", "valid", "test"):
        # the JSON file holds no id; the side file one per sample, in order
        assert (tmp_path / "o" / f"{split}.json").read_text() == samples_to_json(built[split])
        assert json.loads(users_path(tmp_path / "o" / f"{split}.json").read_text()) == [s.user for s in built[split]]
        loaded = load_samples(tmp_path / "o" / f"{split}.json")
        assert [s.user for s in loaded] == [s.user for s in built[split]]


def test_csv_builder_writes_user_ids(run_cli, tmp_path):
    (tmp_path / "items.csv").write_text("item,title\n" + "".join(f"i{i},Title {i}\n" for i in range(30)))
    rows = "".join(f"u{u},i{(u * 3 + k) % 30},{1 + (u + k) % 5}\n" for u in range(4) for k in range(15))
    (tmp_path / "inter.csv").write_text("user,item,rating\n" + rows)
    code, _, err = run_cli("data", "prepare", "csv", "--interactions", tmp_path / "inter.csv", "--items",
                           tmp_path / "items.csv", "--out", tmp_path / "o", "--history", 5)
    assert code == 0, err
    users = {s.user for s in load_samples(tmp_path / "o" / "train.json")}
    assert users and users <= {"u0", "u1", "u2", "u3"}


def test_a_side_file_of_the_wrong_length_is_one_line(tmp_path):
    raw = write_raw_movielens(tmp_path / "ml", _ratings())
    save_samples(tmp_path / "test.json", build_movielens(raw)["test"])
    users_path(tmp_path / "test.json").write_text("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]")
    with pytest.raises(DataError, match="test.users.json: expected a JSON list of"):
        load_samples(tmp_path / "test.json")


def test_ids_recovered_from_the_raw_build(tmp_path):
    raw = write_raw_movielens(tmp_path / "ml-100k", _ratings())
    built = build_movielens(raw)
    save_samples(tmp_path / "test.json", built["test"])
    plain = load_samples(tmp_path / "test.json")
    assert all(s.user is None for s in plain)
    assert movielens_users(plain, raw) == [s.user for s in built["test"]]
    samples, source = attach_users(plain, tmp_path)
    assert [s.user for s in samples] == [s.user for s in built["test"]] and "recovered" in source
    # a sample in no window gets no id, and then nobody is grouped
    odd = plain[0].__class__(history=(("Nope (1900)", True),), target="Other (1901)", label=True)
    samples, source = attach_users(plain + [odd], tmp_path)
    assert all(s.user is None for s in samples) and "1 of" in source


@pytest.mark.shared
@pytest.mark.parametrize("name", ["valid.json", "test.json"])
def test_official_movie_files_map_to_users(shared_data, name):
    official = load_samples(shared_data / "tallrec-official" / "movie" / name)
    users = movielens_users(official, shared_data / "ml-100k")
    split = build_movielens(shared_data / "ml-100k")[name[:-5]]
    assert users == [s.user for s in split] and None not in users
