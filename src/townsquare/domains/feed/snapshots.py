"""Ranked-feed snapshots (`infra.snapshots`): the (post id, score) order of a first page."""

from __future__ import annotations

from typing import Any

from townsquare.context import AppContext
from townsquare.infra.snapshots import SnapshotStore as Store
from townsquare.infra.snapshots import store_for

Snapshot = list[tuple[int, float]]
SnapshotStore = Store[Snapshot]
MAX_LOCAL_SNAPSHOTS = 20_000


def _encode(items: Snapshot) -> Any:
    return [[pid, round(score, 5)] for pid, score in items]


def _decode(raw: Any) -> Snapshot:
    return [(int(pid), float(score)) for pid, score in raw]


def snapshots(ctx: AppContext) -> SnapshotStore:
    """This app context's feed snapshot store."""
    return store_for(
        ctx,
        "feed",
        ttl=ctx.settings.feed_snapshot_ttl_seconds,
        max_local=MAX_LOCAL_SNAPSHOTS,
        encode=_encode,
        decode=_decode,
    )
