"""Files written safely: atomically (readers see the old content or the new, never half of it), and
privately."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path | str, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`.
    mode: private by default (voicekit's data holds speaker embeddings and signed records); pass
    0o644 for files meant to be shared, such as rendered audio.

    Raises OSError (missing folder, no permission, disk full); on any failure nothing is left behind.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def create_private(path: Path) -> None:
    """Create an empty file with mode 0600 unless it exists. Never opens an existing file: closing
    any descriptor of a database would drop the POSIX locks this process's SQLite connections
    hold on it, and another process could then reset the write-ahead log under them (committed
    entries were lost that way when a server was killed)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    except FileExistsError:
        pass
