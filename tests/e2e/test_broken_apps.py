"""Bad apps fail loudly and precisely: fatal errors exit non-zero, per-function errors keep the rest serving."""

from __future__ import annotations

import pytest

from tests.e2e.hosting import APPS, free_port, run_overcast

pytestmark = pytest.mark.e2e


def start_and_fail(app: str, tmp_path) -> tuple[int, str]:
    result = run_overcast("start", "--script-root", str(APPS / app), "--port", str(free_port()),
                          "--data-dir", str(tmp_path / "d"))
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        ("broken_import", "ModuleNotFoundError: No module named 'module_that_does_not_exist'"),
        ("broken_params", "cannot load the mismatch function: the following parameters are declared in Python but "
                          "not in the bindings: ['extra']"),
        ("bad_template", "An error occurred while creating the route with name 'broken' and template 'api/a//b'"),
        ("bad_host_json", "Unable to parse host configuration file"),
        ("two_apps", "More than one FunctionApp or other top level function app instances are defined"),
        ("no_app", "Could not find top level function app instances in function_app.py"),
    ],
)
def test_fatal_errors_exit_non_zero_with_the_reason(app: str, expected: str, tmp_path) -> None:
    code, output = start_and_fail(app, tmp_path)
    assert code != 0
    assert expected in output
    assert output.count("Traceback") <= 1


def test_import_error_prints_the_traceback(tmp_path) -> None:
    code, output = start_and_fail("broken_import", tmp_path)
    assert code == 3
    assert "Traceback (most recent call last)" in output
    assert 'function_app.py", line 2' in output
    assert "Cannot find module. Please check the requirements.txt file" in output


def test_invalid_binding_name_is_a_per_function_error(start_host) -> None:
    host = start_host("bad_binding_name")
    host.wait_for("The 'bad' function is in error: The binding name my_req is invalid.")
    assert host.client.get("/api/good").text == "good"
    assert host.client.get("/api/bad").status_code == 404
    status = host.client.get("/admin/functions/bad/status", headers={"x-functions-key": host.keys()["master"]})
    assert "The binding name my_req is invalid" in status.json()["errors"][0]


def test_reserved_and_conflicting_routes(start_host) -> None:
    host = start_host("bad_routes")
    host.wait_for("The 'reserved' function is in error: The specified route conflicts with one or more built in "
                  "routes.")
    host.wait_for("The 'b_second' function is in error: The route specified conflicts with the route defined by "
                  "function 'a_first'.")
    assert host.client.get("/api/same").text == "first"


def test_taken_port_is_one_line(tmp_path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_overcast("start", "--script-root", str(APPS / "basic"), "--port", str(port),
                              "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Port {port} is unavailable. Close the process using that port, or specify "
                                     f"another port using --port [-p].")


def test_encrypted_local_settings_is_a_clear_error(tmp_path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text((APPS / "basic" / "function_app.py").read_text())
    (app / "host.json").write_text('{"version": "2.0"}')
    (app / "local.settings.json").write_text('{"IsEncrypted": true, "Values": {}}')
    result = run_overcast("start", "--script-root", str(app), "--port", str(free_port()))
    assert result.returncode != 0
    assert '"IsEncrypted": true' in result.stderr


def test_a_missing_requirement_says_what_to_install(tmp_path) -> None:
    """The first thing a new user hits: the app's requirements.txt is not installed where Overcast runs."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "host.json").write_text('{"version": "2.0"}')
    (app / "requirements.txt").write_text("azure-functions\nmodule-that-does-not-exist\n")
    (app / "function_app.py").write_text("import module_that_does_not_exist\n")
    result = run_overcast("start", "--script-root", str(app), "--port", str(free_port()),
                          "--data-dir", str(tmp_path / "d"))
    output = result.stdout + result.stderr
    assert result.returncode == 3
    assert "Module 'module_that_does_not_exist' is not installed in the Python that runs Overcast" in output
    assert f"-m pip install -r {app / 'requirements.txt'}" in output


def test_a_v1_function_missing_a_requirement_says_what_to_install(start_host, tmp_path) -> None:
    app = tmp_path / "app"
    (app / "Broken").mkdir(parents=True)
    (app / "host.json").write_text('{"version": "2.0"}')
    (app / "requirements.txt").write_text("azure-functions\n")
    (app / "Broken" / "function.json").write_text(
        '{"scriptFile": "__init__.py", "bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"},'
        ' {"type": "http", "direction": "out", "name": "$return"}]}'
    )
    (app / "Broken" / "__init__.py").write_text("import module_that_does_not_exist\n\n\ndef main(req):\n    pass\n")
    host = start_host("v1", "--no-auth", app_dir=app)
    host.wait_for("Module 'module_that_does_not_exist' is not installed in the Python that runs Overcast")
