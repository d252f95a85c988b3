import sys

from tallrec.core.runtime import keep_freed_memory


def test_keep_freed_memory_applies_on_linux_and_is_idempotent():
    first = keep_freed_memory()
    assert keep_freed_memory() == first
    if sys.platform.startswith("linux"):
        assert first is True
