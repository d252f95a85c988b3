"""Download + checksum: only local file:// URLs to archives built here, never the network."""

from __future__ import annotations

import zipfile

import pytest

from tallrec.core.errors import DataError
from tallrec.data import OFFICIAL_SHA256, verify_movielens, verify_official


def make_zip(path, files: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path.as_uri()


def fake_files():
    return {"ml-100k/u.data": b"1\t1\t5\t1\n", "ml-100k/u.item": b"1|x|\n", "ml-100k/u.user": b"1|2\n"}


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.shared
def test_download_verifies_and_installs(shared_data, tmp_path, run_cli):
    raw = shared_data / "ml-100k"
    url = make_zip(tmp_path / "ml-100k.zip",
                   {f"ml-100k/{p.name}": p.read_bytes() for p in raw.iterdir() if p.is_file()})
    data = tmp_path / "data"
    code, out, err = run_cli("data", "download", "movielens", "--data-dir", data, "--url", url)
    assert code == 0, err
    assert f"MovieLens-100K verified at {data / 'ml-100k'}" in out
    assert leftovers(data) == ["ml-100k"]
    assert (data / "ml-100k" / "u.data").read_bytes() == (raw / "u.data").read_bytes()
    verify_movielens(data / "ml-100k")
    # A second run keeps the verified folder and does not need the archive.
    (tmp_path / "ml-100k.zip").unlink()
    code, out, _ = run_cli("data", "download", "movielens", "--data-dir", data, "--url", url)
    assert code == 0 and "verified" in out


@pytest.mark.shared
def test_official_and_raw_checksums(shared_data):
    verify_movielens(shared_data / "ml-100k")
    verify_official(shared_data / "tallrec-official")
    assert set(OFFICIAL_SHA256) >= {"movie/valid.json", "movie/test.json", "book/valid.json", "book/test.json"}


def test_wrong_checksum_leaves_nothing(tmp_path, run_cli, one_line_error):
    url = make_zip(tmp_path / "fake.zip", fake_files())
    data = tmp_path / "data"
    code, _, err = run_cli("data", "download", "movielens", "--data-dir", data, "--url", url)
    one_line_error(code, err, url, "ml-100k/u.data: wrong sha256", "nothing was installed")
    assert leftovers(data) == []


def test_existing_modified_folder_needs_force(tmp_path, run_cli, one_line_error):
    data = tmp_path / "data"
    (data / "ml-100k").mkdir(parents=True)
    for name, content in fake_files().items():
        (data / name).write_bytes(content)
    url = make_zip(tmp_path / "fake.zip", fake_files())
    code, _, err = run_cli("data", "download", "movielens", "--data-dir", data, "--url", url)
    one_line_error(code, err, "u.data: wrong sha256", "--force")
    code, _, err = run_cli("data", "download", "movielens", "--data-dir", data, "--url", url, "--force")
    one_line_error(code, err, "wrong sha256")
    assert leftovers(data) == ["ml-100k"]  # the old folder stays, no temp folder remains


@pytest.mark.parametrize(
    "kind, fragment",
    [("missing", "download failed"), ("notzip", "not a zip archive"), ("nodata", "holds no u.data")],
)
def test_bad_archives(tmp_path, run_cli, one_line_error, kind, fragment):
    target = tmp_path / "a.zip"
    if kind == "notzip":
        target.write_text("hello")
    elif kind == "nodata":
        make_zip(target, {"readme.txt": b"x"})
    data = tmp_path / "data"
    code, _, err = run_cli("data", "download", "movielens", "--data-dir", data, "--url", target.as_uri())
    one_line_error(code, err, fragment)
    assert leftovers(data) == []


def test_data_dir_under_a_file(tmp_path, run_cli, one_line_error):
    blocker = tmp_path / "f"
    blocker.write_text("x")
    url = make_zip(tmp_path / "fake.zip", fake_files())
    code, _, err = run_cli("data", "download", "movielens", "--data-dir", blocker / "d", "--url", url)
    one_line_error(code, err, str(blocker / "d"))


def test_verify_reports_missing_and_modified(tmp_path):
    with pytest.raises(DataError, match="u.data: no such file"):
        verify_movielens(tmp_path)
