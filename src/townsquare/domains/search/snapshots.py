"""Relevance snapshots (`infra.snapshots`): the ranked ids of a search's first page, and which
search they belong to (bm25 statistics drift, so later pages must not rank again)."""

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
