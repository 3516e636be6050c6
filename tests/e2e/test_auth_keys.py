"""Keys and auth levels enforced by default, every kind of key, the admin key APIs and `overcast keys`."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_auth_levels_with_each_kind_of_key(start_host) -> None:
    host = start_host("basic")
    keys = host.keys()
    master = keys["master"]
    host_default = keys["host"]["default"]
    fn_key = keys["functions"]["secure"]["default"]
    other_fn_key = keys["functions"]["hello"]["default"]
    c = host.client
    assert c.get("/api/hello").status_code == 200  # anonymous
    assert c.get("/api/hello", params={"code": "wrong"}).status_code == 200  # anonymous ignores bad keys
    assert c.get("/api/secure").status_code == 401
    assert c.get("/api/secure", params={"code": "wrong"}).status_code == 401
    assert c.get("/api/secure", params={"code": fn_key}).text == "secret"
    assert c.get("/api/secure", headers={"x-functions-key": host_default}).status_code == 200
    assert c.get("/api/secure", params={"code": master}).status_code == 200
    assert c.get("/api/secure", params={"code": other_fn_key}).status_code == 401
    # the header wins over the query string
    assert c.get("/api/secure", params={"code": fn_key}, headers={"x-functions-key": "bad"}).status_code == 401
    assert c.get("/api/needsadmin", params={"code": fn_key}).status_code == 401
    assert c.get("/api/needsadmin", params={"code": host_default}).status_code == 401
    assert c.get("/api/needsadmin", params={"code": master}).text == "admin"
    # admin APIs need the master key; ping and health are anonymous
    assert c.get("/admin/functions").status_code == 401
    assert c.get("/admin/functions", headers={"x-functions-key": master}).status_code == 200
    assert c.get("/admin/host/ping").status_code == 200
    assert c.get("/runtime/health/live").status_code == 200
    # the banner prints clickable URLs with keys when bound to loopback
    assert re.search(r"secure: .*http://localhost:\d+/api/secure\?code=" + re.escape(fn_key), host.output)
    assert f"adminonly:  http://localhost:{host.port}/api/needsadmin?code={master}" in host.output


def test_key_admin_api(start_host) -> None:
    host = start_host("basic")
    master = host.keys()["master"]
    c = host.client
    h = {"x-functions-key": master}
    listed = c.get("/admin/functions/secure/keys", headers=h).json()
    assert [k["name"] for k in listed["keys"]] == ["default"]
    created = c.put("/admin/functions/secure/keys/mine", headers=h, json={"name": "mine", "value": "my-own-key-123"})
    assert created.status_code == 201 and created.json()["value"] == "my-own-key-123"
    assert c.get("/api/secure", params={"code": "my-own-key-123"}).status_code == 200
    regenerated = c.post("/admin/functions/secure/keys/mine", headers=h)
    assert regenerated.status_code == 200 and regenerated.json()["value"] != "my-own-key-123"
    assert c.put("/admin/functions/secure/keys/x", headers=h, json={"name": "x"}).status_code == 400
    assert c.delete("/admin/functions/secure/keys/mine", headers=h).status_code == 204
    assert c.get("/admin/functions/secure/keys/mine", headers=h).status_code == 404
    assert c.get("/admin/functions/nope/keys", headers=h).status_code == 404
    system = c.put("/admin/host/systemkeys/myext_extension", headers=h, json={"name": "n", "value": "system-key-1"})
    assert system.status_code == 201
    assert c.get("/admin/host/systemkeys", headers=h).json()["keys"][0]["name"] == "myext_extension"
    # a system key does not satisfy function level
    assert c.get("/api/secure", params={"code": "system-key-1"}).status_code == 401
    assert c.delete("/admin/host/functionkeys/_master", headers=h).status_code == 400
    host_key = c.post("/admin/host/functionkeys/extra", headers=h)
    assert host_key.status_code == 201
    assert c.get("/api/secure", params={"code": host_key.json()["value"]}).status_code == 200


def test_no_auth_opens_everything(start_host) -> None:
    host = start_host("basic", "--no-auth")
    assert host.client.get("/api/secure").status_code == 200
    assert host.client.get("/api/needsadmin").status_code == 200
    assert host.client.get("/admin/functions").status_code == 200
    assert "?code=" not in host.output


def test_keys_pinned_from_environment_and_folder(start_host, tmp_path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "functions.secure.default").write_text("pinned-function-key\n")
    host = start_host("basic", env={"host.master": "pinned-master-key", "OVERCAST_KEYS_DIR": str(folder)})
    assert host.client.get("/api/secure", params={"code": "pinned-function-key"}).status_code == 200
    assert host.client.get("/api/needsadmin", params={"code": "pinned-master-key"}).status_code == 200


def test_a_refused_request_is_explained_on_the_console(start_host) -> None:
    """Azure's 401 is empty and silent; we keep the empty body and say why on the console, rate-limited, without
    ever printing the key that was sent."""
    host = start_host("basic")
    c = host.client
    wrong = "not-the-key-5f3a9c"
    refused = c.get("/api/secure")
    assert refused.status_code == 401 and refused.content == b""
    line = host.wait_for("Refused GET /api/secure with 401")
    assert "function 'secure' has authLevel 'function'" in line
    assert "the request had no key" in line
    assert "`overcast keys list`" in line and "--no-auth" in line
    # Another function has its own allowance; a wrong key is named as such, never printed.
    assert c.get("/api/needsadmin", headers={"x-functions-key": wrong}).status_code == 401
    line = host.wait_for("Refused GET /api/needsadmin with 401")
    assert "needs the master key; the key sent is not one of the keys it accepts" in line
    assert c.get("/admin/functions", params={"code": wrong}).status_code == 401
    host.wait_for("Refused GET /admin/functions with 401: the admin API")
    # A client retrying in a loop gets one line per few seconds, not one per request.
    for _ in range(20):
        assert c.get("/api/secure", params={"code": wrong}).status_code == 401
    assert c.get("/api/hello").status_code == 200  # a later line in the log, to know the refusals were handled
    host.wait_for("Executed 'Functions.hello'")
    assert sum("Refused GET /api/secure" in line for line in host.lines) < 10
    assert wrong not in host.output
