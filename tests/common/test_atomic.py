"""common.atomic: a folder swapped under a reader that polls it, crash leftovers, staleness by
host and PID. The reader is a real separate process; the swaps are the real install()."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from common.atomic import GRACE_SECONDS, install, remove, temp_dir_for

SWAPS = 300

# Reads out/stamp until the stop file appears; prints reads and reads that found nothing.
_READER = """
import os, sys
out, stop = sys.argv[1], sys.argv[2]
reads = missing = 0
while not os.path.exists(stop):
    reads += 1
    try:
        with open(os.path.join(out, "stamp")) as f:
            f.read()
    except OSError:
        missing += 1
print(reads, missing)
"""


def _write(out: Path, text: str) -> None:
    tmp = temp_dir_for(out)
    (tmp / "stamp").write_text(text)
    install(tmp, out)


def test_a_reader_polling_during_many_swaps_never_finds_the_folder_missing(tmp_path: Path):
    out, stop = tmp_path / "cache", tmp_path / "stop"
    _write(out, "0")
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(out), str(stop)], stdout=subprocess.PIPE, text=True
    )
    for swap in range(1, SWAPS + 1):
        _write(out, str(swap))
    stop.touch()
    reads, missing = map(int, reader.communicate(timeout=60)[0].split())
    print(f"{reads} reads during {SWAPS} swaps, {missing} found nothing")
    assert reads > 0 and missing == 0
    assert (out / "stamp").read_text() == str(SWAPS)
    versions = sorted(p.name for p in tmp_path.glob(".cache.*"))
    assert len(versions) == SWAPS + 1 and os.readlink(out) in versions  # all within grace


def test_a_crash_between_the_renames_leaves_nothing_behind_for_long(tmp_path: Path):
    out = tmp_path / "cache"
    _write(out, "first")
    # what a writer killed after renaming its folder to a version, before the swap, leaves
    orphan = tmp_path / ".cache.v-999999@elsewhere-abc123"
    orphan.mkdir()
    (orphan / "stamp").write_text("never installed")
    _age(orphan)
    _age(tmp_path / os.readlink(out))
    _write(out, "second")  # replaces "first", which readers may still use for a while
    _age(tmp_path / os.readlink(out))
    _write(out, "third")
    assert not orphan.exists()
    versions = sorted(p.name for p in tmp_path.glob(".cache.*"))
    assert len(versions) == 3 and os.readlink(out) in versions  # "first" kept: within grace
    assert (out / "stamp").read_text() == "third"
    for version in versions:
        _age(tmp_path / version)
    third = os.readlink(out)
    _write(out, "fourth")  # "first" and "second" are past their grace; "third" starts its own
    assert sorted(p.name for p in tmp_path.glob(".cache.*")) == sorted([third, os.readlink(out)])


def _age(path: Path) -> None:
    """Make `path` look untouched for longer than the grace period."""
    old = time.time() - GRACE_SECONDS - 1
    os.utime(path, (old, old))


def test_stale_temporary_folders_are_judged_by_host_and_pid(tmp_path: Path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    mine_dead = tmp_path / f".cache.tmp-{dead.pid}@{host}-x1y2"
    mine_alive = tmp_path / f".cache.tmp-{os.getpid()}@{host}-x1y2"
    other_host = tmp_path / f".cache.tmp-{dead.pid}@another-machine-x1y2"  # maybe running
    for folder in (mine_dead, mine_alive, other_host):
        folder.mkdir()
    _write(tmp_path / "cache", "x")
    assert not mine_dead.exists()
    assert mine_alive.exists() and other_host.exists()


def test_a_plain_folder_from_before_is_replaced_by_the_link(tmp_path: Path):
    out = tmp_path / "cache"
    out.mkdir()
    (out / "stamp").write_text("old layout")
    _write(out, "new")
    assert out.is_symlink() and (out / "stamp").read_text() == "new"
    (legacy,) = tmp_path.glob(".cache.v-*-legacy")  # a replaced version like any other
    assert (legacy / "stamp").read_text() == "old layout"


def test_remove_deletes_the_link_and_every_version(tmp_path: Path):
    out = tmp_path / "cache"
    _write(out, "1")
    _write(out, "2")
    remove(out)
    assert list(tmp_path.iterdir()) == []
