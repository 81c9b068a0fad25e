"""Write a folder atomically: build it under a temporary sibling name, then rename it.

A killed run leaves only a hidden `.<name>.tmp-<pid>-...` folder, which readers never
mistake for a finished one and which the next run removes once its process is gone.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["install", "temp_dir_for"]


def temp_dir_for(out: Path) -> Path:
    """A fresh temporary folder next to `out` (same file system, so rename is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))


def install(tmp: Path, out: Path, attempts: int = 5) -> None:
    """Rename the finished `tmp` to `out`, replacing an older folder there.

    Another process may install the same folder at the same moment (workers preparing one
    cache): a rename that finds `out` newly taken moves the other's folder aside and retries.
    """
    for attempt in range(attempts):
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        try:
            if out.exists():
                os.rename(out, old)
            os.rename(tmp, out)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                raise
            if attempt == attempts - 1:
                raise
            continue
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return


def _remove_stale(out: Path) -> None:
    """Delete temporary folders that killed runs left next to `out`."""
    prefix = f".{out.name}.tmp-"
    for path in out.parent.glob(prefix + "*"):
        pid = path.name[len(prefix) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
