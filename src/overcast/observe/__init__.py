"""Observability at the bottom of the import graph: the invocation scope and the log pipeline."""
