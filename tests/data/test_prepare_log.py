"""`tallrec data prepare log`: TALLRec samples from any interaction table."""

from __future__ import annotations

import json


def test_the_table_reproduces_the_authors_movie_files(shared_data, tmp_path, run_cli):
    code, _, err = run_cli("data", "prepare", "log", shared_data / "ml-100k", "--out", tmp_path / "movie",
                           "--max-windows", "10000")
    assert code == 0, err
    for name in ("valid.json", "test.json"):
        assert (tmp_path / "movie" / name).read_bytes() == \
            (shared_data / "tallrec-official" / "movie" / name).read_bytes()


def test_an_ml1m_folder_becomes_samples_with_their_users(tmp_path, run_cli):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    lines = [f"{u}::{i}::{1 + (u + i) % 5}::{978_000_000 + 60 * (u * 20 + i)}\n" for u in range(1, 5)
             for i in range(1, 16)]
    (folder / "ratings.dat").write_text("".join(lines))
    (folder / "movies.dat").write_bytes("".join(f"{i}::Film {i} (19{60 + i})::Drama\n"
                                                for i in range(1, 16)).encode("latin-1"))
    code, _, err = run_cli("data", "prepare", "log", folder, "--out", tmp_path / "out", "--history", "5")
    assert code == 0, err
    samples = sum(len(json.loads((tmp_path / "out" / f"{s}.json").read_text())) for s in ("train", "valid", "test"))
    assert samples == 4 * (15 - 5)
    users = json.loads((tmp_path / "out" / "test.users.json").read_text())
    assert set(users) <= {1, 2, 3, 4} and users
