"""JSON configuration files read the way the Functions host reads them.

The host (and Core Tools) read host.json, local.settings.json and function.json with ``File.ReadAllText`` and
Newtonsoft's ``JObject.Parse`` under default settings: a byte order mark picks the encoding (UTF-8, UTF-16,
UTF-32), ``//`` and ``/* */`` comments are skipped, and a trailing comma before ``]`` or ``}`` is accepted.
Microsoft's own samples rely on that, so we accept the same.

Why not a library: ``json5`` (pure Python) accepts far more than the host does (hex numbers, unquoted keys,
``+Infinity``) and parses much more slowly; ``pyjson5`` is a compiled dependency; ``commentjson`` pulls in lark.
Instead one linear pass blanks comments and trailing commas **in place** (same length, newlines kept) and the
stdlib ``json`` parses the result, so its error positions are still the file's own lines and columns.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

from overcast.errors import ConfigError, JsoncError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode(data: bytes) -> str:
    """Text from a file's bytes as .NET's ReadAllText decodes it: the BOM decides, else UTF-8 (strict).

    Raises UnicodeDecodeError (with a reason we can explain) for anything else.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding)
    return data.decode("utf-8")


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def strip_extensions(text: str) -> str:
    """``text`` with comments and trailing commas replaced by spaces (newlines kept), strings untouched."""
    out = list(text)
    i, n = 0, len(text)
    last_comma = -1  # index of a comma with only whitespace/comments after it so far
    while i < n:
        ch = text[i]
        if ch == '"':
            last_comma = -1
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            continue
        if ch == "/" and i + 1 < n and text[i + 1] == "/":
            end = text.find("\n", i)
            end = n if end < 0 else end
            for j in range(i, end):
                out[j] = " "
            i = end
            continue
        if ch == "/" and i + 1 < n and text[i + 1] == "*":
            end = text.find("*/", i + 2)
            if end < 0:
                raise JsoncError("Unterminated /* comment", *_line_col(text, i))
            for j in range(i, end + 2):
                if out[j] not in "\r\n":
                    out[j] = " "
            i = end + 2
            continue
        if ch == ",":
            last_comma = i
        elif ch in "]}":
            if last_comma >= 0:
                out[last_comma] = " "
            last_comma = -1
        elif ch not in " \t\r\n":
            last_comma = -1
        i += 1
    return "".join(out)


def loads(text: str) -> Any:
    """Parse host-style JSON text; raises JsoncError with the position in ``text``."""
    try:
        return json.loads(strip_extensions(text))
    except json.JSONDecodeError as exc:
        raise JsoncError(exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise JsoncError("Nested too deeply", 1, 1) from None


def _undecodable(data: bytes, exc: UnicodeDecodeError) -> str:
    if b"\x00" in data[:64]:
        hint = "UTF-16 or UTF-32 without a byte order mark, or a binary file"
    else:
        hint = f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8"
    return f"it is not UTF-8 text ({hint}). Save it as UTF-8."


def load_file(path: Path, *, what: str = "") -> Any:
    """Read and parse a JSON configuration file; every failure is a one-line ConfigError naming the file.

    ``what`` prefixes parse errors (for example "Unable to parse host configuration file").
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Unable to read '{path}': {exc.strerror or exc}.") from None
    lead = what or "Unable to parse"
    try:
        text = decode(data)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{lead} '{path}': {_undecodable(data, exc)}") from None
    if not text.strip():
        raise ConfigError(f"{lead} '{path}': the file is empty; it must contain one JSON object.")
    if "\x00" in text:
        raise ConfigError(
            f"{lead} '{path}': it contains NUL characters (UTF-16 or UTF-32 without a byte order mark, or a binary "
            "file). Save it as UTF-8."
        )
    try:
        return loads(text)
    except JsoncError as exc:
        raise ConfigError(
            f"{lead} '{path}': {exc.message} at line {exc.line}, column {exc.column}. Fix the JSON."
        ) from None
