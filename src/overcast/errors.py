"""The one exception tree of Overcast.

    OvercastError                 every error Overcast raises on purpose
    ├── ConfigError               host.json / local.settings.json / CLI values are wrong
    ├── AppLoadError              the app cannot be imported or indexed (fatal for the whole app)
    ├── FunctionLoadError         one function is invalid (Azure keeps the rest of the app running)
    ├── RouteTemplateError        an HTTP route template cannot be parsed (fatal, as in Azure)
    ├── StoreError                a backend failed; backends translate driver errors into this
    │   └── PayloadTooLargeError  a queue message or durable payload over its size limit (refused, nothing stored)
    └── InputError                data from outside (a message, a request body) cannot be read; also a ValueError

Every message says what is wrong, where (file, function, binding, key) and what to do next.
"""

from __future__ import annotations


class OvercastError(Exception):
    """Root of every error Overcast raises deliberately."""


class ConfigError(OvercastError):
    """A configuration file, setting or CLI flag is invalid."""


class AppLoadError(OvercastError):
    """The function app cannot be imported or indexed; the host cannot start."""


class FunctionLoadError(OvercastError):
    """A single function is invalid; it is skipped and reported, the others load."""

    def __init__(self, function_name: str, message: str) -> None:
        super().__init__(message)
        self.function_name = function_name
        self.message = message


class RouteTemplateError(OvercastError):
    """An HTTP route template is syntactically invalid."""


class StoreError(OvercastError):
    """A storage backend failed (driver errors are translated into this at the backend's edge)."""


class PayloadTooLargeError(StoreError):
    """A queue message over Azure's 64 KiB, or a durable payload over its configured limit; nothing was stored."""


class InputError(OvercastError, ValueError):
    """Data from outside (a queue message, a request body, a payload) cannot be read. Refused at once with this
    message (a message goes to poison, a request gets a 400): retrying cannot make it readable."""
