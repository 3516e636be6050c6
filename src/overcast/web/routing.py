"""HTTP functions → route table, with the host's per-function route errors and fatal template errors."""

from __future__ import annotations

from dataclasses import dataclass

from overcast.app.index import AppIndex
from overcast.app.spec import FunctionSpec
from overcast.errors import AppLoadError, RouteTemplateError
from overcast.web.routes import Router, RouteTemplate, build_template, is_reserved_route, routes_conflict

AUTH_LEVELS = ("anonymous", "function", "admin")


@dataclass(frozen=True)
class FunctionRoute:
    spec: FunctionSpec
    template: RouteTemplate
    route: str
    methods: frozenset[str] | None
    auth_level: str  # anonymous | function | admin


def _methods(spec: FunctionSpec) -> frozenset[str] | None:
    methods = spec.trigger.get("methods")
    if not methods:
        return None
    if isinstance(methods, str):
        methods = [methods]
    return frozenset(str(m).upper() for m in methods)


def _auth_level(spec: FunctionSpec) -> str:
    level = str(spec.trigger.get("authLevel") or "function").lower()
    # "user" and "system" exist in the enum but are not usable from Python; treat them as function-level.
    return level if level in AUTH_LEVELS else "function"


def build_routes(index: AppIndex, route_prefix: str) -> list[FunctionRoute]:
    """Routes of the loaded HTTP functions in name order; reserved/conflicting routes put the function in error.

    Raises AppLoadError for a template the host cannot parse (that stops the Azure host too).
    """
    routes: list[FunctionRoute] = []
    for spec in index.functions:
        if not spec.is_http or spec.in_error:
            continue
        route = spec.trigger.get("route")
        route = spec.name if route is None or not str(route).strip() else str(route)
        if spec.http_type in ("asgi", "wsgi") and route_prefix:
            raise AppLoadError(
                f"Function '{spec.name}' is an {spec.http_type.upper()} app (route '{route}'): with routePrefix "
                f"'{route_prefix}' its template would be '{route_prefix}/{route}', which the Azure host rejects. "
                f'Add "extensions": {{"http": {{"routePrefix": ""}}}} to host.json.'
            )
        if is_reserved_route(route):
            spec.errors.append("The specified route conflicts with one or more built in routes.")
            continue
        template_text = build_template(route_prefix, route)
        try:
            template = RouteTemplate.parse(template_text)
        except RouteTemplateError as exc:
            raise AppLoadError(
                f"A host error has occurred during startup operation: An error occurred while creating the route "
                f"with name '{spec.name}' and template '{template_text}'. {exc}"
            ) from None
        methods = _methods(spec)
        clash = next((r for r in routes if routes_conflict(r.route, route, r.methods, methods)), None)
        if clash is not None:
            spec.errors.append(f"The route specified conflicts with the route defined by function '{clash.spec.name}'.")
            continue
        routes.append(FunctionRoute(spec, template, route, methods, _auth_level(spec)))
    return routes


def make_router(routes: list[FunctionRoute]) -> Router[FunctionRoute]:
    return Router([(r.template, r.methods, r) for r in routes])
