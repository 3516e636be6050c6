"""`import overcast` and `overcast --help` stay light: no web server, no azure.functions, no driver."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("uvicorn", "azure.functions", "azure", "sqlite3", "httptools", "uvloop", "starlette", "watchfiles", "psycopg")


def loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_overcast_is_light() -> None:
    modules = loaded_after("import overcast")
    assert not [m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY]


def test_help_is_light() -> None:
    code = (
        "import sys\nsys.argv = ['overcast', '--help']\nfrom overcast.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    modules = loaded_after(code)
    assert not [m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY]
