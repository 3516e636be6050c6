"""The broken-configuration campaign: every bad setting stops ``overcast start`` with exit code 3 and exactly one
line naming it, no traceback, no restart loop and nothing created. The subprocess timeout bounds each case: a
crash loop or a host that comes up anyway fails it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

APP = 'import azure.functions as func\napp = func.FunctionApp()\n'
GOOD_HOST = '{"version": "2.0"}'
BOUND = 30  # seconds; a config error is found before any instance starts, in well under a second


def host(extra: dict[str, object]) -> str:
    return json.dumps({"version": "2.0", **extra})


def http(**values: object) -> str:
    return host({"extensions": {"http": values}})


# (case id, files to write (text or bytes; None = absent), environment, extra CLI args, text the line must name)
CASES: list[tuple[str, dict[str, str | bytes | None], dict[str, str], list[str], str]] = [
    # host.json: files that cannot be read as JSON
    ("host-empty", {"host.json": ""}, {}, [], "host.json"),
    ("host-binary", {"host.json": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"}, {}, [], "host.json"),
    ("host-utf16-no-bom", {"host.json": GOOD_HOST.encode("utf-16-le")}, {}, [], "host.json"),
    ("host-utf32-no-bom", {"host.json": GOOD_HOST.encode("utf-32-le")}, {}, [], "host.json"),
    ("host-latin1", {"host.json": '{"version": "2.0", "x": "caf\xe9"}'.encode("latin-1")}, {}, [], "host.json"),
    ("host-syntax", {"host.json": '{"version": "2.0" "logging": {}}'}, {}, [], "line 1, column 19"),
    ("host-unterminated-comment", {"host.json": '{"version": "2.0"} /* open'}, {}, [], "line 1"),
    ("host-array", {"host.json": "[]"}, {}, [], "host.json"),
    ("host-string", {"host.json": '"2.0"'}, {}, [], "host.json"),
    ("host-deep", {"host.json": '{"version": "2.0", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"}, {}, [],
     "host.json"),
    # host.json: bad version
    ("version-missing", {"host.json": '{"logging": {}}'}, {}, [], "'version'"),
    ("version-3", {"host.json": '{"version": "3.0"}'}, {}, [], "'version'"),
    ("version-number", {"host.json": '{"version": 2.0}'}, {}, [], "'version'"),
    ("version-null", {"host.json": '{"version": null, "x": 1}'}, {}, [], "'version'"),
    # host.json: bad types and values of known keys
    ("extensions-string", {"host.json": host({"extensions": "http"})}, {}, [], "extensions"),
    ("extensions-http-list", {"host.json": host({"extensions": {"http": []}})}, {}, [], "extensions.http"),
    ("logging-list", {"host.json": host({"logging": []})}, {}, [], "logging"),
    ("loglevel-string", {"host.json": host({"logging": {"logLevel": "Debug"}})}, {}, [], "logging.loglevel"),
    ("loglevel-bad-name", {"host.json": host({"logging": {"logLevel": {"default": "Loud"}}})}, {}, [],
     "logging.logLevel.default"),
    ("loglevel-number", {"host.json": host({"logging": {"logLevel": {"Function": 3}}})}, {}, [],
     "logging.logLevel.function"),
    ("retry-string", {"host.json": host({"retry": "always"})}, {}, [], "retry"),
    ("retry-strategy", {"host.json": host({"retry": {"strategy": "sometimes", "maxRetryCount": 1}})}, {}, [],
     "host.json retry"),
    ("retry-count", {"host.json": host({"retry": {"strategy": "fixedDelay", "maxRetryCount": "x",
                                                  "delayInterval": "00:00:01"}})}, {}, [], "maxRetryCount"),
    ("retry-interval", {"host.json": host({"retry": {"strategy": "fixedDelay", "maxRetryCount": 1,
                                                     "delayInterval": "soon"}})}, {}, [], "host.json retry"),
    ("functions-numbers", {"host.json": host({"functions": [1, 2]})}, {}, [], "functions"),
    ("functions-object", {"host.json": host({"functions": 5})}, {}, [], "functions"),
    ("timeout-text", {"host.json": host({"functionTimeout": "ten minutes"})}, {}, [], "functionTimeout"),
    ("timeout-tiny", {"host.json": host({"functionTimeout": "00:00:00.5"})}, {}, [], "FunctionTimeout"),
    ("timeout-range", {"host.json": host({"functionTimeout": "00:99:00"})}, {}, [], "functionTimeout"),
    ("timeout-list", {"host.json": host({"functionTimeout": ["00:05:00"]})}, {}, [], "functionTimeout"),
    ("route-prefix-number", {"host.json": http(routePrefix=5)}, {}, [], "routePrefix"),
    ("route-prefix-query", {"host.json": http(routePrefix="api?x=1")}, {}, [], "routePrefix"),
    ("route-prefix-brace", {"host.json": http(routePrefix="api/{x")}, {}, [], "routePrefix"),
    ("route-prefix-space", {"host.json": http(routePrefix="my api")}, {}, [], "routePrefix"),
    ("route-prefix-empty-segment", {"host.json": http(routePrefix="a//b")}, {}, [], "routePrefix"),
    ("headers-list", {"host.json": http(customHeaders=["X-A: 1"])}, {}, [], "customHeaders"),
    ("header-name-space", {"host.json": http(customHeaders={"X Bad": "1"})}, {}, [], "X Bad"),
    ("header-name-colon", {"host.json": http(customHeaders={"X-A:": "1"})}, {}, [], "X-A:"),
    ("header-name-empty", {"host.json": http(customHeaders={"": "1"})}, {}, [], "customHeaders"),
    ("header-value-newline", {"host.json": http(customHeaders={"X-A": "1\r\nSet-Cookie: a=b"})}, {}, [], "X-A"),
    ("header-value-object", {"host.json": http(customHeaders={"X-A": {"v": 1}})}, {}, [], "X-A"),
    ("header-value-unicode", {"host.json": http(customHeaders={"X-A": "\u65e5\u672c"})}, {}, [], "X-A"),
    ("http-max-concurrent", {"host.json": http(maxConcurrentRequests="lots")}, {}, [], "maxConcurrentRequests"),
    ("http-max-outstanding", {"host.json": http(maxOutstandingRequests=-5)}, {}, [], "maxOutstandingRequests"),
    ("hsts-string", {"host.json": http(hsts="on")}, {}, [], "hsts"),
    ("hsts-max-age", {"host.json": http(hsts={"isEnabled": True, "maxAge": "forever"})}, {}, [], "maxAge"),
    ("queues-string", {"host.json": host({"extensions": {"queues": "fast"}})}, {}, [], "extensions.queues"),
    ("queues-batch", {"host.json": host({"extensions": {"queues": {"batchSize": 64}}})}, {}, [], "batchSize"),
    ("queues-batch-text", {"host.json": host({"extensions": {"queues": {"batchSize": "many"}}})}, {}, [],
     "batchSize"),
    ("queues-dequeue", {"host.json": host({"extensions": {"queues": {"maxDequeueCount": 0}}})}, {}, [],
     "maxDequeueCount"),
    ("queues-polling", {"host.json": host({"extensions": {"queues": {"maxPollingInterval": "often"}}})}, {}, [],
     "maxPollingInterval"),
    ("queues-visibility", {"host.json": host({"extensions": {"queues": {"visibilityTimeout": "x"}}})}, {}, [],
     "visibilityTimeout"),
    ("queues-encoding", {"host.json": host({"extensions": {"queues": {"messageEncoding": "utf8"}}})}, {}, [],
     "messageEncoding"),
    ("blobs-parallelism", {"host.json": host({"extensions": {"blobs": {"maxDegreeOfParallelism": 0}}})}, {}, [],
     "maxDegreeOfParallelism"),
    ("blobs-poison", {"host.json": host({"extensions": {"blobs": {"poisonBlobThreshold": "x"}}})}, {}, [],
     "poisonBlobThreshold"),
    # local.settings.json
    ("local-syntax", {"local.settings.json": '{"Values": {"A": "1"'}, {}, [], "local.settings.json"),
    ("local-array", {"local.settings.json": "[]"}, {}, [], "local.settings.json"),
    ("local-utf16-no-bom", {"local.settings.json": '{"Values": {}}'.encode("utf-16-be")}, {}, [],
     "local.settings.json"),
    ("local-values-list", {"local.settings.json": '{"Values": ["A=1"]}'}, {}, [], "Values"),
    ("local-value-object", {"local.settings.json": '{"Values": {"A": {"b": 1}}}'}, {}, [], "Values.A"),
    ("local-encrypted", {"local.settings.json": '{"IsEncrypted": true, "Values": {}}'}, {}, [], "IsEncrypted"),
    ("local-host-string", {"local.settings.json": '{"Host": "localhost"}'}, {}, [], "'Host'"),
    ("local-port-text", {"local.settings.json": '{"Host": {"LocalHttpPort": "http"}}'}, {}, [], "LocalHttpPort"),
    ("local-port-range", {"local.settings.json": '{"Host": {"LocalHttpPort": 70000}}'}, {}, [], "70000"),
    ("local-connection-strings", {"local.settings.json": '{"ConnectionStrings": {"Db": 5}}'}, {}, [],
     "ConnectionStrings.Db"),
    ("local-sets-bad-knob", {"local.settings.json": '{"Values": {"OVERCAST_QUEUE_LEASE_SECONDS": "soon"}}'}, {},
     [], "OVERCAST_QUEUE_LEASE_SECONDS"),
    # environment: Overcast's knobs
    *[(f"env-{name.lower()}-{tag}", {}, {name: value}, [], name)
      for name in ("OVERCAST_QUEUE_LEASE_SECONDS", "OVERCAST_BLOB_SCAN_SECONDS", "OVERCAST_DURABLE_LEASE_SECONDS")
      for tag, value in (("text", "abc"), ("negative", "-3"), ("zero", "0"), ("nan", "nan"), ("huge", "1e12"))],
    ("env-store-thread", {}, {"OVERCAST_DURABLE_STORE_THREAD": "maybe"}, [], "OVERCAST_DURABLE_STORE_THREAD"),
    ("env-fast-timestamps", {}, {"OVERCAST_DURABLE_FAST_TIMESTAMPS": "2"}, [], "OVERCAST_DURABLE_FAST_TIMESTAMPS"),
    ("env-keys-dir", {}, {"OVERCAST_KEYS_DIR": "/nonexistent/keys"}, [], "OVERCAST_KEYS_DIR"),
    ("env-data-dir-file", {"afile": "x"}, {"OVERCAST_DATA_DIR": "{app}/afile"}, [], "afile"),
    # environment: the host's and the worker's settings
    ("env-process-count-text", {}, {"FUNCTIONS_WORKER_PROCESS_COUNT": "two"}, [], "FUNCTIONS_WORKER_PROCESS_COUNT"),
    ("env-process-count-zero", {}, {"FUNCTIONS_WORKER_PROCESS_COUNT": "0"}, [], "FUNCTIONS_WORKER_PROCESS_COUNT"),
    ("env-body-limit", {}, {"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "big"}, [], "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"),
    ("env-user-log-level", {}, {"FUNCTIONS_USER_LOG_LEVEL": "Chatty"}, [], "Chatty"),
    ("env-script-file", {}, {"PYTHON_SCRIPT_FILE_NAME": "../evil.py"}, [], "PYTHON_SCRIPT_FILE_NAME"),
    ("env-cors-json", {}, {"CORS_ALLOWED_ORIGINS": "[not json"}, [], "CORS_ALLOWED_ORIGINS"),
    ("env-override-timeout", {}, {"AzureFunctionsJobHost__functionTimeout": "later"}, [],
     "AzureFunctionsJobHost__functionTimeout"),
    ("env-override-section", {}, {"AzureFunctionsJobHost__extensions__queues": "5"}, [], "extensions.queues"),
    ("env-override-batch", {}, {"AzureFunctionsJobHost__extensions__queues__batchSize": "0"}, [], "batchSize"),
    ("env-override-header", {}, {"AzureFunctionsJobHost__extensions__http__customHeaders__Bad Name": "1"}, [],
     "Bad Name"),
    ("env-override-loglevel", {}, {"AzureFunctionsJobHost__logging__logLevel__default": "Loud"}, [], "Loud"),
    # CLI values that parse but are wrong
    ("cli-port-range", {}, {}, ["--port", "70000"], "70000"),
    ("cli-port-negative", {}, {}, ["--port", "-1"], "-1"),
    ("cli-workers-zero", {}, {}, ["--workers", "0"], "--workers"),
    ("cli-user-log-level", {}, {}, ["--user-log-level", "Loud"], "--user-log-level"),
    ("cli-cors-credentials-any", {}, {}, ["--cors", "*", "--cors-credentials"], "--cors-credentials"),
    ("cli-data-dir-file", {"afile": "x"}, {}, ["--data-dir", "{app}/afile"], "afile"),
    ("cli-script-root-missing", {}, {}, ["--script-root", "{app}/nowhere"], "nowhere"),
]


def _start(app: Path, env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OVERCAST_", "AzureFunctionsJobHost__"))}
    full_env.update({k: v.replace("{app}", str(app)) for k, v in env.items()})
    full_env.pop("CI", None)
    argv = [a.replace("{app}", str(app)) for a in args]
    if "--script-root" not in argv:
        argv = ["--script-root", str(app), *argv]
    if "--port" not in argv:
        argv += ["--port", "0"]
    return subprocess.run([sys.executable, "-m", "overcast", "start", *argv], capture_output=True, text=True,
                          timeout=BOUND, env=full_env, cwd=app)


@pytest.mark.parametrize(("files", "env", "args", "names"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_setting_stops_the_start_with_one_line(
    tmp_path: Path, files: dict[str, str | bytes | None], env: dict[str, str], args: list[str], names: str
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text(APP)
    written = {"host.json": GOOD_HOST, **files}
    for name, content in written.items():
        if content is None:
            continue
        if isinstance(content, bytes):
            (app / name).write_bytes(content)
        else:
            (app / name).write_text(content, encoding="utf-8")
    before = sorted(p.name for p in app.iterdir())
    result = _start(app, env, args)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 3, output
    assert "Traceback" not in output
    lines = output.splitlines()
    assert len(lines) == 1, output
    assert names.lower() in lines[0].lower(), output
    assert lines[0].startswith("Error: ")
    assert sorted(p.name for p in app.iterdir()) == before  # nothing created: no .overcast/


def test_no_host_json_is_refused_with_a_hint(tmp_path: Path) -> None:
    result = _start(tmp_path, {}, [])
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "Unable to find project root. Expecting to find one of host.json in project root" in result.stderr
    assert "--script-root" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unparsable_cli_value_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(GOOD_HOST)
    result = _start(tmp_path, {}, ["--port", "http"])
    assert result.returncode == 2  # argparse's usage error, as for every command-line tool
    assert "Traceback" not in result.stderr
    assert "--port" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["host.json"]


@pytest.mark.parametrize("value", ["many", "0"])
def test_a_bad_thread_count_warns_once_and_starts(start_host, value: str) -> None:
    # The Python worker warns and uses the default pool for PYTHON_THREADPOOL_THREAD_COUNT; so does Overcast, once
    # (not once more per instance).
    host = start_host("basic", "--workers", "2", env={"PYTHON_THREADPOOL_THREAD_COUNT": value})
    assert host.client.get("/api/hello").status_code == 200
    host.stop()
    warned = [line for line in host.lines if "PYTHON_THREADPOOL_THREAD_COUNT" in line]
    assert len(warned) == 1, host.output
    assert warned[0].startswith("Warning: ") and "default thread pool size" in warned[0]
