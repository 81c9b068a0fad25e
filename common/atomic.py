"""Replace a folder atomically, even for readers that are using it at that moment.

`out` is a symbolic link to a hidden version folder next to it (`.<name>.v-...`). A writer
builds the new version under a temporary name (`.<name>.tmp-<pid>@<host>-...`), renames it to
a version name, and swaps the link with one rename: a reader always finds `out`, and it
points to a complete version. A replaced version is kept for `GRACE_SECONDS`, so a reader
that followed the link just before a swap still finds its files; after that, it and any
version a crash left unreferenced are deleted by the next write, under a lock on the parent
folder.

A temporary folder is stale when its process is gone: judged by host and PID, since a cache
on shared storage may be written by several machines or containers at once, and a PID says
nothing about another host.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["GRACE_SECONDS", "install", "remove", "temp_dir_for"]

GRACE_SECONDS = 300  # how long a replaced version outlives the swap, for readers still in it


def temp_dir_for(out: Path) -> Path:
    """A fresh temporary folder next to `out` (same file system, so rename is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out)
    with _locked(out):
        _remove_versions(out, keep=_target(out))
    return Path(tempfile.mkdtemp(prefix=f"{_tmp_prefix(out)}{_owner()}-", dir=out.parent))


def install(tmp: Path, out: Path) -> None:
    """Make the finished folder `tmp` the one `out` shows, in one atomic swap.

    Concurrent writers of the same `out` are serialised by the lock; the last one wins.
    """
    with _locked(out):
        previous = _target(out)
        version = Path(
            tempfile.mkdtemp(prefix=f"{_version_prefix(out)}{_owner()}-", dir=out.parent)
        )
        os.rename(tmp, version)  # over the empty folder mkdtemp reserved the name with
        link = out.with_name(f".{out.name}.link-{_owner()}")
        os.symlink(version.name, link)  # relative: the pair can be moved or mounted elsewhere
        if out.is_dir() and not out.is_symlink():
            # a folder written before versions existed: a directory cannot be replaced by a
            # link in one rename, so readers miss it for this one swap
            os.rename(out, out.with_name(f"{_version_prefix(out)}{_owner()}-legacy"))
        os.replace(link, out)
        if previous is not None:
            os.utime(out.parent / previous)  # its grace period starts now
        _remove_versions(out, keep=version.name)


def remove(out: Path) -> None:
    """Delete `out` (the link, or a plain folder from before versions) and its versions."""
    with _locked(out):
        if out.is_symlink():
            out.unlink()
        else:
            shutil.rmtree(out, ignore_errors=True)
        for path in out.parent.glob(_version_prefix(out) + "*"):
            shutil.rmtree(path, ignore_errors=True)


def _owner() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def _tmp_prefix(out: Path) -> str:
    return f".{out.name}.tmp-"


def _version_prefix(out: Path) -> str:
    return f".{out.name}.v-"


def _target(out: Path) -> str | None:
    """The version folder's name that the link `out` points to (None: no link)."""
    try:
        return os.readlink(out)
    except OSError:
        return None


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on `out`'s parent folder (a lock file would be one more entry)."""
    fd = os.open(out.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove_versions(out: Path, keep: str | None) -> None:
    """Delete version folders, but `keep`, unused for GRACE_SECONDS (hold the lock)."""
    expired = time.time() - GRACE_SECONDS
    for path in out.parent.glob(_version_prefix(out) + "*"):
        if path.name != keep and _mtime(path) < expired:
            shutil.rmtree(path, ignore_errors=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # another host removed it since the glob
        return float("inf")


def _remove_stale_temporaries(out: Path) -> None:
    """Delete temporary folders that killed runs of this host left next to `out`."""
    prefix = _tmp_prefix(out)
    host = socket.gethostname()
    for path in out.parent.glob(prefix + "*"):
        owner = path.name[len(prefix) :].rsplit("-", 1)[0]
        pid, _, owner_host = owner.partition("@")
        if owner_host == host and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
