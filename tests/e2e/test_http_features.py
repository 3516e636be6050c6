"""CORS, throttling, ASGI/WSGI apps, HTTP streaming, v1 apps, JSON logs, routePrefix."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_cors_preflight_and_simple_requests(start_host) -> None:
    host = start_host("basic", "--no-auth", "--cors", "http://a.example,http://b.example", "--cors-credentials")
    preflight = host.client.options("/api/hello", headers={
        "Origin": "http://a.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-custom"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://a.example"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    simple = host.client.get("/api/hello", headers={"Origin": "http://b.example"})
    assert simple.headers["access-control-allow-origin"] == "http://b.example"
    denied = host.client.get("/api/hello", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in denied.headers


def test_throttle_answers_429_with_scaleout_header(start_host) -> None:
    host = start_host("throttled")
    results: list[int] = []

    def call() -> None:
        results.append(httpx.get(f"{host.base}/v1/slow", timeout=30).status_code)

    first = threading.Thread(target=call)
    first.start()
    host.wait_for("Executing 'Functions.slow'")
    second = httpx.get(f"{host.base}/v1/slow", timeout=30)
    first.join()
    assert second.status_code == 429
    assert second.headers["x-function-scaleout"] == "1"
    assert results == [200]
    # admin APIs are not throttled
    assert host.client.get("/admin/host/ping").status_code == 200


def test_fastapi_asgi_app_served_natively(start_host) -> None:
    host = start_host("fastapi_app")
    data = host.client.get("/hello/ada").json()
    assert data == {"hello": "ada", "started": True, "fn": "http_app_func"}
    big = b"x" * (3 * 1024 * 1024)
    assert host.client.post("/upload", content=big).json() == {"received": len(big)}
    with host.client.stream("GET", "/stream") as response:
        chunks = list(response.iter_lines())
    assert chunks == [f"chunk{i}" for i in range(5)]
    host.wait_for("Executed 'Functions.http_app_func' (Succeeded")


def test_flask_wsgi_app(start_host) -> None:
    host = start_host("flask_app")
    assert host.client.get("/hi/bob", params={"q": "1"}).text == "hi bob q=1"
    assert host.client.post("/echo", content=b"abc", headers={"content-type": "text/plain"}).json() == {
        "len": 3, "ct": "text/plain"}


def test_http_streaming_extension(start_host) -> None:
    host = start_host("streaming")
    with host.client.stream("GET", "/api/count/4") as response:
        assert list(response.iter_lines()) == ["0", "1", "2", "3"]

    def body():
        for _ in range(64):
            yield b"y" * 65536

    assert host.client.post("/api/upload", content=body()).text == f"received {64 * 65536}"


def test_v1_function_json_app(start_host) -> None:
    host = start_host("v1app")
    assert host.client.get("/api/HttpV1", params={"name": "x"}).text == "v1 says hi to x"


def test_json_logs_carry_invocation_ids_from_threads_and_tasks(start_host) -> None:
    host = start_host("basic", "--no-auth", "--json-logs")
    invocation_id = host.client.get("/api/logs").text
    for text in ("log from function", "log from thread", "log from task"):
        line = host.wait_for(text)
        record = json.loads(line)
        assert record["invocationId"] == invocation_id, line
        assert record["category"] == "Function.logs.User"


def test_user_log_level_hides_information(start_host) -> None:
    host = start_host("basic", "--no-auth", "--user-log-level", "Warning")
    host.client.get("/api/logs")
    host.client.get("/api/hello")
    assert "log from function" not in host.output


def test_asgi_and_wsgi_middleware_inside_functions(start_host) -> None:
    host = start_host("middleware")
    assert host.client.get("/api/asgi/one").json() == {"item": "one", "via": "asgi"}
    assert host.client.get("/api/wsgi/two").json() == {"item": "two", "via": "wsgi"}
