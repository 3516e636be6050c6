"""The durable HTTP API (spec §6.4) driven route by route over the in-memory store, then through the real host
pipeline (HostApp behind uvicorn on a loopback port) with the real ``DurableOrchestrationClient``.

No engine runs here: tests move instances through their statuses with the store's own episode commit, and read
what the API wrote by leasing the inbox.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from overcast.durable.api.http_api import DurableHttpApi
from overcast.durable.core import history as h
from overcast.durable.store import EpisodeCommit, EventDict, InstanceUpdate, NewMessage
from overcast.durable.store.backends.memory import MemoryDurableStore

HUB = "TestHubName"
ORIGIN = "http://127.0.0.1:7071"
ORCHESTRATORS = {"hello", "chain"}
ENTITIES = {"counter"}
T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Api:
    """The router over a MemoryDurableStore, with helpers to play the engine's part."""

    key: str | None = "KEY"
    io: Callable[..., Awaitable[Any]] = direct
    clock: Clock = field(default_factory=Clock)
    wakes: int = 0

    def __post_init__(self) -> None:
        self.store = MemoryDurableStore(self.clock)
        self.api = DurableHttpApi(
            self.store, HUB, orchestrator_exists=lambda name: name.lower() in ORCHESTRATORS, wake=self._wake,
            system_key=lambda: self.key, io=self.io, clock=self.clock, entity_exists=lambda name: name in ENTITIES,
        )

    def _wake(self) -> None:
        self.wakes += 1

    async def acall(self, method: str, path: str, query: dict[str, str] | None = None,
                    headers: dict[str, str] | None = None, body: bytes | str = b"") -> Response:
        raw = body.encode() if isinstance(body, str) else body
        url = f"{ORIGIN}/runtime/webhooks/durabletask/{path}" + (f"?{urlencode(query)}" if query else "")
        status, reply_headers, reply = await self.api.handle(method, path, query or {}, headers or {}, raw, ORIGIN,
                                                             url)
        return Response(status, {k.lower(): v for k, v in reply_headers}, reply)

    def call(self, method: str, path: str, query: dict[str, str] | None = None,
             headers: dict[str, str] | None = None, body: bytes | str = b"") -> Response:
        return asyncio.run(self.acall(method, path, query, headers, body))

    def start(self, name: str = "hello", instance_id: str | None = None, body: str = "", **query: str) -> str:
        path = f"orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
        response = self.call("POST", path, query, {"content-type": "application/json"}, body)
        assert response.status == 202, response.body
        return str(response.json["id"])

    def settle(self, instance_id: str, status: str, output: str | None = None, hub: str = HUB,
               events: tuple[EventDict, ...] = ()) -> None:
        """One episode of the would-be engine: consume the instance's messages and set its status."""
        [lease] = self.store.lease_orchestrations(hub, "test", 30, 1)
        assert lease.instance_id == instance_id
        now = h.parse_timestamp("2024-01-01T00:00:00Z")
        commit = EpisodeCommit(consumed=[m.id for m in lease.messages],
                               events=[h.orchestrator_started(now), *(m.event for m in lease.messages), *events],
                               update=InstanceUpdate(status, output))
        assert self.store.commit_episode(lease, commit)

    def started(self, status: str, instance_id: str | None = None, output: str | None = None, **kw: str) -> str:
        started = self.start(instance_id=instance_id, **kw)
        self.settle(started, status, output)
        return started

    def inbox(self, hub: str = HUB) -> list[EventDict]:
        [lease] = self.store.lease_orchestrations(hub, "peek", 30, 1)
        self.store.release_lease(lease)
        return [m.event for m in lease.messages]

    def entity_inbox(self) -> tuple[str, list[dict[str, Any]]]:
        lease = self.store.lease_next_entity(HUB, "peek", 30)
        assert lease is not None
        self.store.release_lease(lease)
        return lease.instance_id, [m.event for m in lease.messages]

    def set_entity(self, entity_id: str, state: str) -> None:
        self.store.send_message(HUB, NewMessage(entity_id, {"op": "init"}))
        lease = self.store.lease_next_entity(HUB, "test", 30)
        assert lease is not None
        assert self.store.commit_entity_batch(lease, [m.id for m in lease.messages], state)


@pytest.fixture
def api() -> Api:
    return Api()


def assert_error(response: Response, status: int, message: str, fragment: str) -> None:
    body = response.json
    assert response.status == status
    assert set(body) == {"Message", "ExceptionMessage", "ExceptionType", "StackTrace"}
    assert body["Message"] == message and fragment in body["ExceptionMessage"]


BAD_ARGS = "One or more of the arguments submitted is incorrect"
WENT_WRONG = "Something went wrong while processing your request"


# -- start -----------------------------------------------------------------------------------------------------------


