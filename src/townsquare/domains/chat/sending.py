"""Group commit for chat sends: messages that arrive while one batch is being stored go in
the next batch, in one transaction (decision 0403)."""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, IntegrityError

from townsquare.core.db import Database
from townsquare.core.errors import AppError
from townsquare.domains.chat import actions
from townsquare.domains.chat.actions import Outgoing, Sent
from townsquare.domains.chat.schemas import SendMessage
from townsquare.infra.media import LocalMediaStore

MAX_BATCH = 200
# loop passes to wait before taking a batch: enough for sends already read from sockets to
# reach the queue (read, then the connection's task), so they share the transaction
YIELDS = 2


@dataclass(slots=True)
class _Waiting:
    item: Outgoing
    reply: asyncio.Future[Sent]


class ChatSender:
    """One per database: a single task stores queued messages batch by batch, in arrival order.

    There is no timer: an idle server stores a message at once (a batch of one); under load
    the messages that came in during one commit share the next, so the cost of a transaction
    is paid once per batch rather than once per message.
    """

    def __init__(self, db: Database, media: LocalMediaStore) -> None:
        self._db = db
        self._media = media
        self._queue: deque[_Waiting] = deque()
        self._task: asyncio.Task[None] | None = None

    async def send(self, item: Outgoing) -> Sent:
        """Queue the message and wait until it is committed (or refused); a caller that is
        cancelled meanwhile leaves the message to be stored all the same."""
        reply: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(item, reply))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await reply

    async def _drain(self) -> None:
        while self._queue:
            for _ in range(YIELDS):  # let the sends already read from sockets join this batch
                await asyncio.sleep(0)
            batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
            try:
                await self._store(batch)
            except BaseException as exc:  # never leave a sender waiting
                for waiting in batch:
                    if not waiting.reply.done():
                        waiting.reply.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise

    async def _store(self, batch: list[_Waiting]) -> None:
        try:
            async with self._db.transaction() as session:
                results = await actions.check_send_messages(
                    session, [w.item for w in batch], media=self._media
                )
        except (IntegrityError, DBAPIError):
            # a twin committed by another process, or one bad row: each on its own instead
            for waiting in batch:
                await self._alone(waiting)
            return
        for waiting, result in zip(batch, results, strict=True):
            if waiting.reply.done():
                continue
            if isinstance(result, AppError):
                waiting.reply.set_exception(result)
            else:
                waiting.reply.set_result(result)

    async def _alone(self, waiting: _Waiting) -> None:
        try:
            result = await actions.send_alone(self._db, waiting.item, media=self._media)
        except Exception as exc:
            if not waiting.reply.done():
                waiting.reply.set_exception(exc)
            return
        if not waiting.reply.done():
            waiting.reply.set_result(result)


_senders: weakref.WeakKeyDictionary[Database, ChatSender] = weakref.WeakKeyDictionary()


async def send_message(
    db: Database,
    *,
    user_id: int,
    room_id: int,
    body: SendMessage,
    media: LocalMediaStore,
    notify_delay: float | None,
) -> Sent:
    """Send through this database's group commit; REST and `chat:message` both come here."""
    sender = _senders.get(db)
    if sender is None:
        sender = _senders[db] = ChatSender(db, media)
    return await sender.send(Outgoing(user_id, room_id, body, notify_delay))
