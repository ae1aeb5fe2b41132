"""Socket.IO side of presence: `presence:activity`, and the listener the gateway reports to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from townsquare.domains.presence import actions
from townsquare.domains.presence.queries import presence_service
from townsquare.domains.presence.schemas import PresenceActivity, to_wire
from townsquare.realtime.registry import HandlerContext, registry

if TYPE_CHECKING:
    from townsquare.context import AppContext


@registry.on("presence:activity", model=PresenceActivity, state_changing=False)
async def activity(ctx: HandlerContext, data: PresenceActivity) -> dict[str, Any]:
    """Mark the user active now and, when given, set what they are doing."""
    info = await actions.do_activity(
        ctx.app,
        user_id=ctx.user_id,
        activity=data.activity,
        metadata=data.metadata,
        set_activity="activity" in data.model_fields_set or "metadata" in data.model_fields_set,
    )
    return to_wire(info)


class GatewayPresence:
    """What one gateway's connections do, turned into presence (a `ConnectionListener`)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def connected(self, user_id: int, conn_key: str) -> None:
        await actions.do_connect(self.ctx, user_id=user_id, conn_key=conn_key)

    async def disconnected(self, user_id: int, conn_key: str) -> None:
        await actions.do_disconnect(self.ctx, user_id=user_id, conn_key=conn_key)

    async def count(self, user_id: int) -> int:
        return await presence_service(self.ctx).count(user_id)

    async def heartbeat(self, conns: list[tuple[int, str]]) -> None:
        await actions.do_heartbeat(self.ctx, conns=conns)

    async def sweep(self, local_users: list[int]) -> None:
        await actions.do_sweep(self.ctx, local_users=local_users)