def test_start_answers_202_with_the_check_status_payload(api: Api) -> None:
    body = '"{\\"n\\": 3}"'  # what the Python client sends for {"n": 3}
    response = api.call("POST", "orchestrators/Hello", {}, {"content-type": "application/json"}, body)
    assert response.status == 202
    payload = response.json
    instance_id = payload["id"]
    assert len(instance_id) == 32 and int(instance_id, 16) >= 0
    status_url = f"{ORIGIN}/runtime/webhooks/durabletask/instances/{instance_id}" \
                 "?taskHub=TestHubName&connection=Storage&code=KEY"
    assert payload["statusQueryGetUri"] == status_url
    assert response.headers["location"] == status_url and response.headers["retry-after"] == "10"
    assert set(payload) == {"id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri",
                            "purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri"}
    record = api.store.get_instance(HUB, instance_id)
    assert record is not None and (record.name, record.runtime_status, record.input) == ("Hello", "Pending", body)
    [started] = api.inbox()
    assert started["EventType"] == h.EventType.EXECUTION_STARTED and started["Input"] == body
    assert started["Name"] == "Hello" and started["OrchestrationInstance"]["InstanceId"] == instance_id
    assert api.wakes == 1


def test_start_with_an_id_a_version_and_no_body(api: Api) -> None:
    instance_id = api.start("chain", "my-id", version="2.0")
    record = api.store.get_instance(HUB, instance_id)
    assert instance_id == "my-id" and record is not None
    assert (record.input, record.version) == (None, "2.0")
    assert api.inbox()[0]["Version"] == "2.0"


@pytest.mark.parametrize("bad_id", ["@entity@k", "a#b", "a\\b", "x" * 257, "tab\there"])
def test_start_rejects_bad_instance_ids(api: Api, bad_id: str) -> None:
    assert_error(api.call("POST", f"orchestrators/hello/{bad_id}"), 400, BAD_ARGS, "")


def test_start_of_an_unknown_orchestrator_is_400_in_the_own_hub_only(api: Api) -> None:
    response = api.call("POST", "orchestrators/nope")
    assert_error(response, 400, BAD_ARGS, "The function 'nope' doesn't exist")
    other = api.call("POST", "orchestrators/nope", {"TASKHUB": "OtherHub"})
    assert other.status == 202 and "taskHub=OtherHub" in other.json["statusQueryGetUri"]
    assert api.store.get_instance("OtherHub", other.json["id"]) is not None


def test_start_with_invalid_json_is_400(api: Api) -> None:
    response = api.call("POST", "orchestrators/hello", {}, {"content-type": "application/json"}, "{not json")
    assert_error(response, 400, "Invalid JSON content", "not valid JSON")


def test_start_of_an_active_id_is_500_and_of_a_finished_one_replaces_it(api: Api) -> None:
    api.start(instance_id="dup")
    assert_error(api.call("POST", "orchestrators/hello/dup"), 500, WENT_WRONG,
                 "An Orchestration instance with the status Pending already exists.")
    api.settle("dup", "Completed", '"done"')
    first = api.store.get_instance(HUB, "dup")
    assert api.start(instance_id="dup") == "dup"
    again = api.store.get_instance(HUB, "dup")
    assert first is not None and again is not None
    assert again.runtime_status == "Pending" and again.execution_id != first.execution_id


def test_start_and_wait_returns_the_output_when_it_comes_first(api: Api) -> None:
    async def scenario() -> Response:
        async def engine() -> None:
            while api.store.get_instance(HUB, "w1") is None:
                await asyncio.sleep(0.001)
            api.settle("w1", "Completed", '{"answer": 42}')

        waiter = api.acall("POST", "orchestrators/hello/w1", {"timeout": "30", "pollingInterval": "0.01"})
        response, _ = await asyncio.gather(waiter, engine())
        return response

    response = asyncio.run(scenario())
    assert (response.status, response.json) == (200, {"answer": 42})


def test_start_and_wait_gives_the_check_status_payload_when_time_runs_out(api: Api) -> None:
    response = api.call("POST", "orchestrators/hello/w2", {"timeout": "0.05", "pollingInterval": "0.01"})
    assert response.status == 202 and response.json["id"] == "w2"


@pytest.mark.parametrize(("status", "query", "code"), [
    ("Failed", {}, 200),
    ("Failed", {"returnInternalServerErrorOnFailure": "true"}, 500),
    ("Terminated", {}, 200),
])
def test_start_and_wait_on_another_outcome_answers_with_its_status(
    api: Api, status: str, query: dict[str, str], code: int
) -> None:
    async def scenario() -> Response:
        async def engine() -> None:
            while api.store.get_instance(HUB, "w3") is None:
                await asyncio.sleep(0.001)
            api.settle("w3", status, "boom")

        waiter = api.acall("POST", "orchestrators/hello/w3", {"timeout": "30", "pollingInterval": "0.01", **query})
        response, _ = await asyncio.gather(waiter, engine())
        return response

    response = asyncio.run(scenario())
    assert response.status == code
    assert (response.json["runtimeStatus"], response.json["output"]) == (status, "boom")


def test_wait_with_an_interval_longer_than_the_timeout_is_400(api: Api) -> None:
    response = api.call("POST", "orchestrators/hello", {"timeout": "1", "pollingInterval": "5"})
    assert_error(response, 400, BAD_ARGS, "should be bigger than retry timeout")


