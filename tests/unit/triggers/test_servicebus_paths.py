"""Which entity a Service Bus binding names, what wakes its listener, and the manual-invoke input."""

from __future__ import annotations

from typing import Any

import pytest
from azure.functions import meta

from overcast.app.spec import BindingSpec
from overcast.bindings.servicebus_kind import ServiceBusKind
from overcast.triggers.servicebus import entity_path, wake_key


@pytest.mark.parametrize(("raw", "path", "key"), [
    ({"queueName": "Orders"}, "orders", "orders"),
    ({"queueName": "orders/$DeadLetterQueue"}, "orders/$deadletterqueue", "orders"),
    ({"topicName": "Events", "subscriptionName": "Audit"}, "events/subscriptions/audit", "events"),
    ({"topicName": "events", "subscriptionName": "audit/$deadletterqueue"},
     "events/subscriptions/audit/$deadletterqueue", "events"),
    ({"topicName": "events"}, "events", "events"),
])
def test_entity_paths_and_wake_keys(raw: dict[str, Any], path: str, key: str) -> None:
    binding = BindingSpec("msg", "serviceBusTrigger", "in", None, raw)
    assert entity_path(binding) == path and wake_key(path) == key


@pytest.mark.parametrize(("raw", "trigger", "problem"), [
    ({"queueName": "q"}, True, None),
    ({"topicName": "t", "subscriptionName": "s"}, True, None),
    ({"topicName": "t"}, True, "needs a queueName, or a topicName and a subscriptionName"),
    ({"topicName": "t"}, False, None),
    ({}, False, "needs a queueName or a topicName"),
])
def test_a_binding_must_name_its_entity(raw: dict[str, Any], trigger: bool, problem: str | None,
                                        tmp_path: Any) -> None:
    binding = BindingSpec("msg", "serviceBusTrigger" if trigger else "serviceBus", "in" if trigger else "out",
                          None, raw)
    problems = ServiceBusKind().problems(binding, {"AzureWebJobsScriptRoot": str(tmp_path)})
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_a_manual_invocation_decodes_as_a_message_never_sent() -> None:
    datum, metadata = ServiceBusKind().manual_input("hello")
    converter: Any = meta.get_binding_registry().get("serviceBusTrigger")  # type: ignore[no-untyped-call]
    message = converter.decode(datum, trigger_metadata=metadata)
    assert message.get_body() == b"hello" and message.delivery_count == 0 and message.lock_token is None
