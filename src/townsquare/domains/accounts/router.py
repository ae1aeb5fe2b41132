"""HTTP routes of the accounts domain: parse, authorize, call the action, shape the reply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, UploadFile
from pydantic import BaseModel

from townsquare.core.errors import BadRequest, PayloadTooLarge
from townsquare.core.pagination import Page
from townsquare.core.params import Cursor, IdPath, Limit, UsernamePath
from townsquare.domains.accounts import actions, queries
from townsquare.domains.accounts.dependencies import AdminUser, Ctx, CurrentUser, Meta, OptionalUser
from townsquare.domains.accounts.schemas import (
    AdminUserUpdate,
    AuditEntry,
    LoginRequest,
    LogoutRequest,
    OwnProfile,
    PasswordChangeRequest,
    Profile,
    ProfileUpdate,
    RefreshRequest,
    RegisterRequest,
    SessionInfo,
    TokenPair,
)

router = APIRouter(prefix="/api/v1")


class RevokedCount(BaseModel):
    sessions_revoked: int


class AdminUserView(BaseModel):
    id: str
    username: str
    role: str
    status: str


@router.post("/auth/register", status_code=201, tags=["auth"])
async def register(body: RegisterRequest, ctx: Ctx, meta: Meta) -> OwnProfile:
    """Create an account; sign in with /auth/login afterwards."""
    async with ctx.db.transaction() as session:
        user = await actions.check_register(
            session,
            username=body.username,
            email=str(body.email),
            password=body.password,
            meta=meta,
        )
        settings = await queries.get_settings(session, user_id=user.id)
        return queries.own_profile(user, settings, ctx.media)


@router.post("/auth/login", tags=["auth"])
async def login(body: LoginRequest, ctx: Ctx, meta: Meta) -> TokenPair:
    """Exchange a username (or email) and password for an access and a refresh token."""
    async with ctx.db.transaction() as session:
        outcome = await actions.attempt_login(
            session,
            login=body.username,
            password=body.password,
            meta=meta,
            settings=ctx.settings,
            limiter=ctx.limiter,
            secret=ctx.jwt_secret,
        )
    if outcome.error is not None:
        raise outcome.error
    assert outcome.tokens is not None
    return outcome.tokens


@router.post("/auth/refresh", tags=["auth"])
async def refresh(body: RefreshRequest, ctx: Ctx, meta: Meta) -> TokenPair:
    """Rotate a refresh token into a new token pair; each refresh token works once."""
    async with ctx.db.transaction() as session:
        outcome = await actions.attempt_refresh(
            session,
            refresh_token=body.refresh_token,
            meta=meta,
            settings=ctx.settings,
            secret=ctx.jwt_secret,
        )
    if outcome.error is not None:
        raise outcome.error
    assert outcome.tokens is not None
    return outcome.tokens


@router.post("/auth/logout", status_code=204, tags=["auth"])
async def logout(
    ctx: Ctx, meta: Meta, principal: OptionalUser, body: LogoutRequest | None = None
) -> Response:
    """End the current session (by access token, or by refresh token when that expired)."""
    async with ctx.db.transaction() as session:
        if principal is not None:
            await actions.do_logout(session, principal=principal, meta=meta)
        elif body is not None and body.refresh_token:
            await actions.do_logout_by_refresh_token(
                session, refresh_token=body.refresh_token, meta=meta
            )
        else:
            raise BadRequest("Send a bearer token or a refresh_token", code="unauthorized")
    return Response(status_code=204)


@router.get("/auth/sessions", tags=["auth"])
async def list_sessions(ctx: Ctx, principal: CurrentUser) -> list[SessionInfo]:
    """The caller's signed-in devices."""
    async with ctx.db.read() as session:
        return await queries.list_sessions(session, principal=principal)


@router.delete("/auth/sessions/{session_id}", status_code=204, tags=["auth"])
async def revoke_session(
    session_id: IdPath, ctx: Ctx, principal: CurrentUser, meta: Meta
) -> Response:
    """Sign one of the caller's devices out."""
    async with ctx.db.transaction() as session:
        await actions.check_revoke_session(
            session, principal=principal, session_id=session_id, meta=meta
        )
    return Response(status_code=204)


@router.post("/auth/sessions/revoke-others", tags=["auth"])
async def revoke_other_sessions(ctx: Ctx, principal: CurrentUser, meta: Meta) -> RevokedCount:
    """Sign every other device out."""
    async with ctx.db.transaction() as session:
        count = await actions.do_revoke_all_sessions(
            session,
            user_id=principal.user_id,
            reason="revoked",
            keep_session_id=principal.session_id,
        )
        actions.do_audit(
            session,
            action="session_revoke",
            actor_id=principal.user_id,
            target_user_id=principal.user_id,
            meta=meta,
            sessions_revoked=count,
        )
    return RevokedCount(sessions_revoked=count)