# -- status ----------------------------------------------------------------------------------------------------------


def test_status_of_an_unknown_instance_is_404_with_an_empty_body(api: Api) -> None:
    response = api.call("GET", "instances/nobody")
    assert (response.status, response.body) == (404, b"")


@pytest.mark.parametrize(("status", "query", "code", "location"), [
    ("Running", {}, 202, True),
    ("Suspended", {}, 202, True),
    ("ContinuedAsNew", {}, 202, True),
    ("Completed", {}, 200, False),
    ("Terminated", {}, 200, False),
    ("Canceled", {}, 200, False),
    ("Failed", {}, 200, False),
    ("Failed", {"returnInternalServerErrorOnFailure": "True"}, 500, False),
])
def test_status_codes_follow_the_runtime_status(
    api: Api, status: str, query: dict[str, str], code: int, location: bool
) -> None:
    instance_id = api.started(status, output='"out"')
    response = api.call("GET", f"instances/{instance_id}", query)
    assert response.status == code and response.json["runtimeStatus"] == status
    assert ("location" in response.headers) is location
    if location:
        assert response.headers["location"].endswith(f"/instances/{instance_id}")
        assert response.headers["retry-after"] == "5"


def test_pending_status_is_202_and_shows_the_python_input_as_a_string(api: Api) -> None:
    instance_id = api.start(body='"{\\"n\\": 3}"')
    response = api.call("GET", f"instances/{instance_id}")
    assert response.status == 202
    body = response.json
    assert body["input"] == '{"n": 3}' and body["output"] is None and body["createdTime"] == "2024-01-01T00:00:00Z"


def test_status_flags_are_case_insensitive_and_control_input_and_history(api: Api) -> None:
    instance_id = api.start(body='"x"')
    api.settle(instance_id, "Completed", '"done"', events=(
        h.task_scheduled(0, "say", '"Tokyo"', h.parse_timestamp("2024-01-01T00:00:01Z")),
        h.task_completed(0, '"Hello"', h.parse_timestamp("2024-01-01T00:00:02Z")),
    ))
    plain = api.call("GET", f"instances/{instance_id}").json
    assert plain["input"] == "x" and "historyEvents" not in plain
    shaped = api.call("GET", f"instances/{instance_id}",
                      {"SHOWHISTORY": "TRUE", "showhistoryoutput": "true", "ShowInput": "False"}).json
    assert shaped["input"] is None
    assert [e["EventType"] for e in shaped["historyEvents"]] == ["ExecutionStarted", "TaskCompleted"]
    assert shaped["historyEvents"][1]["Result"] == "Hello" and "Input" not in shaped["historyEvents"][1]


# -- list ------------------------------------------------------------------------------------------------------------


def test_list_pages_with_the_continuation_header(api: Api) -> None:
    for index in range(5):
        api.start(instance_id=f"i{index}")
    seen, token, pages = [], None, 0
    while True:
        headers = {"x-ms-continuation-token": token} if token else {}
        response = api.call("GET", "instances/", {"top": "2"}, headers)
        assert response.status == 200
        seen += [item["instanceId"] for item in response.json]
        pages += 1
        token = response.headers.get("x-ms-continuation-token")
        if token is None:
            break
    assert seen == ["i0", "i1", "i2", "i3", "i4"] and pages == 3


def test_list_filters(api: Api) -> None:
    api.started("Completed", "done-1")
    api.clock.now += 3600
    api.started("Failed", "failed-1")
    api.clock.now += 3600
    api.start(instance_id="pending-1")
    api.start(instance_id="done-2", name="chain")

    def ids(**query: str) -> list[str]:
        response = api.call("GET", "instances", query)
        assert response.status == 200, response.body
        return sorted(item["instanceId"] for item in response.json)

    assert ids() == ["done-1", "done-2", "failed-1", "pending-1"]
    assert ids(runtimeStatus="Completed,failed") == ["done-1", "failed-1"]
    assert ids(instanceIdPrefix="done") == ["done-1", "done-2"]
    assert ids(createdTimeFrom="2024-01-01T00:30:00.000000Z") == ["done-2", "failed-1", "pending-1"]
    assert ids(createdTimeTo="2024-01-01T01:00:00Z") == ["done-1", "failed-1"]
    assert ids(createdTimeFrom="2024-01-01", createdTimeTo="2024-01-01T00:00:00Z") == ["done-1"]
    assert ids(createdTimeTo="1-01-01T00:00:00.000000Z") == []  # datetime.min as Python formats it
    shown = api.call("GET", "instances", {"showInput": "false"}).json
    assert all(item["input"] is None for item in shown)


@pytest.mark.parametrize(("query", "headers", "fragment"), [
    ({"runtimeStatus": "Complted"}, {}, "'Complted' is not a runtime status"),
    ({"createdTimeFrom": "yesterday"}, {}, "'createdTimeFrom' must be an ISO-8601 time"),
    ({}, {"x-ms-continuation-token": "garbage"}, ""),
])
def test_list_with_bad_filters_is_400(api: Api, query: dict[str, str], headers: dict[str, str],
                                      fragment: str) -> None:
    assert_error(api.call("GET", "instances", query, headers), 400, BAD_ARGS, fragment)


