"""The start banner, in Core Tools' layout: HTTP functions with methods and URLs, then the others."""

from __future__ import annotations

from collections.abc import Callable

from overcast import __version__
from overcast.app.index import AppIndex
from overcast.config.settings import Settings
from overcast.web.routing import FunctionRoute


def render(
    settings: Settings, index: AppIndex, routes: list[FunctionRoute], port: int,
    key_for: Callable[[FunctionRoute], str | None] | None,
) -> str:
    """``key_for`` gives the key to append as ``?code=`` (only passed when bound to loopback with auth on)."""
    host = "localhost" if settings.is_loopback else settings.address
    if host in ("0.0.0.0", "::"):
        host = "localhost"
    prefix = settings.host_json.http.route_prefix
    lines = ["", f"Overcast {__version__} (Azure Functions host 4.x semantics)", "", "Functions:", ""]
    by_name = {r.spec.name: r for r in routes}
    http = [f for f in index.functions if f.name in by_name]
    others = [f for f in index.functions if not f.is_http and not f.in_error]
    for spec in http:
        route = by_name[spec.name]
        methods = f"[{','.join(sorted(route.methods))}]" if route.methods else ""
        url = f"http://{host}:{port}/" + (f"{prefix}/" if prefix else "") + route.route.lstrip("/")
        key = key_for(route) if key_for is not None and route.auth_level != "anonymous" else None
        if key:
            url += f"?code={key}"
        if spec.disabled:
            lines += [f"\tFunction {spec.name} is disabled.", ""]
        else:
            lines += [f"\t{spec.name}: {methods} {url}", ""]
    for spec in others:
        if spec.disabled:
            lines += [f"\tFunction {spec.name} is disabled.", ""]
        else:
            lines += [f"\t{spec.name}: {spec.trigger.type}", ""]
    if not http and not others:
        lines += ["\tNo functions loaded.", ""]
    if not settings.verbose:
        lines.append("For detailed output, run overcast with --verbose flag.")
    return "\n".join(lines)
