"""REST for presence, for clients between sockets (and for scripts): `/api/v1/realtime/...`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from townsquare.context import AppContext, get_ctx
from townsquare.domains.accounts.dependencies import current_principal
from townsquare.domains.accounts.policy import Principal
from townsquare.realtime.presence_service import presence_service

router = APIRouter(prefix="/api/v1/realtime", tags=["realtime"])

Ctx = Annotated[AppContext, Depends(get_ctx)]
Caller = Annotated[Principal, Depends(current_principal)]


class PresenceOut(BaseModel):
    """A user's presence as the caller may see it."""

    user_id: str
    status: str
    activity: str | None
    metadata: dict[str, Any] | None
    last_active_at: str | None
    last_seen_at: str | None


class ActivityIn(BaseModel):
    """What the caller is doing now; also marks them active (idle turns online)."""

    model_config = ConfigDict(extra="forbid")

    activity: str | None = Field(default=None, max_length=140)
    metadata: dict[str, Any] | None = None


@router.get("/presence/me", response_model=PresenceOut)
async def my_presence(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """The caller's own presence, aggregated over all their connections."""
    service = presence_service(ctx)
    return service.to_wire(await service.get(caller.user_id))


@router.put("/presence/activity", response_model=PresenceOut)
async def set_activity(ctx: Ctx, caller: Caller, body: ActivityIn) -> dict[str, Any]:
    """Set the caller's activity text; their devices (and later friends) are told."""
    service = presence_service(ctx)
    info = await service.activity(
        caller.user_id, activity=body.activity, metadata=body.metadata, set_activity=True
    )
    return service.to_wire(info)
