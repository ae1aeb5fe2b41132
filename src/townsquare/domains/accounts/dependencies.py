"""FastAPI dependencies for authentication, shared by every domain's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from townsquare.context import AppContext, get_ctx
from townsquare.core.errors import Forbidden, Unauthorized
from townsquare.core.net import client_address
from townsquare.domains.accounts.actions import RequestMeta
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.accounts.queries import authenticate

Ctx = Annotated[AppContext, Depends(get_ctx)]


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, if any."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use an Authorization: Bearer <token> header", code="token_invalid")
    return token.strip()


async def optional_principal(request: Request, ctx: Ctx) -> Principal | None:
    """The caller if a token was sent (and valid), else None for anonymous reads."""
    token = bearer_token(request)
    if token is None:
        return None
    async with ctx.db.engine.connect() as connection:
        principal = await authenticate(connection, token=token, secret=ctx.jwt_secret)
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The authenticated caller; 401 without a valid token."""
    if principal is None:
        raise Unauthorized("Sign in to do this", code="unauthorized")
    return principal


async def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """The caller, who must be an admin."""
    if not principal.is_admin:
        raise Forbidden("Admins only")
    return principal


async def request_meta(request: Request, ctx: Ctx) -> RequestMeta:
    """Caller address (proxy-aware) and user agent for sessions and the audit log."""
    peer = request.client.host if request.client else None
    return RequestMeta(
        ip_address=client_address(peer, request.headers, ctx.settings.trusted_proxies),
        user_agent=request.headers.get("user-agent"),
    )


CurrentUser = Annotated[Principal, Depends(current_principal)]
OptionalUser = Annotated[Principal | None, Depends(optional_principal)]
AdminUser = Annotated[Principal, Depends(admin_principal)]
Meta = Annotated[RequestMeta, Depends(request_meta)]
