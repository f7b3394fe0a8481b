"""Pages and their assets, all served by the app itself so they work without internet:
`/static/...` (this package's files), `/static/docs/...` (Swagger UI and ReDoc from a Python
package) and one route per page. A page is `static/<name>.html` plus its script."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
# Swagger UI 5 and ReDoc 2 as fastapi-offline ships them (OpenAPI 3.1, which FastAPI writes).
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
# Each page at /<name>: static/<name>.html. "" is the index listing them.
PAGES = {"": "index", "desk": "desk", "qa": "qa", "reports": "reports", "wall": "wall"}


def page_route(app: FastAPI, path: str, name: str) -> None:
    html = STATIC / f"{name}.html"

    async def serve() -> FileResponse:
        return FileResponse(html, media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    app.add_api_route(f"/{path}", serve, include_in_schema=False, methods=["GET"])


def install_pages(app: FastAPI) -> None:
    app.mount("/static/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - docs",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png")

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - ReDoc",
            redoc_js_url="/static/docs/redoc.standalone.js",
            redoc_favicon_url="/static/docs/favicon.png", with_google_fonts=False)

    async def favicon() -> FileResponse:
        return FileResponse(DOCS_ASSETS / "favicon.png", media_type="image/png")

    app.add_api_route("/favicon.ico", favicon, include_in_schema=False, methods=["GET"])
    app.add_api_route("/docs", docs, include_in_schema=False, methods=["GET"])
    app.add_api_route("/redoc", redoc, include_in_schema=False, methods=["GET"])
    for path, name in PAGES.items():
        page_route(app, path, name)
