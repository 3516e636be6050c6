"""The pure Event Grid parts: filters, validation codes, retry waits, dead-letter records, publishing defaults."""

from __future__ import annotations

import json

import pytest

from overcast.errors import InputError
from overcast.eventgrid import events as ev

EG = {"id": "1", "subject": "/blobServices/default/containers/Uploads/blobs/a.JSON",
      "eventType": "Microsoft.Storage.BlobCreated"}
CE = {"specversion": "1.0", "id": "1", "source": "/s", "type": "Contoso.Created", "subject": "/orders/9-vip"}


@pytest.mark.parametrize(("flt", "event", "expected"), [
    (ev.EventFilter(), EG, True),
    (ev.EventFilter(subject_begins_with="/blobServices/default/containers/uploads/"), EG, True),  # any case
    (ev.EventFilter(subject_begins_with="/blobServices/default/containers/uploads/", case_sensitive=True), EG, False),
    (ev.EventFilter(subject_ends_with=".json"), EG, True),
    (ev.EventFilter(subject_ends_with=".csv"), EG, False),
    (ev.EventFilter(included_event_types=("microsoft.storage.blobcreated",)), EG, True),
    (ev.EventFilter(included_event_types=("Microsoft.Storage.BlobDeleted",)), EG, False),
    (ev.EventFilter(included_event_types=("Contoso.Created",), subject_ends_with="-vip"), CE, True),  # CE: "type"
    (ev.EventFilter(included_event_types=("Contoso.Created",), subject_begins_with="/invoices"), CE, False),
    (ev.EventFilter(subject_begins_with="/x"), {"id": "1"}, False),  # no subject
])
def test_filters(flt: ev.EventFilter, event: dict[str, str], expected: bool) -> None:
    assert flt.matches(event) is expected


@pytest.mark.parametrize(("body", "expected"), [
    ([{"data": {"validationCode": "abc"}}], "abc"),  # Event Grid schema: an array
    ({"specversion": "1.0", "data": json.dumps({"validationCode": "ce"})}, "ce"),  # CloudEvents: data as JSON text
    ({"specversion": "1.0", "data": {"validationCode": "obj"}}, "obj"),
    ([], None),
    ([{"data": {}}], None),
    ({"data": "not json"}, None),
])
def test_validation_code(body: object, expected: str | None) -> None:
    assert ev.validation_code(body) == expected


@pytest.mark.parametrize(("attempts", "schedule", "wait"), [
    (1, ev.RETRY_SCHEDULE, 10.0), (2, ev.RETRY_SCHEDULE, 30.0), (3, ev.RETRY_SCHEDULE, 60.0),
    (4, ev.RETRY_SCHEDULE, 300.0), (7, ev.RETRY_SCHEDULE, 3600.0), (9, ev.RETRY_SCHEDULE, 21600.0),
    (10, ev.RETRY_SCHEDULE, 43200.0), (29, ev.RETRY_SCHEDULE, 43200.0),
    (1, (0.2, 0.4), 0.2), (2, (0.2, 0.4), 0.4), (5, (0.2, 0.4), 0.4),  # a test schedule repeats its last wait
])
def test_retry_waits(attempts: int, schedule: tuple[float, ...], wait: float) -> None:
    assert ev.next_retry_delay(attempts, schedule) == wait


def test_parse_events_takes_an_array_or_one_object() -> None:
    assert ev.parse_events(b'[{"a": 1}, {"b": 2}]') == [{"a": 1}, {"b": 2}]
    assert ev.parse_events('{"a": 1}') == [{"a": 1}]
    for bad in (b"nope", b"[1]", b'"text"'):
        with pytest.raises(InputError):
            ev.parse_events(bad)


def test_trigger_value_carries_the_event_and_its_data() -> None:
    trigger, metadata, binding = ev.trigger_value({"id": "7", "subject": "/s", "data": {"url": "u"}, "tags": [1]})
    assert trigger.type == "json" and json.loads(trigger.value)["id"] == "7"
    assert json.loads(metadata["data"].value) == {"url": "u"}
    assert binding["data"] == {"url": "u"} and binding["id"] == "7" and "tags" not in binding


def test_dead_letter_record_and_blob_name() -> None:
    record = ev.dead_letter_record('{"id": "e", "data": 1}', "MaxDeliveryAttemptsExceeded", 3, "GenericError", 500,
                                   1_700_000_000.0, 1_700_000_060.0)
    assert record["id"] == "e" and record["deliveryAttempts"] == 3 and record["lastHttpStatusCode"] == 500
    assert record["publishTime"] == "2023-11-14T22:13:20.000000Z"
    name = ev.dead_letter_blob_name("my-Sub", 1_700_000_000.0)  # 2023-11-14 22:13 UTC
    assert name.startswith("MY-SUB/2023/11/14/22/") and name.endswith(".json")


def test_complete_event_fills_what_event_grid_fills() -> None:
    done = ev.complete_event({"subject": "/s", "eventType": "T", "data": {}}, "/topics/t", 1_700_000_000.0)
    assert done["topic"] == "/topics/t" and done["id"] and done["eventTime"].startswith("2023-11-14T22:13:20")
    assert done["dataVersion"] == "" and done["metadataVersion"] == "1"
    cloud = ev.complete_event({"specversion": "1.0", "source": "/s", "type": "T"}, "/topics/t", 1_700_000_000.0)
    assert "topic" not in cloud and cloud["id"] and cloud["time"]
    with pytest.raises(InputError, match="eventType"):
        ev.check_publishable({"subject": "/s"}, 0)
