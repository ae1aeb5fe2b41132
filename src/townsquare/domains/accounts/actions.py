"""Every write of the accounts domain; the only place it publishes events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from PIL import Image, ImageOps
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from townsquare.config import Settings
from townsquare.core.clock import utcnow
from townsquare.core.db import rowcount
from townsquare.core.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from townsquare.core.events import emit, user_room
from townsquare.core.ids import new_id
from townsquare.core.security import (
    create_access_token,
    hash_password,
    hash_password_off_loop,
    hash_token,
    new_refresh_token,
    password_needs_rehash,
    verify_password_off_loop,
)
from townsquare.domains.accounts import policy
from townsquare.domains.accounts.models import (
    AuditEvent,
    LoginSession,
    RefreshToken,
    User,
    UserSettings,
)
from townsquare.domains.accounts.policy import Principal
from townsquare.domains.accounts.queries import (
    email_key,
    get_settings,
    get_user_by_login,
    get_user_by_username,
    username_key,
)
from townsquare.domains.accounts.schemas import (
    AccountSessionRevoked,
    AccountStatusChanged,
    AdminUserUpdate,
    ProfileUpdate,
    TokenPair,
)
from townsquare.infra.images import ImageRejected, decode_image, webp_bytes
from townsquare.infra.media import LocalMediaStore
from townsquare.infra.ratelimit import RateLimiter, Rule


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Where a request came from, for sessions and the audit log."""

    ip_address: str | None = None
    user_agent: str | None = None


def do_audit(
    session: AsyncSession,
    *,
    action: str,
    actor_id: int | None,
    target_user_id: int | None,
    meta: RequestMeta | None = None,
    **detail: Any,
) -> None:
    """Record a security-relevant action in the same transaction as the action itself."""
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor_id,
            target_user_id=target_user_id,
            ip_address=meta.ip_address if meta else None,
            detail=detail,
        )
    )


def check_password_policy(password: str, *, username: str, field: str = "password") -> None:
    """Refuse a weak password, listing every rule it breaks."""
    problems = policy.password_problems(password, username=username)
    if problems:
        raise ValidationFailed(
            "The password does not meet the password policy: " + "; ".join(problems),
            code="weak_password",
            errors=[{"field": field, "message": problem} for problem in problems],
        )


async def check_register(
    session: AsyncSession, *, username: str, email: str, password: str, meta: RequestMeta
) -> User:
    """Create an account after checking the password policy and uniqueness."""
    check_password_policy(password, username=username)
    if await get_user_by_username(session, username=username) is not None:
        raise Conflict("That username is taken", code="username_taken")
    if await get_user_by_login(session, login=email) is not None:
        raise Conflict("An account with that email exists", code="email_taken")
    password_hash = await hash_password_off_loop(password)
    user = do_create_user(session, username=username, email=email, password_hash=password_hash)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("That username or email is taken", code="username_taken") from exc
    do_audit(session, action="register", actor_id=user.id, target_user_id=user.id, meta=meta)
    return user


def do_create_user(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    password: str | None = None,
    password_hash: str | None = None,
    role: str = "user",
    **profile: Any,
) -> User:
    """Insert a user and their default settings (trusted: no policy or uniqueness checks)."""
    user = User(
        id=new_id(),
        username=username,
        username_key=username_key(username),
        email=email.strip(),
        email_key=email_key(email),
        password_hash=password_hash or hash_password(password or ""),
        role=role,
        **profile,
    )
    session.add(user)
    session.add(UserSettings(user_id=user.id))
    return user


def login_rules(settings: Settings) -> tuple[Rule, Rule]:
    """The per-account and per-address failure budgets."""
    window = settings.login_failure_window_seconds
    return (
        Rule(settings.login_max_failures_per_account, window),
        Rule(settings.login_max_failures_per_address, window),
    )


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """Tokens, or the error to raise once the audit trail of the failure is committed."""

    tokens: TokenPair | None = None
    error: AppError | None = None


