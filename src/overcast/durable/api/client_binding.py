"""The durable client binding value (spec §6.1) and the management links of one instance.

Overcast serves the durable HTTP API on the public port twice:

* at :data:`WEBHOOK_PATH` (``/runtime/webhooks/durabletask/``), as Azure does: the ``durabletask_extension`` system
  key (or the master key) is required in ``code=`` unless auth is off. Every link a user sees points here.
* at :data:`RPC_PATH` ``/<secret>/`` (``/runtime/webhooks/durabletask/rpc/<secret>/``), the ``rpcBaseUrl`` the
  SDK client calls: no key, but a secret path segment made once per ``overcast start`` (shared by its instances,
  so a call that lands on another instance of the shared socket is answered too). It plays the part of the
  extension's separate loopback listener (``http://127.0.0.1:17071/durabletask/``) without a second port. The
  peer address proves nothing (a port forwarder or proxy on the machine makes every caller look local), so the
  secret is what admits a call; the web layer also refuses browser requests (Origin) and foreign Host names.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = WEBHOOK_PATH + "/rpc"
SYSTEM_KEY_NAME = "durabletask_extension"
DEFAULT_CONNECTION = "Storage"  # the extension's default name for AzureWebJobsStorage
INSTANCE_PLACEHOLDER = "INSTANCEID"  # replaced by the SDK in managementUrls
CHECK_STATUS_RETRY_AFTER = "10"


def new_rpc_secret() -> str:
    """A fresh channel secret: 256 random bits, URL-safe (it is one path segment)."""
    return secrets.token_urlsafe(32)


def rpc_base_url(port: int, secret: str, host: str = "127.0.0.1") -> str:
    """The ``rpcBaseUrl`` for a host listening on ``port``; it ends with '/' because the SDK appends paths to it."""
    if not secret or "/" in secret:
        raise ValueError("the RPC channel secret must be one non-empty path segment")
    authority = f"[{host}]" if ":" in host else host
    return f"http://{authority}:{port}{RPC_PATH}/{secret}/"


@dataclass(frozen=True)
class WebhookLinks:
    """Builds the public webhook URLs for one task hub, as the extension's ``GetClientResponseLinks`` does.

    ``origin`` is ``scheme://host[:port]`` (the request's, or the configured public one); ``connection`` None
    means the default connection; ``system_key`` None leaves ``code=`` out (auth is off).
    """

    origin: str
    hub: str
    connection: str | None = None
    system_key: str | None = None

    @property
    def base(self) -> str:
        return self.origin.rstrip("/") + WEBHOOK_PATH

    @property
    def code_query(self) -> str:
        return "" if not self.system_key else f"code={quote_plus(self.system_key)}"

    def _suffix(self) -> str:
        suffix = f"taskHub={quote_plus(self.hub)}&connection={quote_plus(self.connection or DEFAULT_CONNECTION)}"
        return f"{suffix}&{self.code_query}" if self.code_query else suffix

    def management_urls(self, instance_id: str, *, placeholder: bool = False) -> dict[str, str]:
        """``managementUrls`` of the binding (``placeholder``: the raw ``INSTANCEID`` the SDK replaces), or the
        links of one instance (its id URL-encoded)."""
        prefix = f"{self.base}/instances/{instance_id if placeholder else quote(instance_id, safe='')}"
        suffix = self._suffix()
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{prefix}?{suffix}",
            "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{suffix}",
            "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{suffix}",
            "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{suffix}",
            "purgeHistoryDeleteUri": f"{prefix}?{suffix}",
            "restartPostUri": f"{prefix}/restart?{suffix}",
            "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{suffix}",
            "resumePostUri": f"{prefix}/resume?reason={{text}}&{suffix}",
        }

    def creation_urls(self) -> dict[str, str]:
        prefix = f"{self.base}/orchestrators/{{functionName}}[/{{instanceId}}]"
        code = self.code_query
        return {
            "createNewInstancePostUri": f"{prefix}?{code}",
            "createAndWaitOnNewInstancePostUri":
                f"{prefix}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{code}",
        }

    def check_status_payload(self, instance_id: str, *, fail_on_failure: bool = False) -> dict[str, str]:
        """The 202 body of a start: the instance's links without ``rewindPostUri`` (as the extension sends it).

        ``fail_on_failure`` adds ``returnInternalServerErrorOnFailure=true`` to the status link.
        """
        urls = self.management_urls(instance_id)
        if fail_on_failure:
            urls["statusQueryGetUri"] += "&returnInternalServerErrorOnFailure=true"
        keys = ("id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri",
                "restartPostUri", "suspendPostUri", "resumePostUri")
        return {key: urls[key] for key in keys}


def check_status_headers(payload: dict[str, str]) -> list[tuple[str, str]]:
    """Headers of the async HTTP 202 pattern for a check-status payload."""
    return [("Location", payload["statusQueryGetUri"]), ("Retry-After", CHECK_STATUS_RETRY_AFTER)]


def client_binding(
    *,
    public_origin: str,
    hub: str,
    connection: str | None,
    system_key: str | None,
    rpc_base: str,
) -> dict[str, Any]:
    """The value of a ``durableClient`` parameter (spec §6.1) as a dict; :func:`client_binding_json` as text.

    ``public_origin``: e.g. ``http://127.0.0.1:7071`` (the links users see); ``connection``: the binding's
    ``connectionName`` (None: the default); ``rpc_base``: see :func:`rpc_base_url`.
    """
    if not rpc_base.endswith("/"):
        raise ValueError(f"rpcBaseUrl must end with '/', because the SDK appends paths to it: {rpc_base!r}")
    links = WebhookLinks(public_origin, hub, connection, system_key)
    return {
        "taskHubName": hub,
        "connectionName": connection,
        "creationUrls": links.creation_urls(),
        "managementUrls": links.management_urls(INSTANCE_PLACEHOLDER, placeholder=True),
        "baseUrl": links.base,
        "requiredQueryStringParameters": links.code_query,
        "rpcBaseUrl": rpc_base,
        "httpBaseUrl": None,
    }


def client_binding_json(
    *, public_origin: str, hub: str, connection: str | None, system_key: str | None, rpc_base: str
) -> str:
    return json.dumps(client_binding(public_origin=public_origin, hub=hub, connection=connection,
                                     system_key=system_key, rpc_base=rpc_base))