# -- purge -----------------------------------------------------------------------------------------------------------


def test_purge_one_instance(api: Api) -> None:
    assert (api.call("DELETE", "instances/nobody").status, api.call("DELETE", "instances/nobody").body) == (404, b"")
    instance_id = api.started("Completed")
    response = api.call("DELETE", f"instances/{instance_id}")
    assert (response.status, response.json) == (200, {"instancesDeleted": 1})
    assert api.store.get_instance(HUB, instance_id) is None


def test_purge_by_filter(api: Api) -> None:
    response = api.call("DELETE", "instances")
    assert (response.status, response.json) == (400, "Please provide value for 'createdTimeFrom' parameter.")
    api.started("Completed", "a")
    api.started("Failed", "b")
    api.start(instance_id="c")
    since = {"createdTimeFrom": "2023-12-31T00:00:00Z"}
    deleted = api.call("DELETE", "instances/", {**since, "runtimeStatus": "Completed,Failed"})
    assert (deleted.status, deleted.json) == (200, {"instancesDeleted": 2})
    assert api.call("DELETE", "instances", {**since, "runtimeStatus": "Completed"}).status == 404
    future = api.call("DELETE", "instances", {"createdTimeFrom": "2030-01-01T00:00:00Z"})
    assert (future.status, future.body) == (404, b"")
    assert [r.instance_id for r in api.store.query_instances(HUB, _everything()).items] == ["c"]


def _everything() -> Any:
    from overcast.durable.store import InstanceQuery

    return InstanceQuery()


# -- raise event, terminate, suspend, resume, rewind -----------------------------------------------------------------


JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


@pytest.mark.parametrize(("status", "code"), [
    ("Pending", 202), ("Running", 202), ("Suspended", 202),
    ("Completed", 410), ("Failed", 410), ("Terminated", 410), ("Canceled", 410),
])
def test_raise_event_by_status(api: Api, status: str, code: int) -> None:
    instance_id = api.start() if status == "Pending" else api.started(status)
    response = api.call("POST", f"instances/{instance_id}/raiseEvent/Approval", {}, JSON_HEADERS, '"{\\"ok\\": 1}"')
    assert response.status == code and response.body == b""


def test_raise_event_keeps_the_body_as_sent(api: Api) -> None:
    instance_id = api.started("Running")
    body = '"{\\"ok\\": true}"'
    assert api.call("POST", f"instances/{instance_id}/RAISEEVENT/approval", {}, JSON_HEADERS, body).status == 202
    [event] = api.inbox()
    assert (event["EventType"], event["Name"], event["Input"]) == (h.EventType.EVENT_RAISED, "approval", body)


@pytest.mark.parametrize(("headers", "body", "message"), [
    ({"content-type": "text/plain"}, "1", "Only application/json request content is supported"),
    ({}, "1", "Only application/json request content is supported"),
    (JSON_HEADERS, "{oops", "Invalid JSON content"),
    (JSON_HEADERS, "", "Invalid JSON content"),
])
def test_raise_event_needs_json(api: Api, headers: dict[str, str], body: str, message: str) -> None:
    instance_id = api.started("Running")
    assert_error(api.call("POST", f"instances/{instance_id}/raiseEvent/e", {}, headers, body), 400, message, "")


def test_raise_event_to_an_unknown_instance_is_404(api: Api) -> None:
    assert api.call("POST", "instances/nobody/raiseEvent/e", {}, JSON_HEADERS, "1").status == 404


CONTROL_CASES = [
    ("terminate", "Running", 202), ("terminate", "Pending", 202), ("terminate", "Suspended", 202),
    ("terminate", "Completed", 410), ("terminate", "Failed", 410), ("terminate", "Terminated", 410),
    ("suspend", "Running", 202), ("suspend", "Pending", 202), ("suspend", "Suspended", 500),
    ("suspend", "Completed", 410),
    ("resume", "Suspended", 202), ("resume", "Running", 500), ("resume", "Terminated", 410),
    ("rewind", "Failed", 202), ("rewind", "Completed", 410), ("rewind", "Terminated", 410),
    ("rewind", "Canceled", 410), ("rewind", "Running", 500),
]
EVENT_OF = {"terminate": h.EventType.EXECUTION_TERMINATED, "suspend": h.EventType.EXECUTION_SUSPENDED,
            "resume": h.EventType.EXECUTION_RESUMED, "rewind": h.EventType.EXECUTION_REWOUND}


@pytest.mark.parametrize(("operation", "status", "code"), CONTROL_CASES)
def test_instance_operations_by_status(api: Api, operation: str, status: str, code: int) -> None:
    instance_id = api.start() if status == "Pending" else api.started(status)
    response = api.call("POST", f"instances/{instance_id}/{operation}", {"reason": "because"})
    assert response.status == code
    if code == 500:
        assert_error(response, 500, WENT_WRONG, "")
        return
    assert response.body == b""
    if code == 202:
        event = api.inbox()[-1]
        assert event["EventType"] == EVENT_OF[operation]
        assert event.get("Input", event.get("Reason")) == "because"


