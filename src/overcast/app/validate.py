"""The checks the host (§1.5) and the Python worker (§1.6) apply to an indexed function.

Host checks make one function "in error" and the rest of the app loads. Worker checks raise
:class:`FunctionLoadError`; in the v2 model the caller turns that into a whole-app failure, as Azure does.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from overcast.app.converters import DEFERRED, deferred_converter, get_converter, has_implicit_output
from overcast.app.spec import BindingSpec, ParamSpec
from overcast.errors import FunctionLoadError

FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$", re.IGNORECASE)
BINDING_NAME = re.compile(r"^([a-zA-Z][a-zA-Z0-9]{0,127}|\$return)$")


def host_errors(name: str, bindings: typing.Sequence[BindingSpec]) -> list[str]:
    """Per-function errors of the host's metadata validation, in the host's wording plus a hint."""
    errors: list[str] = []
    if not FUNCTION_NAME.match(name) or name.lower() == "host":
        errors.append(
            f"'{name}' is not a valid function name. Names start with a letter and use letters, digits, '_' "
            f"and '-' (at most 128 characters); 'host' is reserved."
        )
    if not bindings:
        errors.append("At least one binding must be declared.")
    seen: set[str] = set()
    for binding in bindings:
        if not BINDING_NAME.match(binding.name):
            errors.append(
                f"The binding name {binding.name} is invalid. Please assign a valid name to the binding. "
                f"(Binding names use letters and digits only, starting with a letter: no '_'.)"
            )
        if binding.name.lower() in seen:
            errors.append(f"Multiple bindings with name '{binding.name}' discovered. Binding names must be unique.")
        seen.add(binding.name.lower())
        if binding.name == "$return" and binding.direction != "out":
            errors.append("$return binding must have direction 'out'.")
    typos = [(b, _close_binding_types(b.type)) for b in bindings]
    typos = [(b, close) for b, close in typos if close]
    for binding, close in typos:
        errors.append(
            f"Unknown binding type '{binding.type}' (binding '{binding.name}'). Did you mean "
            f"{' or '.join(repr(c) for c in close)}?"
        )
    misspelt_trigger = any(c.lower().endswith("trigger") for _, close in typos for c in close)
    if bindings and not misspelt_trigger and not any(b.is_trigger and b.direction == "in" for b in bindings):
        errors.append("No trigger binding specified. A function must have a trigger input binding.")
    return errors


# Binding types of extensions the library has no decorator for, and the durable extension's older client name.
_OTHER_BINDING_TYPES = (
    "orchestrationClient", "manualTrigger", "twilioSms", "sendGrid", "signalR", "signalRConnectionInfo",
    "signalRTrigger", "notificationHub", "rabbitMQ", "rabbitMQTrigger", "webPubSub", "webPubSubTrigger",
    "webPubSubConnection", "redisPubSubTrigger", "redisListTrigger", "redisStreamTrigger", "documentDB",
)


def known_binding_types() -> frozenset[str]:
    """Binding types some Azure extension registers: the library's decorators' types and a few more."""
    from azure.functions.decorators import constants

    names = {v for k, v in vars(constants).items() if k.isupper() and isinstance(v, str) and v[:1].islower()}
    return frozenset(names | set(_OTHER_BINDING_TYPES))


def _close_binding_types(binding_type: str) -> list[str]:
    """Known types a misspelt one is close to ('queueTriger' → 'queueTrigger'); [] when the type is known (in any
    case, as the host compares names) or close to nothing, which leaves it to the "not supported" check."""
    import difflib

    known = known_binding_types()
    if binding_type.lower() in {k.lower() for k in known}:
        return []
    return difflib.get_close_matches(binding_type, sorted(known), n=3, cutoff=0.8)


def _is_out_annotation(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    target = origin if origin is not None else annotation
    return isinstance(target, type) and target.__name__ == "Out"


def _type_name(pytype: Any) -> str:
    return getattr(pytype, "__name__", repr(pytype))


def _check_param(
    name: str, param: inspect.Parameter, binding: BindingSpec, annotations: dict[str, Any], streaming: Any
) -> ParamSpec:
    has_anno = param.name in annotations
    anno = annotations.get(param.name)
    is_param_out = has_anno and _is_out_annotation(anno)
    is_binding_out = binding.direction == "out"
    pytype: Any = anno
    if is_param_out:
        args = typing.get_args(anno)
        if len(args) != 1:
            raise FunctionLoadError(name, f"binding {param.name} has invalid Out annotation {anno!r}")
        pytype = args[0]
    if has_anno and not isinstance(pytype, type) and typing.get_origin(pytype) is None:
        raise FunctionLoadError(name, f"binding {param.name} has invalid non-type annotation {anno!r}")
    if is_binding_out and has_anno and not is_param_out:
        raise FunctionLoadError(
            name,
            f'binding {param.name} is declared to have the "out" direction, but its annotation in Python is '
            f"not a subclass of azure.functions.Out. Annotate it as func.Out[...] (or leave it unannotated).",
        )
    if not is_binding_out and is_param_out:
        raise FunctionLoadError(
            name,
            f'binding {param.name} is declared to have the "in" direction, but its annotation is '
            f"azure.functions.Out in Python",
        )
    # As the worker: str/bytes annotations use the generic converter, except on bindings with an implicit output
    # (activity, orchestration and entity triggers), whose own converter decodes them.
    generic = has_anno and pytype in (str, bytes) and not has_implicit_output(binding.type)
    converter_type = "generic" if generic else binding.type
    if streaming is not None and binding.type == "httpTrigger":
        if not (has_anno and isinstance(pytype, type) and streaming(pytype)):
            raise FunctionLoadError(
                name,
                f"HTTP streaming is enabled (azurefunctions.extensions.http.fastapi is imported), so the trigger "
                f"parameter {param.name} must be annotated with the extension's Request type.",
            )
        return ParamSpec(param.name, binding, "httpTrigger", pytype, False)
    if has_anno and not is_param_out and deferred_converter(binding.type, pytype) is not None:
        # An SDK-type binding: the host sends model binding data and the extension builds the SDK client.
        return ParamSpec(param.name, binding, f"{DEFERRED}{binding.type}", pytype, False)
    if has_anno:
        converter = get_converter(converter_type)
        try:
            # As the worker: the converter gets the annotation itself, typing aliases included (List[str],
            # List[func.QueueMessage], ...), so its own iterable checks decide.
            ok = (
                converter.check_output_type_annotation(pytype)
                if is_param_out
                else converter.check_input_type_annotation(pytype)
            )
        except TypeError:
            ok = False
        if not ok:
            detail = f' and dataType "{binding.data_type}"' if binding.data_type else ""
            alias = (
                f" ({pytype!r}: the azure-functions library's own check rejects it, so it fails on Azure too)"
                if typing.get_origin(pytype) is not None else ""
            )
            raise FunctionLoadError(
                name,
                f'type of {param.name} binding "{binding.type}"{detail} does not match its Python annotation '
                f'"{_type_name(pytype)}"{alias}',
            )
    return ParamSpec(param.name, binding, converter_type, pytype, is_binding_out)


# The durable SDK wraps orchestrators and entities in a function whose one parameter is named "context".
_WRAPPED_DURABLE_TRIGGERS = {"orchestrationTrigger": "orchestration_trigger", "entityTrigger": "entity_trigger"}


def _check_durable_context_name(name: str, params: dict[str, inspect.Parameter], bound: dict[str, BindingSpec]) -> None:
    """``@app.orchestration_trigger(context_name="ctx")``: say what is wrong instead of the worker's message about a
    ``context`` parameter the user never wrote (the app fails on Azure too, with that indirect message)."""
    for binding in bound.values():
        decorator = _WRAPPED_DURABLE_TRIGGERS.get(binding.type)
        if decorator is None or binding.name == "context" or binding.name in params:
            continue
        if list(params) == ["context"]:
            raise FunctionLoadError(
                name,
                f'@app.{decorator}(context_name="{binding.name}") cannot work: the durable SDK wraps your function '
                f'in one whose parameter is always named "context", so the binding name must be "context" (this '
                f'fails on Azure too). Use context_name="context"; your own function\'s parameter can keep any '
                f"name, it receives the context positionally.",
            )


def worker_check(
    name: str, func: Callable[..., Any], bindings: typing.Sequence[BindingSpec], streaming: Any = None
) -> tuple[tuple[ParamSpec, ...], bool, str | None, Any]:
    """The worker's load validation: returns (params, needs_context, return converter type, return type).

    ``streaming`` is the HTTP-streaming request type check, when the FastAPI extension is active.
    """
    try:
        signature = inspect.signature(func)
        annotations = typing.get_type_hints(func)
    except Exception as exc:
        raise FunctionLoadError(name, f"cannot read the signature or annotations: {exc}") from None
    params = dict(signature.parameters)
    bound: dict[str, BindingSpec] = {}
    explicit_return: str | None = None
    implicit_return: str | None = None
    for binding in bindings:
        if binding.direction == "inout":
            raise FunctionLoadError(name, '"inout" bindings are not supported')
        if binding.name == "$return":
            if binding.direction != "out":
                raise FunctionLoadError(name, '"$return" binding must have direction set to "out"')
            explicit_return = explicit_return or binding.type
        else:
            bound[binding.name] = binding
            # As the worker (functions.py get_return_binding): any binding, not only the trigger, can give the
            # function an implicit return value; the last such binding's type encodes it.
            if has_implicit_output(binding.type):
                implicit_return = binding.type
    return_type = explicit_return or implicit_return
    _check_durable_context_name(name, params, bound)
    needs_context = False
    if "context" in params and "context" not in bound:
        needs_context = True
        params.pop("context")
        ctx = annotations.get("context")
        if ctx is not None and (not isinstance(ctx, type) or ctx.__name__ != "Context"):
            raise FunctionLoadError(
                name, f'the "context" parameter is expected to be of type azure.functions.Context, got {ctx!r}'
            )
    extra, missing = set(params) - set(bound), set(bound) - set(params)
    if extra:
        raise FunctionLoadError(
            name,
            f"the following parameters are declared in Python but not in the bindings: {sorted(extra)!r}. "
            f"Add a binding decorator for each, or remove the parameter.",
        )
    if missing:
        raise FunctionLoadError(
            name,
            f"the following parameters are declared in the bindings but not in Python: {sorted(missing)!r}. "
            f"The function needs a parameter named after each binding's arg_name.",
        )
    specs = tuple(_check_param(name, p, bound[p.name], annotations, streaming) for p in params.values())
    return_pytype: Any = None
    if explicit_return is None and implicit_return is not None:
        return_pytype = annotations.get("return")
    if explicit_return is not None and "return" in annotations and streaming is None:
        return_pytype = annotations["return"]
        if _is_out_annotation(return_pytype):
            raise FunctionLoadError(name, "return annotation should not be azure.functions.Out")
        if not isinstance(return_pytype, type):
            if return_pytype is None or return_pytype is type(None):
                return_pytype = None
            else:
                raise FunctionLoadError(name, f"has invalid non-type return annotation {return_pytype!r}")
        if return_pytype is not None and not get_converter(explicit_return).check_output_type_annotation(
            return_pytype
        ):
            raise FunctionLoadError(
                name,
                f'Python return annotation "{_type_name(return_pytype)}" does not match binding type '
                f'"{explicit_return}"',
            )
    return specs, needs_context, return_type, return_pytype
