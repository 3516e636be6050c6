"""Fixtures of the end-to-end tests. Helpers live in :mod:`tests.e2e.hosting`; tests import them by that full name
(``tests/`` is a package, so two folders' ``conftest.py`` or helpers never share a module name)."""

from tests.e2e.hosting import start_host

__all__ = ["start_host"]
