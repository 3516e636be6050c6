"""Declared event hubs in the Event Hubs emulator's config shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overcast.config.eventhubs_config import CONFIG_FILE, CONFIG_VARIABLE, load_hubs_config, parse_hubs_config
from overcast.errors import ConfigError

EMULATOR = {"UserConfig": {"NamespaceConfig": [{"Type": "EventHub", "Name": "emulatorNs1", "Entities": [
    {"Name": "eh1", "PartitionCount": "2", "ConsumerGroups": [{"Name": "cg1"}]},
    {"Name": "Telemetry", "PartitionCount": 8, "ConsumerGroups": [], "MessageRetentionInDays": 0.5},
]}], "LoggingConfig": {"Type": "File"}}}


def test_the_emulators_config_is_read() -> None:
    config = parse_hubs_config(json.dumps(EMULATOR), "Config.json")
    assert config.namespace == "emulatorNs1"
    eh1 = config.declared("EH1")
    assert eh1 is not None and (eh1.partition_count, eh1.consumer_groups, eh1.retention) == (2, ("cg1",), 86400.0)
    telemetry = config.declared("telemetry")
    assert telemetry is not None and (telemetry.partition_count, telemetry.retention) == (8, 43200.0)
    assert config.declared("other") is None


def test_service_bus_namespaces_of_a_shared_file_are_skipped() -> None:
    text = json.dumps({"UserConfig": {"Namespaces": [], "NamespaceConfig": [{"Type": "ServiceBus", "Name": "sb",
                                                                             "Entities": [{"Name": "q"}]}]}})
    assert parse_hubs_config(text, "f").hubs == {}


@pytest.mark.parametrize(("tree", "message"), [
    ("not json", "not valid JSON"),
    ({"NamespaceConfig": []}, "UserConfig"),
    ({"UserConfig": {"NamespaceConfig": {}}}, "must be a list"),
    ({"UserConfig": {"NamespaceConfig": [{"Entities": [{"Name": "a b"}]}]}}, "must be an event hub name"),
    ({"UserConfig": {"NamespaceConfig": [{"Entities": [{"Name": "a", "PartitionCount": "40"}]}]}}, "1 to 32"),
    ({"UserConfig": {"NamespaceConfig": [{"Entities": [{"Name": "a", "PartitionCount": "x"}]}]}}, "1 to 32"),
    ({"UserConfig": {"NamespaceConfig": [{"Entities": [{"Name": "a", "ConsumerGroups": [{}]}]}]}}, "needs a Name"),
    ({"UserConfig": {"NamespaceConfig": [{"Entities": [{"Name": "a"}, {"Name": "A"}]}]}}, "declared twice"),
    ({"UserConfig": {"NamespaceConfig": [{"Entities": [{"Name": "a", "MessageRetentionInDays": 0}]}]}},
     "MessageRetentionInDays"),
])
def test_bad_configs_say_what_is_wrong(tree: object, message: str) -> None:
    text = tree if isinstance(tree, str) else json.dumps(tree)
    with pytest.raises(ConfigError, match=message):
        parse_hubs_config(text, "eventhubs.config.json")


def test_the_file_is_found_in_the_app_folder_or_named_by_the_variable(tmp_path: Path) -> None:
    assert load_hubs_config(tmp_path, {}).hubs == {}
    (tmp_path / CONFIG_FILE).write_text(json.dumps(EMULATOR), encoding="utf-8")
    assert set(load_hubs_config(tmp_path, {}).hubs) == {"eh1", "telemetry"}
    (tmp_path / "other.json").write_text(json.dumps({"UserConfig": {"NamespaceConfig": []}}), encoding="utf-8")
    assert load_hubs_config(tmp_path, {CONFIG_VARIABLE: "other.json"}).hubs == {}
    with pytest.raises(ConfigError, match=f"{CONFIG_VARIABLE} names .*missing.json.* cannot be read"):
        load_hubs_config(tmp_path, {CONFIG_VARIABLE: "missing.json"})
