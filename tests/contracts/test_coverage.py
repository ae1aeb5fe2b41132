"""Every Event subclass has a contract test here and a row in docs/REALTIME.md's event table.

A new event (say `PresenceChanged`, `presence:friend_activity`) fails both checks until it has
a test marked `@contract(PresenceChanged)` in a tests/contracts module and a table row.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import tests.contracts
from tests.helpers.events import contracts_of, event_classes
from tests.helpers.gateway import ROOT
from townsquare.core.events import Event

TABLE_HEADING = "Server → client events"


def covered() -> set[type[Event]]:
    """The Event classes the contract tests of every tests/contracts module declare."""
    found: set[type[Event]] = set()
    for info in pkgutil.iter_modules(tests.contracts.__path__, "tests.contracts."):
        module = importlib.import_module(info.name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and function.__module__ == module.__name__:
                found |= contracts_of(function)
    return found


def documented() -> set[str]:
    """The event names in the first column of docs/REALTIME.md's server → client table."""
    text = (ROOT / "docs" / "REALTIME.md").read_text()
    section = text.split(f"### {TABLE_HEADING}", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([\w:.]+)[ `]", section, flags=re.MULTILINE))


def test_every_event_has_a_contract():
    missing = sorted(
        f"{cls.__module__}.{cls.__name__}"
        for cls in event_classes().values()
        if cls not in covered()
    )
    assert missing == [], f"no @contract test in tests/contracts for {missing}"


def test_every_event_is_in_the_realtime_docs():
    missing = sorted(set(event_classes()) - documented())
    assert missing == [], f"docs/REALTIME.md's '{TABLE_HEADING}' table lacks {missing}"


def test_the_checks_see_real_classes_and_rows():
    """Guard the two checks above against passing on an empty walk or a moved table."""
    assert len(event_classes()) >= 22
    assert "chat:new_message" in documented()
    assert "error" in documented()
