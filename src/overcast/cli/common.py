"""What every ``overcast`` command that works on an app's store shares: where the app and its data are."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from overcast.config.local_settings import load_local_settings
from overcast.errors import ConfigError

if TYPE_CHECKING:
    from overcast.backends.pool import ConnectionStores


def location_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: an option given before the sub-command must survive the sub-command's own (absent) default.
    parser.add_argument("--script-root", "--prefix", default=argparse.SUPPRESS, metavar="DIR",
                        help="the app folder (default: the current folder)")
    parser.add_argument("--data-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="the store folder (default: OVERCAST_DATA_DIR or <script root>/.overcast)")


def app_environment(script_root: Path) -> dict[str, str]:
    """The variables the host would see: the environment, completed by local.settings.json Values."""
    environ = dict(os.environ)
    for name, value in load_local_settings(script_root).values.items():
        environ.setdefault(name, value)
    return environ


def data_dir_for(args: argparse.Namespace, script_root: Path, environ: dict[str, str]) -> Path:
    given = getattr(args, "data_dir", None)
    if given:
        return Path(given).resolve()
    if environ.get("OVERCAST_DATA_DIR"):
        return Path(environ["OVERCAST_DATA_DIR"]).resolve()
    return script_root / ".overcast"


def script_root_for(args: argparse.Namespace) -> Path:
    script_root = Path(getattr(args, "script_root", None) or Path.cwd()).resolve()
    if not script_root.is_dir():
        raise ConfigError(f"Script root '{script_root}' is not a directory. Pass --script-root with your app's folder.")
    return script_root


def app_stores(args: argparse.Namespace, script_root: Path, environ: dict[str, str]) -> ConnectionStores:
    """The stores the app's host uses (the embedded store, or the server AzureWebJobsStorage names); the caller
    closes them (``close()``)."""
    from overcast.backends.pool import EMBEDDED, BackendPool
    from overcast.backends.registry import available_kinds
    from overcast.config.connections import resolve_connection
    from overcast.host import host_id_for

    storage = resolve_connection(None, environ)
    pool = BackendPool(data_dir_for(args, script_root, environ), scope=host_id_for(script_root))
    if storage.kind != EMBEDDED and storage.kind in available_kinds():
        return pool.stores(storage.kind, storage.address)
    return pool.stores(EMBEDDED)
