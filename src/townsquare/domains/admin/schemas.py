"""Pydantic replies of the admin job routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from townsquare.core.ids import Id


class QueueState(BaseModel):
    backend: str
    consuming_here: bool
    ready: int
    delayed: int
    running: int
    dead: int
    jobs: list[str]
    schedules: dict[str, float]


class DeadJob(BaseModel):
    id: Id
    name: str
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    enqueued_at: float
    failed_at: float | None


class Replayed(BaseModel):
    id: Id
    replayed: bool