async def attempt_login(
    session: AsyncSession,
    *,
    login: str,
    password: str,
    meta: RequestMeta,
    settings: Settings,
    limiter: RateLimiter,
    secret: str,
) -> LoginOutcome:
    """Check throttles, then credentials, then account standing; audit every outcome."""
    account_rule, address_rule = login_rules(settings)
    account_key = ("login-account", login.casefold())
    address_key = ("login-address", meta.ip_address or "unknown")
    wait = max(
        await limiter.retry_after(account_rule, *account_key),
        await limiter.retry_after(address_rule, *address_key),
    )
    if wait:
        return LoginOutcome(error=RateLimited("Too many failed sign-in attempts", retry_after=wait))
    user = await get_user_by_login(session, login=login)
    if (
        not await verify_password_off_loop(user.password_hash if user else None, password)
        or not user
    ):
        await limiter.hit(account_rule, *account_key)
        await limiter.hit(address_rule, *address_key)
        do_audit(
            session,
            action="login_failed",
            actor_id=None,
            target_user_id=user.id if user else None,
            meta=meta,
            login=login[:64],
        )
        return LoginOutcome(
            error=Unauthorized("Wrong username or password", code="invalid_credentials")
        )
    if user.status != "active":
        do_audit(
            session, action="login_refused", actor_id=user.id, target_user_id=user.id, meta=meta
        )
        return LoginOutcome(
            error=Forbidden(f"This account is {user.status}", code=f"account_{user.status}")
        )
    await limiter.clear(account_rule, *account_key)
    if password_needs_rehash(user.password_hash):
        user.password_hash = await hash_password_off_loop(password)
    tokens = await do_start_session(session, user=user, meta=meta, settings=settings, secret=secret)
    do_audit(
        session,
        action="login",
        actor_id=user.id,
        target_user_id=user.id,
        meta=meta,
        session_id=str(tokens.session_id),
    )
    return LoginOutcome(tokens=tokens)


async def do_start_session(
    session: AsyncSession, *, user: User, meta: RequestMeta, settings: Settings, secret: str
) -> TokenPair:
    """Open a login session with its first refresh token."""
    login_session = LoginSession(
        user_id=user.id,
        expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_seconds),
        user_agent=(meta.user_agent or "")[:255] or None,
        ip_address=meta.ip_address,
    )
    session.add(login_session)
    await session.flush()
    return _issue_tokens(session, login_session, user=user, settings=settings, secret=secret)


def _issue_tokens(
    session: AsyncSession,
    login_session: LoginSession,
    *,
    user: User,
    settings: Settings,
    secret: str,
) -> TokenPair:
    refresh = new_refresh_token()
    session.add(RefreshToken(session_id=login_session.id, token_hash=hash_token(refresh)))
    access, _ = create_access_token(
        secret=secret,
        user_id=user.id,
        session_id=login_session.id,
        role=user.role,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=settings.access_token_ttl_seconds,
        session_id=login_session.id,
    )


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    tokens: TokenPair | None = None
    error: AppError | None = None


async def attempt_refresh(
    session: AsyncSession, *, refresh_token: str, meta: RequestMeta, settings: Settings, secret: str
) -> RefreshOutcome:
    """Rotate a refresh token; presenting a used one revokes its whole family (theft)."""
    invalid = RefreshOutcome(
        error=Unauthorized("Invalid refresh token", code="invalid_refresh_token")
    )
    token = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
        )
    ).scalar_one_or_none()
    if token is None:
        return invalid
    login_session = await session.get(LoginSession, token.session_id)
    if login_session is None or login_session.revoked_at is not None:
        return invalid
    if login_session.expires_at <= utcnow():
        return RefreshOutcome(error=Unauthorized("Session expired", code="session_expired"))
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if rowcount(claimed) != 1:
        do_revoke_session(session, login_session, reason="token_reuse")
        do_audit(
            session,
            action="refresh_token_reuse",
            actor_id=None,
            target_user_id=login_session.user_id,
            meta=meta,
            session_id=str(login_session.id),
        )
        return RefreshOutcome(
            error=Unauthorized(
                "This refresh token was already used; the session has been revoked",
                code="refresh_token_reused",
            )
        )
    user = await session.get(User, login_session.user_id)
    if user is None or user.status != "active":
        status = user.status if user else "banned"
        return RefreshOutcome(
            error=Forbidden(f"This account is {status}", code=f"account_{status}")
        )
    login_session.last_used_at = utcnow()
    login_session.expires_at = utcnow() + timedelta(seconds=settings.refresh_token_ttl_seconds)
    return RefreshOutcome(
        tokens=_issue_tokens(session, login_session, user=user, settings=settings, secret=secret)
    )


def do_revoke_session(session: AsyncSession, login_session: LoginSession, *, reason: str) -> None:
    """End a session: its tokens fail on the next request, its sockets close at once."""
    if login_session.revoked_at is None:
        login_session.revoked_at = utcnow()
        login_session.revoked_reason = reason
        _tell_sockets(session, user_id=login_session.user_id, session_id=login_session.id)


def _tell_sockets(session: AsyncSession, *, user_id: int, session_id: int) -> None:
    emit(
        session,
        AccountSessionRevoked(user_id=user_id, session_id=session_id),
        to=[user_room(user_id)],
    )


async def do_logout(session: AsyncSession, *, principal: Principal, meta: RequestMeta) -> None:
    """End the caller's current session."""
    login_session = await session.get(LoginSession, principal.session_id)
    if login_session is not None:
        do_revoke_session(session, login_session, reason="logout")
    do_audit(
        session,
        action="logout",
        actor_id=principal.user_id,
        target_user_id=principal.user_id,
        meta=meta,
        session_id=str(principal.session_id),
    )


