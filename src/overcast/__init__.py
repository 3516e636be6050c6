"""Overcast: run unmodified Azure Functions Python apps anywhere.

Importing this package is cheap on purpose: no web server, no ``azure.functions``, no driver is imported
until ``overcast start`` (or a command that needs them) runs.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