@router.get("/users/me", tags=["users"])
async def get_me(ctx: Ctx, principal: CurrentUser) -> OwnProfile:
    """The caller's own profile with every field and their settings."""
    async with ctx.db.read() as session:
        user = await queries.get_user(session, user_id=principal.user_id)
        assert user is not None
        settings = await queries.get_settings(session, user_id=user.id)
        return queries.own_profile(user, settings, ctx.media)


@router.patch("/users/me", tags=["users"])
async def update_me(body: ProfileUpdate, ctx: Ctx, principal: CurrentUser) -> OwnProfile:
    """Change profile fields and privacy or notification settings; omitted fields stay."""
    async with ctx.db.transaction() as session:
        user, settings = await actions.do_update_profile(session, principal=principal, changes=body)
    return queries.own_profile(user, settings, ctx.media)


@router.post("/users/me/password", tags=["users"])
async def change_password(
    body: PasswordChangeRequest, ctx: Ctx, principal: CurrentUser, meta: Meta
) -> RevokedCount:
    """Change the password; every other session is signed out."""
    async with ctx.db.transaction() as session:
        revoked = await actions.check_change_password(
            session,
            principal=principal,
            current_password=body.current_password,
            new_password=body.new_password,
            meta=meta,
        )
    return RevokedCount(sessions_revoked=revoked)


@router.put("/users/me/avatar", tags=["users"])
async def upload_avatar(
    file: UploadFile, request: Request, ctx: Ctx, principal: CurrentUser
) -> OwnProfile:
    """Upload a JPEG, PNG or WebP avatar of up to 5 MB; a 128 px thumbnail is made."""
    limit = ctx.settings.max_avatar_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"Images may be at most {limit // (1024 * 1024)} MB")
    image = actions.process_avatar(data, max_bytes=limit, thumb_px=ctx.settings.avatar_thumbnail_px)
    async with ctx.db.transaction() as session:
        user, old = await actions.do_set_avatar(
            session, principal=principal, image=image, media=ctx.media
        )
        settings = await queries.get_settings(session, user_id=user.id)
    for key in old:
        await ctx.media.delete(key)
    return queries.own_profile(user, settings, ctx.media)


@router.delete("/users/me/avatar", tags=["users"])
async def delete_avatar(ctx: Ctx, principal: CurrentUser) -> OwnProfile:
    """Remove the avatar."""
    async with ctx.db.transaction() as session:
        old = await actions.do_clear_avatar(session, principal=principal)
        user = await queries.get_user(session, user_id=principal.user_id)
        assert user is not None
        settings = await queries.get_settings(session, user_id=user.id)
    for key in old:
        await ctx.media.delete(key)
    return queries.own_profile(user, settings, ctx.media)


@router.get("/users/{username}", tags=["users"], response_model_exclude_unset=True)
async def get_profile(username: UsernamePath, ctx: Ctx, principal: OptionalUser) -> Profile:
    """A profile as the caller may see it; hidden profiles are 404 and hidden fields absent."""
    async with ctx.db.read() as session:
        return await queries.access_profile(
            session, viewer=principal, username=username, media=ctx.media
        )


@router.patch("/admin/users/{username}", tags=["admin"])
async def admin_update_user(
    username: UsernamePath, body: AdminUserUpdate, ctx: Ctx, principal: AdminUser, meta: Meta
) -> AdminUserView:
    """Change a user's role or status (suspend, ban, reinstate); audited."""
    async with ctx.db.transaction() as session:
        user = await actions.check_admin_update_user(
            session, principal=principal, username=username, changes=body, meta=meta
        )
    return AdminUserView(
        id=str(user.id), username=user.username, role=user.role, status=user.status
    )


@router.get("/admin/audit", tags=["admin"])
async def list_audit(
    ctx: Ctx,
    principal: AdminUser,
    cursor: Cursor = None,
    limit: Limit = 50,
    user: Annotated[str | None, Query(max_length=30)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[AuditEntry]:
    """The security audit log, newest first; filter by user and action."""
    async with ctx.db.read() as session:
        user_id = None
        if user is not None:
            target = await queries.get_user_by_username(session, username=user)
            if target is None:
                return Page(items=[])
            user_id = target.id
        return await queries.list_audit_events(
            session, cursor=cursor, limit=limit, user_id=user_id, action=action
        )
