"""REST for presence, for clients between sockets (and for scripts): `/api/v1/realtime/...`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from townsquare.context import AppContext, get_ctx
from townsquare.domains.accounts.dependencies import current_principal
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.presence import actions
from townsquare.domains.presence.queries import presence_service
from townsquare.domains.presence.schemas import ActivityIn, PresenceOut, to_wire

router = APIRouter(prefix="/api/v1/realtime", tags=["realtime"])

Ctx = Annotated[AppContext, Depends(get_ctx)]
Caller = Annotated[Principal, Depends(current_principal)]


@router.get("/presence/me", response_model=PresenceOut)
async def my_presence(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """The caller's own presence, aggregated over all their connections."""
    return to_wire(await presence_service(ctx).get(caller.user_id))


@router.put("/presence/activity", response_model=PresenceOut)
async def set_activity(ctx: Ctx, caller: Caller, body: ActivityIn) -> dict[str, Any]:
    """Set the caller's activity text; their devices (and later friends) are told."""
    info = await actions.do_activity(
        ctx,
        user_id=caller.user_id,
        activity=body.activity,
        metadata=body.metadata,
        set_activity=True,
    )
    return to_wire(info)
