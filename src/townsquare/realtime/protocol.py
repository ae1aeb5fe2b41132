"""Engine.IO v4 and Socket.IO v5 packet codecs, plus server-to-client WebSocket framing.

Our own small, strict decoder: every malformed input raises `ProtocolError` (never anything
else), which the fuzz test checks. Encoding is string concatenation so a broadcast can be
encoded once and the same bytes written to every recipient.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

# Engine.IO packet types
EIO_OPEN, EIO_CLOSE, EIO_PING, EIO_PONG, EIO_MESSAGE, EIO_UPGRADE, EIO_NOOP = "0123456"
RECORD_SEPARATOR = "\x1e"

# Socket.IO packet types
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)

MAX_ACK_ID = 2**53 - 1


class ProtocolError(Exception):
    """Input that is not a valid Engine.IO / Socket.IO packet."""


@dataclass(frozen=True, slots=True)
class SioPacket:
    """A decoded Socket.IO packet."""

    type: int
    nsp: str
    id: int | None
    data: Any
    attachments: int = 0


def _reject_constant(value: str) -> Any:
    raise ProtocolError(f"invalid JSON constant {value}")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def decode_sio(text: str) -> SioPacket:
    """Parse `<type>[<n>-][/<nsp>,][<id>][<json>]`; raise ProtocolError on anything else."""
    if not text:
        raise ProtocolError("empty packet")
    kind = text[0]
    if kind not in "0123456":
        raise ProtocolError("unknown packet type")
    ptype = ord(kind) - 48
    i = 1
    n = len(text)
    attachments = 0
    if ptype in (BINARY_EVENT, BINARY_ACK):
        j = i
        while j < n and text[j].isdigit() and j - i < 3:
            j += 1
        if j == i or j >= n or text[j] != "-":
            raise ProtocolError("bad attachment count")
        attachments = int(text[i:j])
        i = j + 1
    nsp = "/"
    if i < n and text[i] == "/":
        comma = text.find(",", i)
        end = n if comma < 0 else comma
        nsp = text[i:end]
        if len(nsp) > 200:
            raise ProtocolError("namespace too long")
        i = end + 1 if comma >= 0 else n
    ack_id: int | None = None
    j = i
    while j < n and "0" <= text[j] <= "9":
        j += 1
    if j > i:
        if j - i > 16:
            raise ProtocolError("ack id too long")
        ack_id = int(text[i:j])
        if ack_id > MAX_ACK_ID:
            raise ProtocolError("ack id too large")
        i = j
    data: Any = None
    if i < n:
        try:
            data, end = _decoder.raw_decode(text, i)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError("invalid JSON payload") from exc
        if text[end:].strip():
            raise ProtocolError("trailing data after payload")
    _validate(ptype, data, ack_id)
    return SioPacket(ptype, nsp, ack_id, data, attachments)


def _validate(ptype: int, data: Any, ack_id: int | None) -> None:
    if ptype == CONNECT:
        if data is not None and not isinstance(data, dict):
            raise ProtocolError("CONNECT payload must be an object")
    elif ptype in (EVENT, BINARY_EVENT):
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise ProtocolError("EVENT payload must be a list starting with a name")
    elif ptype in (ACK, BINARY_ACK):
        if not isinstance(data, list) or ack_id is None:
            raise ProtocolError("ACK needs an id and a list payload")
    elif ptype == DISCONNECT:
        if data is not None:
            raise ProtocolError("DISCONNECT takes no payload")
    elif ptype == CONNECT_ERROR:
        raise ProtocolError("clients do not send CONNECT_ERROR")


def dumps(value: Any) -> str:
    """Compact JSON as Socket.IO peers expect it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def nsp_prefix(nsp: str) -> str:
    return "" if nsp == "/" else nsp + ","


def encode_event(nsp: str, args_json: str, ack_id: int | None = None) -> str:
    """An Engine.IO MESSAGE carrying a Socket.IO EVENT with pre-serialised args."""
    return "42" + nsp_prefix(nsp) + ("" if ack_id is None else str(ack_id)) + args_json


def encode_ack(nsp: str, ack_id: int, args: list[Any]) -> str:
    return "43" + nsp_prefix(nsp) + str(ack_id) + dumps(args)


def encode_connect(nsp: str, data: dict[str, Any]) -> str:
    return "40" + nsp_prefix(nsp) + dumps(data)


def encode_connect_error(nsp: str, message: str, data: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"message": message}
    if data is not None:
        body["data"] = data
    return "44" + nsp_prefix(nsp) + dumps(body)


def encode_disconnect(nsp: str) -> str:
    return "41" + nsp_prefix(nsp)


def encode_open(
    sid: str, *, upgrades: list[str], ping_interval_ms: int, ping_timeout_ms: int, max_payload: int
) -> str:
    return EIO_OPEN + dumps(
        {
            "sid": sid,
            "upgrades": upgrades,
            "pingInterval": ping_interval_ms,
            "pingTimeout": ping_timeout_ms,
            "maxPayload": max_payload,
        }
    )


def decode_polling_payload(body: str) -> list[str]:
    """Split an Engine.IO v4 polling payload into packets (binary `b...` packets included)."""
    if not body:
        raise ProtocolError("empty payload")
    return body.split(RECORD_SEPARATOR)


def ws_frame(payload: bytes, *, opcode: int = 0x1) -> bytes:
    """One unmasked, final WebSocket frame: identical bytes for every recipient."""
    n = len(payload)
    head = 0x80 | opcode
    if n < 126:
        return struct.pack("!BB", head, n) + payload
    if n < 65536:
        return struct.pack("!BBH", head, 126, n) + payload
    return struct.pack("!BBQ", head, 127, n) + payload


def ws_text(text: str) -> bytes:
    return ws_frame(text.encode())
