"""var/ is private to the user who runs casework: 0700 directories, 0600 files.

It holds the dev server's database, the directory database, mail kept by the sink (verification
codes among it), the archive and demo keys. Every entry point sets a 0o077 umask first (the dev
server the SDK starts inherits it), and the places that create var/ call `private_dir`, which also
tightens a var/ made world-readable by older code.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def private_umask() -> None:
    """Everything this process (and its children) creates is readable by the user only."""
    os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` as a 0700 directory, or tighten it and everything under it (never following
    symlinks: a link out of var/ is not ours to change)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            _tighten(Path(root, name), DIR_MODE)
        for name in files:
            _tighten(Path(root, name), FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    try:
        current = path.lstat()
    except FileNotFoundError:  # a file that went away while we walked (SQLite's journal)
        return
    if stat.S_ISLNK(current.st_mode) or current.st_uid != os.getuid():
        return
    if stat.S_IMODE(current.st_mode) != mode:
        path.chmod(mode)
