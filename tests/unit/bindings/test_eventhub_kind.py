"""The eventHub kind's start checks, and %AppSetting% names resolved at indexing as the host does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from overcast.app.index import index_app
from overcast.app.spec import BindingSpec
from overcast.kinds import kind_of

APP = '''
import azure.functions as func

app = func.FunctionApp()


@app.event_hub_message_trigger(arg_name="event", event_hub_name="%HUB%", consumer_group="%GROUP%",
                               connection="EventHubs")
def on_event(event: func.EventHubEvent) -> None:
    pass
'''


def test_hub_and_consumer_group_settings_are_resolved_at_indexing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "function_app.py").write_text(APP, encoding="utf-8")
    monkeypatch.setattr(sys, "path", list(sys.path))
    index = index_app(tmp_path, "function_app.py", None, {"HUB": "orders", "GROUP": "billing"})
    trigger = index.functions[0].trigger
    assert (trigger.get("eventHubName"), trigger.get("consumerGroup")) == ("orders", "billing")
    assert kind_of(trigger.type).problems(trigger, {}) == []


@pytest.mark.parametrize(("raw", "message"), [
    ({}, "needs 'eventHubName'"),
    ({"eventHubName": "orders", "cardinality": "some"}, "use 'one' or 'many'"),
    ({"eventHubName": "{name}"}, "expression"),
    ({"eventHubName": "my hub"}, "Event hub name 'my hub' is not valid"),
    ({"eventHubName": "orders", "consumerGroup": "-x-"}, "Consumer group name '-x-' is not valid"),
])
def test_bad_triggers_are_reported(raw: dict[str, str], message: str) -> None:
    binding = BindingSpec("event", "eventHubTrigger", "in", None, raw)
    problems = kind_of("eventHubTrigger").problems(binding, {})
    assert any(message in p for p in problems), problems


def test_an_output_may_name_its_hub_with_an_expression() -> None:
    binding = BindingSpec("out", "eventHub", "out", None, {"eventHubName": "{hub}"})
    assert kind_of("eventHub").problems(binding, {}) == []
