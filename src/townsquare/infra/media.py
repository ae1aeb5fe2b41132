"""Media storage: files under the data directory, served at /media/."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path


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
