"""The one exception tree of Overcast: every exception class of ``src/overcast`` is here.

    OvercastError                   every error Overcast raises on purpose
    ├── ConfigError                 host.json / local.settings.json / CLI values are wrong
    ├── JsoncError                  a JSON-with-comments text has a syntax error at a line and column (a ValueError;
    │                               becomes a ConfigError naming the file)
    ├── CronSyntaxError             NCrontab rejects a schedule (a ValueError; becomes a ConfigError)
    ├── AppLoadError                the app cannot be imported or indexed (fatal for the whole app)
    ├── FunctionLoadError           one function is invalid (Azure keeps the rest of the app running)
    ├── RouteTemplateError          an HTTP route template cannot be parsed (fatal, as in Azure)
    ├── BadConstraint               a route constraint or its arguments are invalid (becomes a RouteTemplateError)
    ├── StoreError                  a backend failed; backends translate driver errors into this
    │   ├── PayloadTooLargeError    a queue message or durable payload over its size limit (refused, nothing stored)
    │   ├── BlobApiRefusal          a Blob API operation refused by the store's rules (a lease, a condition, a missing
    │   │                           container); ``code`` is Azure's error code
    │   ├── DocumentConflict        a Cosmos DB item with that id exists in the partition (409)
    │   ├── DocumentNotFound        a Cosmos DB item, container or database does not exist (404)
    │   └── DocumentPrecondition    a Cosmos DB write's _etag condition failed (412)
    ├── StoreMissing                a binding's store was never opened: the host's wiring is wrong (a RuntimeError)
    ├── InputError                  data from outside (a message, a request body) cannot be read; also a ValueError
    │   ├── UndecodableMessage      a queue message body not valid for its messageEncoding (straight to poison)
    │   ├── QueryError              a Cosmos DB SQL query outside Overcast's subset, or malformed (at a position)
    │   └── DocumentInvalid         a Cosmos DB item or name that the service would refuse (400)
    ├── BodyTooLarge                a request body past the size limit (answered 413)
    ├── BindingDataError            a {expression} cannot be evaluated against an invocation's data (it fails)
    ├── BlobPathError               a blob binding path names no container and blob (the invocation fails)
    ├── TableBindingError           a table binding cannot run with this invocation's values (it fails)
    ├── InvocationTimeout           an invocation ran longer than functionTimeout
    ├── KeyPinnedError              a key set by the environment or a file cannot be changed through the API
    ├── DurableProtocolError        data from the durable SDK is not in the shape the protocol defines
    ├── DurableApiError             a durable HTTP API handler stops with the reply to send (control flow)
    └── StorageApiError             a Storage REST API request is refused: status, x-ms-error-code, message

Every message says what is wrong, where (file, function, binding, key) and what to do next. A class that is also
a ``ValueError`` or ``RuntimeError`` keeps that base so that callers catching the builtin still catch it.
"""

from __future__ import annotations


class OvercastError(Exception):
    """Root of every error Overcast raises deliberately."""


class ConfigError(OvercastError):
    """A configuration file, setting or CLI flag is invalid."""


class JsoncError(OvercastError, ValueError):
    """A syntax error at a 1-based line and column of the original text."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} at line {line}, column {column}")
        self.message = message
        self.line = line
        self.column = column


class CronSyntaxError(OvercastError, ValueError):
    """Why NCrontab rejects an expression; chained under the host's ConfigError so the detail is not lost."""


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


class BadConstraint(OvercastError):
    """Internal: a constraint name or its arguments are invalid (becomes a RouteTemplateError)."""


class StoreError(OvercastError):
    """A storage backend failed (driver errors are translated into this at the backend's edge)."""


class PayloadTooLargeError(StoreError):
    """A queue message over Azure's 64 KiB, or a durable payload over its configured limit; nothing was stored."""


class BlobApiRefusal(StoreError):
    """A Blob API operation the store refuses as Azure does; ``code`` is Azure's ``x-ms-error-code`` (the endpoint
    turns it into the status and message Azure answers with)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class DocumentConflict(StoreError):
    """A Cosmos DB create found an item with the same id in the partition (the service's 409); nothing changed."""


class DocumentNotFound(StoreError):
    """A Cosmos DB item, container or database does not exist (the service's 404)."""


class DocumentPrecondition(StoreError):
    """A Cosmos DB write whose ``if_match`` _etag is no longer the item's (the service's 412); nothing changed."""


class StoreMissing(OvercastError, RuntimeError):
    """A binding whose store was not opened (only possible if the host's wiring is wrong)."""


class InputError(OvercastError, ValueError):
    """Data from outside (a queue message, a request body, a payload) cannot be read. Refused at once with this
    message (a message goes to poison, a request gets a 400): retrying cannot make it readable."""


class UndecodableMessage(InputError):
    """A message body that is not valid for the configured ``messageEncoding``."""


class QueryError(InputError):
    """A Cosmos DB SQL query Overcast cannot run: a syntax error, or a construct outside the supported subset.
    The message names the construct and its 1-based position in the query text."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (at position {position})")
        self.message = message
        self.position = position


class DocumentInvalid(InputError):
    """A Cosmos DB item, id, partition key or name the service would refuse (its 400); nothing was stored."""


class BodyTooLarge(OvercastError):
    """A request body past the host's size limit (even when Content-Length lied)."""


class BindingDataError(OvercastError):
    """A ``{expression}`` cannot be evaluated against an invocation's binding data; that invocation fails."""


class BlobPathError(OvercastError):
    """A blob binding path that does not name a container and a blob; the invocation fails."""


class TableBindingError(OvercastError):
    """A table binding that cannot run with this invocation's values; the invocation fails."""


class InvocationTimeout(OvercastError):
    """The invocation ran longer than functionTimeout."""


class KeyPinnedError(OvercastError):
    """The key is set by an environment variable or a file; Overcast cannot change or delete it."""


class DurableProtocolError(OvercastError):
    """Data exchanged with the durable SDK (or handed to the episode) is not in the shape the protocol defines."""


class DurableApiError(OvercastError):
    """Answer the durable HTTP API request with ``reply`` (status, headers, body) instead of going on."""

    def __init__(self, reply: tuple[int, list[tuple[str, str]], bytes]) -> None:
        super().__init__(reply[0])
        self.reply = reply


class StorageApiError(OvercastError):
    """A Storage REST API (Blob, Queue, Table) request answered with an Azure error: HTTP ``status``, the
    ``x-ms-error-code`` ``code`` and the message Azure gives, plus any headers or XML details Azure adds."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details or {}
