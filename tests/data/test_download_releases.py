"""`tallrec data download movielens --release ml-1m`: against a loopback HTTP server started here
(a free port on 127.0.0.1, shut down after), serving a small zip and its md5 as GroupLens does."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import free_port

from tallrec.core.errors import DataError
from tallrec.data.fetch import download_release
from tallrec.data.readers import read_log


def fixture_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # stored, not deflated: a partial file is a plain prefix
        z.writestr("ml-1m/ratings.dat", "".join(f"1::10::5::{978300000 + t}\n" for t in range(2000))
                   + "2::20::3::978300761\n")
        z.writestr("ml-1m/movies.dat", "10::Toy Story (1995)::Animation\n20::Heat (1995)::Action\n")
    return buf.getvalue()


@pytest.fixture
def server():
    """(base URL, files served by name, list of the Range headers received)."""
    files: dict[str, bytes] = {}
    ranges: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            data = files.get(self.path.rsplit("/", 1)[-1])
            if data is None:
                self.send_error(404)
                return
            header = self.headers.get("Range")
            if self.path.endswith(".zip"):
                ranges.append(header)
            start = int(header.split("=")[1].split("-")[0]) if header else 0
            if start >= len(data) and header:
                self.send_error(416)
                return
            self.send_response(206 if header else 200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            self.wfile.write(data[start:])

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/movielens", files, ranges
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def publish(files, data: bytes, md5: str | None = None):
    files["ml-1m.zip"] = data
    files["ml-1m.zip.md5"] = f"{md5 or hashlib.md5(data).hexdigest()}  ml-1m.zip\n".encode()


def test_download_verify_install(server, tmp_path, run_cli):
    base, files, ranges = server
    publish(files, fixture_zip())
    code, out, err = run_cli("data", "download", "movielens", "--release", "ml-1m", "--base-url", base,
                             "--data-dir", tmp_path)
    assert code == 0, err
    assert f"ml-1m verified at {tmp_path / 'ml-1m'}" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-1m"]
    assert len(read_log(tmp_path / "ml-1m").events) == 2001
    assert ranges == [None]
    # installed: a second call touches nothing
    files.clear()
    assert download_release("ml-1m", tmp_path, base) == tmp_path / "ml-1m"


def test_resume_from_partial_file(server, tmp_path, monkeypatch):
    base, files, ranges = server
    data = fixture_zip()
    publish(files, data)
    (tmp_path / "ml-1m.zip.part").write_bytes(data[: len(data) // 2])
    monkeypatch.setenv("TALLREC_MOVIELENS_BASE_URL", base)
    dest = download_release("ml-1m", tmp_path)
    assert ranges == [f"bytes={len(data) // 2}-"]
    assert (dest / "ratings.dat").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-1m"]


def test_bad_checksum_leaves_nothing(server, tmp_path, run_cli, one_line_error):
    base, files, _ = server
    publish(files, fixture_zip(), md5="0" * 32)
    code, _, err = run_cli("data", "download", "movielens", "--release", "ml-1m", "--base-url", base,
                           "--data-dir", tmp_path)
    one_line_error(code, err, "ml-1m.zip", "differs from the published", "nothing was installed")
    assert list(tmp_path.iterdir()) == []


def test_missing_checksum_and_unknown_release(server, tmp_path):
    base, files, _ = server
    with pytest.raises(DataError, match="cannot fetch the published checksum"):
        download_release("ml-1m", tmp_path, base)
    with pytest.raises(DataError, match="unknown MovieLens release 'ml-2m'"):
        download_release("ml-2m", tmp_path, base)
    assert list(tmp_path.iterdir()) == []
