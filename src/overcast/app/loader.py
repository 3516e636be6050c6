"""Import the user's app exactly as the Azure Python worker does, and hand back its raw functions.

v2: ``<script_root>/<PYTHON_SCRIPT_FILE_NAME>`` imported as a top-level module with the script root appended
to ``sys.path``; exactly one ``FunctionRegister`` (FunctionApp, AsgiFunctionApp, WsgiFunctionApp, DFApp) in
its globals. v1: every sub-folder with a ``function.json``, imported as ``__app__.<folder>``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overcast.config.jsonc import load_file
from overcast.errors import AppLoadError, ConfigError

MODULE_NOT_FOUND_HINT = (
    "Cannot find module. Please check the requirements.txt file for the missing module. For more info, "
    "please refer the troubleshooting guide: https://aka.ms/functions-modulenotfound. Current sys.path: {path}"
)


@dataclass
class V1Function:
    """A function.json folder: its name, parsed JSON, and the callable (or the error loading it)."""

    name: str
    directory: Path
    config: dict[str, Any]
    func: Any = None
    load_error: str | None = None


def missing_requirements_hint(script_root: Path, exc: BaseException) -> str:
    """What to run when the app's own dependencies are not installed where Overcast runs (the first thing a new user
    hits with a durable app): the worker's hint names requirements.txt but not the interpreter it must go into."""
    requirements = script_root / "requirements.txt"
    if not isinstance(exc, ModuleNotFoundError) or not requirements.is_file():
        return ""
    return (f"\nModule '{exc.name}' is not installed in the Python that runs Overcast ({sys.executable}). Install "
            f"the app's dependencies there: {sys.executable} -m pip install -r {requirements}")


def _format_import_failure(where: str, exc: BaseException, script_root: Path) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    message = f"Worker failed to index functions: error importing {where}\n{text.rstrip()}"
    if isinstance(exc, ImportError):
        message += "\n" + MODULE_NOT_FOUND_HINT.format(path=sys.path)
    return message + missing_requirements_hint(script_root, exc)


def _add_script_root(script_root: Path) -> None:
    root = str(script_root)
    if root not in sys.path:
        sys.path.append(root)  # appended, not prepended: installed packages win, as in Azure


def import_v2_app(script_root: Path, script_file: str) -> Any:
    """Import the script and return its one FunctionRegister instance; raises AppLoadError otherwise."""
    import azure.functions as func

    _add_script_root(script_root)
    module_name = Path(script_file).stem
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # a script that calls sys.exit() at import is a load failure too
        raise AppLoadError(_format_import_failure(script_file, exc, script_root)) from None
    if getattr(module, "__file__", None) and Path(module.__file__ or "").resolve().parent != script_root:
        raise AppLoadError(
            f"Importing '{module_name}' loaded {module.__file__}, not {script_root / script_file}: an installed "
            f"module shadows your script. Rename the script or set PYTHON_SCRIPT_FILE_NAME."
        )
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    if len(apps) > 1:
        kinds = ", ".join(sorted({type(a).__name__ for a in apps}))
        raise AppLoadError(
            f"More than one {kinds} or other top level function app instances are defined in {script_file}. "
            f"Keep one app object and register the others as Blueprints (app.register_functions(bp))."
        )
    if not apps:
        raise AppLoadError(
            f"Could not find top level function app instances in {script_file}. "
            f"Create one at module level: app = func.FunctionApp()."
        )
    return apps[0]


def _v1_script_path(folder: Path, config: dict[str, Any]) -> Path:
    script = config.get("scriptFile")
    if script:
        path = (folder / str(script)).resolve()
        if not path.is_file():
            raise FileNotFoundError(
                "Invalid script file name configuration. The 'scriptFile' property is set to a file that "
                "does not exist."
            )
        return path
    candidates = [p for p in folder.iterdir() if p.is_file() and p.name != "function.json"]
    if len(candidates) == 1:
        return candidates[0]
    return folder / "__init__.py"


def _ensure_app_package(script_root: Path) -> None:
    # The worker imports v1 functions as the namespace package __app__ rooted at the script root, so
    # relative imports inside a function folder and "from __app__.shared import x" both work.
    if "__app__" not in sys.modules:
        package = types.ModuleType("__app__")
        package.__path__ = [str(script_root)]
        package.__spec__ = importlib.machinery.ModuleSpec("__app__", None, is_package=True)
        package.__spec__.submodule_search_locations = [str(script_root)]
        sys.modules["__app__"] = package


def load_v1_functions(script_root: Path) -> list[V1Function]:
    """Every ``<folder>/function.json`` under the script root; import problems stay per function (as in v1)."""
    functions: list[V1Function] = []
    folders = sorted((p for p in script_root.iterdir() if (p / "function.json").is_file()), key=lambda p: p.name)
    if folders:
        _add_script_root(script_root)
        _ensure_app_package(script_root)
    for folder in folders:
        try:
            config = load_file(folder / "function.json", what="Invalid function.json")
            if not isinstance(config, dict):
                raise ConfigError(f"Invalid function.json '{folder / 'function.json'}': it must contain a JSON object.")
        except ConfigError as exc:
            functions.append(V1Function(folder.name, folder, {}, load_error=str(exc)))
            continue
        entry = V1Function(folder.name, folder, config)
        functions.append(entry)
        try:
            script = _v1_script_path(folder, config)
            if script.suffix != ".py":
                raise ValueError(f"script file {script.name} is not a .py file")
            module_name = f"__app__.{folder.name}"
            if script.name != "__init__.py":
                module_name += f".{script.stem}"
            module = importlib.import_module(module_name)
            entry_point = str(config.get("entryPoint") or "main")
            target = getattr(module, entry_point, None)
            if not callable(target):
                raise AttributeError(f"function {entry_point}() is not present in {script}")
            entry.func = target
        except Exception as exc:
            entry.load_error = (f"cannot load function {folder.name}: {type(exc).__name__}: {exc}"
                                + missing_requirements_hint(script_root, exc))
    return functions
