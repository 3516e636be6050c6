"""Sending events to a topic: a local topic of this app (the store's inbox) or any Event Grid-compatible endpoint.

The output binding's ``topicEndpointUri`` names an app setting. Its value decides where events go:

- unset or empty: the local topic named like the setting (``MyTopicUri`` -> topic ``mytopicuri``);
- a bare name (``orders``): that local topic;
- a URL of this host's local topics (``http://localhost:7071/runtime/webhooks/eventgrid/topics/orders``, with or
  without ``/api/events``): that local topic, without an HTTP round trip;
- any other URL: an HTTP POST of the events (a JSON array) with the ``aeg-sas-key`` header, as the extension's
  ``EventGridPublisherClient`` sends them; a status other than 2xx fails the invocation.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from overcast.errors import InputError
from overcast.eventgrid.events import is_cloud_event

LOCAL_TOPIC_PATH = re.compile(r"^/runtime/webhooks/eventgrid/topics/(?P<topic>[A-Za-z0-9_.-]+)(?:/api/events)?/?$",
                              re.IGNORECASE)
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
SEND_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Destination:
    topic: str | None = None  # a local topic (lower-case)
    url: str | None = None  # a remote endpoint
    key: str | None = None  # the aeg-sas-key for the remote endpoint


def local_topic_of(url: str, own_hosts: Sequence[str]) -> str | None:
    """The local topic a URL names when it points at this host (``own_hosts``: ``host:port`` forms)."""
    parsed = urlparse(url)
    match = LOCAL_TOPIC_PATH.match(parsed.path or "")
    if match is None:
        return None
    host = (parsed.hostname or "").lower()
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    ours = {h.lower() for h in own_hosts}
    if f"{host}:{port}" in ours or (host in _LOOPBACK and any(o.endswith(f":{port}") for o in ours)):
        return match["topic"].lower()
    return None


def destination(setting: str, key_setting: str | None, environ: Mapping[str, str],
                own_hosts: Sequence[str]) -> Destination:
    value = (environ.get(setting) or "").strip()
    if not value:
        return Destination(topic=setting.lower())
    if "://" not in value:
        return Destination(topic=value.lower())
    local = local_topic_of(value, own_hosts)
    if local is not None:
        return Destination(topic=local)
    key = environ.get(key_setting) if key_setting else None
    return Destination(url=value, key=key)


def output_events(datum: Any, binding_name: str) -> list[dict[str, Any]]:
    """The events an ``eventGrid`` output was set to: one event or a list (JSON text, dicts, library events)."""
    value = getattr(datum, "value", datum)
    kind = getattr(datum, "type", None)
    if value is None:
        return []
    if kind == "bytes" or isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8")
    parsed = json.loads(value) if isinstance(value, str) else value
    items = parsed if isinstance(parsed, list) else [parsed]
    events: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, str):  # a list of JSON strings (the library keeps str items as they are)
            item = json.loads(item)
        if not isinstance(item, dict):
            raise InputError(f"Event Grid output '{binding_name}': each event must be a JSON object, got "
                             f"{type(item).__name__}.")
        events.append(item)
    return events


def post_events(url: str, key: str | None, events: Sequence[Mapping[str, Any]]) -> None:
    """POST the events to an Event Grid endpoint (blocking; run it off the event loop). OSError on failure."""
    cloud = bool(events) and all(is_cloud_event(e) for e in events)
    headers = {"content-type": "application/cloudevents-batch+json; charset=utf-8" if cloud
               else "application/json; charset=utf-8"}
    if key:
        headers["aeg-sas-key"] = key
    request = urllib.request.Request(url, data=json.dumps(list(events)).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as reply:
            reply.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        raise OSError(f"The Event Grid endpoint {url} answered {exc.code}: {detail}") from None
    except urllib.error.URLError as exc:
        raise OSError(f"The Event Grid endpoint {url} cannot be reached: {exc.reason}") from None
