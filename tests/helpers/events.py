"""Event checks: pick captured deliveries by type."""

from __future__ import annotations

from townsquare.core.events import Delivery


def events(published: list[Delivery], name: str) -> list[Delivery]:
    """The captured deliveries of one event type, in publish order."""
    return [d for d in published if d.event.type == name]
