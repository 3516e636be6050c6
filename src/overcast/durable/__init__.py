"""Durable Functions for apps written with ``azure-functions-durable`` 1.x.

The SDK replays orchestrators itself; this package keeps each instance's history, runs *episodes* (build the
context JSON, read the actions the SDK returns, decide which events to append and which work to send) and serves
the durable HTTP API. ``core/`` is the pure part (``model``, ``history``, ``actions``, ``replay``,
``episode``, ``context_json``, ``entities``...): no I/O, no clock, no randomness. ``api/`` serves the HTTP API,
``store/`` is the durable store protocol with its backends, and the engine loops (``engine``, ``commit``,
``entity_runner``, ``hosting``) live here at the top.
The contract is ``shared/spec/durable-protocol.md``.
"""
