"""The ``http`` kind: the ``httpTrigger`` trigger (the web app is its listener) and the ``http`` output, which the
web layer answers with (it never goes through the binding I/O)."""

from __future__ import annotations

from overcast.kinds import BindingKind


class HttpKind(BindingKind):
    trigger = output = listened = True
