"""The HTTP trigger with the host's semantics, over real HTTP against `overcast start`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory):
    from tests.e2e.hosting import APPS, RunningHost

    running = RunningHost(APPS / "basic", tmp_path_factory.mktemp("data"), ["--no-auth"],
                          {"MARKER_FILE": str(tmp_path_factory.mktemp("m") / "marker")})
    running.wait_ready()
    yield running
    running.stop()


def test_banner_lists_http_then_other_functions(host) -> None:
    line = host.wait_for("\thello: [GET,POST]")
    assert line.endswith(f"http://localhost:{host.port}/api/hello")
    host.wait_for("\tnightly: timerTrigger")
    host.wait_for("Function disabledfn is disabled.")
    assert host.output.index("hello: [GET,POST]") < host.output.index("nightly: timerTrigger")


def test_query_and_json_body(host) -> None:
    assert host.client.get("/api/hello", params={"name": "Ada"}).text == "Hello, Ada!"
    assert host.client.post("/api/hello", json={"name": "Bob"}).text == "Hello, Bob!"
    response = host.client.get("/api/ahello")
    assert response.text == "hello async"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-custom"] == "overcast"


def test_route_constraints_and_case(host) -> None:
    assert host.client.get("/api/items/42").json() == {"id": "42"}
    assert host.client.get("/API/ITEMS/42/").json() == {"id": "42"}
    assert host.client.get("/api/items/abc").status_code == 404
    assert host.client.get("/api/files/a/b/c.txt").json() == {"rest": "a/b/c.txt"}
    assert host.client.get("/api/files").json() == {}
    assert host.client.get("/api/opt").json() == {"tag": None}
    assert host.client.get("/api/opt/x%20y").json() == {"tag": "x y"}


def test_method_mismatch_is_404_never_405(host) -> None:
    response = host.client.post("/api/items/42")
    assert response.status_code == 404
    assert response.content == b""
    assert host.client.get("/api/nothing-here").status_code == 404


def test_request_conversion(host) -> None:
    response = host.client.post(
        "/api/echo?a=1&a=2&empty=&b=x", content=b"\xff\x00raw", headers={"X-Thing": "One", "Content-Type": "x/y"}
    )
    data = response.json()
    assert data["method"] == "POST"
    assert data["params"] == {"a": "1,2", "b": "x"}
    assert data["headers"]["x-thing"] == "One"
    assert data["body_len"] == 5
    assert data["url"] == f"http://127.0.0.1:{host.port}/api/echo?a=1&a=2&empty=&b=x"
    assert host.client.get("/api/echo").json()["body_len"] == 0


def test_form_and_files(host) -> None:
    response = host.client.post("/api/form", data={"a": "1"}, files={"up": ("f.txt", b"file body")})
    assert response.json() == {"form": {"a": "1"}, "files": {"up": "file body"}}


def test_string_results_follow_the_json_quirk(host) -> None:
    response = host.client.get("/api/strjson")
    assert (response.status_code, response.text, response.headers["x-made"]) == (201, "created", "yes")
    cases = {"Hello": "Hello", "123": "123", "1.0": "1", "true": "True", '"x"': "x", "null": "",
             '{"a": [1]}': '{\n  "a": [\n    1\n  ]\n}'}
    for given, expected in cases.items():
        response = host.client.get("/api/strplain", params={"v": given})
        assert (response.status_code, response.text) == (200, expected), given


def test_out_binding_and_unset_out_gives_204(host) -> None:
    response = host.client.get("/api/outresp", params={"set": "1"})
    assert (response.status_code, response.text) == (202, "from out")
    assert host.client.get("/api/outresp").status_code == 204


def test_failures_are_empty_500_with_traceback_in_log(host) -> None:
    response = host.client.get("/api/boom")
    assert (response.status_code, response.content) == (500, b"")
    host.wait_for("ValueError: boom for the log")
    host.wait_for("Executed 'Functions.boom' (Failed, Id=")
    assert host.client.get("/api/none").status_code == 500


def test_context_and_globals_persist(host) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    first = host.client.get("/api/ctx", headers={"traceparent": parent})
    data = first.json()
    assert data["function_name"] == "ctx"
    assert data["trace_parent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert data["retry_count"] == 0 and data["max_retry_count"] == 0
    assert data["tls"] == data["invocation_id"]
    assert data["function_directory"].endswith("basic")
    second = host.client.get("/api/ctx").json()
    assert second["calls"] == data["calls"] + 1
    assert second["invocation_id"] != data["invocation_id"]
    host.wait_for(f"Executing 'Functions.ctx' (Reason='This function was programmatically called via the host APIs.', "
                  f"Id={data['invocation_id']})")


def test_disabled_function_is_404(host) -> None:
    assert host.client.get("/api/disabledfn").status_code == 404


def test_async_timeout_cancels_with_500(host) -> None:
    response = host.client.get("/api/slowasync", params={"s": "10"})
    assert response.status_code == 500
    host.wait_for("Timeout value of 00:00:02 exceeded by function 'Functions.slowasync'")


def test_homepage_and_admin(host) -> None:
    home = host.client.get("/")
    assert home.status_code == 200 and "text/html" in home.headers["content-type"]
    ping = host.client.get("/admin/host/ping")
    assert ping.status_code == 200 and "no-store" in ping.headers["cache-control"]
    status = host.client.get("/admin/host/status").json()
    assert status["state"] == "Running" and status["functionAppContentEditingState"] == "Unknown"
    functions = host.client.get("/admin/functions").json()
    names = [f["name"] for f in functions]
    assert names == sorted(names, key=str.lower) and "hello" in names
    one = host.client.get("/admin/functions/hello").json()
    assert one["invoke_url_template"].endswith("/api/hello")
    assert one["config"]["bindings"][0]["type"] == "httpTrigger"
    assert host.client.get("/admin/functions/nope").status_code == 404
    assert host.client.get("/admin/functions/hello/status").json() == {}
    assert host.client.get("/runtime/health/live").status_code == 200
    assert host.client.get("/runtime/health/ready").json()["status"] == "Healthy"


def test_manual_invoke_validates_and_runs(host, tmp_path) -> None:
    assert host.client.post("/admin/functions/nope", json={"input": ""}).status_code == 404
    assert host.client.post("/admin/functions/nightly", content=b"not json").status_code == 400
    assert host.client.post("/admin/functions/nightly", json={"input": ""}).status_code == 202
    host.wait_for("Executed 'Functions.nightly' (Succeeded")


def test_logs_from_threads_and_tasks_carry_the_invocation(host) -> None:
    invocation_id = host.client.get("/api/logs").text
    for text in ("log from function", "log from thread", "log from task"):
        host.wait_for(text)
    del invocation_id
