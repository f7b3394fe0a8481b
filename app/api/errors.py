"""One error body everywhere: {"error": {"code", "message", "details"}}; no 500 for bad input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    429: "too_many_requests",
}

# JSON request bodies above this are refused with 413 before they are read.
MAX_BODY_BYTES = 64 * 1024


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


ERROR_TEXTS = {
    401: "no token, or an unknown, revoked or expired one",
    403: "the token's role may not do this",
    404: "not found",
    409: "not allowed in the current state",
    400: "the body is not JSON",
    413: f"request body larger than {MAX_BODY_BYTES // 1024} KB",
    422: "invalid input: the fields and their problems are in details",
    429: "too many failed attempts; Retry-After says when to try again",
    503: "a service this needs is not running",
}


def documented(*codes: int, **texts: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error codes; texts override a description (`e404=...`)."""
    return {
        code: {"model": ErrorOut, "description": texts.get(f"e{code}", ERROR_TEXTS[code])}
        for code in codes
    }


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """The methods some route serves at this path (a 405's Allow lists all of them, not only
    those of the first route that matched the path)."""
    found = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in app.router.routes):
            found.append(method)
    return found


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg", "")}
            for err in exc.errors()
        ]
        fields = ", ".join(d["field"] for d in details)
        return JSONResponse(error_body("invalid_request", f"invalid input: {fields}", details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "internal error; it has been logged"), 500)
