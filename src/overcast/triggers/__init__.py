"""Trigger listeners: they turn store events into invocations and settle them from the result."""
