"""CORS as Core Tools configures ASP.NET Core's middleware: listed origins (or '*'), any header, any method."""

from __future__ import annotations


class CorsPolicy:
    def __init__(self, origins: tuple[str, ...], credentials: bool) -> None:
        self.enabled = bool(origins)
        self.any_origin = "*" in origins
        self.origins = frozenset(o.rstrip("/").lower() for o in origins if o != "*")
        self.credentials = credentials

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/").lower() in self.origins

    def _origin_headers(self, origin: str) -> list[tuple[str, str]]:
        headers = [("access-control-allow-origin", "*" if self.any_origin and not self.credentials else origin)]
        if self.credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if not self.any_origin:
            headers.append(("vary", "Origin"))
        return headers

    def preflight(self, origin: str, request_method: str, request_headers: str | None) -> list[tuple[str, str]]:
        """Headers for a preflight answer (always 204); none when the origin is not allowed."""
        if not self.allows(origin):
            return []
        headers = self._origin_headers(origin)
        headers.append(("access-control-allow-methods", request_method))
        if request_headers:
            headers.append(("access-control-allow-headers", request_headers))
        return headers

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        if origin is None or not self.allows(origin):
            return []
        return self._origin_headers(origin)
