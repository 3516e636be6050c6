"""The data folder: private to its owner (0700, files 0600), as it holds the app's keys.

Used by the backends that keep files (the embedded SQLite database and the blob contents beside it).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from overcast.errors import StoreError

_GITIGNORE = "# Created by Overcast: this folder holds the app's keys and state. Do not commit it.\n*\n"


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def database_in(data_dir: Path) -> Path:
    """``<data_dir>/overcast.db``, creating the folder (with a .gitignore the first time).

    The database holds the master and function keys: the folder is created 0700 and the database 0600 before
    SQLite opens it (SQLite gives its -wal and -shm files the database's own mode).
    """
    created = not data_dir.exists()
    database = data_dir / "overcast.db"
    try:
        data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        if not database.exists():
            # Never open an existing database here: closing any descriptor of a file drops every POSIX lock this
            # process holds on it, and SQLite's connections of this process rely on theirs.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
    except OSError as exc:
        raise StoreError(
            f"Cannot create the data folder '{data_dir}': {exc.strerror or exc}. "
            f"Pass --data-dir (or set OVERCAST_DATA_DIR) with a writable folder."
        ) from exc
    # A database an older version created readable by others is tightened (a chmod only its owner can do).
    for path in (database, data_dir / "overcast.db-wal", data_dir / "overcast.db-shm"):
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o077:
                path.chmod(PRIVATE_FILE)
    if created:
        # The default folder sits inside the app (<script root>/.overcast) and holds its keys: keep it out of git.
        with contextlib.suppress(OSError):
            write_private(data_dir / ".gitignore", _GITIGNORE.encode())
    return database


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600, whatever the umask); raises OSError."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