@pytest.mark.parametrize("operation", ["terminate", "suspend", "resume", "rewind", "restart"])
def test_instance_operations_on_an_unknown_instance(api: Api, operation: str) -> None:
    response = api.call("POST", f"instances/nobody/{operation}")
    if operation == "restart":
        assert_error(response, 400, BAD_ARGS, "nobody was not found")
    else:
        assert (response.status, response.body) == (404, b"")


# -- restart ---------------------------------------------------------------------------------------------------------


def test_restart_with_a_new_id_keeps_name_and_input(api: Api) -> None:
    instance_id = api.started("Completed", body='"{\\"n\\": 3}"', name="chain")
    response = api.call("POST", f"instances/{instance_id}/restart")
    assert response.status == 202
    new_id = response.json["id"]
    record = api.store.get_instance(HUB, new_id)
    assert new_id != instance_id and record is not None
    assert (record.name, record.input, record.runtime_status) == ("chain", '"{\\"n\\": 3}"', "Pending")


def test_restart_with_the_same_id_needs_it_finished(api: Api) -> None:
    instance_id = api.started("Running")
    response = api.call("POST", f"instances/{instance_id}/restart", {"restartWithNewInstanceId": "false"})
    assert_error(response, 500, WENT_WRONG, "status Running already exists")
    api.call("POST", f"instances/{instance_id}/terminate")
    api.settle(instance_id, "Terminated", "stop")
    again = api.call("POST", f"instances/{instance_id}/restart", {"restartWithNewInstanceId": "False"})
    assert again.status == 202 and again.json["id"] == instance_id
    record = api.store.get_instance(HUB, instance_id)
    assert record is not None and record.runtime_status == "Pending"


# -- entities --------------------------------------------------------------------------------------------------------


def test_entity_state_read(api: Api) -> None:
    assert (api.call("GET", "entities/Counter/k1").status, api.call("GET", "entities/counter/$").status) == (404, 404)
    api.set_entity("@counter@k1", "15")
    response = api.call("GET", "entities/Counter/k1")
    assert (response.status, response.json) == (200, 15)


def test_entity_list_with_state_and_paging(api: Api) -> None:
    for key in ("a", "b", "c"):
        api.set_entity(f"@counter@{key}", json.dumps({"key": key}))
    api.set_entity("@other@x", "1")
    first = api.call("GET", "entities/Counter", {"top": "2", "fetchState": "true"})
    assert first.status == 200 and first.json == [
        {"entityId": {"name": "counter", "key": "a"}, "lastOperationTime": "2024-01-01T00:00:00.0000000Z",
         "state": {"key": "a"}},
        {"entityId": {"name": "counter", "key": "b"}, "lastOperationTime": "2024-01-01T00:00:00.0000000Z",
         "state": {"key": "b"}},
    ]
    token = first.headers["x-ms-continuation-token"]
    rest = api.call("GET", "entities/counter", {"top": "2"}, {"x-ms-continuation-token": token})
    assert rest.json == [{"entityId": {"name": "counter", "key": "c"},
                          "lastOperationTime": "2024-01-01T00:00:00.0000000Z"}]
    assert "x-ms-continuation-token" not in rest.headers
    assert len(api.call("GET", "entities/").json) == 4
    assert api.call("GET", "entities", {"lastOperationTimeFrom": "2024-01-02T00:00:00Z"}).json == []


@pytest.mark.parametrize(("method", "query", "headers", "body", "operation", "input_text"), [
    ("POST", {"op": "add"}, {"content-type": "application/json"}, '"5"', "add", '"5"'),  # the Python client
    ("POST", {"OP": "add"}, {"content-type": "application/json"}, "5", "add", "5"),  # curl -d 5
    ("POST", {"op": "set"}, {"content-type": "text/plain"}, "hello", "set", '"hello"'),
    ("POST", {"op": "reset"}, {}, "", "reset", None),
    ("DELETE", {}, {}, "", "delete", None),
])
def test_entity_signals_become_operation_messages(
    api: Api, method: str, query: dict[str, str], headers: dict[str, str], body: str, operation: str,
    input_text: str | None,
) -> None:
    response = api.call(method, "entities/Counter/k1", query, headers, body)
    assert (response.status, response.body) == (202, b"")
    entity_id, [event] = api.entity_inbox()
    assert entity_id == "@counter@k1"
    assert (event["EventType"], event["Name"]) == (h.EventType.EVENT_RAISED, "op")
    request = json.loads(event["Input"])
    assert (request["op"], request["signal"], request["input"]) == (operation, True, input_text)
    assert request["parent"] is None and request["parentExecution"] is None
    assert uuid.UUID(request["id"])
    assert api.wakes == 1


@pytest.mark.parametrize(("path", "query", "fragment"), [
    ("entities/counter/$", {"op": "add"}, "needs a key"),
    ("entities/counter/a\tb", {"op": "add"}, "must not contain"),
    ("entities/nope/k", {"op": "add"}, "The function 'nope' doesn't exist"),
])
def test_bad_entity_signals_are_400(api: Api, path: str, query: dict[str, str], fragment: str) -> None:
    assert_error(api.call("POST", path, query), 400, BAD_ARGS, fragment)


def test_signals_to_another_hub_skip_the_entity_check(api: Api) -> None:
    assert api.call("POST", "entities/nope/k", {"op": "x", "taskHub": "Other"}).status == 202
    lease = api.store.lease_next_entity("Other", "peek", 30)
    assert lease is not None and lease.instance_id == "@nope@k"


def test_invalid_json_signal_is_400(api: Api) -> None:
    response = api.call("POST", "entities/counter/k", {"op": "x"}, {"content-type": "application/json"}, "{x")
    assert_error(response, 400, "Could not parse JSON content", "Could not parse JSON content: Expecting")


# -- routing and failures --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", ""), ("GET", "nothing/here"), ("GET", "orchestrators/hello"), ("PUT", "instances/x"),
    ("GET", "instances/x/terminate"), ("POST", "instances/x/explode"), ("POST", "instances/x/raiseEvent"),
    ("POST", "instances//terminate"), ("PUT", "entities/counter/k"), ("GET", "entities/a/b/c"),
    ("POST", "instances/x/terminate/now"),
])
def test_unknown_routes_are_404(api: Api, method: str, path: str) -> None:
    response = api.call(method, path)
    assert (response.status, response.body) == (404, b"")


def test_controller_names_are_case_insensitive(api: Api) -> None:
    assert api.call("POST", "/Orchestrators/hello/").status == 202
    assert api.call("GET", "INSTANCES").status == 200


def test_an_unexpected_failure_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(fn: Callable[..., Any], *args: Any) -> Any:
        raise RuntimeError("disk on fire")

    response = Api(io=broken).call("GET", "instances/x")
    assert_error(response, 500, WENT_WRONG, "disk on fire")
    assert response.json["ExceptionType"] == "RuntimeError"
    assert "Durable API GET instances/x failed" in caplog.text


def test_links_leave_out_the_code_without_a_key() -> None:
    response = Api(key=None).call("POST", "orchestrators/hello")
    assert "code=" not in response.json["statusQueryGetUri"]


# -- the real pipeline: HostApp behind uvicorn, the SDK client over HTTP ------------------------------------------


@dataclass
class Host:
    """A HostApp with the durable API attached, serving on a loopback port."""

    api: Api
    app: Any
    keys: Any
    port: int
    dispatcher: Any

    @property
    def client(self) -> Any:
        from azure.durable_functions import DurableOrchestrationClient

        from overcast.durable.api.client_binding import client_binding_json, rpc_base_url

        text = client_binding_json(public_origin=f"http://127.0.0.1:{self.port}", hub=HUB, connection=None,
                                   system_key=self.keys.ensure_system_key("durabletask_extension"),
                                   rpc_base=rpc_base_url(self.port, self.api.api.rpc_secret))
        return DurableOrchestrationClient(text)


def build_app(tmp_path: Any, *, no_auth: bool = False) -> tuple[Any, Any, Any]:
    from overcast.backends import open_state_store
    from overcast.config.settings import StartOptions, load
    from overcast.invoke.dispatcher import Dispatcher
    from overcast.web.app import HostApp, HostState
    from overcast.web.asgi_io import send_response
    from overcast.web.keys import KeyRing
    from overcast.web.routing import make_router

    async def admin(scope: Any, receive: Any, send: Any, headers: Any, caller: Any) -> None:
        await send_response(send, 418, [])

    (tmp_path / "host.json").write_text('{"version": "2.0"}')
    settings = load(StartOptions(script_root=tmp_path, data_dir=tmp_path, no_auth=no_auth), environ={})
    keys = KeyRing(open_state_store(tmp_path), environ={})
    keys.ensure([])
    dispatcher = Dispatcher(thread_count=1, function_timeout=None)
    app = HostApp(settings=settings, router=make_router([]), dispatcher=dispatcher, keys=keys, state=HostState(),
                  admin=admin)
    return app, keys, dispatcher


async def serve(tmp_path: Any, scenario: Callable[[Host], Awaitable[None]], *, no_auth: bool = False) -> None:
    import socket

    import uvicorn
    from azure.durable_functions.models.utils import http_utils

    app, keys, dispatcher = build_app(tmp_path, no_auth=no_auth)
    api = Api(io=asyncio.to_thread)
    api.api = DurableHttpApi(api.store, HUB, orchestrator_exists=lambda name: name.lower() in ORCHESTRATORS,
                             wake=lambda: None, entity_exists=lambda name: name in ENTITIES,
                             system_key=lambda: None if no_auth else keys.ensure_system_key("durabletask_extension"))
    app.attach_durable(api.api)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", ws="none", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.005)
        await scenario(Host(api, app, keys, sock.getsockname()[1], dispatcher))
    finally:
        await http_utils._close_session()  # the SDK's shared session belongs to this event loop
        server.should_exit = True
        await task
        sock.close()
        dispatcher.shutdown()


