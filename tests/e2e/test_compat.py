"""Apps that work on Azure work here unchanged (issue 8, section A): Microsoft's own worker e2e functions and samples.

The expected answers are Azure's: the host's rule for a response no http output set (FunctionInvocationMiddleware,
HttpBinding.SetResponse), the worker's implicit-output rule, the durable extension's legacy binding names.
"""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.e2e.hosting import free_port, run_overcast
from tests.e2e.test_queues import cli, wait_until

pytestmark = pytest.mark.e2e


def blob_text(host, name: str) -> str | None:  # type: ignore[no-untyped-def]
    response = host.client.get(f"/api/blob/{name}")
    return response.text if response.status_code == 200 else None


def test_return_to_blob_and_queue_outputs_of_http_functions(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("compat_v2")
    # $return → blob, http output never set: the host answers from the return value (a string: text/plain).
    response = host.client.post("/api/put_blob_return")
    assert (response.status_code, response.text) == (200, "FROM RETURN")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert blob_text(host, "return") == "FROM RETURN"
    # $return → queue with bytes: the message is written; the body is the bytes as ASP.NET Core writes byte[].
    response = host.client.post("/api/put_queue_return", content=b"test-message-return")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert base64.b64decode(response.json()) == b"test-message-return"
    wait_until(lambda: blob_text(host, "q-test-message-return") == "test-message-return", what="the queued message")
    # A list through $return: one message each; the response is the JSON, negotiated like any object.
    response = host.client.post("/api/put_queue_json")
    assert (response.status_code, response.json()) == (200, ["json-a", "json-b"])
    wait_until(lambda: blob_text(host, "q-json-b") == "json-b", what="the second queued message")
    # A string answered as JSON when the client asks only for JSON (content negotiation).
    response = host.client.post("/api/put_blob_return", headers={"accept": "application/json"})
    assert (response.status_code, response.json()) == (200, "FROM RETURN")
    # An http output that is set wins over the return value (which still goes to its table).
    response = host.client.post("/api/table_put/1")
    assert (response.status_code, response.text) == (201, "stored 1")


def test_collections_in_annotations_and_implicit_outputs(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("compat_v2", "--verbose")  # the app indexed: List[...] annotations are accepted
    assert host.client.post("/api/put_queue_list").text == "queued"
    assert host.client.post("/api/put_queue_messages").text == "queued"
    for body in ("one", "two", "three"):
        wait_until(lambda body=body: blob_text(host, f"l-{body}") == body, what=f"queue message {body}")  # type: ignore[misc]
    # Implicit output through a generic (table) input: HTTP answers with the value, a queue function succeeds.
    for rk in ("1", "2"):
        assert host.client.post(f"/api/table_put/{rk}").status_code in (201, 500)  # 500: "1" exists already
    response = host.client.get("/api/implicit_http")
    assert (response.status_code, response.text) == (200, "2 rows")
    cli(host, "queue", "send", "compat-implicit", "go")
    host.wait_for("Executed 'Functions.implicit_queue' (Succeeded")
    # [QUIRK] table input with partitionKey + rowKey: the whole partition, as an array.
    rows = host.client.get("/api/table_get/1").json()
    assert sorted(row["RowKey"] for row in rows) == ["1", "2"]
    host.wait_for("sets rowKey, which Azure ignores for Python functions")


def test_retry_context_carries_max_retry_count_from_the_first_attempt(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("compat_v2", "--verbose")
    cli(host, "queue", "send", "compat-retry", "x")
    host.wait_for("retry sample attempt 0 of 2")
    host.wait_for("retry sample attempt 2 of 2")
    host.wait_for("retry sample gave up quietly")
    host.wait_for("Executed 'Functions.retry_sample' (Succeeded")


def test_v1_http_results_and_orchestration_client(start_host) -> None:  # type: ignore[no-untyped-def]
    host = start_host("compat_v1")
    response = host.client.post("/api/PutBlobReturn")
    assert (response.status_code, response.text) == (200, "FROM RETURN")
    assert host.client.get("/api/GetBlob").text == "FROM RETURN"
    assert host.client.get("/api/NoReturn").status_code == 204  # Microsoft's test_no_return
    assert host.client.get("/api/NoReturnReturns").status_code == 500  # test_no_return_returns
    # The durable client under its older name, as 5 of the 9 v1 samples of azure-functions-durable-python use it.
    started = host.client.post("/api/orchestrators/HelloCities")
    assert started.status_code == 202, started.text
    status_url = started.json()["statusQueryGetUri"]
    done: dict[str, object] = {}

    def finished() -> bool:
        done.update(httpx.get(status_url, timeout=10).json())
        return done["runtimeStatus"] in ("Completed", "Failed")

    wait_until(finished, what="the orchestration")
    assert (done["runtimeStatus"], done["output"]) == ("Completed", ["Hello Tokyo!", "Hello Seattle!"])


def write_app(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_orchestration_trigger_context_name_is_named_in_the_error(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {
        "host.json": '{"version": "2.0"}',
        "function_app.py": """
            import azure.durable_functions as df

            app = df.DFApp()

            @app.orchestration_trigger(context_name="ctx")
            def orchestrator(ctx):
                return "never"
        """,
    })
    result = run_overcast("start", "--script-root", str(app), "--port", str(free_port()),
                          "--data-dir", str(tmp_path / "d"))
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert '@app.orchestration_trigger(context_name="ctx") cannot work' in output
    assert 'Use context_name="context"' in output


def test_misspelt_v1_binding_type_is_one_error_with_a_suggestion(start_host, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = write_app(tmp_path / "app", {
        "host.json": '{"version": "2.0"}',
        "Typo/function.json": json.dumps({"bindings": [
            {"type": "queueTriger", "direction": "in", "name": "msg", "queueName": "q"}]}),
        "Typo/__init__.py": """
            import azure.functions as func

            def main(msg: func.QueueMessage) -> None:
                pass
        """,
        "Good/function.json": json.dumps({"bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"},
            {"type": "http", "direction": "out", "name": "$return"}]}),
        "Good/__init__.py": """
            def main(req) -> str:
                return "good"
        """,
    })
    host = start_host("", app_dir=app)
    host.wait_for("The 'Typo' function is in error: Unknown binding type 'queueTriger' (binding 'msg'). "
                  "Did you mean 'queueTrigger'?")
    assert host.client.get("/api/Good").text == "good"
    assert sum("'Typo' function is in error" in line for line in host.lines) == 1
