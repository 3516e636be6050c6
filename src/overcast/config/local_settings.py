"""local.settings.json: ``Values`` become environment variables, ``Host`` gives CLI defaults.

Like Core Tools, a value never overrides a variable that is already set in the real environment.
Unlike Core Tools, a malformed file is an error that names the key instead of a warning that silently
drops every setting.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overcast.config.connections import APP_STORE_SETTING, DEFAULT_CONNECTION
from overcast.config.jsonc import load_file
from overcast.errors import ConfigError

log = logging.getLogger("overcast.host.startup")


@dataclass(frozen=True)
class LocalSettings:
    path: Path
    exists: bool
    values: dict[str, str] = field(default_factory=dict)
    connection_strings: dict[str, str] = field(default_factory=dict)
    local_http_port: int | None = None
    local_http_address: str | None = None
    cors: str | None = None
    cors_credentials: bool | None = None


def _as_setting(name: str, value: Any, path: Path) -> str | None:
    if value is None:
        log.warning("Skipping '%s' from local settings: its value is null.", name)
        return None
    if isinstance(value, bool):
        return "True" if value else "False"  # .NET's bool.ToString(), which Core Tools hands on
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ConfigError(
        f"{path}: Values.{name} is a JSON {type(value).__name__}; app settings must be strings. "
        f"Store it as a string (for example a JSON document encoded in a string)."
    )


def _host_section(data: dict[str, Any], path: Path) -> dict[str, Any]:
    host = data.get("Host") or {}
    if not isinstance(host, dict):
        raise ConfigError(f"{path}: 'Host' must be an object.")
    return {str(k).lower(): v for k, v in host.items()}


def load_local_settings(script_root: Path) -> LocalSettings:
    path = script_root / "local.settings.json"
    if not path.is_file():
        return LocalSettings(path=path, exists=False)
    # An empty file is no settings (Core Tools warns and reads none); anything else must parse.
    data = load_file(path) if path.stat().st_size and path.read_bytes().strip(b" \t\r\n\xef\xbb\xbf") else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the file must contain one JSON object.")
    if data.get("IsEncrypted") is True:
        raise ConfigError(
            f"{path} has \"IsEncrypted\": true. Encrypted local settings (DPAPI, Windows only) are not "
            f"supported: decrypt them with 'func settings decrypt', or set \"IsEncrypted\": false and plain values."
        )
    raw_values = data.get("Values") or {}
    if not isinstance(raw_values, dict):
        raise ConfigError(f"{path}: 'Values' must be an object of name: string.")
    values: dict[str, str] = {}
    for name, raw in raw_values.items():
        if not name:
            continue
        text = _as_setting(name, raw, path)
        if text is not None:
            values[name] = text
    connection_strings: dict[str, str] = {}
    raw_conns = data.get("ConnectionStrings") or {}
    if not isinstance(raw_conns, dict):
        raise ConfigError(f"{path}: 'ConnectionStrings' must be an object.")
    for name, raw in raw_conns.items():
        conn = raw.get("ConnectionString") if isinstance(raw, dict) else raw
        if not isinstance(conn, str):
            raise ConfigError(f"{path}: ConnectionStrings.{name} must be a string or {{\"ConnectionString\": ...}}.")
        connection_strings[name] = conn
    host = _host_section(data, path)
    port = host.get("localhttpport")
    # Checked here, not only where the port is chosen: --port wins over it, but the file is wrong all the same.
    if port is not None and not _is_port(port):
        raise ConfigError(f"{path}: Host.LocalHttpPort must be a port number (0-65535), got {port!r}.")
    creds = host.get("corscredentials")
    return LocalSettings(
        path=path,
        exists=True,
        values=values,
        connection_strings=connection_strings,
        local_http_port=int(port) if port is not None else None,
        local_http_address=str(host["localhttpaddress"]) if host.get("localhttpaddress") else None,
        cors=str(host["cors"]) if host.get("cors") else None,
        cors_credentials=None if creds is None else str(creds).lower() == "true",
    )


def _is_port(value: object) -> bool:
    if isinstance(value, bool) or not (isinstance(value, int) or str(value).isdigit()):
        return False
    return 0 <= int(str(value)) <= 65535


def apply_to_environment(settings: LocalSettings, environ: MutableMapping[str, str]) -> None:
    """Copy Values (and ``ConnectionStrings:<name>``) into the environment without overriding real ones."""
    entries = dict(settings.values)
    entries.update({f"ConnectionStrings:{k}": v for k, v in settings.connection_strings.items()})
    for name, value in entries.items():
        if name in environ:
            moved = name == DEFAULT_CONNECTION and environ.get(APP_STORE_SETTING) == value  # by overcast start
            if environ[name] != value and not moved:
                log.warning(
                    "Skipping '%s' from local settings as it's already defined in current environment variables.",
                    name,
                )
            continue
        environ[name] = value
