"""The Service Bus entity config (the emulator's Config.json shape): entities, properties, rules, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from overcast.backends.servicebus_store import QUEUE, SUBSCRIPTION, TOPIC, EntityProperties
from overcast.bindings.servicebus_config import ENV_VAR, config_path, duration, load_entities, parse_entities
from overcast.errors import ConfigError

EMULATOR_SAMPLE: dict[str, Any] = {"UserConfig": {"Namespaces": [{"Name": "sbemulatorns", "Queues": [
    {"Name": "queue.1", "Properties": {
        "DeadLetteringOnMessageExpiration": True, "DefaultMessageTimeToLive": "PT1H",
        "DuplicateDetectionHistoryTimeWindow": "PT20S", "ForwardDeadLetteredMessagesTo": "", "ForwardTo": "",
        "LockDuration": "PT1M", "MaxDeliveryCount": 3, "RequiresDuplicateDetection": True, "RequiresSession": False}},
    {"Name": "plain"}], "Topics": [
    {"Name": "topic.1", "Properties": {"DefaultMessageTimeToLive": "PT1H", "RequiresDuplicateDetection": False},
     "Subscriptions": [
         {"Name": "subscription.1", "Properties": {"MaxDeliveryCount": 3, "RequiresSession": True}, "Rules": [
             {"Name": "app-prop-filter-1", "Properties": {"FilterType": "Correlation", "CorrelationFilter": {
                 "ContentType": "application/text", "Properties": {"prop1": "value1"}}}}]},
         {"Name": "subscription.2", "Rules": [
             {"Name": "sql", "Properties": {"FilterType": "Sql", "SqlFilter": {"SqlExpression": "prop1 = 'x'"},
                                            "Action": {"SqlExpression": "SET prop2 = 'y'"}}}]},
         {"Name": "subscription.3"}]}]}], "Logging": {"Type": "File"}}}


def test_the_emulators_sample_config_reads_as_it_is() -> None:
    entities = {e.path: e for e in parse_entities(EMULATOR_SAMPLE, "Config.json")}
    assert list(entities) == ["queue.1", "plain", "topic.1", "topic.1/subscriptions/subscription.1",
                              "topic.1/subscriptions/subscription.2", "topic.1/subscriptions/subscription.3"]
    assert entities["queue.1"].kind == QUEUE and entities["topic.1"].kind == TOPIC
    assert entities["queue.1"].properties == EntityProperties(60, 3, 3600, True, False, 20)
    assert entities["plain"].properties == EntityProperties()
    sub1 = entities["topic.1/subscriptions/subscription.1"]
    assert sub1.kind == SUBSCRIPTION and sub1.properties.requires_session and sub1.properties.max_delivery_count == 3
    assert sub1.rules[0].correlation == {"ContentType": "application/text", "Properties": {"prop1": "value1"}}
    assert entities["topic.1/subscriptions/subscription.2"].rules[0].action == "SET prop2 = 'y'"
    assert entities["topic.1/subscriptions/subscription.3"].rules[0].name == "$Default"


@pytest.mark.parametrize(("text", "seconds"), [
    ("PT1M", 60), ("PT20S", 20), ("PT1H30M", 5400), ("P1D", 86400), ("PT0.5S", 0.5), ("00:01:00", 60), (30, 30)])
def test_durations(text: Any, seconds: float) -> None:
    assert duration(text, "x") == seconds


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: d.pop("UserConfig"), "UserConfig"),
    (lambda d: d["UserConfig"]["Namespaces"][0]["Queues"][0]["Properties"].update(LockDuration="soon"),
     r"Namespaces\[0\].Queues\[0\].Properties.LockDuration: 'soon' is not a duration"),
    (lambda d: d["UserConfig"]["Namespaces"][0]["Queues"][0]["Properties"].update(LockDuration="PT10M"),
     "between 5 seconds and 5 minutes"),
    (lambda d: d["UserConfig"]["Namespaces"][0]["Queues"][0]["Properties"].update(MaxDeliveryCount=0),
     "MaxDeliveryCount"),
    (lambda d: d["UserConfig"]["Namespaces"][0]["Queues"][0]["Properties"].update(Colour=1), "unknown property Colour"),
    (lambda d: d["UserConfig"]["Namespaces"][0]["Queues"].append({"Nom": "x"}), r"Queues\[2\] must be an object"),
    (lambda d: d["UserConfig"]["Namespaces"][0]["Topics"][0]["Subscriptions"][1]["Rules"][0]["Properties"]
     ["SqlFilter"].update(SqlExpression="prop1 = "), r"Subscriptions\[1\].Rules\[0\]: expected a value"),
])
def test_a_bad_config_is_one_line_naming_the_entry(change: Any, problem: str) -> None:
    document = json.loads(json.dumps(EMULATOR_SAMPLE))
    change(document)
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_entities(document, "servicebus.config.json")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("Service Bus entity config")


def test_the_file_is_found_in_the_app_folder_or_through_the_setting(tmp_path: Path) -> None:
    assert config_path(tmp_path, {}) is None and load_entities(tmp_path, {}) == []
    (tmp_path / "servicebus.config.json").write_text(json.dumps(EMULATOR_SAMPLE))
    assert len(load_entities(tmp_path, {})) == 6
    other = tmp_path / "emulator" / "Config.json"
    other.parent.mkdir()
    other.write_text('{"UserConfig": {"Namespaces": [{"Name": "ns", "Queues": [{"Name": "only"}]}]}}')
    assert [e.path for e in load_entities(tmp_path, {ENV_VAR: "emulator/Config.json"})] == ["only"]
    with pytest.raises(ConfigError, match="not a file"):
        config_path(tmp_path, {ENV_VAR: "nope.json"})
    (tmp_path / "servicebus.config.json").write_text("{ broken")
    with pytest.raises(ConfigError, match="Unable to parse Service Bus entity config"):
        load_entities(tmp_path, {})
