"""Real `townsquare` processes for end-to-end tests: the command, free ports, waiting for health."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent / "townsquare"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one `townsquare` command to completion, capturing its output."""
    return subprocess.run(
        [str(BIN), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(
    server: subprocess.Popen[Any],
    base: str,
    *,
    path: str = "/healthz",
    seconds: float = 60,
    log: Path | None = None,
) -> None:
    """Wait until the server answers `path` with 200; fail with its log if it exits first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}{path}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            output = log.read_text() if log else (server.stderr.read() if server.stderr else "")
            raise AssertionError(f"townsquare exited with {server.returncode}: {output}")
        assert time.monotonic() < deadline, f"townsquare did not answer {path} in {seconds} s"
        time.sleep(0.2)
