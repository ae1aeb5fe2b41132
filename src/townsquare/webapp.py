"""The browser client at `/`: its built files, an index.html fallback and its small config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel
from starlette.convertors import Convertor, register_url_convertor

from townsquare import __version__
from townsquare.context import AppContext, get_ctx

WEB_ROOT = Path(__file__).parent / "web"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESSIBLE = {".js", ".css", ".html", ".svg", ".json", ".webmanifest", ".map"}
# the API, media, probes and metrics keep their own 404s; everything else is the client's
RESERVED = r"(?!(?:api|media|healthz|readyz|metrics)(?:/|$))"
MISSING_BUILD = """<!doctype html><html lang="en"><meta charset="utf-8"><title>townsquare</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>townsquare</h1><p>The API is running, but the web client has not been built.
Run <code>make web</code> (or <code>make run</code>) and reload.</p>
<p>The API is documented at <a href="/api/v1/docs">/api/v1/docs</a>.</p></body></html>"""


class ClientPath(Convertor[str]):
    """A path the web client owns: anything outside the server's own prefixes."""

    regex = RESERVED + r".*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("client", ClientPath())


class WebConfig(BaseModel):
    """Where the browser finds the real-time gateway, for clients served by this server."""

    gateway_url: str | None
    gateway_port: int
    version: str


router = APIRouter(prefix="/api/v1", tags=["web"])


@router.get("/web/config")
async def web_config(ctx: Annotated[AppContext, Depends(get_ctx)]) -> WebConfig:
    """Tell browsers the gateway's URL; null means this page's host on `gateway_port`."""
    return WebConfig(
        gateway_url=ctx.settings.web_gateway_url,
        gateway_port=ctx.settings.gateway_port,
        version=__version__,
    )


def _inside(root: Path, relative: str) -> Path | None:
    """The file `relative` names under root, or None for anything else (dirs, `..`, links out)."""
    if "\x00" in relative or "\\" in relative:
        return None
    candidate = (root / relative).resolve()
    if not candidate.is_file() or not candidate.is_relative_to(root.resolve()):
        return None
    return candidate


def _file(request: Request, path: Path, *, cache: str) -> Response:
    """Send a file, its gzip twin when the browser takes gzip and the build made one."""
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
    twin = path.with_name(path.name + ".gz")
    accepts = "gzip" in request.headers.get("accept-encoding", "")
    if path.suffix in COMPRESSIBLE and accepts and twin.is_file():
        headers["Content-Encoding"] = "gzip"
        media_type = _media_type(path)
        return FileResponse(twin, media_type=media_type, headers=headers)
    return FileResponse(path, media_type=_media_type(path), headers=headers)


def _media_type(path: Path) -> str | None:
    """Types the standard table lacks or gets wrong for the client's files."""
    return {
        ".js": "text/javascript; charset=utf-8",
        ".webmanifest": "application/manifest+json",
        ".html": "text/html; charset=utf-8",
    }.get(path.suffix)


HASHED = re.compile(r"^assets/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$")


def install(app: FastAPI, root: Path = WEB_ROOT) -> None:
    """Serve the client from `root`; call last, after every API route, so they win."""
    app.include_router(router)

    @app.api_route("/{path:client}", methods=["GET", "HEAD"], include_in_schema=False)
    async def client(request: Request, path: str) -> Response:
        """A built file, else index.html so the client's own routes load on refresh."""
        found = _inside(root, path) if path else None
        if found is not None and found.name != "index.html":
            cache = IMMUTABLE if HASHED.match(path) else REVALIDATE
            return _file(request, found, cache=cache)
        if path.startswith("assets/"):  # a stale hashed name: never answer it with HTML
            return Response(status_code=404, headers={"Cache-Control": REVALIDATE})
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(MISSING_BUILD, headers={"Cache-Control": REVALIDATE})
        return _file(request, index, cache=REVALIDATE)
