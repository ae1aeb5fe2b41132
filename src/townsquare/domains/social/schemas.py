"""Request, response and event models of the social graph."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from townsquare.core.events import Event
from townsquare.core.ids import Id
from townsquare.domains.accounts.schemas import Strict

PlainText = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]


class UserSummary(BaseModel):
    """Enough of a user to show them in a list."""

    id: Id
    username: str
    display_name: str | None
    avatar_thumbnail_url: str | None


class ListedUser(UserSummary):
    """A user in a graph list, with when the edge was made."""

    since: datetime


class FriendRequestCreate(Strict):
    username: Annotated[str, Field(min_length=1, max_length=30)]
    message: Annotated[PlainText | None, Field(max_length=500)] = None


class FriendRequestView(BaseModel):
    id: Id
    sender: UserSummary
    receiver: UserSummary
    message: str | None
    created_at: datetime


class FriendRequestOutcome(BaseModel):
    """`pending` for a new request; `friends` when it met the other person's request."""

    status: Literal["pending", "friends"]
    request: FriendRequestView | None = None


class Suggestion(UserSummary):
    mutual_friends: int
    shared_follows: int


class RelationshipView(BaseModel):
    """How the caller stands to another user, for profile buttons."""

    is_friend: bool
    is_following: bool
    is_followed_by: bool
    request_sent: bool
    request_received: bool
    is_blocking: bool
    is_muting: bool


class FriendRequestReceived(Event):
    """Told to the receiver so their client can show the request at once."""

    type: Literal["friend:request"] = "friend:request"
    request_id: Id
    sender_id: Id
    sender_username: str
    message: str | None


class FriendRequestAccepted(Event):
    """Told to the original sender when their request was accepted."""

    type: Literal["friend:accepted"] = "friend:accepted"
    user_id: Id
    username: str


class NewFollower(Event):
    """Told to the followed user."""

    type: Literal["follow:new"] = "follow:new"
    follower_id: Id
    follower_username: str
