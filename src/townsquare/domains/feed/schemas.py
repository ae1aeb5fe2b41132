"""Request, response and event models of the feed."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from townsquare.core.events import Event
from townsquare.core.ids import Id
from townsquare.domains.accounts.schemas import Strict
from townsquare.domains.posts.schemas import PostType, PostView
from townsquare.domains.social.schemas import UserSummary

InteractionKind = Literal["view", "click", "dismiss"]


class FeedPreferences(BaseModel):
    show_achievements: bool = True
    show_progress: bool = True
    show_meals: bool = True
    show_general: bool = True
    show_challenges: bool = True
    prioritize_friends: bool = False
    prioritize_recent: bool = False
    hide_blocked: bool = True
    hide_reported: bool = True


class FeedPreferencesUpdate(Strict):
    show_achievements: bool | None = None
    show_progress: bool | None = None
    show_meals: bool | None = None
    show_general: bool | None = None
    show_challenges: bool | None = None
    prioritize_friends: bool | None = None
    prioritize_recent: bool | None = None
    hide_blocked: bool | None = None
    hide_reported: bool | None = None


class InteractionCreate(Strict):
    post_id: Id
    kind: InteractionKind


class FeedItem(PostView):
    """A post in the feed with the score that placed it (null in `latest` order)."""

    score: float | None = None


class FeedSubscribe(Strict):
    types: Annotated[list[PostType] | None, Field(max_length=5)] = None
    following_only: bool = False


class TrendingTag(BaseModel):
    tag: str
    posts: int
    score: float


class Trending(BaseModel):
    window: Literal["hour", "day", "week"]
    posts: list[FeedItem]
    hashtags: list[TrendingTag]


class FeedStatistics(BaseModel):
    window: Literal["hour", "day", "week"]
    posts: int
    comments: int
    likes: int
    shares: int
    active_authors: int
    posts_by_type: dict[str, int]
    my_posts: int
    my_likes_received: int
    my_interactions: dict[str, int]


class LikesReceived(Event):
    """Likes on one of my posts, aggregated over a short window ("12 new likes")."""

    type: Literal["feed:likes"] = "feed:likes"
    post_id: Id
    count: int
    total: int
    recent: list[UserSummary]
