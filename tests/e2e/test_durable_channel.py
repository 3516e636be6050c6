"""The durable client's keyless channel is closed to everyone but the instance's own functions (issue 8, item 16).

Through a plain port forwarder (every caller looks local, no X-Forwarded-For) the keyless routes of old answer 401,
a browser's cross-site POST is refused even with the secret, and the app's real durable client still works, with
one instance or two sharing the socket.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.forwarder import forward
from tests.e2e.test_durable import finished, start, status
from tests.e2e.test_queues import wait_until

pytestmark = pytest.mark.e2e
OLD = "/runtime/webhooks/durabletask/rpc"  # the keyless prefix before the fix
PROBES = 200  # fresh connections tried to see both instances answer


def channel_of(base: str, workers: int) -> tuple[str, set[int]]:
    """The channel URL every instance gives its functions (one per start), and the instances seen answering."""
    urls, pids = set(), set()
    for _ in range(PROBES):
        info = httpx.get(f"{base}/api/channel", timeout=30).json()  # a new connection each time
        urls.add(info["rpcBaseUrl"])
        pids.add(info["pid"])
        if len(pids) == workers:
            break
    assert len(urls) == 1, urls
    return urls.pop(), pids


@pytest.mark.parametrize("workers", [1, 2])
def test_the_channel_is_unreachable_through_a_forwarder(start_host, workers: int) -> None:  # type: ignore[no-untyped-def]
    host = start_host("durable", "--workers", str(workers))
    forever = start(host, "waits_forever")["id"]
    wait_until(lambda: status(host, forever)["runtimeStatus"] == "Running", what="running")
    url, pids = channel_of(host.base, workers)
    assert len(pids) == workers, "every instance answered with the same channel"
    secret_path = urlsplit(url).path
    assert secret_path.startswith(OLD + "/") and len(secret_path) > len(OLD) + 40

    with forward(host.port) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as outside:
        assert outside.get("/api/pid").status_code == 200  # the forwarder works
        for client in (outside, host.client):
            # list, terminate and purge without a key, as any caller of the forwarded port could before
            assert client.get(f"{OLD}/instances").status_code == 401
            assert client.post(f"{OLD}/instances/{forever}/terminate", params={"reason": "x"}).status_code == 401
            assert client.delete(f"{OLD}/instances/{forever}").status_code == 401
            # a guessed secret is no better
            assert client.get(f"{OLD}/{'A' * 43}/instances").status_code == 401
        # a web page that learnt the URL (DNS rebinding: foreign Host; a cross-site POST: Origin) is refused
        terminate = f"{secret_path}instances/{forever}/terminate"
        rebound = outside.post(terminate, params={"reason": "x"}, headers={"Host": f"rebound.example.test:{port}"})
        assert rebound.status_code == 403
        cross_site = outside.post(terminate, params={"reason": "x"}, headers={"Origin": "http://evil.example.test"})
        assert cross_site.status_code == 403
    assert status(host, forever)["runtimeStatus"] == "Running"  # nothing got through

    # The app's own durable client, whose calls land on any instance of the shared socket, still works.
    for i in range(2 * workers):
        with httpx.Client(base_url=host.base, timeout=30) as fresh:
            response = fresh.post("/api/orchestrators/chain", json=[f"c{i}"])
            assert response.status_code == 202, response.text
            assert fresh.get(f"/api/status/{response.json()['id']}").status_code == 200
    assert host.client.post(f"/api/terminate/{forever}").status_code == 202
    assert finished(host, forever)["runtimeStatus"] == "Terminated"
    assert "Refused a call on the durable client's channel: it comes from a web browser" in host.output
