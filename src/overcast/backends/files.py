"""Files only their owner may read: the data folder holds the app's keys, and blob contents may be as secret."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600, whatever the umask); raises OSError."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
