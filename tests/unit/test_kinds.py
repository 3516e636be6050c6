"""The table of binding kinds: each type finds its kind, a kind's needs open what it needs, and a kind that exists
only in this test, added by one line in the table, is validated, loaded and invoked by an instance built as
``overcast start`` builds it."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from overcast import kinds
from overcast.app.spec import BindingSpec, FunctionSpec
from overcast.invoke.model import Invocation
from overcast.kinds import GENERIC, BindingKind, BindingValues, Need, kind_of, needs_of


@pytest.mark.parametrize(("binding_type", "name", "trigger", "input", "output"), [
    ("httpTrigger", "HttpKind", True, False, True),
    ("http", "HttpKind", True, False, True),
    ("queueTrigger", "QueueKind", True, False, True),
    ("blobTrigger", "BlobKind", True, True, True),
    ("table", "TableKind", False, True, True),
    ("timerTrigger", "TimerKind", True, False, False),
    ("warmupTrigger", "WarmupKind", True, False, False),
    ("WarmupTrigger", "WarmupKind", True, False, False),  # as the host's IsWarmupFunction: any case
    ("orchestrationTrigger", "OrchestrationKind", True, False, False),
    ("activityTrigger", "ActivityKind", True, False, False),
    ("entityTrigger", "EntityKind", True, False, False),
    ("durableClient", "DurableClientKind", False, True, False),
    ("orchestrationClient", "DurableClientKind", False, True, False),
    ("QueueTrigger", "BindingKind", False, False, False),  # exact names, as before the table
    ("serviceBusTrigger", "ServiceBusKind", True, False, True),
    ("serviceBus", "ServiceBusKind", True, False, True),
    ("kafkaTrigger", "BindingKind", False, False, False),
    ("tableTrigger", "TableKind", False, True, True),  # a kind without the trigger role
])
def test_each_type_finds_its_kind(binding_type: str, name: str, trigger: bool, input: bool, output: bool) -> None:
    kind = kind_of(binding_type)
    assert (type(kind).__name__, kind.trigger, kind.input, kind.output) == (name, trigger, input, output)


def _binding(binding_type: str) -> BindingSpec:
    direction = "out" if binding_type in ("http", "queue", "serviceBus") else "in"
    return BindingSpec("b", binding_type, direction, None, {})


@pytest.mark.parametrize(("types", "needs"), [
    (["httpTrigger", "http"], set()),
    (["queueTrigger"], {"queues", "consumer"}),
    (["queueTrigger", "queue"], {"queues", "consumer", "producer", "binding_io"}),
    (["httpTrigger", "queue"], {"queues", "producer", "binding_io"}),
    (["blobTrigger"], {"queues", "consumer", "leases", "blobs", "binding_io"}),
    (["httpTrigger", "blob"], {"blobs", "binding_io"}),
    (["httpTrigger", "table"], {"tables", "binding_io"}),
    (["timerTrigger"], {"leases"}),
    (["orchestrationTrigger"], {"durable"}),
    (["httpTrigger", "durableClient"], {"binding_io", "durable"}),
    (["serviceBusTrigger", "serviceBus"], {"servicebus", "binding_io"}),
    (["kafkaTrigger", "kafka"], set()),  # unknown: nothing opened (the function is in error anyway)
    (["warmupTrigger"], set()),
])
def test_needs_follow_the_kinds_of_the_bindings_used(types: list[str], needs: set[str]) -> None:
    assert needs_of(_binding(t) for t in types) == needs


def test_an_unknown_trigger_has_no_listener_and_gets_its_manual_input_as_text() -> None:
    spec = FunctionSpec(name="f", func=lambda: None, directory="", script_file="",
                        bindings=(_binding("kafkaTrigger"),))
    assert kind_of("kafkaTrigger") is GENERIC
    warning = GENERIC.start_warning(spec)
    assert warning is not None and "no listener for 'kafkaTrigger'" in warning
    datum, metadata = GENERIC.manual_input("hello")
    assert (datum.value, datum.type, metadata) == ("hello", "string", {})


# --- A kind that exists only here ---------------------------------------------------------------------------------

class StampKind(BindingKind):
    """``overcastTestKindTrigger`` fires once with "tick"; an ``overcastTestKind`` input is its ``word`` with a '!'."""

    trigger = input = listened = True
    trigger_needs: frozenset[Need] = frozenset()
    binding_needs: frozenset[Need] = frozenset({"binding_io"})
    listener = f"{__name__}:stamp_listeners"

    def problems(self, binding: BindingSpec, environ: Mapping[str, str]) -> list[str]:
        if not binding.is_trigger and not binding.get("word"):
            return [f"Stamp binding '{binding.name}' needs a 'word'."]
        return []

    async def load(self, values: BindingValues, invocation: Invocation, binding: BindingSpec) -> Any:
        from azure.functions.meta import Datum

        return Datum(f"{values.resolve(invocation, binding, 'word')}!", "string")


class StampListener:
    def __init__(self, spec: FunctionSpec, context: Any) -> None:
        self._spec = spec
        self._invoke = context.invoke

    async def run(self) -> None:
        from azure.functions.meta import Datum

        await self._invoke(Invocation(function=self._spec, trigger=Datum("tick", "string"), reason="Stamped."))

    def stop(self) -> None:
        pass

    async def drain(self) -> None:
        pass


def stamp_listeners(specs: list[FunctionSpec], context: Any) -> list[Any]:
    return [StampListener(spec, context) for spec in specs]


APP = '''
    from pathlib import Path

    import azure.functions as func

    app = func.FunctionApp()


    @app.function_name("stamped")
    @app.generic_trigger(arg_name="msg", type="overcastTestKindTrigger")
    @app.generic_input_binding(arg_name="word", type="overcastTestKind", word="hello")
    def stamped(msg: str, word: str) -> None:
        with open(Path(__file__).with_name("stamped.txt"), "a") as out:
            out.write(f"{msg}|{word}\\n")


    @app.function_name("wordless")
    @app.generic_trigger(arg_name="msg", type="overcastTestKindTrigger")
    @app.generic_input_binding(arg_name="word", type="overcastTestKind")
    def wordless(msg: str, word: str) -> None:
        pass


    @app.function_name("stampout")
    @app.generic_trigger(arg_name="msg", type="overcastTestKindTrigger")
    @app.generic_output_binding(arg_name="out", type="overcastTestKind", word="x")
    def stampout(msg: str, out: func.Out[str]) -> None:
        pass
'''


@pytest.fixture
def stamp_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(kinds.KINDS, "overcastTestKind", f"{__name__}:StampKind")  # the one line
    yield
    kinds._loaded.pop("overcastTestKind", None)


def test_a_kind_added_by_one_table_line_is_validated_loaded_and_invoked(stamp_kind: None, tmp_path: Path) -> None:
    from overcast.config.settings import StartOptions, load
    from overcast.host import build

    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text(textwrap.dedent(APP))
    (app / "host.json").write_text('{"version": "2.0"}')
    previous, path = sys.modules.pop("function_app", None), list(sys.path)
    try:
        instance = build(load(StartOptions(script_root=app, data_dir=tmp_path / "data"), environ={}))
    finally:
        sys.path[:] = path  # the app's folder goes: later tests import their own function_app
        sys.modules.pop("function_app", None)
        if previous is not None:
            sys.modules["function_app"] = previous
    try:
        errors = {f.name: f.errors for f in instance.index.functions}
        assert errors["stamped"] == []
        assert errors["wordless"] == ["Stamp binding 'word' needs a 'word'."]  # the kind's start-time check
        [refused] = errors["stampout"]  # an output of an input-only kind
        assert "'overcastTestKind' (binding 'out') is not supported" in refused

        async def serve() -> None:
            instance.triggers.start()  # the kind's listener, built from its table entry
            out = app / "stamped.txt"
            deadline = time.monotonic() + 60  # generous: a loaded CI machine, not a speed check
            while not out.exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            spec = next(f for f in instance.index.functions if f.name == "stamped")
            kind = kind_of("overcastTestKindTrigger")
            manual = await kind.manual_invocation(spec, "by hand", instance.dispatcher.binding_io)
            assert (await instance.dispatcher.invoke(manual)).succeeded
            await instance.triggers.stop(5)

        asyncio.run(serve())
        assert (app / "stamped.txt").read_text().splitlines() == ["tick|hello!", "by hand|hello!"]
    finally:
        instance.close()