async def do_logout_by_refresh_token(
    session: AsyncSession, *, refresh_token: str, meta: RequestMeta
) -> None:
    """End the session a refresh token belongs to (for clients whose access token expired)."""
    token = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
        )
    ).scalar_one_or_none()
    if token is None:
        raise Unauthorized("Invalid refresh token", code="invalid_refresh_token")
    login_session = await session.get(LoginSession, token.session_id)
    if login_session is not None and login_session.revoked_at is None:
        do_revoke_session(session, login_session, reason="logout")
        do_audit(
            session,
            action="logout",
            actor_id=login_session.user_id,
            target_user_id=login_session.user_id,
            meta=meta,
            session_id=str(login_session.id),
        )


async def check_revoke_session(
    session: AsyncSession, *, principal: Principal, session_id: int, meta: RequestMeta
) -> None:
    """Revoke one of the caller's own sessions; someone else's is 404."""
    login_session = await session.get(LoginSession, session_id)
    if login_session is None or login_session.user_id != principal.user_id:
        raise NotFound("No such session")
    do_revoke_session(session, login_session, reason="revoked")
    do_audit(
        session,
        action="session_revoke",
        actor_id=principal.user_id,
        target_user_id=principal.user_id,
        meta=meta,
        session_id=str(session_id),
    )


async def do_revoke_all_sessions(
    session: AsyncSession, *, user_id: int, reason: str, keep_session_id: int | None = None
) -> int:
    """Revoke every live session of a user except, optionally, the caller's own."""
    live = select(LoginSession.id).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if keep_session_id is not None:
        live = live.where(LoginSession.id != keep_session_id)
    session_ids = list((await session.execute(live)).scalars())
    if not session_ids:
        return 0
    await session.execute(
        update(LoginSession)
        .where(LoginSession.id.in_(session_ids))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    for session_id in session_ids:
        _tell_sockets(session, user_id=user_id, session_id=session_id)
    return len(session_ids)


async def check_change_password(
    session: AsyncSession,
    *,
    principal: Principal,
    current_password: str,
    new_password: str,
    meta: RequestMeta,
) -> int:
    """Change the caller's password and sign out their other sessions; returns how many."""
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user")
    if not await verify_password_off_loop(user.password_hash, current_password):
        raise Forbidden("The current password is wrong", code="invalid_credentials")
    check_password_policy(new_password, username=user.username, field="new_password")
    if new_password == current_password:
        raise ValidationFailed(
            "The new password must differ from the current one", code="weak_password"
        )
    user.password_hash = await hash_password_off_loop(new_password)
    revoked = await do_revoke_all_sessions(
        session, user_id=user.id, reason="password_change", keep_session_id=principal.session_id
    )
    do_audit(
        session,
        action="password_change",
        actor_id=user.id,
        target_user_id=user.id,
        meta=meta,
        sessions_revoked=revoked,
    )
    return revoked


async def do_update_profile(
    session: AsyncSession, *, principal: Principal, changes: ProfileUpdate
) -> tuple[User, UserSettings]:
    """Apply the fields the caller sent; fields left out keep their values."""
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user")
    settings = await get_settings(session, user_id=user.id)
    sent = changes.model_fields_set
    for name in ("display_name", "bio", "location"):
        if name in sent:
            value = getattr(changes, name)
            setattr(user, name, value or None)
    if "social_links" in sent:
        user.social_links = {k: str(v) for k, v in (changes.social_links or {}).items()}
    if changes.privacy is not None:
        for name, value in changes.privacy.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(settings, name, value)
    if changes.notifications is not None:
        _apply_notification_changes(settings, changes)
    return user, settings


def _apply_notification_changes(settings: UserSettings, changes: ProfileUpdate) -> None:
    assert changes.notifications is not None
    update_ = changes.notifications
    if update_.categories is not None:
        merged = dict(settings.notification_categories or {})
        merged.update(
            {
                k: v
                for k, v in update_.categories.model_dump(exclude_unset=True).items()
                if v is not None
            }
        )
        settings.notification_categories = merged
    if update_.digest is not None:
        settings.digest = update_.digest
    if update_.timezone is not None:
        _check_timezone(update_.timezone)
        settings.timezone = update_.timezone


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"Unknown time zone {name!r}", code="validation_failed") from exc


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    original: bytes
    thumbnail: bytes
    width: int
    height: int


