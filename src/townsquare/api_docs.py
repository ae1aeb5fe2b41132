"""The interactive API docs (Swagger UI), served from the package so they work offline."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

DOCS_URL = "/api/v1/docs"
ASSETS_URL = f"{DOCS_URL}/assets"
# fastapi-offline ships a current Swagger UI build (OpenAPI 3.1) as plain files; we only serve them
_ASSETS = Path(fastapi_offline.__file__).parent / "static"


def install_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /api/v1/docs with its scripts from the package, never a CDN."""
    app.mount(ASSETS_URL, StaticFiles(directory=_ASSETS), name="api-docs-assets")
    openapi_url = app.openapi_url or "/api/v1/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )
