"""eventgrid.json: the documented shape, and one clear line for each mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overcast.errors import ConfigError
from overcast.eventgrid.config import check_functions, load_config


def write(tmp_path: Path, content: object) -> Path:
    (tmp_path / "eventgrid.json").write_text(content if isinstance(content, str) else json.dumps(content))
    return tmp_path


def test_no_file_is_no_topics(tmp_path: Path) -> None:
    assert load_config(tmp_path).topics == {}


def test_the_documented_shape(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """{
      // comments are allowed, as in host.json
      "topics": {"Orders": {"subscriptions": {
        "Audit": {"function": "audit", "filter": {"subjectBeginsWith": "/o/", "includedEventTypes": ["A"]},
                  "retryPolicy": {"maxDeliveryAttempts": 5, "eventTimeToLiveInMinutes": 60},
                  "deadLetter": {"container": "dead"}},
        "erp": {"endpoint": "https://erp.example.com/hook"}}}}}"""))
    [audit, erp] = config.subscriptions("orders")
    assert (audit.name, audit.topic, audit.function, audit.max_attempts, audit.ttl_minutes,
            audit.dead_letter_container) == ("audit", "orders", "audit", 5, 60, "dead")
    assert audit.filter.subject_begins_with == "/o/" and audit.filter.included_event_types == ("A",)
    assert (erp.endpoint, erp.max_attempts, erp.ttl_minutes, erp.dead_letter_container) == (
        "https://erp.example.com/hook", 30, 1440, None)
    assert config.find("erp") is erp


@pytest.mark.parametrize(("content", "message"), [
    ({"topic": {}}, "unknown properties"),
    ({"topics": {"bad name": {}}}, "is not valid"),
    ({"topics": {"t": {"subscriptions": {"s": {}}}}}, "exactly one of"),
    ({"topics": {"t": {"subscriptions": {"s": {"function": "f", "endpoint": "http://x"}}}}}, "exactly one of"),
    ({"topics": {"t": {"subscriptions": {"s": {"endpoint": "ftp://x"}}}}}, "not an http(s) URL"),
    ({"topics": {"t": {"subscriptions": {"s": {"function": "f", "retryPolicy": {"maxDeliveryAttempts": 31}}}}}},
     "from 1 to 30"),
    ({"topics": {"t": {"subscriptions": {"s": {"function": "f",
                                               "retryPolicy": {"eventTimeToLiveInMinutes": 0}}}}}}, "from 1 to 1440"),
    ({"topics": {"t": {"subscriptions": {"s": {"function": "f", "deadLetter": {"container": "Bad_Name"}}}}}},
     "deadLetter.container"),
    ({"topics": {"t": {"subscriptions": {"s": {"function": "f", "filter": {"includedEventTypes": "A"}}}}}},
     "includedEventTypes"),
    ({"topics": {"a": {"subscriptions": {"s": {"function": "f"}}}, "b": {"subscriptions": {"S": {"function": "g"}}}}},
     "another subscription has this name"),
    ("{", "Unable to parse Event Grid configuration file"),
])
def test_mistakes_are_one_clear_line(tmp_path: Path, content: object, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as raised:
        load_config(write(tmp_path, content))
    assert message in str(raised.value) and "eventgrid.json" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_subscriptions_to_functions_are_checked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"topics": {"t": {"subscriptions": {
        "a": {"function": "on_event"}, "b": {"function": "missing"}}}}}))
    warnings = check_functions(config, {"On_Event": "eventGridTrigger"})
    assert len(warnings) == 1 and "'missing'" in warnings[0]
    with pytest.raises(ConfigError, match="has a 'queueTrigger' trigger"):
        check_functions(config, {"on_event": "queueTrigger", "missing": "eventGridTrigger"})
