"""The notify window: one delayed job per busy room tells its away members (decision 0403)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from townsquare.infra import jobs

NOTIFY_JOB = "chat.notify"
NOTIFY_WINDOW_SECONDS = 5.0


# room -> the end of the notify window this process has a job for (decision 0403)
_notify_windows: dict[int, datetime] = {}
_OPENED_KEY = "townsquare.chat.notify_windows"


def notify_later(
    session: AsyncSession, room_id: int, seq: int, now: datetime, delay: float
) -> None:
    """One delayed notify job per room per window: the job covers every message of the room
    created in the window, so a busy room costs a job every few seconds, not one per message."""
    until = _notify_windows.get(room_id)
    if until is not None and now <= until:
        return
    if len(_notify_windows) > 10_000:
        _notify_windows.clear()
    until = now + timedelta(seconds=min(delay, NOTIFY_WINDOW_SECONDS))
    _notify_windows[room_id] = until
    opened: list[int] | None = session.info.get(_OPENED_KEY)
    if opened is None:  # a rollback takes the job back, so it must take the window back too
        opened = session.info[_OPENED_KEY] = []

        def rolled_back(sync_session: Session, *_: Any) -> None:
            for room in sync_session.info.pop(_OPENED_KEY, []):
                _notify_windows.pop(room, None)

        event.listen(session.sync_session, "after_soft_rollback", rolled_back, once=True)
    opened.append(room_id)
    payload = {"room_id": str(room_id), "after_seq": seq - 1, "until": until.isoformat()}
    jobs.defer(session, NOTIFY_JOB, payload, delay=delay + (until - now).total_seconds())
