"""File attachments of chat (`type: file`): documents and archives recognised by their bytes,
never by the name or type the client claims, and only from a short list that browsers do not
run (no HTML, SVG or scripts)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from townsquare.core.errors import PayloadTooLarge

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NAME = 120
FOLDER = "chat-files"
# Office Open XML and OpenDocument files are ZIP archives; their own suffix is kept when the
# client's file name has one, so they open in the right application.
ZIP_SUFFIXES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".zip": "application/zip",
}
TEXT_SUFFIXES = {".txt": "text/plain", ".csv": "text/csv", ".md": "text/markdown"}
_UNSAFE = re.compile(r"[^\w.\- ()\[\]]+")


@dataclass(frozen=True, slots=True)
class ChatFile:
    """A recognised file: what it is, the suffix it is stored with, and a safe display name."""

    content_type: str
    suffix: str
    name: str
    data: bytes


def safe_name(filename: str, suffix: str) -> str:
    """A display name without paths, control characters or markup, ending in `suffix`."""
    base = PurePosixPath(filename.replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    stem = _UNSAFE.sub("_", PurePosixPath(base).stem).strip(" ._") or "file"
    return stem[: MAX_NAME - len(suffix)] + suffix


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detect(data: bytes, filename: str) -> ChatFile | None:
    """The file if it is a PDF, a ZIP-based document or plain UTF-8 text; None otherwise (the
    caller then tries images and videos). Raises 413 past `MAX_FILE_BYTES`."""
    claimed = PurePosixPath(filename.lower()).suffix
    if data.startswith(b"%PDF-"):
        content_type, suffix = "application/pdf", ".pdf"
    elif data.startswith(b"PK\x03\x04"):
        suffix = claimed if claimed in ZIP_SUFFIXES else ".zip"
        content_type = ZIP_SUFFIXES[suffix]
    elif claimed in TEXT_SUFFIXES and _is_text(data):
        content_type, suffix = TEXT_SUFFIXES[claimed], claimed
    else:
        return None
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"Files may be at most {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return ChatFile(content_type, suffix, safe_name(filename, suffix), data)
