"""Who may see and do what with accounts and profiles; later domains call these rules too."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from townsquare.domains.accounts.models import User, UserSettings

STAFF_ROLES = frozenset({"moderator", "admin"})
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request or socket, as checked against the database."""

    user_id: int
    session_id: int
    role: str
    username: str

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Relationship:
    """How a viewer stands to a profile owner; the social graph supplies friends and blocks."""

    is_self: bool = False
    is_friend: bool = False
    is_blocked: bool = False


@dataclass(frozen=True, slots=True)
class ProfileVisibility:
    """Which parts of a profile one viewer may see."""

    email: bool
    location: bool
    activity: bool


def is_staff(viewer: Principal | None) -> bool:
    return viewer is not None and viewer.is_staff


def can_view_profile(
    viewer: Principal | None, owner: User, settings: UserSettings, rel: Relationship
) -> bool:
    """Self and staff always; banned accounts and blocks hide; then the owner's visibility."""
    if rel.is_self or is_staff(viewer):
        return True
    if owner.status == "banned" or rel.is_blocked:
        return False
    if settings.profile_visibility == "public":
        return True
    if settings.profile_visibility == "friends":
        return rel.is_friend
    return False


def profile_fields(
    viewer: Principal | None, settings: UserSettings, rel: Relationship
) -> ProfileVisibility:
    """Email only to self, admins, or where shown; location and activity where shown."""
    if rel.is_self or (viewer is not None and viewer.is_admin):
        return ProfileVisibility(email=True, location=True, activity=True)
    return ProfileVisibility(
        email=settings.show_email,
        location=settings.show_location or is_staff(viewer),
        activity=settings.show_activity,
    )


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text()
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def password_problems(password: str, *, username: str) -> list[str]:
    """Every rule a new password breaks, so the user can fix them all at once."""
    problems: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if password.lower() in _common_passwords():
        problems.append("is too common")
    if password.lower() == username.lower():
        problems.append("must not be the same as the username")
    if password.strip() == "":
        problems.append("must not be only whitespace")
    return problems