def test_the_sdk_client_against_the_host(tmp_path: Any) -> None:
    import azure.durable_functions as df
    import azure.functions as func

    async def scenario(host: Host) -> None:
        client, api = host.client, host.api
        instance_id = await client.start_new("hello", None, {"n": 3})
        assert len(instance_id) == 32
        status = await client.get_status(instance_id)
        assert status and status.runtime_status == df.OrchestrationRuntimeStatus.Pending
        assert status.input_ == '{"n": 3}' and status.instance_id == instance_id
        with pytest.raises(Exception, match="The function 'nope' doesn't exist"):
            await client.start_new("nope")
        with pytest.raises(Exception, match="already exists"):
            await client.start_new("hello", instance_id)

        api.settle(instance_id, "Running")
        await client.raise_event(instance_id, "approval", {"ok": True})
        assert api.inbox()[-1]["Input"] == '"{\\"ok\\": true}"'  # Decision 1: the double encoding is kept
        api.settle(instance_id, "Running")
        await client.suspend(instance_id, "for a while")
        with pytest.raises(Exception, match="unexpected status code 500"):
            await client.resume(instance_id, "not suspended yet")
        api.settle(instance_id, "Suspended")
        await client.resume(instance_id, "go on")
        api.settle(instance_id, "Running")
        await client.terminate(instance_id, "stopped by test")
        assert api.inbox()[-1]["EventType"] == h.EventType.EXECUTION_TERMINATED
        api.settle(instance_id, "Terminated", "stopped by test")
        status = await client.get_status(instance_id, show_history=True, show_history_output=True)
        assert status.runtime_status == df.OrchestrationRuntimeStatus.Terminated
        assert status.output == "stopped by test" and status.historyEvents[0]["EventType"] == "ExecutionStarted"
        await client.terminate(instance_id, "again")  # 410: the SDK accepts it
        with pytest.raises(Exception, match="is gone"):
            await client.raise_event(instance_id, "late", 1)
        assert not await client.get_status("nobody")

        restarted = await client.restart(instance_id)
        assert restarted["id"] != instance_id and "statusQueryGetUri" in restarted
        api.settle(restarted["id"], "Completed", '"done"')
        same = await client.restart(instance_id, restart_with_new_instance_id=False)
        assert same["id"] == instance_id
        api.settle(instance_id, "Failed", "Orchestrator function 'hello' failed: boom")
        await client.rewind(instance_id, "try again")
        rewound = api.inbox()[-1]
        assert (rewound["EventType"], rewound["Reason"]) == (h.EventType.EXECUTION_REWOUND, "try again")
        with pytest.raises(Exception, match="only supported on failed"):
            await client.rewind(restarted["id"], "no")

        everything = await client.get_status_all()
        assert sorted(s.instance_id for s in everything) == sorted([instance_id, restarted["id"]])
        completed = await client.get_status_by(runtime_status=[df.OrchestrationRuntimeStatus.Completed])
        assert [s.instance_id for s in completed] == [restarted["id"]]
        by_prefix = await client.get_status_by(instance_id_prefix=instance_id[:6])
        assert instance_id in [s.instance_id for s in by_prefix]

        entity = df.EntityId("Counter", "k1")
        assert not (await client.read_entity_state(entity)).entity_exists
        await client.signal_entity(entity, "add", 5)
        entity_id, [event] = api.entity_inbox()
        assert entity_id == "@counter@k1" and json.loads(event["Input"])["input"] == '"5"'
        # Play the entity engine: consume the signal and store a state.
        lease = api.store.lease_next_entity(HUB, "test", 30)
        assert lease is not None and api.store.commit_entity_batch(lease, [m.id for m in lease.messages], "15")
        state = await client.read_entity_state(entity)
        assert (state.entity_exists, state.entity_state) == (True, 15)

        purged = await client.purge_instance_history(restarted["id"])
        assert purged.instances_deleted == 1
        assert (await client.purge_instance_history("nobody")).instances_deleted == 0
        from datetime import datetime, timezone

        since = datetime(2023, 1, 1, tzinfo=timezone.utc)
        by_filter = await client.purge_instance_history_by(since, None, [df.OrchestrationRuntimeStatus.Failed])
        assert by_filter.instances_deleted == 1

        request = func.HttpRequest("POST", f"http://localhost:{host.port}/api/start", body=b"")
        response = client.create_check_status_response(request, "abc")
        assert response.status_code == 202
        assert response.headers["Location"].startswith(f"http://localhost:{host.port}/runtime/webhooks/durabletask/")

    asyncio.run(serve(tmp_path, scenario))


