"""Pinned keys: keys fixed from outside Overcast, with the names of Azure's "kubernetes" secret repository
(``host.master``, ``host.function.<name>``, ``host.systemKey.<name>``, ``functions.<fn>.<name>``), given as
environment variables or as files in a mounted folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from overcast.errors import ConfigError

HostKind = Literal["functionKeys", "systemKeys"]
MASTER_NAME = "master"
DEFAULT_PIN_DIR = Path("/run/secrets/functions-keys")  # where Azure Container Apps mounts pinned keys
log = logging.getLogger("overcast.host.keys")


@dataclass(frozen=True)
class Pin:
    name: str
    value: str
    source: str


@dataclass
class Pins:
    master: Pin | None = None
    host: dict[str, Pin] = field(default_factory=dict)  # by lower-cased key name
    system: dict[str, Pin] = field(default_factory=dict)
    functions: dict[str, dict[str, Pin]] = field(default_factory=dict)  # by lower-cased function name

    def table(self, kind: HostKind) -> dict[str, Pin]:
        return self.host if kind == "functionKeys" else self.system

    def add(self, entry: str, value: str, source: str) -> None:
        """Record one pinned key; an earlier one of the same name wins (the environment is read first)."""
        value = value.strip()
        lower = entry.lower()
        if not value:
            return
        if lower == "host.master":
            self.master = self.master or Pin(MASTER_NAME, value, source)
            return
        for prefix, table in (("host.function.", self.host), ("host.systemkey.", self.system)):
            if lower.startswith(prefix) and len(entry) > len(prefix):
                table.setdefault(lower[len(prefix):], Pin(entry[len(prefix):], value, source))
                return
        function, _, name = entry[len("functions."):].partition(".")
        if lower.startswith("functions.") and function and name:
            self.functions.setdefault(function.lower(), {}).setdefault(name.lower(), Pin(name, value, source))


def is_pin_name(name: str) -> bool:
    lower = name.lower()
    return lower == "host.master" or lower.startswith(("host.function.", "host.systemkey.", "functions."))


def pin_folder(environ: Mapping[str, str]) -> Path | None:
    explicit = environ.get("OVERCAST_KEYS_DIR", "")
    if explicit:
        if not Path(explicit).is_dir():
            raise ConfigError(
                f"OVERCAST_KEYS_DIR is '{explicit}', which is not a folder. Create it (one file per key, named like "
                f"'host.master' or 'functions.<function>.<name>') or unset the variable."
            )
        return Path(explicit)
    if environ.get("AzureWebJobsSecretStorageType", "").strip().lower() != "kubernetes":
        return None
    secret_name = environ.get("AzureWebJobsKubernetesSecretName", "")
    if secret_name and Path(secret_name).is_dir():
        return Path(secret_name)
    if DEFAULT_PIN_DIR.is_dir():
        return DEFAULT_PIN_DIR
    log.warning(
        "AzureWebJobsSecretStorageType is 'kubernetes' but no keys folder was found (AzureWebJobsKubernetesSecretName "
        "is not a folder and %s does not exist); keys are kept in the Overcast store. Mount the secret as a folder "
        "or set OVERCAST_KEYS_DIR.",
        DEFAULT_PIN_DIR,
    )
    return None


def read_folder(folder: Path, pins: Pins) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return  # an unmounted secret pins nothing; the stored keys apply
    for entry in entries:
        # Kubernetes mounts add '..data' and timestamped folders next to the key files.
        if entry.name.startswith(".") or not is_pin_name(entry.name) or not entry.is_file():
            continue
        try:
            pins.add(entry.name, Path(entry.path).read_text(encoding="utf-8"), f"file '{entry.path}'")
        except (OSError, UnicodeDecodeError):
            continue
