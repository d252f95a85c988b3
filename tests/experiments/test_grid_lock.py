"""core/lock.FolderLock, as the grid uses it: one writer per folder, a stale lock taken over."""

import os
import subprocess
import sys

import pytest

from tallrec.core.errors import TallrecError
from tallrec.core.lock import FolderLock


def test_second_holder_is_refused_with_the_pid(tmp_path):
    with FolderLock(tmp_path, what="tallrec test") as lock:
        assert lock.held and lock.path.read_text().strip() == str(os.getpid())
        with pytest.raises(TallrecError) as e:
            FolderLock(tmp_path, what="tallrec test").acquire()
        assert f"another `tallrec test` (pid {os.getpid()}) is working in this folder" in str(e.value)
        assert "\n" not in str(e.value)
    assert not lock.held
    FolderLock(tmp_path).acquire().release()  # free again


@pytest.mark.integration
def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    code = (f"import os, sys; sys.path.insert(0, {os.path.abspath('src')!r}); "
            f"from tallrec.core.lock import FolderLock; FolderLock({str(tmp_path)!r}).acquire(); "
            f"print('held', flush=True); os.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9 and "held" in proc.stdout
    dead = (tmp_path / ".tallrec.lock").read_text().strip()
    with FolderLock(tmp_path) as lock:  # the dead holder's pid is still in the file; the flock is gone
        assert dead != str(os.getpid()) and lock.path.read_text().strip() == str(os.getpid())
