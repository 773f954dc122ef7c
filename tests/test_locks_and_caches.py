"""The one lock mechanism (spoofbench.locks, on filelock) and the shared file caches (spoofbench.filecache)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from spoofbench.filecache import StatStore, evict_lru, lru_entries
from spoofbench.locks import LockedError, exclusive, exclusive_all, hold, holder, lock_path
from spoofbench.runner.lock import RunLockedError, run_lock

_HOLD = textwrap.dedent("""
    import sys, time
    from spoofbench.locks import exclusive
    with exclusive(sys.argv[1], "score file"):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_a_held_lock_names_its_holder_and_a_killed_holder_is_taken_over(tmp_path):
    target = tmp_path / "scores" / "eval__none.txt"
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError, match=f"pid {proc.pid} on .*score file|being written by pid {proc.pid} on"):
            with exclusive(target, "score file"):
                pass
        assert holder(target).startswith(f"pid {proc.pid} on ")
    finally:
        proc.kill()
        proc.wait()
    with exclusive(target, "score file"):  # the kernel dropped the dead holder's lock
        assert holder(target).startswith(f"pid {os.getpid()} on ")
    assert lock_path(target).name == ".eval__none.txt.lock" and holder(target) == ""


def test_one_process_cannot_take_a_lock_twice_unless_reentrant(tmp_path):
    with exclusive_all([tmp_path / "a", tmp_path / "b"]):
        with pytest.raises(LockedError):
            with exclusive(tmp_path / "b"):
                pass
    with run_lock(tmp_path / "run"):
        with run_lock(tmp_path / "run"):   # nested use in one process passes through
            pass
        with pytest.raises(RunLockedError, match="in use by pid"):
            with hold(tmp_path / "run" / ".run.lock", lambda record: RunLockedError(f"in use by pid {record['pid']}")):
                pass
    assert issubclass(RunLockedError, LockedError)


def test_stat_store_keys_on_the_signature_and_bypasses_an_unusable_file(tmp_path):
    store = StatStore(tmp_path / "c" / "facts.sqlite", "facts", (("size", "INTEGER"),), (("value", "TEXT"),))
    store.put_many([("/a", (3,), ("x",)), ("/b", (4,), ("y",))], flush=True)
    again = StatStore(tmp_path / "c" / "facts.sqlite", "facts", (("size", "INTEGER"),), (("value", "TEXT"),))
    assert again.get_many([("/a", (3,)), ("/b", (5,)), ("/c", (1,))]) == {"/a": ("x",)}  # /b was rewritten
    assert len(again) == 2
    (tmp_path / "file").write_text("not a folder")
    broken = StatStore(tmp_path / "file" / "facts.sqlite", "facts", (("size", "INTEGER"),), (("value", "TEXT"),))
    assert broken.note and "not usable" in broken.note and broken.get("/a", (3,)) is None
    with pytest.raises(Exception):
        StatStore(tmp_path / "file" / "x.sqlite", "t", (("s", "INTEGER"),), (("v", "TEXT"),), on_error="raise")


def test_lru_eviction_drops_the_least_recently_used_first(tmp_path):
    for i, name in enumerate(["old", "mid", "new"]):
        path = tmp_path / "s" / f"{name}.npy"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 + i, 1000 + i))
    removed = list(evict_lru(lru_entries(tmp_path, "*/*.npy"), max_bytes=200, keep=0.9))
    assert removed == [100, 100] and [p.name for *_, p in lru_entries(tmp_path, "*/*.npy")] == ["new.npy"]
