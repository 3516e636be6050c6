"""Fixtures of the end-to-end tests. Helpers live in ``hosting`` (a unique module name: test folders each have a
conftest.py, and tests import helpers by module name)."""

from hosting import start_host

__all__ = ["start_host"]
