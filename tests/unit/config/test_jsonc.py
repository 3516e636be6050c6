"""JSON configuration files read as the host reads them (config/jsonc.py): comments, trailing commas, BOMs."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from overcast.config.jsonc import load_file, loads
from overcast.errors import ConfigError, JsoncError


@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": 1}', {"a": 1}),
    ('// a comment\n{"a": 1}', {"a": 1}),
    ('{"a": 1 // trailing\n}', {"a": 1}),
    ('{/* block */"a": /* x\ny */ 1}', {"a": 1}),
    ('{"a": [1, 2,], "b": {"c": 3,},}', {"a": [1, 2], "b": {"c": 3}}),
    ('{"a": [1, 2, // last\n]}', {"a": [1, 2]}),
    ('{"a": [1, /* c */ ]}', {"a": [1]}),
    ('{"url": "http://x//y", "c": "/* no */", "d": "a,]"}', {"url": "http://x//y", "c": "/* no */", "d": "a,]"}),
    ('{"q": "say \\"hi\\", // still a string"}', {"q": 'say "hi", // still a string'}),
    ('{"a": 1, "a": 2}', {"a": 2}),  # the last duplicate wins, as in JObject.Parse
])
def test_accepted(text: str, expected: object) -> None:
    assert loads(text) == expected


@pytest.mark.parametrize(("text", "line", "column"), [
    ('{"a": 1\n "b": 2}', 2, 2),
    ('{"a": }', 1, 7),
    ('{"a": 1} /* open', 1, 10),
    ('{\n  "a": 1,\n  // c\n  "b" 2\n}', 4, 7),
    ('[1,,2]', 1, 4),
    # Two objects one after the other (Microsoft's samples-v2/function_chaining/host.json): JObject.Parse reads on
    # after the first and throws "Additional text encountered after finished reading JSON content", so the host
    # refuses the file too.
    ('{\n  "version": "2.0"\n}{\n  "version": "2.0"\n}', 3, 2),
    ('{"a": 1} // a comment is fine after the object\n{"b": 2}', 2, 1),
])
def test_errors_keep_the_file_position(text: str, line: int, column: int) -> None:
    with pytest.raises(JsoncError) as info:
        loads(text)
    assert (info.value.line, info.value.column) == (line, column)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_a_byte_order_mark_picks_the_encoding(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "host.json"
    data = '{"version": "2.0", "x": "caf\u00e9"}'.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    assert load_file(path) == {"version": "2.0", "x": "caf\u00e9"}


@pytest.mark.parametrize(("data", "says"), [
    (b"", "empty"),
    (b"  \n", "empty"),
    ('{"v": 1}'.encode("utf-16-le"), "without a byte order mark"),
    (b'{"v": "caf\xe9"}', "byte 0xe9 at offset 10 is not valid UTF-8"),
    (b'{"v": 1,\n "w" 2}', "line 2, column 6"),
])
def test_unreadable_files_name_the_file(tmp_path: Path, data: bytes, says: str) -> None:
    path = tmp_path / "function.json"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_file(path, what="Invalid function.json")
    assert str(path) in str(info.value) and says in str(info.value)
    assert "\n" not in str(info.value)
