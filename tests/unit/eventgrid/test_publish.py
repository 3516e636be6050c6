"""Where an Event Grid output sends its events, and what it sends."""

from __future__ import annotations

import json

import pytest
from azure.functions.meta import Datum

from overcast.errors import InputError
from overcast.eventgrid.publish import Destination, destination, local_topic_of, output_events

OWN = ["localhost:7071"]


@pytest.mark.parametrize(("value", "expected"), [
    (None, Destination(topic="mytopicuri")),  # unset: the local topic named like the setting
    ("", Destination(topic="mytopicuri")),
    ("Orders", Destination(topic="orders")),  # a bare name
    ("http://localhost:7071/runtime/webhooks/eventgrid/topics/orders", Destination(topic="orders")),
    ("http://127.0.0.1:7071/runtime/webhooks/eventgrid/topics/Orders/api/events", Destination(topic="orders")),
    ("http://localhost:9999/runtime/webhooks/eventgrid/topics/orders",  # another host's port: remote
     Destination(url="http://localhost:9999/runtime/webhooks/eventgrid/topics/orders", key="k")),
    ("https://t.westeurope-1.eventgrid.azure.net/api/events",
     Destination(url="https://t.westeurope-1.eventgrid.azure.net/api/events", key="k")),
])
def test_destination(value: str | None, expected: Destination) -> None:
    environ = {"MyTopicKey": "k", **({"MyTopicUri": value} if value is not None else {})}
    assert destination("MyTopicUri", "MyTopicKey", environ, OWN) == expected


def test_local_topic_needs_the_topics_path() -> None:
    assert local_topic_of("http://localhost:7071/api/events", OWN) is None
    assert local_topic_of("http://example.com:7071/runtime/webhooks/eventgrid/topics/x", OWN) is None


def test_output_events_take_what_the_library_encodes() -> None:
    one = {"id": "1", "subject": "/s", "eventType": "T", "data": {}}
    assert output_events(Datum(json.dumps(one), "json"), "out") == [one]
    assert output_events(Datum(json.dumps([one, one]), "json"), "out") == [one, one]
    assert output_events(Datum(json.dumps(one), "string"), "out") == [one]
    assert output_events(Datum(json.dumps(one).encode(), "bytes"), "out") == [one]
    assert output_events(Datum(json.dumps([json.dumps(one)]), "json"), "out") == [one]  # a list of JSON strings
    assert output_events(Datum(None, None), "out") == []
    with pytest.raises(InputError, match="each event must be a JSON object"):
        output_events(Datum("[1]", "json"), "out")


def test_the_endpoint_setting_of_an_output() -> None:
    from overcast.app.spec import BindingSpec
    from overcast.eventgrid.kind import EventGridKind, endpoint_setting

    def out(**raw: str) -> BindingSpec:
        return BindingSpec("out", "eventGrid", "out", None, {"type": "eventGrid", **raw})

    assert endpoint_setting(out(topicEndpointUri="MyTopicUri", connection="X")) == "MyTopicUri"
    assert endpoint_setting(out(connection="MyTopic")) == "MyTopic__topicEndpointUri"
    assert EventGridKind().problems(out(connection="MyTopic"), {}) == []
    [problem] = EventGridKind().problems(out(), {})
    assert "needs topic_endpoint_uri" in problem
