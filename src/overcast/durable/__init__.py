"""Durable Functions for apps written with ``azure-functions-durable`` 1.x.

The SDK replays orchestrators itself; this package keeps each instance's history, runs *episodes* (build the
context JSON, read the actions the SDK returns, decide which events to append and which work to send) and serves
the durable HTTP API. The pure core is ``model``, ``history``, ``actions``, ``replay``, ``episode``,
``context_json`` and ``entities``: no I/O, no clock, no randomness. Storage and the engine loops live elsewhere.
The contract is ``shared/spec/durable-protocol.md``.
"""