def process_avatar(data: bytes, *, max_bytes: int, thumb_px: int) -> ProcessedImage:
    """Validate an upload by content (not its claimed type), strip metadata, make a thumbnail."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"Images may be at most {max_bytes // (1024 * 1024)} MB")
    if not data:
        raise BadRequest("The file is empty", code="invalid_image")
    try:
        clean = decode_image(data)
    except ImageRejected as exc:
        raise _avatar_error(exc.reason) from exc
    thumb = ImageOps.fit(clean, (thumb_px, thumb_px), method=Image.Resampling.LANCZOS)
    return ProcessedImage(
        webp_bytes(clean, quality=90), webp_bytes(thumb, quality=85), clean.width, clean.height
    )


def _avatar_error(reason: str) -> AppError:
    if reason == "unsupported":
        return UnsupportedMediaType("Avatars must be JPEG, PNG or WebP", code="unsupported_image")
    if reason == "too_many_pixels":
        return PayloadTooLarge("The image has too many pixels", code="image_too_large")
    return UnsupportedMediaType("The file is not a readable image", code="invalid_image")


async def do_set_avatar(
    session: AsyncSession,
    *,
    principal: Principal,
    image: ProcessedImage,
    media: LocalMediaStore,
) -> tuple[User, list[str]]:
    """Store the new avatar files; returns the user and the old keys to delete after commit."""
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user")
    original_key = media.new_key("avatars", ".webp")
    thumb_key = media.new_key("avatars", ".thumb.webp")
    await media.save(original_key, image.original)
    await media.save(thumb_key, image.thumbnail)
    old = [key for key in (user.avatar_key, user.avatar_thumb_key) if key]
    user.avatar_key, user.avatar_thumb_key = original_key, thumb_key
    return user, old


async def do_clear_avatar(session: AsyncSession, *, principal: Principal) -> list[str]:
    """Remove the avatar; returns the keys to delete after commit."""
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user")
    old = [key for key in (user.avatar_key, user.avatar_thumb_key) if key]
    user.avatar_key = user.avatar_thumb_key = None
    return old


async def check_admin_update_user(
    session: AsyncSession,
    *,
    principal: Principal,
    username: str,
    changes: AdminUserUpdate,
    meta: RequestMeta,
) -> User:
    """Change a user's role or standing (admins only; not their own, to avoid lock-out)."""
    if not principal.is_admin:
        raise Forbidden("Only admins may change roles and account status")
    user = await get_user_by_username(session, username=username)
    if user is None:
        raise NotFound("No such user")
    if user.id == principal.user_id:
        raise Forbidden("Admins cannot change their own role or status", code="self_change")
    for field in ("role", "status"):
        new_value = getattr(changes, field)
        if new_value is None or new_value == getattr(user, field):
            continue
        do_audit(
            session,
            action=f"{field}_change",
            actor_id=principal.user_id,
            target_user_id=user.id,
            meta=meta,
            old=getattr(user, field),
            new=new_value,
            reason=changes.reason,
        )
        setattr(user, field, new_value)
        if field == "status":
            await _apply_status(session, user)
    return user


async def _apply_status(session: AsyncSession, user: User) -> None:
    """A ban ends every session; every change reaches the user's sockets (inactive ones end)."""
    if user.status == "banned":
        await do_revoke_all_sessions(session, user_id=user.id, reason="banned")
    emit(
        session,
        AccountStatusChanged(user_id=user.id, status=user.status),
        to=[user_room(user.id)],
    )


async def do_purge_stale_sessions(session: AsyncSession, *, older_than: timedelta) -> int:
    """Delete sessions that ended or expired long ago, with their refresh tokens (cascade).

    Revoked sessions are kept for `older_than` so the session list and audit trail can still
    explain a recent sign-out; run periodically by the job scheduler.
    """
    cutoff = utcnow() - older_than
    stale = (
        select(LoginSession.id)
        .where(
            (LoginSession.expires_at < cutoff)
            | (LoginSession.revoked_at.is_not(None) & (LoginSession.revoked_at < cutoff))
        )
        .scalar_subquery()
    )
    await session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(stale)))
    result = await session.execute(delete(LoginSession).where(LoginSession.id.in_(stale)))
    return rowcount(result)


Counter = Literal["followers_count", "following_count", "posts_count", "achievements_count"]


async def do_bump_counter(
    session: AsyncSession, *, user_id: int, column: Counter, delta: int
) -> None:
    """Adjust a profile counter in the database, never in Python (for the domains that own them).

    `x = x + delta` is atomic per row on both backends, so concurrent changes never lose one.
    """
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values({column: getattr(User, column) + delta})
        .execution_options(synchronize_session=False)
    )


async def do_record_last_seen(session: AsyncSession, *, user_id: int, at: datetime) -> None:
    """Store when the user was last connected (presence calls this as they go offline)."""
    await session.execute(update(User).where(User.id == user_id).values(last_seen_at=at))
