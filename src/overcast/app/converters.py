"""Access to the ``azure.functions`` converter registry, with the worker's generic fallback."""

from __future__ import annotations

from typing import Any


class GenericConverter:
    """What the worker uses for unknown binding types and for ``str``/``bytes`` annotations."""

    @classmethod
    def has_trigger_support(cls) -> bool:
        return False

    @classmethod
    def check_input_type_annotation(cls, pytype: type) -> bool:
        return issubclass(pytype, (str, bytes))

    @classmethod
    def check_output_type_annotation(cls, pytype: type) -> bool:
        return issubclass(pytype, (str, bytes, bytearray))

    @classmethod
    def has_implicit_output(cls) -> bool:
        return False

    @classmethod
    def decode(cls, data: Any, *, trigger_metadata: Any) -> Any:
        if data.type in ("string", "bytes"):
            return data.value
        if data.type == "json":
            return data.value
        if data.type is None:
            return None
        raise ValueError(f'unexpected type of data received for the "generic" binding: {data.type!r}')

    @classmethod
    def encode(cls, obj: Any, *, expected_type: Any) -> Any:
        from azure.functions import meta

        if isinstance(obj, str):
            return meta.Datum(type="string", value=obj)
        if isinstance(obj, (bytes, bytearray)):
            return meta.Datum(type="bytes", value=bytes(obj))
        if obj is None:
            return meta.Datum(type=None, value=None)
        if isinstance(obj, (dict, list)):
            import json

            # The worker sends dicts and lists as JSON TypedData.
            return meta.Datum(type="json", value=json.dumps(obj))
        if isinstance(obj, int):  # bool too: the worker tests int first, so True travels as 1
            return meta.Datum(type="int", value=int(obj))
        if isinstance(obj, float):
            return meta.Datum(type="double", value=obj)
        raise NotImplementedError


_CACHE: dict[str, Any] = {}
DEFERRED = "deferred:"  # ParamSpec.converter_type prefix of an SDK-type binding (the binding type follows)


def deferred_converter(binding_type: str, pytype: Any) -> Any:
    """The converter of an SDK-type binding extension (``azurefunctions-extensions-bindings-blob``, ...) for this
    annotation, or None: as the worker's deferred bindings, only when the app imported the extension, and only for
    an annotation the extension's registry supports (an ``SdkType`` subclass)."""
    import sys

    if pytype is None or "azurefunctions.extensions.base" not in sys.modules:
        return None
    import importlib

    registry = importlib.import_module("azurefunctions.extensions.base.meta").get_binding_registry()
    try:
        supported = registry.check_supported_type(pytype)
    except TypeError:
        return None
    return registry.get(binding_type) if supported else None


def get_converter(binding_type: str) -> Any:
    """The library's converter class for a binding type, or the generic one (cached: called per invocation)."""
    cached = _CACHE.get(binding_type)
    if cached is not None:
        return cached
    if binding_type == "generic":
        converter: Any = GenericConverter
    else:
        from azure.functions import meta

        converter = meta.get_binding_registry().get(binding_type)  # type: ignore[no-untyped-call]
        if converter is None:
            converter = GenericConverter
    _CACHE[binding_type] = converter
    return converter


def has_implicit_output(binding_type: str) -> bool:
    """Whether a binding of this type lets the function return a value without a ``$return`` binding.

    As the worker's ``bindings.meta.has_implicit_output``: bindings whose type has no converter in the library
    (table, orchestrationClient, ...) fall to its generic binding, which says yes except for ``durableClient``.
    """
    converter = get_converter(binding_type)
    if converter is GenericConverter:
        return binding_type != "durableClient"
    return bool(getattr(converter, "has_implicit_output", lambda: False)())
