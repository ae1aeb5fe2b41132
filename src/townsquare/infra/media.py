"""Media storage: files under the data directory, served at /media/."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

# folders whose files are offered for download only (documents users attached, never images)
DOWNLOAD_ONLY = ("chat-files/",)


class LocalMediaStore:
    """Keeps uploaded files in a local folder; keys are random so URLs cannot be guessed."""

    url_prefix = "/media/"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def new_key(self, folder: str, suffix: str) -> str:
        """A fresh, unguessable key such as `avatars/3f9c….webp`."""
        return f"{folder}/{secrets.token_urlsafe(16)}{suffix}"

    async def save(self, key: str, data: bytes) -> None:
        """Write atomically: a reader never sees half a file."""
        await asyncio.to_thread(self._write, key, data)

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    def url(self, key: str | None) -> str | None:
        return None if key is None else self.url_prefix + key

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("media key escapes the media folder")
        return path


class MediaFiles(StaticFiles):
    """The media folder over HTTP: `nosniff` on everything, and documents as downloads in a
    sandbox, so an uploaded file can never run as a page of this origin."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        download = self.get_path(scope).replace("\\", "/").startswith(DOWNLOAD_ONLY)

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                if download:
                    headers.append((b"content-disposition", b"attachment"))
                    headers.append((b"content-security-policy", b"sandbox; default-src 'none'"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, guarded)
