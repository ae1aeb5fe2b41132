"""Who may see and do what with posts: privacy, blocks, banned authors, staff."""

from __future__ import annotations

from townsquare.domains.accounts.policy import Principal, Relationship, is_staff


def can_view_post(
    viewer: Principal | None, *, privacy: str, author_status: str, rel: Relationship
) -> bool:
    """Self and staff always; blocks and banned authors hide; then the post's privacy."""
    if rel.is_self or is_staff(viewer):
        return True
    if rel.is_blocked or author_status == "banned":
        return False
    if privacy == "public":
        return True
    if privacy == "friends":
        return rel.is_friend
    return False


def can_edit(viewer: Principal, *, author_id: int) -> bool:
    """Only the author edits a post or comment."""
    return viewer.user_id == author_id


def can_delete(viewer: Principal, *, author_id: int) -> bool:
    """The author, or a moderator removing content."""
    return viewer.user_id == author_id or viewer.is_staff


def can_see_history(viewer: Principal, *, author_id: int) -> bool:
    """Edit history is for the author and moderators."""
    return viewer.user_id == author_id or viewer.is_staff
