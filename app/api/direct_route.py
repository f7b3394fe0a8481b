"""A route class for the busiest JSON routes: FastAPI's contract, a fraction of its work.

FastAPI's generic request handling (solving dependencies, reading a body in every form it
accepts, validating the returned model again) costs about 0.2 ms of CPU per request, more than
the ticket look-up's own queries. For a route whose parameters are one JSON body model, the
Request and dependencies that take only the Request (the role checks of app.api.deps), this
handler takes the same steps directly, in FastAPI's order: the body is parsed, each dependency
is called (so a missing token is 401 before a bad field is 422), the body is validated by the
same model, the endpoint runs and its model is serialised by the route's response field.

Whatever is not that plain case goes to FastAPI's own handler with the same request (its body
is read once and kept): another or no content type, JSON that does not parse or validate,
dependency overrides (tests). So every error answer is FastAPI's, word for word. A route whose
parameters are anything else is always served by FastAPI's handler.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any

import fastapi.routing
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class _Plan:
    """How to call one endpoint without FastAPI's dependency solving."""

    def __init__(self, route: Any) -> None:
        dependant = route.dependant
        if (dependant.path_params or dependant.query_params or dependant.header_params
                or dependant.cookie_params or len(dependant.body_params) != 1
                or dependant.response_param_name or dependant.background_tasks_param_name
                or dependant.websocket_param_name or dependant.security_scopes_param_name
                or dependant.http_connection_param_name or route.response_field is None
                or not inspect.iscoroutinefunction(dependant.call)):
            raise TypeError("not a plain JSON route")
        body = dependant.body_params[0]
        model = body.field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError("the body is not one model")
        if getattr(route, "embed_body_fields", False) or getattr(body.field_info, "embed", False):
            raise TypeError("an embedded body")
        self.model: type[BaseModel] = model
        self.body_name: str = body.name
        self.request_name: str | None = dependant.request_param_name
        self.checks: list[tuple[str, Callable[[Request], Coroutine[Any, Any, Any]]]] = []
        for dep in dependant.dependencies:
            only_request = (
                dep.request_param_name is not None and not dep.dependencies
                and not (dep.path_params or dep.query_params or dep.header_params
                         or dep.cookie_params or dep.body_params)
                and dep.name is not None and inspect.iscoroutinefunction(dep.call)
            )
            if not only_request:
                raise TypeError(f"dependency {dep.call!r} needs more than the request")
            self.checks.append((dep.name, dep.call))
        self.endpoint = dependant.call
        self.response_field = route.response_field
        self.status_code: int = route.status_code or 200
        self.overrides = route.dependency_overrides_provider


def _is_json(content_type: str | None) -> bool:
    # Only the common spelling is taken here; FastAPI's handler judges every other one.
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() in (
        "application/json",
    )


class DirectJsonRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        generic = super().get_route_handler()
        # The route as included (with its router's prefix and dependencies), as FastAPI's own
        # handler sees it; in versions without inclusion contexts, the route itself.
        var = getattr(fastapi.routing, "_effective_route_context_var", None)
        context = var.get() if var is not None else None
        route = context if context is not None and context.original_route is self else self
        try:
            plan = _Plan(route)
        except (TypeError, AttributeError):  # not a plain JSON route, or another FastAPI
            return generic
        return _direct(plan, generic)


def _direct(plan: _Plan, generic: Handler) -> Handler:
    async def handler(request: Request) -> Response:
        if (not _is_json(request.headers.get("content-type"))
                or getattr(plan.overrides, "dependency_overrides", None)):
            return await generic(request)
        raw = await request.body()
        try:
            data = json.loads(raw)
        except ValueError:  # JSON that does not parse, or bytes that are not text
            return await generic(request)
        values: dict[str, Any] = {}
        for name, check in plan.checks:
            values[name] = await check(request)
        try:
            values[plan.body_name] = plan.model.model_validate(data)
        except ValidationError:
            return await generic(request)
        if plan.request_name is not None:
            values[plan.request_name] = request
        result = await plan.endpoint(**values)
        if isinstance(result, Response):
            return result
        value, errors = plan.response_field.validate(result, {}, loc=("response",))
        if errors:  # as FastAPI does: the endpoint broke its promise, a server error
            raise ResponseValidationError(errors=errors, body=result)
        return Response(plan.response_field.serialize_json(value), plan.status_code,
                        media_type="application/json")

    return handler
