"""Start-time binding checks: a missing connection setting of a non-storage service is said once per service and
setting (naming every function that uses it), a real namespace puts the function in error, an unknown binding type
is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast import kinds
from overcast.app.index import AppIndex
from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.binding_checks import check_bindings, defaulted_notice, emulator_notice
from overcast.kinds import BindingKind


class BusKind(BindingKind):
    trigger = output = listened = connection = True
    service = "servicebus"


@pytest.fixture
def bus_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(kinds.KINDS, "testBus", f"{__name__}:BusKind")
    kinds._loaded.pop("testBus", None)
    yield
    kinds._loaded.pop("testBus", None)


def _function(name: str, *bindings: BindingSpec) -> FunctionSpec:
    return FunctionSpec(name=name, func=lambda: None, bindings=bindings, directory=".", script_file="function_app.py")


def _bus(name: str, direction: str, connection: str | None, trigger: bool = False) -> BindingSpec:
    data = {"connection": connection} if connection else {}
    return BindingSpec(name, "testBusTrigger" if trigger else "testBus", direction, None, data)


def test_a_missing_setting_is_one_line_naming_every_function(bus_kind: None) -> None:
    index = AppIndex("v2", [
        _function("Receive", _bus("msg", "in", "Bus", trigger=True)),
        _function("Send", _bus("msg", "in", "Bus", trigger=True), _bus("out", "out", "Bus")),
    ])
    lines = check_bindings(index, {}, ["embedded"])
    assert lines == [defaulted_notice("servicebus", "Bus", ["Receive", "Send"])]
    assert all(not f.errors for f in index.functions)


@pytest.mark.parametrize(("value", "in_error"), [
    ("Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;"
     "UseDevelopmentEmulator=true;", False),
    ("Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
     "SharedAccessKey=abc=", True),
])
def test_an_emulator_string_is_announced_and_a_real_namespace_is_an_error(bus_kind: None, value: str,
                                                                          in_error: bool) -> None:
    index = AppIndex("v2", [_function("Receive", _bus("msg", "in", "Bus", trigger=True))])
    lines = check_bindings(index, {"Bus": value}, ["embedded"])
    assert lines == ([] if in_error else [emulator_notice("servicebus", "Bus", ["Receive"])])
    assert bool(index.functions[0].errors) is in_error
    assert "abc=" not in " ".join(index.functions[0].errors)


def test_the_notice_says_where_the_data_lives() -> None:
    line = defaulted_notice("eventhubs", "EventHubConnection", ["b", "a"])
    assert line.startswith("No app setting 'EventHubConnection' exists: Event Hubs for a, b uses Overcast's embedded")


def test_an_unknown_output_type_puts_its_function_in_error() -> None:
    index = AppIndex("v2", [_function("F", BindingSpec("req", "httpTrigger", "in", None, {}),
                                      BindingSpec("o", "signalR", "out", None, {}))])
    check_bindings(index, {}, ["embedded"])
    assert "'signalR'" in index.functions[0].errors[0]
