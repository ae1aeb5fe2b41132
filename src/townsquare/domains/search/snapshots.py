"""Relevance snapshots: the ranked ids of one search's first page, kept briefly so later pages
read the same order (no duplicates or skips while posts arrive and bm25 statistics drift);
stored by `infra.snapshots`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from townsquare.context import AppContext
from townsquare.infra.snapshots import SnapshotStore as Store
from townsquare.infra.snapshots import store_for

MAX_LOCAL_SNAPSHOTS = 5_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Ranked ids and the fingerprint of the search (query, filters) that produced them."""

    fingerprint: str
    ids: list[int]


SnapshotStore = Store[Snapshot]


def _encode(snapshot: Snapshot) -> Any:
    return {"f": snapshot.fingerprint, "ids": snapshot.ids}


def _decode(raw: Any) -> Snapshot:
    return Snapshot(fingerprint=str(raw["f"]), ids=[int(i) for i in raw["ids"]])


def snapshots(ctx: AppContext) -> SnapshotStore:
    """This app context's search snapshot store."""
    return store_for(
        ctx,
        "search",
        ttl=ctx.settings.search_snapshot_ttl_seconds,
        max_local=MAX_LOCAL_SNAPSHOTS,
        encode=_encode,
        decode=_decode,
    )