def test_the_webhook_prefix_needs_the_durable_system_key(tmp_path: Any) -> None:
    import aiohttp

    async def scenario(host: Host) -> None:
        base = f"http://127.0.0.1:{host.port}/runtime/webhooks/durabletask/instances"
        durable_key = host.keys.ensure_system_key("durabletask_extension")
        function_key = host.keys.host_keys("functionKeys")["default"]
        async with aiohttp.ClientSession() as session:
            for code, expected in ((None, 401), ("wrong", 401), (function_key, 401), (durable_key, 200),
                                   (host.keys.master_key(), 200)):
                params = {"code": code} if code else {}
                async with session.get(base, params=params) as response:
                    assert response.status == expected, code
            async with session.get(base, headers={"x-functions-key": durable_key}) as response:
                assert response.status == 200
            channel = f"http://127.0.0.1:{host.port}/runtime/webhooks/durabletask/rpc"
            secret = host.api.api.rpc_secret
            async with session.get(f"{channel}/{secret}/instances") as response:
                assert response.status == 200
            async with session.get(f"{channel}/{secret}/instances",
                                   headers={"X-Forwarded-For": "203.0.113.9"}) as response:
                assert response.status == 403
            async with session.get(f"{channel}/instances") as response:  # the keyless route of old: a key it wants
                assert response.status == 401
            async with session.get(f"{channel}/instances", params={"code": durable_key}) as response:
                assert response.status == 404
            async with session.get(f"http://127.0.0.1:{host.port}/runtime/webhooks/other") as response:
                assert response.status == 418  # not ours: the admin routes answer

    asyncio.run(serve(tmp_path, scenario))


def test_without_auth_the_webhook_prefix_is_open(tmp_path: Any) -> None:
    import aiohttp

    async def scenario(host: Host) -> None:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{host.port}/runtime/webhooks/durabletask/orchestrators/hello"
            async with session.post(url) as response:
                assert response.status == 202
                assert "code=" not in (await response.json())["statusQueryGetUri"]

    asyncio.run(serve(tmp_path, scenario, no_auth=True))


async def asgi(app: Any, path: str, client: tuple[str, int] | None, headers: list[tuple[bytes, bytes]],
               host: bytes | None = b"example.test") -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [*([(b"host", host)] if host else []), *headers], "client": client, "scheme": "http",
             "server": ("example.test", 80)}
    await app(scope, receive, send)
    return int(sent[0]["status"])


CHANNEL = "/runtime/webhooks/durabletask/rpc"


@pytest.mark.parametrize(("path", "host", "headers", "status"), [
    ("{channel}/{secret}/instances", "127.0.0.1:7071", [], 200),
    ("{channel}/{secret}/instances", "localhost", [], 200),
    ("{channel}/{secret}/instances", "[::1]:7071", [], 200),
    ("/RUNTIME/webhooks/durabletask/RPC/{secret}/instances", "127.0.0.1:7071", [], 200),
    # the peer address is no proof: a forwarder's callers look local too; the secret is what admits a call
    ("{channel}/instances", "127.0.0.1:7071", [], 401),
    ("{channel}/{secret}x/instances", "127.0.0.1:7071", [], 401),
    ("{channel}/{upper}/instances", "127.0.0.1:7071", [], 401),
    ("{channel}/", "127.0.0.1:7071", [], 401),
    # with the secret, a browser (DNS rebinding, a cross-site POST) or a proxy is still refused
    ("{channel}/{secret}/instances", "rebound.example.test:7071", [], 403),
    ("{channel}/{secret}/instances", "127.0.0.1:7071", [(b"origin", b"http://evil.example.test")], 403),
    ("{channel}/{secret}/instances", "127.0.0.1:7071", [(b"sec-fetch-site", b"cross-site")], 403),
    ("{channel}/{secret}/instances", "127.0.0.1:7071", [(b"forwarded", b"for=198.51.100.1")], 403),
    ("{channel}/{secret}/instances", "127.0.0.1:7071", [(b"x-real-ip", b"198.51.100.1")], 403),
])
def test_the_channel_answers_the_secret_holder_only(
    tmp_path: Any, path: str, host: str, headers: list[tuple[bytes, bytes]], status: int
) -> None:
    app, _, dispatcher = build_app(tmp_path)
    api = Api().api
    app.attach_durable(api)
    try:
        url = path.format(channel=CHANNEL, secret=api.rpc_secret, upper=api.rpc_secret.upper())
        sent = [(b"host", host.encode()), *headers]
        assert asyncio.run(asgi(app, url, ("127.0.0.1", 5000), sent, host=None)) == status
        # The webhook prefix itself wants a key, wherever the caller is.
        assert asyncio.run(asgi(app, "/runtime/webhooks/DurableTask/instances", ("127.0.0.1", 5000), sent,
                                host=None)) == 401
    finally:
        dispatcher.shutdown()


def test_without_an_attached_api_the_admin_routes_answer(tmp_path: Any) -> None:
    app, _, dispatcher = build_app(tmp_path)
    try:
        assert asyncio.run(asgi(app, "/runtime/webhooks/durabletask/instances", ("127.0.0.1", 1), [])) == 418
    finally:
        dispatcher.shutdown()


def test_a_bad_entity_continuation_token_is_400(api: Api) -> None:
    response = api.call("GET", "entities/counter", {}, {"x-ms-continuation-token": "garbage"})
    assert_error(response, 400, BAD_ARGS, "")
