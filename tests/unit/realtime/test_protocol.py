"""The packet codec: known packets, python-socketio's encoder as a reference, and fuzzing."""

from __future__ import annotations

import json
import random
import string

import pytest
from socketio import packet as sio_packet

from townsquare.realtime import protocol as p


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('0/realtime,{"token":"t"}', p.SioPacket(p.CONNECT, "/realtime", None, {"token": "t"})),
        ("0", p.SioPacket(p.CONNECT, "/", None, None)),
        ("1/realtime,", p.SioPacket(p.DISCONNECT, "/realtime", None, None)),
        ('2/realtime,12["a",{"b":1}]', p.SioPacket(p.EVENT, "/realtime", 12, ["a", {"b": 1}])),
        ('2["a"]', p.SioPacket(p.EVENT, "/", None, ["a"])),
        ("3/realtime,5[]", p.SioPacket(p.ACK, "/realtime", 5, [])),
        (
            '52-/realtime,3["up",{"_placeholder":true,"num":0}]',
            p.SioPacket(
                p.BINARY_EVENT, "/realtime", 3, ["up", {"_placeholder": True, "num": 0}], 2
            ),
        ),
    ],
)
def test_decodes_valid_packets(text: str, expected: p.SioPacket) -> None:
    assert p.decode_sio(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "7",
        "x",
        "2/realtime,",
        "2/realtime,{}",
        "2/realtime,[]",
        "2/realtime,[1]",
        '2/realtime,["a"] junk',
        '2/realtime,["a",NaN]',
        '2/realtime,["a",Infinity]',
        "3/realtime,[]",
        "0/realtime,[1]",
        "1/realtime,{}",
        "4/realtime,{}",
        '5-/realtime,["a"]',
        '51/realtime,["a"]',
        '2/realtime,99999999999999999999["a"]',
        '2/realtime,9007199254740993["a"]',
        "2" + "[" * 100_000,
    ],
)
def test_rejects_malformed_packets(text: str) -> None:
    with pytest.raises(p.ProtocolError):
        p.decode_sio(text)


def test_agrees_with_python_socketio_encoder() -> None:
    rng = random.Random(7)
    for _ in range(500):
        data = ["ev:" + "".join(rng.choices(string.ascii_letters, k=5)), _random_json(rng, 3)]
        ack_id = rng.choice([None, rng.randrange(0, 10**6)])
        reference = sio_packet.Packet(
            sio_packet.EVENT, data=data, namespace="/realtime", id=ack_id
        ).encode()
        ours = p.decode_sio(reference)
        assert ours.type == p.EVENT
        assert ours.nsp == "/realtime"
        assert ours.id == ack_id
        assert ours.data == data
        assert p.decode_sio(p.encode_event("/realtime", p.dumps(data), ack_id)[1:]) == ours


def _random_json(rng: random.Random, depth: int) -> object:
    choice = rng.randrange(7 if depth > 0 else 5)
    if choice == 0:
        return rng.randrange(-(10**9), 10**9)
    if choice == 1:
        return "".join(rng.choices(string.printable + "é😀\u2028", k=rng.randrange(12)))
    if choice == 2:
        return rng.random()
    if choice == 3:
        return rng.choice([True, False, None])
    if choice == 4:
        return ""
    if choice == 5:
        return [_random_json(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {str(rng.randrange(100)): _random_json(rng, depth - 1) for _ in range(rng.randrange(4))}


def test_fuzz_decoder_raises_only_protocol_errors() -> None:
    """Random and mutated packets never raise anything but ProtocolError."""
    rng = random.Random(20261122)
    seeds = [
        '2/realtime,12["chat:message",{"text":"hi","client_id":"c1"}]',
        '0/realtime,{"token":"abc","last_offset":"1-0"}',
        '52-/realtime,3["up",{"_placeholder":true,"num":0}]',
        "3/realtime,4[{}]",
        "1/realtime,",
    ]
    alphabet = '0123456789/,[]{}":-\\ abcdeflnrtu\x00\x1e\ud800é'
    for i in range(20_000):
        if i % 2:
            text = "".join(rng.choices(alphabet, k=rng.randrange(0, 40)))
        else:
            chars = list(rng.choice(seeds))
            for _ in range(rng.randrange(1, 5)):
                op = rng.randrange(3)
                pos = rng.randrange(len(chars) + 1)
                if op == 0:
                    chars.insert(pos, rng.choice(alphabet))
                elif chars and op == 1:
                    del chars[min(pos, len(chars) - 1)]
                elif chars:
                    chars[min(pos, len(chars) - 1)] = rng.choice(alphabet)
            text = "".join(chars)
        try:
            packet = p.decode_sio(text)
        except p.ProtocolError:
            continue
        # whatever decodes is well-formed
        assert packet.type in range(7)
        json.dumps(packet.data)


def test_ws_frame_lengths() -> None:
    assert p.ws_frame(b"a") == b"\x81\x01a"
    mid = p.ws_frame(b"x" * 300)
    assert mid[:4] == b"\x81\x7e\x01\x2c"
    big = p.ws_frame(b"x" * 70_000)
    assert big[:2] == b"\x81\x7f"
    assert int.from_bytes(big[2:10], "big") == 70_000
