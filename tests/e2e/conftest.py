"""End-to-end fixtures: a clean environment for `townsquare` processes of a test's own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The process environment without any TOWNSQUARE_ setting, and a data dir of the test's."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOWNSQUARE_")}
    clean["TOWNSQUARE_DATA_DIR"] = str(tmp_path / "var")
    clean["TOWNSQUARE_LOG_JSON"] = "true"
    return clean
