"""The pure core of Durable Functions: the model, the history, the actions the SDK returns, replay, episodes,
entities and the context JSON. No I/O, no clock, no randomness: everything here is a function of its arguments
(``tests/unit/test_layers.py`` keeps it from importing the store, the HTTP API or the engine).
"""
